//! Access keys for the App Runner-compatible API. SigV4 signs with the secret itself, so the secret is
//! sealed (see `seal.rs`) rather than hashed; only [`Db::access_key_secret`] opens it.

use ferry_model::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::error::{Result, StoreError};

/// An access key as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The `AccessKeyId` clients send.
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

fn place(id: &str) -> String {
    format!("access-key:{id}")
}

impl Db {
    /// Records an access key, its secret sealed.
    pub fn create_access_key(&mut self, record: &AccessKeyRecord, secret: &str) -> Result<()> {
        let sealed = self.sealer.seal(&place(&record.id), secret.as_bytes())?;
        self.conn.execute(
            "INSERT INTO access_keys (id, name, secret, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![record.id, record.name, sealed, record.created_at.0],
        )?;
        Ok(())
    }

    /// Every access key, oldest first; no secrets.
    pub fn access_keys(&self) -> Result<Vec<AccessKeyRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, created_at, last_used_at FROM access_keys ORDER BY created_at, id")?;
        let rows = stmt.query_map([], |r| {
            Ok(AccessKeyRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: Timestamp(r.get(2)?),
                last_used_at: r.get::<_, Option<i64>>(3)?.map(Timestamp),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The secret of the access key `id`, opened; `None` if there is no such key.
    pub fn access_key_secret(&self, id: &str) -> Result<Option<String>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT secret FROM access_keys WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let plain = self.sealer.open(&place(id), &sealed)?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::Unsealable { place: place(id), why: "it is not text".to_owned() })
    }

    /// Removes the access key `id`; whether there was one.
    pub fn delete_access_key(&mut self, id: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM access_keys WHERE id = ?1", [id])? > 0)
    }

    /// Notes that the key was used at `at` (never moving the time back).
    pub fn touch_access_key(&mut self, id: &str, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE access_keys SET last_used_at = ?2
             WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            params![id, at.0],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_are_sealed_listed_without_secrets_and_deleted() {
        let mut db = Db::in_memory().unwrap();
        let key = AccessKeyRecord {
            id: "AKIAABCDEFGHIJKLMNOP".into(),
            name: "ci".into(),
            created_at: Timestamp(10),
            last_used_at: None,
        };
        db.create_access_key(&key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        let raw: Vec<u8> = db.conn.query_row("SELECT secret FROM access_keys", [], |r| r.get(0)).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("wJalrXUtnFEMI"), "the secret is sealed at rest");
        assert_eq!(
            db.access_key_secret(&key.id).unwrap().as_deref(),
            Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        );
        assert_eq!(db.access_key_secret("AKIANOSUCHKEY0000000").unwrap(), None);
        db.touch_access_key(&key.id, Timestamp(50)).unwrap();
        db.touch_access_key(&key.id, Timestamp(40)).unwrap();
        assert_eq!(
            db.access_keys().unwrap(),
            vec![AccessKeyRecord { last_used_at: Some(Timestamp(50)), ..key.clone() }]
        );
        assert!(db.delete_access_key(&key.id).unwrap());
        assert!(!db.delete_access_key(&key.id).unwrap());
        assert!(db.access_keys().unwrap().is_empty());
    }
}
