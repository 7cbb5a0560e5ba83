//! Services and their revisions.

use ferry_model::{
    Operation, Revision, Service, ServiceId, ServiceName, ServiceSpec, ServiceStatus, Timestamp,
};
use rusqlite::{OptionalExtension, Row, params};

use crate::{Result, Store, StoreError, corrupt};

const SERVICE_COLUMNS: &str = "id, name, status, spec, active_revision, created_at, updated_at, deleted_at";

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
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
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

    fn into_service(self) -> Result<Service> {
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

impl Store {
    /// Records a new service with its first revision and the operation that will deploy it, atomically.
    pub fn create_service(
        &self,
        service: &Service,
        revision: &Revision,
        operation: &Operation,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM services WHERE name_key = ?1 AND deleted_at IS NULL)",
            [service.name.host_label()],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::NameTaken(service.name.to_string()));
        }
        tx.execute(
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
        insert_revision(&tx, revision)?;
        crate::operations::insert_operation(&tx, operation)?;
        tx.commit()?;
        Ok(())
    }

    /// The live (not deleted) service with this name, in any case.
    pub fn service_by_name(&self, name: &str) -> Result<Option<Service>> {
        let sql =
            format!("SELECT {SERVICE_COLUMNS} FROM services WHERE name_key = ?1 AND deleted_at IS NULL");
        let row = self.conn().query_row(&sql, [name.to_ascii_lowercase()], ServiceRow::read).optional()?;
        row.map(ServiceRow::into_service).transpose()
    }

    /// The service with this id, deleted or not.
    pub fn service(&self, id: &ServiceId) -> Result<Option<Service>> {
        let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE id = ?1");
        let row = self.conn().query_row(&sql, [id.as_str()], ServiceRow::read).optional()?;
        row.map(ServiceRow::into_service).transpose()
    }

    /// Live services, oldest first.
    pub fn list_services(&self) -> Result<Vec<Service>> {
        let sql = format!(
            "SELECT {SERVICE_COLUMNS} FROM services WHERE deleted_at IS NULL ORDER BY created_at, id"
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], ServiceRow::read)?.collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(ServiceRow::into_service).collect()
    }

    pub fn set_service_status(&self, id: &ServiceId, status: ServiceStatus, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE services SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), status.as_str(), now.0],
        )?;
        Ok(())
    }

    pub fn set_active_revision(&self, id: &ServiceId, revision: u32, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE services SET active_revision = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), revision, now.0],
        )?;
        Ok(())
    }

    /// Marks the service DELETED; its name is free again. Its rows stay, for the record.
    pub fn mark_deleted(&self, id: &ServiceId, now: Timestamp) -> Result<()> {
        self.conn().execute(
            "UPDATE services SET status = 'DELETED', updated_at = ?2, deleted_at = ?2 WHERE id = ?1",
            params![id.as_str(), now.0],
        )?;
        Ok(())
    }

    pub fn revision(&self, service_id: &ServiceId, number: u32) -> Result<Option<Revision>> {
        let row = self
            .conn()
            .query_row(
                "SELECT number, spec, image_digest, image_id, created_at FROM revisions
                 WHERE service_id = ?1 AND number = ?2",
                params![service_id.as_str(), number],
                |r| {
                    Ok((
                        r.get::<_, u32>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(number, spec, image_digest, image_id, created_at)| {
            Ok(Revision {
                service_id: service_id.clone(),
                number,
                spec: decode_spec(&spec)?,
                image_digest,
                image_id,
                created_at: Timestamp(created_at),
            })
        })
        .transpose()
    }

    /// Records what a revision's image resolved to when it was pulled.
    pub fn set_revision_image(
        &self,
        service_id: &ServiceId,
        number: u32,
        image_digest: Option<&str>,
        image_id: &str,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE revisions SET image_digest = ?3, image_id = ?4 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, image_digest, image_id],
        )?;
        Ok(())
    }
}

fn insert_revision(tx: &rusqlite::Transaction<'_>, revision: &Revision) -> Result<()> {
    tx.execute(
        "INSERT INTO revisions (service_id, number, spec, image_digest, image_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            revision.service_id.as_str(),
            revision.number,
            encode_spec(&revision.spec)?,
            revision.image_digest,
            revision.image_id,
            revision.created_at.0,
        ],
    )?;
    Ok(())
}
