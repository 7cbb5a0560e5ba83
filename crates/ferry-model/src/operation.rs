//! Operations: the record of every mutating call, as App Runner's `ListOperations` shows them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{OperationId, ServiceId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationType {
    StartDeployment,
    CreateService,
    PauseService,
    ResumeService,
    DeleteService,
    UpdateService,
}

impl OperationType {
    pub const ALL: [OperationType; 6] = [
        Self::StartDeployment,
        Self::CreateService,
        Self::PauseService,
        Self::ResumeService,
        Self::DeleteService,
        Self::UpdateService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartDeployment => "START_DEPLOYMENT",
            Self::CreateService => "CREATE_SERVICE",
            Self::PauseService => "PAUSE_SERVICE",
            Self::ResumeService => "RESUME_SERVICE",
            Self::DeleteService => "DELETE_SERVICE",
            Self::UpdateService => "UPDATE_SERVICE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for OperationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    Pending,
    InProgress,
    Failed,
    Succeeded,
    RollbackInProgress,
    RollbackFailed,
    RollbackSucceeded,
}

impl OperationStatus {
    pub const ALL: [OperationStatus; 7] = [
        Self::Pending,
        Self::InProgress,
        Self::Failed,
        Self::Succeeded,
        Self::RollbackInProgress,
        Self::RollbackFailed,
        Self::RollbackSucceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Failed => "FAILED",
            Self::Succeeded => "SUCCEEDED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackFailed => "ROLLBACK_FAILED",
            Self::RollbackSucceeded => "ROLLBACK_SUCCEEDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the operation has ended, one way or another.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed | Self::Succeeded | Self::RollbackFailed | Self::RollbackSucceeded)
    }

    /// Whether the operation did what was asked. A rollback kept the service up but did not deploy.
    pub fn is_success(self) -> bool {
        self == Self::Succeeded
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mutating call and how it went. Operations of a service run one at a time, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: OperationId,
    pub service_id: ServiceId,
    pub kind: OperationType,
    pub status: OperationStatus,
    /// The revision a deploying operation brings up.
    pub revision: Option<u32>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    /// Why it failed, in one line; the events carry the details.
    pub error: Option<String>,
    /// What started it, in App Runner's words for deployments (`SERVICE_CREATE`, `ROLLBACK`, …).
    pub trigger: Option<String>,
}

impl Operation {
    /// A new operation, waiting its turn.
    pub fn queued(
        service_id: ServiceId,
        kind: OperationType,
        revision: Option<u32>,
        trigger: &str,
        now: Timestamp,
    ) -> Self {
        Self {
            id: OperationId::generate(),
            service_id,
            kind,
            status: OperationStatus::Pending,
            revision,
            created_at: now,
            started_at: None,
            ended_at: None,
            updated_at: now,
            error: None,
            trigger: Some(trigger.to_owned()),
        }
    }

    /// Whether it brings up a revision (and so may fail into a rollback).
    pub fn deploys(&self) -> bool {
        matches!(
            self.kind,
            OperationType::CreateService
                | OperationType::UpdateService
                | OperationType::StartDeployment
                | OperationType::ResumeService
        )
    }
}

/// A line of an operation's log, numbered from 1 so a follower can ask for what came after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationEvent {
    pub seq: i64,
    pub at: Timestamp,
    pub message: String,
}
