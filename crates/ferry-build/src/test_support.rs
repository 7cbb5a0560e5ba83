//! Helpers shared by the crate's unit tests.

use std::fs;

/// A temporary directory holding `files` (path relative to it, text), parent directories created.
pub(crate) fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    tmp
}
