//! Services and their revisions.

use ferry_model::{
    Build, Operation, Revision, Service, ServiceId, ServiceName, ServiceSpec, ServiceStatus, Timestamp,
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

fn encode_build(build: &Build) -> Result<String> {
    serde_json::to_string(build).map_err(|e| StoreError::Corrupt(format!("build cannot be encoded: {e}")))
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
        let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE service_id = ?1 AND number = ?2");
        let row = self
            .conn()
            .query_row(&sql, params![service_id.as_str(), number], RevisionRow::read)
            .optional()?;
        row.map(RevisionRow::into_revision).transpose()
    }

    /// A service's revisions, newest first.
    pub fn revisions(&self, service_id: &ServiceId) -> Result<Vec<Revision>> {
        let sql =
            format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE service_id = ?1 ORDER BY number DESC");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map([service_id.as_str()], RevisionRow::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(RevisionRow::into_revision).collect()
    }

    /// The number the service's next revision gets.
    pub fn next_revision_number(&self, service_id: &ServiceId) -> Result<u32> {
        Ok(self.conn().query_row(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE service_id = ?1",
            [service_id.as_str()],
            |r| r.get(0),
        )?)
    }

    /// Makes `number` the revision that serves: the service's active revision and desired spec, with the
    /// time it was activated.
    pub fn activate_revision(&self, service_id: &ServiceId, number: u32, now: Timestamp) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE revisions SET activated_at = ?3 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, now.0],
        )?;
        tx.execute(
            "UPDATE services SET active_revision = ?2, updated_at = ?3,
                 spec = (SELECT spec FROM revisions WHERE service_id = ?1 AND number = ?2)
             WHERE id = ?1",
            params![service_id.as_str(), number, now.0],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the desired spec back to what a revision runs (after a deployment of a newer one failed).
    pub fn reset_spec_to(&self, service_id: &ServiceId, number: u32) -> Result<()> {
        self.conn().execute(
            "UPDATE services SET spec = (SELECT spec FROM revisions WHERE service_id = ?1 AND number = ?2)
             WHERE id = ?1 AND EXISTS (SELECT 1 FROM revisions WHERE service_id = ?1 AND number = ?2)",
            params![service_id.as_str(), number],
        )?;
        Ok(())
    }

    /// Images that no revision worth keeping uses any more: those of revisions older than the newest `keep`
    /// of their service, not the active one, not named by an unfinished operation, and not shared with a
    /// revision that is kept. Deleted services keep nothing.
    pub fn prunable_images(&self, keep: u32) -> Result<Vec<(ServiceId, u32, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "WITH ranked AS (
                 SELECT r.service_id, r.number, r.image_id, r.image_pruned, s.active_revision, s.deleted_at,
                        ROW_NUMBER() OVER (PARTITION BY r.service_id ORDER BY r.number DESC) AS rn
                 FROM revisions r JOIN services s ON s.id = r.service_id
                 WHERE r.image_id IS NOT NULL
             ),
             kept AS (
                 SELECT image_id FROM ranked
                 WHERE deleted_at IS NULL AND (rn <= ?1 OR number = active_revision)
                 UNION
                 SELECT r.image_id FROM revisions r
                 JOIN operations o ON o.service_id = r.service_id AND o.revision = r.number
                 WHERE r.image_id IS NOT NULL
                   AND o.status NOT IN ('FAILED', 'SUCCEEDED', 'ROLLBACK_FAILED', 'ROLLBACK_SUCCEEDED')
             )
             SELECT service_id, number, image_id FROM ranked
             WHERE image_pruned = 0 AND image_id NOT IN (SELECT image_id FROM kept)
             ORDER BY service_id, number",
        )?;
        let rows = stmt.query_map([keep], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, number, image) = row?;
            out.push((ServiceId::parse(&id).map_err(|_| corrupt("service id", &id))?, number, image));
        }
        Ok(out)
    }

    /// Records what building a revision's code made, and the engine's id of the image.
    pub fn set_revision_build(
        &self,
        service_id: &ServiceId,
        number: u32,
        build: &Build,
        image_id: &str,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE revisions SET build = ?3, image_id = ?4 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, encode_build(build)?, image_id],
        )?;
        Ok(())
    }

    /// Records that a revision's image was removed from the engine (or is back, with `false`).
    pub fn set_image_pruned(&self, service_id: &ServiceId, number: u32, pruned: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE revisions SET image_pruned = ?3 WHERE service_id = ?1 AND number = ?2",
            params![service_id.as_str(), number, pruned],
        )?;
        Ok(())
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

pub(crate) fn insert_revision(tx: &rusqlite::Transaction<'_>, revision: &Revision) -> Result<()> {
    tx.execute(
        "INSERT INTO revisions (service_id, number, spec, image_digest, image_id, created_at, activated_at,
                                image_pruned, build)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            revision.service_id.as_str(),
            revision.number,
            encode_spec(&revision.spec)?,
            revision.image_digest,
            revision.image_id,
            revision.created_at.0,
            revision.activated_at.map(|t| t.0),
            revision.image_pruned,
            revision.build.as_ref().map(encode_build).transpose()?,
        ],
    )?;
    Ok(())
}

const REVISION_COLUMNS: &str =
    "service_id, number, spec, image_digest, image_id, created_at, activated_at, image_pruned, build";

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
}

impl RevisionRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            service_id: row.get(0)?,
            number: row.get(1)?,
            spec: row.get(2)?,
            image_digest: row.get(3)?,
            image_id: row.get(4)?,
            created_at: row.get(5)?,
            activated_at: row.get(6)?,
            image_pruned: row.get(7)?,
            build: row.get(8)?,
        })
    }

    fn into_revision(self) -> Result<Revision> {
        Ok(Revision {
            service_id: ServiceId::parse(&self.service_id)
                .map_err(|_| corrupt("service id", &self.service_id))?,
            number: self.number,
            spec: decode_spec(&self.spec)?,
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
        })
    }
}
