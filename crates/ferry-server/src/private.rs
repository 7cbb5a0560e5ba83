//! The data directory is ferry's alone: it holds the key that seals secrets, the database, the admin
//! token, certificates and application logs. It is made 0700 and every file in it 0600; what is found
//! looser at start (a directory made by hand before ferry ran, files of an earlier version) is made
//! private, with a log line for each change.
//!
//! ferry does not set a process-wide umask for this: builds check out repositories and write build
//! contexts whose file modes go into images, where an app running as another user must still read them.
//! Each private file is created with its mode instead (`OpenOptions::mode(0o600)`), and SQLite gives the
//! database's `-wal` and `-shm` files the mode of the database file, which is created 0600 first.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::Error;

/// How deep below the data directory modes are checked (`logs/<service>/…`, `tls/<domain>/…`).
const DEPTH: usize = 4;

/// Where builds check out repositories (`git/<service id>/…`): the directory is made private, what is in
/// it is left as git wrote it, because those modes go into the images built from it.
const CHECKOUTS: &str = "git";

/// Creates `dir` 0700, or makes an existing one 0700, and makes what is in it private.
pub(crate) fn private_dir(dir: &Path) -> Result<(), Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create the data directory {}", dir.display()), e))?;
    fix(dir, 0o700)?;
    fix_tree(dir, DEPTH, true)
}

/// Creates `path` 0600 if it does not exist (so SQLite's `-wal` and `-shm` files get that mode too).
pub(crate) fn private_file(path: &Path) -> Result<(), Error> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
    fix(path, 0o600)
}

fn fix_tree(dir: &Path, depth: usize, top: bool) -> Result<(), Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
        let path = entry.path();
        // Not followed: a link's target is not ferry's to change.
        let kind = entry.file_type().map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if kind.is_dir() {
            fix(&path, 0o700)?;
            if depth > 0 && !(top && entry.file_name() == CHECKOUTS) {
                fix_tree(&path, depth - 1, false)?;
            }
        } else if kind.is_file() {
            fix(&path, 0o600)?;
        }
    }
    Ok(())
}

/// Takes away what group and others may do with `path`, leaving the owner's bits as `private` says.
fn fix(path: &Path, private: u32) -> Result<(), Error> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))
        .map_err(|e| Error::io(format!("cannot make {} private", path.display()), e))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{mode:o}"),
        now = format!("{private:o}"),
        "made private: the data directory holds secrets"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_loose_data_directory_and_its_files_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(dir.join("logs")).unwrap();
        std::fs::set_permissions(dir.join("logs"), std::fs::Permissions::from_mode(0o755)).unwrap();
        for file in ["ferry.db", "ferry.db-wal", "logs/app.log"] {
            std::fs::write(dir.join(file), b"x").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let checkout = dir.join("git/0123/src");
        std::fs::create_dir_all(&checkout).unwrap();
        std::fs::write(checkout.join("app.py"), b"x").unwrap();
        std::fs::set_permissions(checkout.join("app.py"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let outside = root.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();

        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("logs")), 0o700);
        for file in ["ferry.db", "ferry.db-wal", "logs/app.log"] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        assert_eq!(mode(&outside), 0o644, "a link's target is left alone");
        assert_eq!(mode(&dir.join("git")), 0o700);
        assert_eq!(mode(&checkout.join("app.py")), 0o644, "checkouts keep their modes: images get them");

        let fresh = root.path().join("fresh/data");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        private_file(&fresh.join("ferry.db")).unwrap();
        assert_eq!(mode(&fresh.join("ferry.db")), 0o600);
    }
}
