//! Revisions: the immutable versions of a service, and what their images became on the engine.

use ferry_model::{Build, Revision, ServiceId, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, StoreError, corrupt};
use crate::seal::Sealer;
use crate::services::{decode_spec, encode_spec};

const COLUMNS: &str = "service_id, number, spec, image_digest, image_id, created_at, activated_at, image_pruned, build, source_commit";

/// A revision with what decides whether its image may be pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionUse {
    pub revision: Revision,
    /// It is the service's active revision.
    pub active: bool,
    /// An operation that has not ended names it.
    pub deploying: bool,
    /// Its service is deleted.
    pub service_deleted: bool,
}

struct RevisionRow {
    service_id: String,
    number: u32,
    spec: String,
    image_digest: Option<String>,
    image_id: Option<String>,
    created_at: i64,
    activated_at: Option<i64>,
    image_pruned: bool,
    build: Option<String>,
    source_commit: Option<String>,
}

fn read(row: &Row<'_>) -> rusqlite::Result<RevisionRow> {
    Ok(RevisionRow {
        service_id: row.get(0)?,
        number: row.get(1)?,
        spec: row.get(2)?,
        image_digest: row.get(3)?,
        image_id: row.get(4)?,
        created_at: row.get(5)?,
        activated_at: row.get(6)?,
        image_pruned: row.get(7)?,
        build: row.get(8)?,
        source_commit: row.get(9)?,
    })
}

impl RevisionRow {
    fn decode(self, sealer: &Sealer) -> Result<Revision> {
        let service_id =
            ServiceId::parse(&self.service_id).map_err(|_| corrupt("service id", &self.service_id))?;
        Ok(Revision {
            spec: decode_spec(sealer, &service_id, &self.spec)?,
            service_id,
            number: self.number,
            image_digest: self.image_digest,
            image_id: self.image_id,
            created_at: Timestamp(self.created_at),
            activated_at: self.activated_at.map(Timestamp),
            image_pruned: self.image_pruned,
            build: self
                .build
                .map(|b| {
                    serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("stored build: {e}")))
                })
                .transpose()?,
            source_commit: self.source_commit,
        })
    }
}

fn encode_build(build: &Build) -> Result<String> {
    serde_json::to_string(build).map_err(|e| StoreError::Corrupt(format!("build cannot be encoded: {e}")))
}

impl Db {
    pub fn insert_revision(&mut self, revision: &Revision) -> Result<()> {
        self.conn.execute(
            "INSERT INTO revisions (service_id, number, spec, image_digest, image_id, created_at, activated_at,
                                    image_pruned, build, source_commit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                revision.service_id.as_str(),
                revision.number,
                encode_spec(&self.sealer, &revision.service_id, &revision.spec)?,
                revision.image_digest,
                revision.image_id,
                revision.created_at.0,
                revision.activated_at.map(|t| t.0),
                revision.image_pruned,
                revision.build.as_ref().map(encode_build).transpose()?,
                revision.source_commit,
            ],
        )?;
        Ok(())
    }

    pub fn revision(&self, service_id: &ServiceId, number: u32) -> Result<Option<Revision>> {
        let sql = format!("SELECT {COLUMNS} FROM revisions WHERE service_id = ?1 AND number = ?2");
        let row = self.conn.query_row(&sql, params![service_id.as_str(), number], read).optional()?;
        row.map(|r| r.decode(&self.sealer)).transpose()
    }

    /// A service's revisions, newest first.
    pub fn revisions(&self, service_id: &ServiceId) -> Result<Vec<Revision>> {
        let sql = format!("SELECT {COLUMNS} FROM revisions WHERE service_id = ?1 ORDER BY number DESC");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([service_id.as_str()], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|r| r.decode(&self.sealer)).collect()
    }

    /// The number the service's next revision gets.
    pub fn next_revision_number(&self, service_id: &ServiceId) -> Result<u32> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE service_id = ?1",
            [service_id.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Records what building a revision's code made, and the engine's id of the image.
    pub fn set_revision_build(
        &mut self,
        service_id: &ServiceId,
        number: u32,
        build: &Build,
        image_id: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE revisions SET build = ?3, image_id = ?4 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, encode_build(build)?, image_id],
        )?;
        Ok(())
    }

    /// Records what a revision's image resolved to when it was pulled.
    pub fn set_revision_image(
        &mut self,
        service_id: &ServiceId,
        number: u32,
        image_digest: Option<&str>,
        image_id: &str,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE revisions SET image_digest = ?3, image_id = ?4 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, image_digest, image_id],
        )?;
        Ok(())
    }

    /// Records that a revision's image was removed from the engine (or is back, with `false`).
    pub fn set_image_pruned(&mut self, service_id: &ServiceId, number: u32, pruned: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE revisions SET image_pruned = ?3 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, pruned],
        )?;
        Ok(())
    }

    /// Every revision whose image reached the engine and was not pruned since, with what decides whether
    /// it may be pruned now (`ferry_plan::prune` decides).
    pub fn revisions_on_engine(&self) -> Result<Vec<RevisionUse>> {
        let sql = format!(
            "SELECT {cols}, r.number = s.active_revision, s.deleted_at IS NOT NULL,
                    EXISTS (SELECT 1 FROM operations o
                            WHERE o.service_id = r.service_id AND o.revision = r.number
                              AND o.status NOT IN ('FAILED', 'SUCCEEDED', 'ROLLBACK_FAILED', 'ROLLBACK_SUCCEEDED'))
             FROM revisions r JOIN services s ON s.id = r.service_id
             WHERE r.image_id IS NOT NULL AND r.image_pruned = 0
             ORDER BY r.service_id, r.number",
            cols = COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map([], |row| {
                // After the revision's own columns.
                let n = COLUMNS.split(", ").count();
                let active: Option<bool> = row.get(n)?;
                Ok((
                    read(row)?,
                    active.unwrap_or(false),
                    row.get::<_, bool>(n + 1)?,
                    row.get::<_, bool>(n + 2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(row, active, service_deleted, deploying)| {
                Ok(RevisionUse { revision: row.decode(&self.sealer)?, active, deploying, service_deleted })
            })
            .collect()
    }
}
