//! Instances, as last observed: what a restart needs to adopt running containers.

use ferry_model::{Instance, InstanceId, InstanceState, ServiceId, Timestamp};
use rusqlite::{Row, params};

use crate::{Result, Store, corrupt};

const COLUMNS: &str =
    "id, service_id, revision, state, container_id, address, created_at, state_since, detail";

type RawInstance = (String, String, u32, String, Option<String>, Option<String>, i64, i64, Option<String>);

fn read(row: &Row<'_>) -> rusqlite::Result<RawInstance> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn decode(raw: RawInstance) -> Result<Instance> {
    let (id, service_id, revision, state, container_id, address, created_at, state_since, detail) = raw;
    Ok(Instance {
        id: InstanceId::parse(&id).map_err(|_| corrupt("instance id", &id))?,
        service_id: ServiceId::parse(&service_id).map_err(|_| corrupt("service id", &service_id))?,
        revision,
        state: InstanceState::parse(&state).ok_or_else(|| corrupt("instance state", &state))?,
        container_id,
        address,
        created_at: Timestamp(created_at),
        state_since: Timestamp(state_since),
        detail,
    })
}

impl Store {
    /// Inserts or replaces the instance's row.
    pub fn put_instance(&self, i: &Instance) -> Result<()> {
        self.conn().execute(
            "INSERT INTO instances (id, service_id, revision, state, container_id, address, created_at,
                                    state_since, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET state = ?4, container_id = ?5, address = ?6, state_since = ?8,
                                            detail = ?9",
            params![
                i.id.as_str(),
                i.service_id.as_str(),
                i.revision,
                i.state.as_str(),
                i.container_id,
                i.address,
                i.created_at.0,
                i.state_since.0,
                i.detail,
            ],
        )?;
        Ok(())
    }

    pub fn delete_instance(&self, id: &InstanceId) -> Result<()> {
        self.conn().execute("DELETE FROM instances WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    pub fn instances(&self, service_id: &ServiceId) -> Result<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE service_id = ?1 ORDER BY created_at, id");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let raws = stmt.query_map([service_id.as_str()], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    pub fn all_instances(&self) -> Result<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances ORDER BY created_at, id");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let raws = stmt.query_map([], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    /// Where the instance's application log was last read up to, to resume without repeating lines.
    pub fn log_cursor(&self, id: &InstanceId) -> Result<Option<Timestamp>> {
        let cursor: Option<Option<i64>> = self
            .conn()
            .query_row("SELECT log_cursor FROM instances WHERE id = ?1", [id.as_str()], |r| r.get(0))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        Ok(cursor.flatten().map(Timestamp))
    }

    pub fn set_log_cursor(&self, id: &InstanceId, at: Timestamp) -> Result<()> {
        self.conn()
            .execute("UPDATE instances SET log_cursor = ?2 WHERE id = ?1", params![id.as_str(), at.0])?;
        Ok(())
    }
}
