//! Reading the checkout without leaving it.
//!
//! A repository is untrusted input: a symbolic link named `apprunner.yaml` or a source directory that is
//! a link to `/etc` must not make ferry read files outside the checkout. Every read goes through
//! [`Repo`], which resolves links and refuses what lands outside the source directory, and caps sizes.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ferry_model::normalize_directory;

use crate::{BuildError, Checkout};

/// The largest marker file ferry reads (`package.json`, `apprunner.yaml`, …).
const MAX_FILE: u64 = 1 << 20;

/// The directory to build: the checkout joined with the service's source directory (`None` or `/` for
/// the root). It must exist, be a directory, and stay inside the checkout.
pub fn source_dir(checkout: &Checkout, source_directory: Option<&str>) -> Result<PathBuf, BuildError> {
    let short = &checkout.commit[..checkout.commit.len().min(7)];
    let Some(rel) = source_directory else { return Ok(checkout.dir.clone()) };
    let rel = normalize_directory(rel).map_err(|e| BuildError::Source(e.message))?;
    let Some(rel) = rel else { return Ok(checkout.dir.clone()) };
    let dir = checkout.dir.join(&rel);
    let not_there = || {
        BuildError::Source(format!(
            "source directory {rel} does not exist in the repository at {short}; check the service's source \
             directory (paths are relative to the repository's root)"
        ))
    };
    let canonical = dir.canonicalize().map_err(|_| not_there())?;
    let root = checkout.dir.canonicalize().map_err(|e| {
        BuildError::Source(format!("cannot read the checkout {}: {e}", checkout.dir.display()))
    })?;
    if !canonical.starts_with(&root) {
        return Err(BuildError::Source(format!(
            "source directory {rel} leads out of the repository through a symbolic link; give a real directory"
        )));
    }
    if !canonical.is_dir() {
        return Err(BuildError::Source(format!(
            "source directory {rel} is a file in the repository at {short}; give a directory"
        )));
    }
    Ok(dir)
}

/// The source directory, for reading the files that decide the build.
pub(crate) struct Repo<'a> {
    dir: &'a Path,
    canonical: PathBuf,
}

impl<'a> Repo<'a> {
    pub(crate) fn open(dir: &'a Path) -> Result<Self, BuildError> {
        let canonical = dir.canonicalize().map_err(|e| {
            BuildError::Source(format!(
                "source directory {} cannot be read: {e}; check the service's source directory",
                dir.display()
            ))
        })?;
        if !canonical.is_dir() {
            return Err(BuildError::Source(format!("source directory {} is not a directory", dir.display())));
        }
        Ok(Self { dir, canonical })
    }

    /// `name` (relative, `/`-separated) resolved inside the source directory, if it exists there.
    fn resolve(&self, name: &str) -> Option<PathBuf> {
        let path = self.dir.join(name);
        let real = path.canonicalize().ok()?;
        real.starts_with(&self.canonical).then_some(real)
    }

    /// Whether `name` is a regular file inside the source directory (links followed only inside it).
    pub(crate) fn is_file(&self, name: &str) -> bool {
        self.resolve(name).is_some_and(|p| p.is_file())
    }

    pub(crate) fn is_dir(&self, name: &str) -> bool {
        self.resolve(name).is_some_and(|p| p.is_dir())
    }

    /// The text of `name`, `None` if it is not a file here. Too big or not UTF-8 is an error naming it.
    pub(crate) fn read(&self, name: &str) -> Result<Option<String>, BuildError> {
        let Some(path) = self.resolve(name).filter(|p| p.is_file()) else { return Ok(None) };
        let unreadable = |why: String| BuildError::Source(format!("cannot read {name}: {why}"));
        let file = fs::File::open(&path).map_err(|e| unreadable(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(|e| unreadable(e.to_string()))?;
        if bytes.len() as u64 > MAX_FILE {
            return Err(unreadable(format!(
                "it is over {} KiB; ferry reads build files up to that",
                MAX_FILE >> 10
            )));
        }
        String::from_utf8(bytes).map(Some).map_err(|_| unreadable("it is not UTF-8 text".to_owned()))
    }

    /// The `web:` command of a `Procfile`, if there is one.
    pub(crate) fn procfile_web(&self) -> Result<Option<String>, BuildError> {
        let Some(text) = self.read("Procfile")? else { return Ok(None) };
        Ok(text.lines().find_map(|l| {
            let (kind, command) = l.split_once(':')?;
            (kind.trim() == "web" && !command.trim().is_empty()).then(|| command.trim().to_owned())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_directories_must_exist_and_stay_inside() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("services/api")).unwrap();
        fs::write(tmp.path().join("README"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join("out")).unwrap();
        let checkout = Checkout { dir: tmp.path().to_owned(), commit: "1a2b3c4d".repeat(5) };

        assert_eq!(source_dir(&checkout, None).unwrap(), tmp.path());
        assert_eq!(source_dir(&checkout, Some("/")).unwrap(), tmp.path());
        assert_eq!(source_dir(&checkout, Some("/services/api/")).unwrap(), tmp.path().join("services/api"));
        let e = source_dir(&checkout, Some("services/web")).unwrap_err().to_string();
        assert!(
            e.starts_with("source directory services/web does not exist in the repository at 1a2b3c4"),
            "{e}"
        );
        let e = source_dir(&checkout, Some("out")).unwrap_err().to_string();
        assert!(e.contains("leads out of the repository"), "{e}");
        let e = source_dir(&checkout, Some("README")).unwrap_err().to_string();
        assert!(e.contains("is a file"), "{e}");
        assert!(source_dir(&checkout, Some("../x")).is_err());
    }

    #[test]
    fn links_out_of_the_source_directory_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("Procfile"), "# x\nworker: run\nweb: gunicorn app:app\n").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", tmp.path().join("package.json")).unwrap();
        std::os::unix::fs::symlink("Procfile", tmp.path().join("inside")).unwrap();
        let repo = Repo::open(tmp.path()).unwrap();
        assert!(!repo.is_file("package.json"));
        assert_eq!(repo.read("package.json").unwrap(), None);
        assert!(repo.is_file("inside"));
        assert_eq!(repo.procfile_web().unwrap().as_deref(), Some("gunicorn app:app"));
    }
}
