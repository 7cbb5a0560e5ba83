//! Services: identity, status, the desired spec and the revision that serves.

use ferry_model::{OperationId, Service, ServiceId, ServiceName, ServiceSpec, ServiceStatus, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, StoreError, corrupt};

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
    fn decode(self) -> Result<Service> {
        Ok(Service {
            id: ServiceId::parse(&self.id).map_err(|_| corrupt("service id", &self.id))?,
            name: ServiceName::parse(&self.name).map_err(|_| corrupt("service name", &self.name))?,
            status: ServiceStatus::parse(&self.status)
                .ok_or_else(|| corrupt("service status", &self.status))?,
            spec: decode_spec(&self.spec)?,
            active_revision: self.active_revision,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            deleted_at: self.deleted_at.map(Timestamp),
        })
    }
}

pub(crate) fn encode_spec(spec: &ServiceSpec) -> Result<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(format!("spec cannot be encoded: {e}")))
}

pub(crate) fn decode_spec(json: &str) -> Result<ServiceSpec> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored spec: {e}")))
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
                encode_spec(&service.spec)?,
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
        row.map(ServiceRow::decode).transpose()
    }

    /// The service with this id, deleted or not.
    pub fn service(&self, id: &ServiceId) -> Result<Option<Service>> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE id = ?1");
        let row = self.conn.query_row(&sql, [id.as_str()], read).optional()?;
        row.map(ServiceRow::decode).transpose()
    }

    /// Live services, oldest first.
    pub fn list_services(&self) -> Result<Vec<Service>> {
        let sql = format!("SELECT {COLUMNS} FROM services WHERE deleted_at IS NULL ORDER BY created_at, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(ServiceRow::decode).collect()
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
            params![id.as_str(), encode_spec(spec)?],
        )?;
        Ok(())
    }

    /// Marks the service DELETED; its name is free again. Its rows stay, for the record.
    pub fn mark_deleted(&mut self, id: &ServiceId, now: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE services SET status = 'DELETED', updated_at = ?2, deleted_at = ?2 WHERE id = ?1",
            params![id.as_str(), now.0],
        )?;
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
