//! Instances, as last observed: what a restart needs to adopt running containers.

use std::net::SocketAddr;

use ferry_model::{Instance, InstanceAddress, InstanceId, InstanceState, ServiceId, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, corrupt};

const COLUMNS: &str = "id, service_id, revision, state, container_id, address, created_at, state_since, detail, node, probe_address";

struct RawInstance {
    id: String,
    service_id: String,
    revision: u32,
    state: String,
    container_id: Option<String>,
    address: Option<String>,
    created_at: i64,
    state_since: i64,
    detail: Option<String>,
    node: Option<String>,
    probe: Option<String>,
}

fn read(row: &Row<'_>) -> rusqlite::Result<RawInstance> {
    Ok(RawInstance {
        id: row.get(0)?,
        service_id: row.get(1)?,
        revision: row.get(2)?,
        state: row.get(3)?,
        container_id: row.get(4)?,
        address: row.get(5)?,
        created_at: row.get(6)?,
        state_since: row.get(7)?,
        detail: row.get(8)?,
        node: row.get(9)?,
        probe: row.get(10)?,
    })
}

fn socket(what: &str, value: &str) -> Result<SocketAddr> {
    value.parse().map_err(|_| corrupt(what, value))
}

fn decode(raw: RawInstance) -> Result<Instance> {
    let address = match &raw.address {
        Some(endpoint) => Some(InstanceAddress {
            // Rows written before nodes were recorded ran on the one engine there was.
            node: raw.node.clone().unwrap_or_default(),
            endpoint: socket("instance address", endpoint)?,
            probe: raw.probe.as_deref().map(|p| socket("instance probe address", p)).transpose()?,
        }),
        None => None,
    };
    Ok(Instance {
        id: InstanceId::parse(&raw.id).map_err(|_| corrupt("instance id", &raw.id))?,
        service_id: ServiceId::parse(&raw.service_id).map_err(|_| corrupt("service id", &raw.service_id))?,
        revision: raw.revision,
        state: InstanceState::parse(&raw.state).ok_or_else(|| corrupt("instance state", &raw.state))?,
        container_id: raw.container_id,
        address,
        created_at: Timestamp(raw.created_at),
        state_since: Timestamp(raw.state_since),
        detail: raw.detail,
    })
}

impl Db {
    /// Inserts or replaces the instance's row.
    pub fn put_instance(&mut self, i: &Instance) -> Result<()> {
        let address = i.address.as_ref();
        self.conn.execute(
            "INSERT INTO instances (id, service_id, revision, state, container_id, address, created_at,
                                    state_since, detail, node, probe_address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET state = ?4, container_id = ?5, address = ?6, state_since = ?8,
                                            detail = ?9, node = ?10, probe_address = ?11",
            params![
                i.id.as_str(),
                i.service_id.as_str(),
                i.revision,
                i.state.as_str(),
                i.container_id,
                address.map(|a| a.endpoint.to_string()),
                i.created_at.0,
                i.state_since.0,
                i.detail,
                address.map(|a| a.node.as_str()),
                address.and_then(|a| a.probe).map(|p| p.to_string()),
            ],
        )?;
        Ok(())
    }

    pub fn delete_instance(&mut self, id: &InstanceId) -> Result<()> {
        self.conn.execute("DELETE FROM instances WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    pub fn instances(&self, service_id: &ServiceId) -> Result<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances WHERE service_id = ?1 ORDER BY created_at, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let raws = stmt.query_map([service_id.as_str()], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    pub fn all_instances(&self) -> Result<Vec<Instance>> {
        let sql = format!("SELECT {COLUMNS} FROM instances ORDER BY created_at, id");
        let mut stmt = self.conn.prepare(&sql)?;
        let raws = stmt.query_map([], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    /// Where the instance's application log was last read up to, to resume without repeating lines.
    pub fn log_cursor(&self, id: &InstanceId) -> Result<Option<Timestamp>> {
        let cursor: Option<Option<i64>> = self
            .conn
            .query_row("SELECT log_cursor FROM instances WHERE id = ?1", [id.as_str()], |r| r.get(0))
            .optional()?;
        Ok(cursor.flatten().map(Timestamp))
    }

    pub fn set_log_cursor(&mut self, id: &InstanceId, at: Timestamp) -> Result<()> {
        self.conn
            .execute("UPDATE instances SET log_cursor = ?2 WHERE id = ?1", params![id.as_str(), at.0])?;
        Ok(())
    }
}
