//! Watched sources: the newest version seen of each service's branch or tag, its webhook, and the
//! registries whose notifications are accepted.

use ferry_model::{Ignored, Seen, ServiceId, SourceVersion, SourceWatch, Timestamp, Via, Webhook};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, corrupt};

/// A registry whose notifications ferry accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHook {
    pub host: String,
    pub created_at: Timestamp,
}

fn read_watch(service_id: &ServiceId, row: &Row<'_>) -> rusqlite::Result<Result<SourceWatch>> {
    let seen_version: Option<String> = row.get(0)?;
    let (seen_at, seen_via): (Option<i64>, Option<String>) = (row.get(1)?, row.get(2)?);
    let (author, subject): (Option<String>, Option<String>) = (row.get(3)?, row.get(4)?);
    let (checked_at, check_error): (Option<i64>, Option<String>) = (row.get(5)?, row.get(6)?);
    let (ignored_at, ignored_reason): (Option<i64>, Option<String>) = (row.get(7)?, row.get(8)?);
    let seen = match seen_version {
        None => Ok(None),
        Some(v) => match (SourceVersion::parse(&v), seen_via.as_deref().and_then(Via::parse)) {
            (Some(version), Some(via)) => {
                Ok(Some(Seen { version, at: Timestamp(seen_at.unwrap_or_default()), via, author, subject }))
            }
            _ => Err(corrupt("seen version", &v)),
        },
    };
    Ok(seen.map(|seen| SourceWatch {
        service_id: service_id.clone(),
        seen,
        checked_at: checked_at.map(Timestamp),
        check_error,
        ignored: ignored_at.zip(ignored_reason).map(|(at, reason)| Ignored { at: Timestamp(at), reason }),
    }))
}

impl Db {
    /// What is known of a service's watched source (nothing yet: an empty watch).
    pub fn watch(&self, service_id: &ServiceId) -> Result<SourceWatch> {
        let found = self
            .conn
            .query_row(
                "SELECT seen_version, seen_at, seen_via, seen_author, seen_subject, checked_at, check_error,
                        ignored_at, ignored_reason
                 FROM source_watches WHERE service_id = ?1",
                [service_id.as_str()],
                |row| read_watch(service_id, row),
            )
            .optional()?;
        found.unwrap_or_else(|| Ok(SourceWatch::new(service_id.clone())))
    }

    fn ensure_watch(&mut self, service_id: &ServiceId) -> Result<()> {
        self.conn.execute(
            "INSERT INTO source_watches (service_id) VALUES (?1) ON CONFLICT (service_id) DO NOTHING",
            [service_id.as_str()],
        )?;
        Ok(())
    }

    /// Records the newest version seen on the watched branch or tag.
    pub fn record_seen(&mut self, service_id: &ServiceId, seen: &Seen) -> Result<()> {
        self.ensure_watch(service_id)?;
        self.conn.execute(
            "UPDATE source_watches SET seen_version = ?2, seen_at = ?3, seen_via = ?4, seen_author = ?5,
                                       seen_subject = ?6
             WHERE service_id = ?1",
            params![
                service_id.as_str(),
                seen.version.as_str(),
                seen.at.0,
                seen.via.as_str(),
                seen.author,
                seen.subject
            ],
        )?;
        Ok(())
    }

    /// Records a check of the watched source: when, and what went wrong (`None`: it answered).
    pub fn record_check(&mut self, service_id: &ServiceId, at: Timestamp, error: Option<&str>) -> Result<()> {
        self.ensure_watch(service_id)?;
        self.conn.execute(
            "UPDATE source_watches SET checked_at = ?2, check_error = ?3 WHERE service_id = ?1",
            params![service_id.as_str(), at.0, error],
        )?;
        Ok(())
    }

    /// Records a push that was not deployed, and why.
    pub fn record_ignored(&mut self, service_id: &ServiceId, ignored: &Ignored) -> Result<()> {
        self.ensure_watch(service_id)?;
        self.conn.execute(
            "UPDATE source_watches SET ignored_at = ?2, ignored_reason = ?3 WHERE service_id = ?1",
            params![service_id.as_str(), ignored.at.0, ignored.reason],
        )?;
        Ok(())
    }
}

fn read_webhook(row: &Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

/// How a sealed webhook secret starts; one without it was stored in clear by an earlier ferry.
const SEALED: &str = "sealed:";

fn webhook_place(service: &ServiceId) -> String {
    format!("webhook:{service}")
}

impl Db {
    fn decode_webhook(
        &self,
        (service_id, hook_id, secret, created_at): (String, String, String, i64),
    ) -> Result<Webhook> {
        let service_id = ServiceId::parse(&service_id).map_err(|_| corrupt("service id", &service_id))?;
        let secret = match secret.strip_prefix(SEALED) {
            Some(sealed) => self.sealer.open_text(&webhook_place(&service_id), sealed)?,
            None => secret,
        };
        Ok(Webhook { service_id, hook_id, secret, created_at: Timestamp(created_at) })
    }

    fn seal_webhook_secret(&self, service: &ServiceId, secret: &str) -> Result<String> {
        Ok(format!("{SEALED}{}", self.sealer.seal_text(&webhook_place(service), secret)?))
    }

    /// Seals the webhook secrets an earlier ferry stored in clear: a one-time rewrite, done at open.
    pub(crate) fn seal_plaintext_webhooks(&mut self) -> Result<usize> {
        self.transaction(|db| {
            let rows: Vec<(String, String)> = {
                let mut stmt = db
                    .conn
                    .prepare("SELECT service_id, secret FROM webhooks WHERE secret NOT LIKE 'sealed:%'")?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
            };
            for (id, secret) in &rows {
                let service = ServiceId::parse(id).map_err(|_| corrupt("service id", id))?;
                let sealed = db.seal_webhook_secret(&service, secret)?;
                db.conn
                    .execute("UPDATE webhooks SET secret = ?2 WHERE service_id = ?1", params![id, sealed])?;
            }
            Ok(rows.len())
        })
    }

    pub fn webhook(&self, service_id: &ServiceId) -> Result<Option<Webhook>> {
        let row = self
            .conn
            .query_row(
                "SELECT service_id, hook_id, secret, created_at FROM webhooks WHERE service_id = ?1",
                [service_id.as_str()],
                read_webhook,
            )
            .optional()?;
        row.map(|r| self.decode_webhook(r)).transpose()
    }

    /// The webhook reached at `hook_id`, if any service has it.
    pub fn webhook_by_hook_id(&self, hook_id: &str) -> Result<Option<Webhook>> {
        let row = self
            .conn
            .query_row(
                "SELECT w.service_id, w.hook_id, w.secret, w.created_at FROM webhooks w
                 JOIN services s ON s.id = w.service_id
                 WHERE w.hook_id = ?1 AND s.deleted_at IS NULL",
                [hook_id],
                read_webhook,
            )
            .optional()?;
        row.map(|r| self.decode_webhook(r)).transpose()
    }

    /// Sets a service's webhook, replacing (rotating) the one it had.
    pub fn put_webhook(&mut self, hook: &Webhook) -> Result<()> {
        self.conn.execute(
            "INSERT INTO webhooks (service_id, hook_id, secret, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (service_id) DO UPDATE SET hook_id = ?2, secret = ?3, created_at = ?4",
            params![
                hook.service_id.as_str(),
                hook.hook_id,
                self.seal_webhook_secret(&hook.service_id, &hook.secret)?,
                hook.created_at.0
            ],
        )?;
        Ok(())
    }
}

impl Db {
    /// Accepts notifications from the registry at `host`, signed with the token whose hex SHA-256 is
    /// `token_hash` (replacing an earlier token).
    pub fn put_registry_hook(&mut self, host: &str, token_hash: &str, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "INSERT INTO registry_hooks (host, token_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (host) DO UPDATE SET token_hash = ?2, created_at = ?3",
            params![host, token_hash, now.0],
        )?;
        Ok(())
    }

    pub fn registry_hooks(&self) -> Result<Vec<RegistryHook>> {
        let mut stmt = self.conn.prepare("SELECT host, created_at FROM registry_hooks ORDER BY host")?;
        let rows = stmt
            .query_map([], |r| Ok(RegistryHook { host: r.get(0)?, created_at: Timestamp(r.get(1)?) }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The registry whose token hashes to `token_hash`, if any.
    pub fn registry_hook_by_token(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT host FROM registry_hooks WHERE token_hash = ?1", [token_hash], |r| r.get(0))
            .optional()?)
    }

    /// Stops accepting a registry's notifications; whether it was accepted.
    pub fn delete_registry_hook(&mut self, host: &str) -> Result<bool> {
        Ok(self.conn.execute("DELETE FROM registry_hooks WHERE host = ?1", [host])? > 0)
    }
}
