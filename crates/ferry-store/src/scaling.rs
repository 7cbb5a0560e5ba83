//! Auto scaling configurations, and each service's latest scaling decision.

use ferry_model::{AutoScalingConfiguration, ServiceId, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::Result;

const COLUMNS: &str = "name, revision, max_concurrency, min_size, max_size, created_at";
const DEFAULT_KEY: &str = "default_autoscaling";

/// The autoscaler's latest decision for a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingDecision {
    pub desired: u32,
    pub ready: u32,
    /// Concurrent requests it saw (in flight, held and queued), averaged over its stable window.
    pub concurrency: f64,
    pub reason: String,
    pub at: Timestamp,
}

fn read(row: &Row<'_>, default: Option<&str>) -> rusqlite::Result<AutoScalingConfiguration> {
    let name: String = row.get(0)?;
    Ok(AutoScalingConfiguration {
        is_default: default == Some(name.as_str()),
        name,
        revision: row.get(1)?,
        max_concurrency: row.get(2)?,
        min_size: row.get(3)?,
        max_size: row.get(4)?,
        created_at: Timestamp(row.get(5)?),
    })
}

impl Db {
    fn default_configuration(&self) -> Result<Option<String>> {
        self.setting(DEFAULT_KEY)
    }

    /// Makes the next revision of the configuration `name` (its first if new); returns it.
    pub fn create_autoscaling(
        &mut self,
        name: &str,
        (max_concurrency, min_size, max_size): (u32, u32, u32),
        now: Timestamp,
    ) -> Result<AutoScalingConfiguration> {
        let revision: u32 = self.conn.query_row(
            "SELECT COALESCE(MAX(revision), 0) + 1 FROM autoscaling_configurations WHERE name = ?1",
            [name],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO autoscaling_configurations (name, revision, max_concurrency, min_size, max_size, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![name, revision, max_concurrency, min_size, max_size, now.0],
        )?;
        let default = self.default_configuration()?;
        Ok(AutoScalingConfiguration {
            name: name.to_owned(),
            revision,
            max_concurrency,
            min_size,
            max_size,
            created_at: now,
            is_default: default.as_deref() == Some(name),
        })
    }

    /// Live revisions of every configuration, by name then revision.
    pub fn autoscaling_configurations(&self) -> Result<Vec<AutoScalingConfiguration>> {
        let default = self.default_configuration()?;
        let sql = format!(
            "SELECT {COLUMNS} FROM autoscaling_configurations WHERE deleted_at IS NULL ORDER BY name, revision"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows =
            stmt.query_map([], |r| read(r, default.as_deref()))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A live revision of `name`, or its latest with `None`.
    pub fn autoscaling(&self, name: &str, revision: Option<u32>) -> Result<Option<AutoScalingConfiguration>> {
        let default = self.default_configuration()?;
        let sql = format!(
            "SELECT {COLUMNS} FROM autoscaling_configurations
             WHERE name = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR revision = ?2)
             ORDER BY revision DESC LIMIT 1"
        );
        Ok(self.conn.query_row(&sql, params![name, revision], |r| read(r, default.as_deref())).optional()?)
    }

    /// The configuration new services get.
    pub fn default_autoscaling(&self) -> Result<Option<AutoScalingConfiguration>> {
        match self.default_configuration()? {
            Some(name) => self.autoscaling(&name, None),
            None => Ok(None),
        }
    }

    pub fn set_default_autoscaling(&mut self, name: &str) -> Result<()> {
        self.set_setting(DEFAULT_KEY, name)
    }

    /// Deletes a revision of `name`, or all of them with `None`; how many.
    pub fn delete_autoscaling(&mut self, name: &str, revision: Option<u32>, now: Timestamp) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE autoscaling_configurations SET deleted_at = ?3
             WHERE name = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR revision = ?2)",
            params![name, revision, now.0],
        )?)
    }

    pub fn record_scaling(&mut self, service_id: &ServiceId, d: &ScalingDecision) -> Result<()> {
        self.conn.execute(
            "INSERT INTO scaling_decisions (service_id, desired, ready, concurrency, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (service_id) DO UPDATE SET desired = ?2, ready = ?3, concurrency = ?4, reason = ?5, at = ?6",
            params![service_id.as_str(), d.desired, d.ready, d.concurrency, d.reason, d.at.0],
        )?;
        Ok(())
    }

    pub fn scaling(&self, service_id: &ServiceId) -> Result<Option<ScalingDecision>> {
        Ok(self
            .conn
            .query_row(
                "SELECT desired, ready, concurrency, reason, at FROM scaling_decisions WHERE service_id = ?1",
                [service_id.as_str()],
                |r| {
                    Ok(ScalingDecision {
                        desired: r.get(0)?,
                        ready: r.get(1)?,
                        concurrency: r.get(2)?,
                        reason: r.get(3)?,
                        at: Timestamp(r.get(4)?),
                    })
                },
            )
            .optional()?)
    }
}
