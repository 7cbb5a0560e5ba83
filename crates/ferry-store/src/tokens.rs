//! API tokens, kept as hashes only, and the installation's settings.

use ferry_model::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
}

impl Db {
    pub fn token_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM api_tokens", [], |r| r.get(0))?)
    }

    /// Records a token by the hex SHA-256 of its secret.
    pub fn insert_token(&mut self, id: &str, name: &str, hash: &str, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO api_tokens (id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![id, name, hash, now.0],
        )?;
        Ok(())
    }

    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        Ok(self
            .conn
            .query_row("SELECT id, name, created_at FROM api_tokens WHERE hash = ?1", [hash], |r| {
                Ok(TokenRecord { id: r.get(0)?, name: r.get(1)?, created_at: Timestamp(r.get(2)?) })
            })
            .optional()?)
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
