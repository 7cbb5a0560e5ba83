//! Services: identity, status, the desired spec and the revision that serves.

use ferry_model::{OperationId, Service, ServiceId, ServiceName, ServiceSpec, ServiceStatus, Timestamp};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::Value;

use crate::db::Db;
use crate::error::{Result, StoreError, corrupt};
use crate::seal::Sealer;

const COLUMNS: &str = "id, name, status, spec, active_revision, created_at, updated_at, deleted_at";

fn read(row: &Row<'_>) -> rusqlite::Result<ServiceRow> {
    Ok(ServiceRow {
        id: row.get(0)?,
        name: row.get(1)?,
        status: row.get(2)?,
        spec: row.get(3)?,
        active_revision: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        deleted_at: row.get(7)?,
    })
}

struct ServiceRow {
    id: String,
    name: String,
    status: String,
    spec: String,
    active_revision: Option<u32>,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl ServiceRow {
    fn decode(self, sealer: &Sealer) -> Result<Service> {
        let id = ServiceId::parse(&self.id).map_err(|_| corrupt("service id", &self.id))?;
        Ok(Service {
            spec: decode_spec(sealer, &id, &self.spec)?,
            id,
            name: ServiceName::parse(&self.name).map_err(|_| corrupt("service name", &self.name))?,
            status: ServiceStatus::parse(&self.status)
                .ok_or_else(|| corrupt("service status", &self.status))?,
            active_revision: self.active_revision,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            deleted_at: self.deleted_at.map(Timestamp),
        })
    }
}

/// Where a service's credentials are sealed: its own rows and its revisions' share the place, so a
/// revision's spec can become the service's (`settle_spec`) but not another service's.
fn credentials_place(service: &ServiceId) -> String {
    format!("credentials:{service}")
}

/// The credentials member of a spec's source (`source.Image.credentials`, `source.Code.credentials`).
fn credentials_slot(spec: &mut Value) -> Option<&mut Value> {
    spec.get_mut("source")?.as_object_mut()?.values_mut().next()?.get_mut("credentials")
}

/// The spec as stored: JSON, with its registry or git credentials sealed as `{"sealed": "<hex>"}`.
pub(crate) fn encode_spec(sealer: &Sealer, service: &ServiceId, spec: &ServiceSpec) -> Result<String> {
    let cannot = |e: serde_json::Error| StoreError::Corrupt(format!("spec cannot be encoded: {e}"));
    let mut value = serde_json::to_value(spec).map_err(cannot)?;
    if let Some(slot) = credentials_slot(&mut value).filter(|c| !c.is_null()) {
        let sealed = sealer.seal_text(&credentials_place(service), &slot.to_string())?;
        *slot = serde_json::json!({ "sealed": sealed });
    }
    serde_json::to_string(&value).map_err(cannot)
}

/// A stored spec, its credentials opened. Credentials an earlier ferry stored in clear read as they are
/// (and are sealed when the database is opened: [`Db::seal_plaintext_credentials`]).
pub(crate) fn decode_spec(sealer: &Sealer, service: &ServiceId, json: &str) -> Result<ServiceSpec> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("stored spec: {e}"));
    let mut value: Value = serde_json::from_str(json).map_err(corrupt)?;
    if let Some(slot) = credentials_slot(&mut value)
        && let Some(sealed) = slot.get("sealed").and_then(Value::as_str)
    {
        let plain = sealer.open_text(&credentials_place(service), sealed)?;
        *slot = serde_json::from_str(&plain).map_err(corrupt)?;
    }
    serde_json::from_value(value).map_err(corrupt)
}

impl Db {
    /// Seals the credentials an earlier ferry stored in clear in the specs of services and revisions; returns
    /// how many specs it rewrote.
    pub(crate) fn seal_plaintext_specs(&mut self) -> Result<usize> {
        // A JSON string cannot hold `"credentials":{` unescaped, so this matches only the member itself.
        const CLEAR: &str = r#"spec LIKE '%"credentials":{%' AND spec NOT LIKE '%"credentials":{"sealed"%'"#;
        self.transaction(|db| {
            let mut sealed = 0;
            let rows: Vec<(String, i64, String)> = {
                let sql = format!(
                    "SELECT id, 0, spec FROM services WHERE {CLEAR}
                     UNION ALL SELECT service_id, number, spec FROM revisions WHERE {CLEAR}"
                );
                let mut stmt = db.conn.prepare(&sql)?;
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for (id, number, json) in rows {
                let service = ServiceId::parse(&id).map_err(|_| corrupt("service id", &id))?;
                let spec = encode_spec(&db.sealer, &service, &decode_spec(&db.sealer, &service, &json)?)?;
                if number == 0 {
                    db.conn.execute("UPDATE services SET spec = ?2 WHERE id = ?1", params![id, spec])?;
                } else {
                    db.conn.execute(
                        "UPDATE revisions SET spec = ?3 WHERE service_id = ?1 AND number = ?2",
                        params![id, number, spec],
                    )?;
                }
                sealed += 1;
            }
            Ok(sealed)
        })
    }
}

impl Db {
    /// Records a new service; [`StoreError::NameTaken`] if a live service has its name in any case.
    pub fn insert_service(&mut self, service: &Service) -> Result<()> {
        let taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM services WHERE name_key = ?1 AND deleted_at IS NULL)",
            [service.name.host_label()],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::NameTaken(service.name.to_string()));
        }
        self.conn.execute(
            "INSERT INTO services (id, name, name_key, status, spec, active_revision, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                service.id.as_str(),
                service.name.as_str(),
                service.name.host_label(),
                service.status.as_str(),
                encode_spec(&self.sealer, &service.id, &service.spec)?,
                service.active_revision,
                service.created_at.0,
                service.updated_at.0,
            ],
        )?;
        Ok(())
    }

    /// The live (not deleted) service with this name, in any case.
    pub fn service_by_name(&self, name: &str) -> Result<Option<Service>> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE name_key = ?1 AND deleted_at IS NULL");
        let row = self.conn.query_row(&sql, [name.to_ascii_lowercase()], read).optional()?;
        row.map(|r| r.decode(&self.sealer)).transpose()
    }

    /// The service with this id, deleted or not.
    pub fn service(&self, id: &ServiceId) -> Result<Option<Service>> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id.as_str()], read).optional()?;
        row.map(|r| r.decode(&self.sealer)).transpose()
    }

    /// Live services, oldest first.
    pub fn list_services(&self) -> Result<Vec<Service>> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE deleted_at IS NULL ORDER BY created_at, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|r| r.decode(&self.sealer)).collect()
    }

    pub fn set_service_status(
        &mut self,
        id: &ServiceId,
        status: ServiceStatus,
        now: Timestamp,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE services SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), status.as_str(), now.0],
        )?;
        Ok(())
    }

    /// Sets the desired spec: what the next revision (and a deployment's retry) starts from.
    pub fn set_service_spec(&mut self, id: &ServiceId, spec: &ServiceSpec) -> Result<()> {
        self.conn.execute(
            "UPDATE services SET spec = ?2 WHERE id = ?1",
            params![id.as_str(), encode_spec(&self.sealer, id, spec)?],
        )?;
        Ok(())
    }

    /// Marks the service DELETED; its name is free again. Its rows stay, for the record.
    pub fn mark_deleted(&mut self, id: &ServiceId, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE services SET status = 'DELETED', updated_at = ?2, deleted_at = ?2 WHERE id = ?1",
            params![id.as_str(), now.0],
        )?;
        // Its domains are free for another service (their certificates leave with them).
        self.conn.execute("DELETE FROM custom_domains WHERE service_id = ?1", [id.as_str()])?;
        Ok(())
    }

    /// Makes `number` the revision that serves (the service's active revision), with the time it was
    /// activated.
    pub fn activate_revision(&mut self, service_id: &ServiceId, number: u32, now: Timestamp) -> Result<()> {
        self.transaction(|db| {
            db.conn.execute(
                "UPDATE revisions SET activated_at = ?3 WHERE service_id = ?1 AND number = ?2",
                params![service_id.as_str(), number, now.0],
            )?;
            db.conn.execute(
                "UPDATE services SET active_revision = ?2, updated_at = ?3 WHERE id = ?1",
                params![service_id.as_str(), number, now.0],
            )?;
            Ok(())
        })
    }

    /// Once operation `current` ends with revision `number` serving (it deployed it, or it failed and
    /// `number` keeps serving): the desired spec becomes `number`'s, unless another unfinished operation
    /// names a revision. That one was queued with the desired spec it was built on, which stays: a change
    /// queued behind a deployment is never undone by the deployment's end.
    pub fn settle_spec(&mut self, service_id: &ServiceId, number: u32, current: &OperationId) -> Result<()> {
        self.conn.execute(
            "UPDATE services SET spec = (SELECT spec FROM revisions WHERE service_id = ?1 AND number = ?2)
             WHERE id = ?1
               AND EXISTS (SELECT 1 FROM revisions WHERE service_id = ?1 AND number = ?2)
               AND NOT EXISTS (SELECT 1 FROM operations
                               WHERE service_id = ?1 AND id != ?3 AND revision IS NOT NULL
                                 AND status NOT IN ('FAILED', 'SUCCEEDED', 'ROLLBACK_FAILED', 'ROLLBACK_SUCCEEDED'))",
            params![service_id.as_str(), number, current.as_str()],
        )?;
        Ok(())
    }
}
