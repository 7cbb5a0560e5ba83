//! Secrets: named values, sealed at rest (see `seal.rs`), that services refer to by name.
//!
//! Reads that list secrets never read a value; only [`Db::secret_values`], called when an instance is
//! started, opens them.

use std::collections::BTreeMap;

use ferry_model::{SecretName, SecretValue, ServiceName, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::error::{Result, StoreError, corrupt};

/// A secret as listed: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub name: SecretName,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 1 when made, one more at every new value.
    pub version: u32,
}

/// What [`Db::set_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSet {
    Created,
    Updated,
}

fn place(name: &SecretName) -> String {
    format!("secret:{name}")
}

impl Db {
    /// Makes the secret `name`, or gives it a new value.
    pub fn set_secret(
        &mut self,
        name: &SecretName,
        value: &SecretValue,
        now: Timestamp,
    ) -> Result<SecretSet> {
        let sealed = self.sealer.seal(&place(name), value.expose().as_bytes())?;
        self.transaction(|db| {
            let updated = db.conn.execute(
                "UPDATE secrets SET value = ?2, updated_at = ?3, version = version + 1 WHERE name = ?1",
                params![name.as_str(), sealed, now.0],
            )?;
            if updated > 0 {
                return Ok(SecretSet::Updated);
            }
            db.conn.execute(
                "INSERT INTO secrets (name, value, created_at, updated_at, version) VALUES (?1, ?2, ?3, ?3, 1)",
                params![name.as_str(), sealed, now.0],
            )?;
            Ok(SecretSet::Created)
        })
    }

    /// Every secret, by name; no values.
    pub fn secrets(&self) -> Result<Vec<SecretRecord>> {
        let mut stmt =
            self.conn.prepare("SELECT name, created_at, updated_at, version FROM secrets ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, created, updated, version)| {
                Ok(SecretRecord {
                    name: SecretName::parse(&name).map_err(|_| corrupt("secret name", &name))?,
                    created_at: Timestamp(created),
                    updated_at: Timestamp(updated),
                    version,
                })
            })
            .collect()
    }

    pub fn secret_exists(&self, name: &SecretName) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM secrets WHERE name = ?1", [name.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Those of `names` that exist, without opening any value.
    pub fn existing_secrets(&self, names: &[SecretName]) -> Result<std::collections::BTreeSet<SecretName>> {
        let mut out = std::collections::BTreeSet::new();
        for name in names {
            if self.secret_exists(name)? {
                out.insert(name.clone());
            }
        }
        Ok(out)
    }

    /// Removes a secret; `false` if there was none.
    pub fn delete_secret(&mut self, name: &SecretName) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM secrets WHERE name = ?1", [name.as_str()])? > 0)
    }

    /// The values of those of `names` that exist (a name that does not is absent from the map), opened.
    pub fn secret_values(&self, names: &[SecretName]) -> Result<BTreeMap<SecretName, SecretValue>> {
        let mut stmt = self.conn.prepare_cached("SELECT value FROM secrets WHERE name = ?1")?;
        let mut out = BTreeMap::new();
        for name in names {
            let Some(sealed) = stmt.query_row([name.as_str()], |r| r.get::<_, Vec<u8>>(0)).optional()? else {
                continue;
            };
            let plain = self.sealer.open(&place(name), &sealed)?;
            let text = String::from_utf8(plain).map_err(|_| StoreError::Unsealable {
                place: place(name),
                why: "it is not text".to_owned(),
            })?;
            let value = SecretValue::new(text).map_err(|e| corrupt("secret value", &e.message))?;
            out.insert(name.clone(), value);
        }
        Ok(out)
    }

    /// Which live services refer to each secret: in their desired configuration, or in the revision that
    /// serves (its build's `apprunner.yaml` included), either of which an instance may be started from.
    pub fn secret_users(&self) -> Result<BTreeMap<SecretName, Vec<ServiceName>>> {
        let mut users: BTreeMap<SecretName, Vec<ServiceName>> = BTreeMap::new();
        for service in self.list_services()? {
            let mut names = service.spec.source.config().secrets.names();
            if let Some(n) = service.active_revision
                && let Some(revision) = self.revision(&service.id, n)?
                && let Some(run) = revision.run_config()
            {
                names.extend(run.secrets.names());
            }
            names.sort();
            names.dedup();
            for name in names {
                users.entry(name).or_default().push(service.name.clone());
            }
        }
        Ok(users)
    }
}
