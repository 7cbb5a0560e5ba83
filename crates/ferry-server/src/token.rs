//! The admin token: made on first start, kept only as a hash, handed to the operator once in a file. It
//! has the `admin` scope and never expires; `ferry token create` makes narrower ones.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ferry_model::Timestamp;
use ferry_store::Db;

use crate::Error;

/// The file in the data directory that holds the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// On the first start (no token in the store), makes an admin token, stores its hash and writes the
/// token to `DATA_DIR/admin-token` with mode 0600. Returns whether it made one.
pub(crate) fn bootstrap(store: &mut Db, data_dir: &Path) -> Result<bool, Error> {
    if store.token_count()? > 0 {
        return Ok(false);
    }
    let token =
        format!("ferry_{}", uuid::Uuid::new_v4().simple()) + &uuid::Uuid::new_v4().simple().to_string();
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    // Written before the hash is stored: if writing fails, the next start tries again.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    file.write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    store.insert_token(
        &uuid::Uuid::new_v4().simple().to_string(),
        "admin",
        &ferry_api::hash_token(&token),
        Timestamp::now(),
    )?;
    tracing::info!(path = %path.display(), "admin token created; it is shown only in this file");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_token_is_written_once_with_mode_0600_and_stored_as_a_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Db::in_memory().unwrap();
        assert!(bootstrap(&mut store, dir.path()).unwrap());
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        let token = std::fs::read_to_string(&path).unwrap().trim().to_owned();
        assert!(token.starts_with("ferry_") && token.len() > 60, "{token}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let stored = store.token_by_hash(&ferry_api::hash_token(&token)).unwrap().expect("stored");
        assert_eq!(
            (stored.scope.as_str(), stored.expires_at),
            ("admin", None),
            "an admin token that never expires"
        );
        assert!(store.token_by_hash(&token).unwrap().is_none(), "the plain token is not stored");
        std::fs::remove_file(&path).unwrap();
        assert!(!bootstrap(&mut store, dir.path()).unwrap());
        assert!(!path.exists(), "a second start writes nothing");
    }
}
