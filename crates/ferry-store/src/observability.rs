//! Observability configurations (App Runner's), revisioned by name as auto scaling configurations are.
//! ferry has no tracing backend: a configuration is kept and reported, and services name the revision
//! they use in their spec.

use ferry_model::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::Result;

const COLUMNS: &str = "name, revision, trace_vendor, created_at, deleted_at";

/// A revision of an observability configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservabilityRecord {
    pub name: String,
    pub revision: u32,
    /// `TraceConfiguration.Vendor` (App Runner knows `AWSXRAY` only); `None`: tracing not asked for.
    pub trace_vendor: Option<String>,
    pub created_at: Timestamp,
    pub deleted_at: Option<Timestamp>,
}

fn read(row: &Row<'_>) -> rusqlite::Result<ObservabilityRecord> {
    Ok(ObservabilityRecord {
        name: row.get(0)?,
        revision: row.get(1)?,
        trace_vendor: row.get(2)?,
        created_at: Timestamp(row.get(3)?),
        deleted_at: row.get::<_, Option<i64>>(4)?.map(Timestamp),
    })
}

impl Db {
    /// Makes the next revision of the configuration `name` (its first if new; a deleted revision's number
    /// is never reused); returns it.
    pub fn create_observability(
        &mut self,
        name: &str,
        trace_vendor: Option<&str>,
        now: Timestamp,
    ) -> Result<ObservabilityRecord> {
        self.transaction(|db| {
            let revision: u32 = db.conn.query_row(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM observability_configurations WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?;
            db.conn.execute(
                "INSERT INTO observability_configurations (name, revision, trace_vendor, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, revision, trace_vendor, now.0],
            )?;
            Ok(ObservabilityRecord {
                name: name.to_owned(),
                revision,
                trace_vendor: trace_vendor.map(str::to_owned),
                created_at: now,
                deleted_at: None,
            })
        })
    }

    /// Live revisions of every configuration, by name then revision.
    pub fn observability_configurations(&self) -> Result<Vec<ObservabilityRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM observability_configurations WHERE deleted_at IS NULL ORDER BY name, revision"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A live revision of `name`, or its latest live one with `None`.
    pub fn observability(&self, name: &str, revision: Option<u32>) -> Result<Option<ObservabilityRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM observability_configurations
             WHERE name = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR revision = ?2)
             ORDER BY revision DESC LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, params![name, revision], read).optional()?)
    }

    /// Deletes a live revision of `name`; whether there was one.
    pub fn delete_observability(&mut self, name: &str, revision: u32, now: Timestamp) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE observability_configurations SET deleted_at = ?3
             WHERE name = ?1 AND revision = ?2 AND deleted_at IS NULL",
            params![name, revision, now.0],
        )?;
        Ok(changed > 0)
    }
}
