//! API tokens, kept as hashes only, and the installation's settings.
//!
//! A token has a unique name, a scope (`read-only`, `deploy` or `admin`: what each allows is decided by
//! the API, this table only keeps the word) and an optional expiry. Tokens made before scopes existed
//! are `admin` tokens that never expire (migration 0009).

use ferry_model::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::error::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    /// `read-only`, `deploy` or `admin`.
    pub scope: String,
    pub created_at: Timestamp,
    /// `None`: never expires.
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl TokenRecord {
    pub fn expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A token to record: only the hex SHA-256 of its secret is stored.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub hash: &'a str,
    pub scope: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, name, scope, created_at, expires_at, last_used_at";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        scope: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        expires_at: r.get::<_, Option<i64>>(4)?.map(Timestamp),
        last_used_at: r.get::<_, Option<i64>>(5)?.map(Timestamp),
    })
}

impl Db {
    pub fn token_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM api_tokens", [], |r| r.get(0))?)
    }

    /// Records an admin token that never expires (the first-start token) by the hex SHA-256 of its secret.
    pub fn insert_token(&mut self, id: &str, name: &str, hash: &str, now: Timestamp) -> Result<()> {
        self.create_token(&NewToken { id, name, hash, scope: "admin", created_at: now, expires_at: None })
    }

    /// Records a token. A name already taken is [`StoreError::NameTaken`].
    pub fn create_token(&mut self, token: &NewToken<'_>) -> Result<()> {
        let taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = ?1)",
            [token.name],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::NameTaken(token.name.to_owned()));
        }
        self.conn.execute(
            "INSERT INTO api_tokens (id, name, hash, scope, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                token.id,
                token.name,
                token.hash,
                token.scope,
                token.created_at.0,
                token.expires_at.map(|t| t.0)
            ],
        )?;
        Ok(())
    }

    /// The token whose secret hashes to `hash`, expired or not (the caller tells the two apart).
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = ?1");
        Ok(self.conn.query_row(&sql, [hash], record).optional()?)
    }

    /// Every token, by name.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens ORDER BY name");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], record)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes the token named `name`; whether there was one.
    pub fn delete_token(&mut self, name: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM api_tokens WHERE name = ?1", [name])? > 0)
    }

    /// Notes that the token was used at `at` (never moving the time back).
    pub fn touch_token(&mut self, id: &str, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            params![id, at.0],
        )?;
        Ok(())
    }
}

impl Db {
    /// A setting of this installation, if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::migrate::MIGRATIONS;

    fn new<'a>(name: &'a str, hash: &'a str, scope: &'a str, expires_at: Option<i64>) -> NewToken<'a> {
        NewToken {
            id: name,
            name,
            hash,
            scope,
            created_at: Timestamp(10),
            expires_at: expires_at.map(Timestamp),
        }
    }

    #[test]
    fn tokens_made_before_scopes_become_admin_tokens_that_never_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.db");
        {
            // The schema just before 0009, with the first-start token in it.
            let mut conn = Connection::open(&path).unwrap();
            let before = MIGRATIONS.iter().position(|(name, _)| *name == "0009_tokens").unwrap();
            for (index, (_, sql)) in MIGRATIONS.iter().enumerate().take(before) {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", index as i64 + 1).unwrap();
                tx.commit().unwrap();
            }
            conn.execute(
                "INSERT INTO api_tokens (id, name, hash, created_at) VALUES ('t1', 'admin', 'h1', 5)",
                [],
            )
            .unwrap();
        }
        let db = Db::open(&path, crate::tests::key()).unwrap();
        let token = db.token_by_hash("h1").unwrap().expect("the old token still works");
        assert_eq!((token.name.as_str(), token.scope.as_str()), ("admin", "admin"));
        assert_eq!((token.expires_at, token.last_used_at), (None, None));
        assert!(!token.expired(Timestamp(i64::MAX)));
    }

    #[test]
    fn tokens_are_found_by_hash_listed_by_name_and_revoked_by_name() {
        let mut db = Db::in_memory().unwrap();
        db.create_token(&new("ci", "h-ci", "deploy", Some(1_000))).unwrap();
        db.create_token(&new("bot", "h-bot", "read-only", None)).unwrap();
        let e = db.create_token(&new("ci", "h-other", "admin", None)).unwrap_err();
        assert!(matches!(e, StoreError::NameTaken(ref n) if n == "ci"), "{e:?}");
        let bad = db.create_token(&new("x", "h-x", "root", None));
        assert!(bad.is_err(), "the scope is checked by the schema too");

        let ci = db.token_by_hash("h-ci").unwrap().unwrap();
        assert_eq!((ci.scope.as_str(), ci.expires_at), ("deploy", Some(Timestamp(1_000))));
        assert!(!ci.expired(Timestamp(999)) && ci.expired(Timestamp(1_000)));
        assert_eq!(db.token_by_hash("ci").unwrap(), None, "names are not secrets");
        let names: Vec<String> = db.tokens().unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["bot", "ci"]);

        db.touch_token("ci", Timestamp(500)).unwrap();
        db.touch_token("ci", Timestamp(400)).unwrap();
        assert_eq!(db.token_by_hash("h-ci").unwrap().unwrap().last_used_at, Some(Timestamp(500)));

        assert!(db.delete_token("ci").unwrap());
        assert!(!db.delete_token("ci").unwrap());
        assert_eq!(db.token_by_hash("h-ci").unwrap(), None);
        assert_eq!(db.token_count().unwrap(), 1);
    }
}
