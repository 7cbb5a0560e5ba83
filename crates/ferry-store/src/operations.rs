//! Operations and their logs.

use ferry_model::{
    Operation, OperationEvent, OperationId, OperationStatus, OperationType, ServiceId, Timestamp, Trigger,
};
use rusqlite::{OptionalExtension, Row, params};

use crate::db::Db;
use crate::error::{Result, corrupt};

const COLUMNS: &str =
    "id, service_id, type, status, revision, created_at, started_at, ended_at, updated_at, error, trigger";

/// Operations in these states have ended; the SQL below spells them out to use the index.
const UNFINISHED: &str = "status NOT IN ('FAILED', 'SUCCEEDED', 'ROLLBACK_FAILED', 'ROLLBACK_SUCCEEDED')";

/// An operation's row as stored, before its values are checked.
struct RawOperation {
    id: String,
    service_id: String,
    kind: String,
    status: String,
    revision: Option<u32>,
    created_at: i64,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    updated_at: i64,
    error: Option<String>,
    trigger: Option<String>,
}

fn read(row: &Row<'_>) -> rusqlite::Result<RawOperation> {
    Ok(RawOperation {
        id: row.get(0)?,
        service_id: row.get(1)?,
        kind: row.get(2)?,
        status: row.get(3)?,
        revision: row.get(4)?,
        created_at: row.get(5)?,
        started_at: row.get(6)?,
        ended_at: row.get(7)?,
        updated_at: row.get(8)?,
        error: row.get(9)?,
        trigger: row.get(10)?,
    })
}

fn decode(raw: RawOperation) -> Result<Operation> {
    let trigger = raw.trigger.unwrap_or_default();
    Ok(Operation {
        id: OperationId::parse(&raw.id).map_err(|_| corrupt("operation id", &raw.id))?,
        service_id: ServiceId::parse(&raw.service_id).map_err(|_| corrupt("service id", &raw.service_id))?,
        kind: OperationType::parse(&raw.kind).ok_or_else(|| corrupt("operation type", &raw.kind))?,
        status: OperationStatus::parse(&raw.status)
            .ok_or_else(|| corrupt("operation status", &raw.status))?,
        revision: raw.revision,
        created_at: Timestamp(raw.created_at),
        started_at: raw.started_at.map(Timestamp),
        ended_at: raw.ended_at.map(Timestamp),
        updated_at: Timestamp(raw.updated_at),
        error: raw.error,
        trigger: Trigger::decode(&trigger).ok_or_else(|| corrupt("operation trigger", &trigger))?,
    })
}

/// A line for an operation's log, waiting to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub operation: OperationId,
    pub at: Timestamp,
    pub message: String,
}

impl Db {
    pub fn insert_operation(&mut self, op: &Operation) -> Result<()> {
        self.conn.execute(
            "INSERT INTO operations (id, service_id, type, status, revision, created_at, started_at, ended_at,
                                     updated_at, error, trigger)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                op.id.as_str(),
                op.service_id.as_str(),
                op.kind.as_str(),
                op.status.as_str(),
                op.revision,
                op.created_at.0,
                op.started_at.map(|t| t.0),
                op.ended_at.map(|t| t.0),
                op.updated_at.0,
                op.error,
                op.trigger.encode(),
            ],
        )?;
        Ok(())
    }

    pub fn operation(&self, id: &OperationId) -> Result<Option<Operation>> {
        let sql = format!("SELECT {COLUMNS} FROM operations WHERE id = ?1");
        let raw = self.conn.query_row(&sql, [id.as_str()], read).optional()?;
        raw.map(decode).transpose()
    }

    /// A service's operations, newest first.
    pub fn operations(&self, service_id: &ServiceId, limit: usize) -> Result<Vec<Operation>> {
        let sql =
            format!("SELECT {COLUMNS} FROM operations WHERE service_id = ?1 ORDER BY seq DESC LIMIT ?2");
        let mut stmt = self.conn.prepare(&sql)?;
        let raws = stmt.query_map(params![service_id.as_str(), limit as i64], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    /// A service's operations that have not ended, oldest first: the one running, then the queue.
    pub fn unfinished_operations(&self, service_id: &ServiceId) -> Result<Vec<Operation>> {
        let sql =
            format!("SELECT {COLUMNS} FROM operations WHERE service_id = ?1 AND {UNFINISHED} ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql)?;
        let raws = stmt.query_map([service_id.as_str()], read)?;
        raws.map(|r| decode(r?)).collect()
    }

    /// The services that have an operation that has not ended.
    pub fn services_with_unfinished_operations(&self) -> Result<Vec<ServiceId>> {
        let sql = format!("SELECT DISTINCT service_id FROM operations WHERE {UNFINISHED}");
        let mut stmt = self.conn.prepare(&sql)?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        ids.into_iter().map(|id| ServiceId::parse(&id).map_err(|_| corrupt("service id", &id))).collect()
    }

    /// The service's oldest operation that has not ended: the one to work on now.
    pub fn current_operation(&self, service_id: &ServiceId) -> Result<Option<Operation>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM operations WHERE service_id = ?1 AND {UNFINISHED} ORDER BY seq LIMIT 1"
        );
        let raw = self.conn.query_row(&sql, [service_id.as_str()], read).optional()?;
        raw.map(decode).transpose()
    }

    /// Writes an operation's status, times and error.
    pub fn update_operation(&mut self, op: &Operation) -> Result<()> {
        self.conn.execute(
            "UPDATE operations SET status = ?2, revision = ?3, started_at = ?4, ended_at = ?5, updated_at = ?6,
                                   error = ?7
             WHERE id = ?1",
            params![
                op.id.as_str(),
                op.status.as_str(),
                op.revision,
                op.started_at.map(|t| t.0),
                op.ended_at.map(|t| t.0),
                op.updated_at.0,
                op.error,
            ],
        )?;
        Ok(())
    }

    /// Appends a line to an operation's log and returns its number.
    pub fn append_event(&mut self, op: &OperationId, at: Timestamp, message: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "INSERT INTO operation_events (operation_id, seq, at, message)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM operation_events WHERE operation_id = ?1), ?2, ?3)
             RETURNING seq",
            params![op.as_str(), at.0, message],
            |r| r.get(0),
        )?)
    }

    /// Appends lines, in order, in one transaction.
    pub fn append_events(&mut self, events: &[NewEvent]) -> Result<()> {
        self.transaction(|db| {
            for e in events {
                db.append_event(&e.operation, e.at, &e.message)?;
            }
            Ok(())
        })
    }

    /// An operation's log lines numbered after `after`, oldest first, at most `limit`.
    pub fn events(&self, op: &OperationId, after: i64, limit: usize) -> Result<Vec<OperationEvent>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, message FROM operation_events WHERE operation_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![op.as_str(), after, limit as i64], |r| {
            Ok(OperationEvent { seq: r.get(0)?, at: Timestamp(r.get(1)?), message: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
