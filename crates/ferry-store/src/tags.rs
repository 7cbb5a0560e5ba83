//! Tags: key-value pairs on the resources the App Runner API names, keyed by each resource's full ARN.
//! The store keeps whatever it is given; the rules (key and value lengths, at most 50 a resource) are the
//! API's, checked before a write.

use std::collections::BTreeMap;

use rusqlite::params;

use crate::db::Db;
use crate::error::Result;

impl Db {
    /// The tags on `resource`, by key.
    pub fn tags(&self, resource: &str) -> Result<BTreeMap<String, String>> {
        let mut stmt = self.conn.prepare("SELECT key, value FROM tags WHERE resource = ?1 ORDER BY key")?;
        let rows = stmt.query_map([resource], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds `tags` to `resource`, replacing the value of a key it already has; all or none.
    pub fn set_tags(&mut self, resource: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.transaction(|db| {
            for (key, value) in tags {
                db.conn.execute(
                    "INSERT INTO tags (resource, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (resource, key) DO UPDATE SET value = ?3",
                    params![resource, key, value],
                )?;
            }
            Ok(())
        })
    }

    /// Removes the tags with `keys` from `resource` (a key it does not have is no error); how many went.
    pub fn remove_tags(&mut self, resource: &str, keys: &[String]) -> Result<usize> {
        self.transaction(|db| {
            let mut removed = 0;
            for key in keys {
                removed += db
                    .conn
                    .execute("DELETE FROM tags WHERE resource = ?1 AND key = ?2", params![resource, key])?;
            }
            Ok(removed)
        })
    }

    /// Removes every tag on `resource` (it was deleted); how many went.
    pub fn forget_tags(&mut self, resource: &str) -> Result<usize> {
        Ok(self.conn.execute("DELETE FROM tags WHERE resource = ?1", [resource])?)
    }
}
