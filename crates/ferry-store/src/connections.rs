//! Connections: named git credentials that services building from a private repository refer to (App
//! Runner's `Connection`). A connection is made without credentials (`PENDING_HANDSHAKE`); giving it
//! some is ferry's handshake (`AVAILABLE`). The credentials are sealed (see `seal.rs`) and opened only
//! for a build or a poll; nothing that lists connections shows them.

use std::collections::BTreeMap;

use ferry_model::{GitCredentials, ServiceName, Timestamp};
use rusqlite::{OptionalExtension, params};

use crate::db::Db;
use crate::error::{Result, StoreError};

/// A connection, its credentials opened. Its `Debug` shows no password or key (see [`GitCredentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// 4 to 32 of `[A-Za-z0-9_-]`, starting with a letter or digit (`ferry_model::check_connection_name`).
    pub name: String,
    /// 32 lowercase hex digits, random at creation: the end of the connection's ARN.
    pub id: String,
    /// `GITHUB`, `BITBUCKET`, or `GIT` (any other host).
    pub provider: String,
    pub created_at: Timestamp,
    /// `None` until the handshake: the connection is `PENDING_HANDSHAKE`.
    pub credentials: Option<GitCredentials>,
}

impl ConnectionRecord {
    /// App Runner's `ConnectionStatus`: `AVAILABLE` once the connection has credentials.
    pub fn status(&self) -> &'static str {
        match self.credentials {
            Some(_) => "AVAILABLE",
            None => "PENDING_HANDSHAKE",
        }
    }
}

/// Bound to the id, not the name: a name freed by a deletion and taken again is another connection, and
/// the old sealed value does not open in the new row.
fn place(id: &str) -> String {
    format!("connection:{id}")
}

fn new_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        StoreError::Key(format!("the operating system's random number generator failed: {e}"))
    })?;
    Ok(hex::encode(bytes))
}

type Row = (String, String, String, i64, Option<Vec<u8>>);

const COLUMNS: &str = "SELECT name, id, provider, created_at, credentials FROM connections";

impl Db {
    fn decode_connection(&self, (name, id, provider, created_at, sealed): Row) -> Result<ConnectionRecord> {
        let credentials = match sealed {
            None => None,
            Some(sealed) => {
                let plain = self.sealer.open(&place(&id), &sealed)?;
                let parsed = serde_json::from_slice(&plain).map_err(|_| StoreError::Unsealable {
                    place: place(&id),
                    why: "it is not git credentials".to_owned(),
                })?;
                Some(parsed)
            }
        };
        Ok(ConnectionRecord { name, id, provider, created_at: Timestamp(created_at), credentials })
    }

    /// Makes the connection `name`, without credentials; `None` if the name is taken.
    pub fn create_connection(
        &mut self,
        name: &str,
        provider: &str,
        now: Timestamp,
    ) -> Result<Option<ConnectionRecord>> {
        let id = new_id()?;
        let made = self.conn.execute(
            "INSERT INTO connections (name, id, provider, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO NOTHING",
            params![name, id, provider, now.0],
        )?;
        Ok((made > 0).then(|| ConnectionRecord {
            name: name.to_owned(),
            id,
            provider: provider.to_owned(),
            created_at: now,
            credentials: None,
        }))
    }

    /// The connection `name`, its credentials opened.
    pub fn connection(&mut self, name: &str) -> Result<Option<ConnectionRecord>> {
        let row: Option<Row> = self
            .conn
            .query_row(&format!("{COLUMNS} WHERE name = ?1"), [name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        row.map(|row| self.decode_connection(row)).transpose()
    }

    /// Every connection, by name.
    pub fn connections(&mut self) -> Result<Vec<ConnectionRecord>> {
        let mut stmt = self.conn.prepare(&format!("{COLUMNS} ORDER BY name"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<rusqlite::Result<Vec<Row>>>()?;
        drop(stmt);
        rows.into_iter().map(|row| self.decode_connection(row)).collect()
    }

    /// Gives the connection `name` its credentials (replacing any it had), sealed; `false` if there is no
    /// such connection.
    pub fn set_connection_credentials(
        &mut self,
        name: &str,
        credentials: &GitCredentials,
        now: Timestamp,
    ) -> Result<bool> {
        self.transaction(|db| {
            let id: Option<String> = db
                .conn
                .query_row("SELECT id FROM connections WHERE name = ?1", [name], |r| r.get(0))
                .optional()?;
            let Some(id) = id else { return Ok(false) };
            let json = serde_json::to_vec(credentials)
                .map_err(|e| StoreError::Corrupt(format!("git credentials cannot be encoded: {e}")))?;
            let sealed = db.sealer.seal(&place(&id), &json)?;
            db.conn.execute(
                "UPDATE connections SET credentials = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, sealed, now.0],
            )?;
            Ok(true)
        })
    }

    /// Removes the connection `name`; whether there was one. Whether services still use it is the
    /// caller's to check first ([`Db::connection_users`]).
    pub fn delete_connection(&mut self, name: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM connections WHERE name = ?1", [name])? > 0)
    }

    /// Which live services use each connection, by connection name: in their desired configuration, or in
    /// the revision that serves (which a rebuild fetches again). A name may be that of a connection that no
    /// longer exists.
    pub fn connection_users(&self) -> Result<BTreeMap<String, Vec<ServiceName>>> {
        let mut users: BTreeMap<String, Vec<ServiceName>> = BTreeMap::new();
        for service in self.list_services()? {
            let mut names: Vec<String> = service.spec.connection().map(str::to_owned).into_iter().collect();
            if let Some(n) = service.active_revision
                && let Some(revision) = self.revision(&service.id, n)?
                && let Some(name) = revision.spec.connection()
                && !names.iter().any(|known| known == name)
            {
                names.push(name.to_owned());
            }
            for name in names {
                users.entry(name).or_default().push(service.name.clone());
            }
        }
        Ok(users)
    }
}
