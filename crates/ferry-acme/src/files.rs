//! Writing files so that a reader never sees half of one, and private ones never readable by others.

use std::fs::{self, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::AcmeError;

/// Who may read a file this crate writes: only its owner, for every file (keys and account credentials
/// must be; certificates need not be, but they live in ferry's data directory, where nothing is readable by
/// others and looser files are fixed at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 0600.
    Private,
}

/// Creates `dir` and its parents, 0700 for the ones this call makes (they hold keys).
pub(crate) fn create_dir(dir: &Path) -> Result<(), AcmeError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).map_err(AcmeError::io(dir))
}

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, so a reader (or a
/// crash) sees the old file or the new one, never a mix. The temporary file has its final mode from the start.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: Mode) -> Result<(), AcmeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Unique per process and call, so two writers of one file never share a temporary file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp =
        dir.join(format!(".{name}.tmp.{}.{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(match mode {
            Mode::Private => 0o600,
        });
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(AcmeError::io(path))
}

/// Reads a file, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, AcmeError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AcmeError::io(path)(e)),
    }
}
