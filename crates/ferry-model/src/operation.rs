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
    /// What started it.
    pub trigger: Trigger,
}

impl Operation {
    /// A new operation, waiting its turn.
    pub fn queued(
        service_id: ServiceId,
        kind: OperationType,
        revision: Option<u32>,
        trigger: Trigger,
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
            trigger,
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

/// What started an operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// A person, through the ferry CLI.
    Manual,
    /// A program, through the API.
    Api,
    /// A person going back to an earlier revision (`ferry service rollback`).
    Rollback,
    /// A push to the watched branch: the commit it brought.
    GitPush { commit: String },
    /// A new image under the watched tag: the digest it points at.
    ImagePush { digest: String },
    /// The autoscaler.
    Scaling,
}

impl Trigger {
    /// App Runner's "triggering event" for an operation of `kind` started this way, as its deployment logs
    /// name it (`Deployment with ID : … started. Triggering event : SERVICE_UPDATE`).
    pub fn event(&self, kind: OperationType) -> &'static str {
        match self {
            Self::Manual | Self::Api => match kind {
                OperationType::CreateService => "SERVICE_CREATE",
                OperationType::UpdateService => "SERVICE_UPDATE",
                OperationType::StartDeployment => "START_DEPLOYMENT",
                OperationType::PauseService => "SERVICE_PAUSE",
                OperationType::ResumeService => "SERVICE_RESUME",
                OperationType::DeleteService => "SERVICE_DELETE",
            },
            Self::Rollback => "ROLLBACK",
            Self::GitPush { .. } => "SOURCE_CODE_PUSH",
            Self::ImagePush { .. } => "IMAGE_PUSH",
            Self::Scaling => "SCALING",
        }
    }

    /// The stored form: `MANUAL`, `API`, `ROLLBACK`, `GIT_PUSH <commit>`, `IMAGE_PUSH <digest>`, `SCALING`.
    pub fn encode(&self) -> String {
        match self {
            Self::Manual => "MANUAL".to_owned(),
            Self::Api => "API".to_owned(),
            Self::Rollback => "ROLLBACK".to_owned(),
            Self::GitPush { commit } => format!("GIT_PUSH {commit}"),
            Self::ImagePush { digest } => format!("IMAGE_PUSH {digest}"),
            Self::Scaling => "SCALING".to_owned(),
        }
    }

    /// Reads [`Trigger::encode`]'s form back; `None` for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let (kind, value) = s.split_once(' ').map_or((s, None), |(k, v)| (k, Some(v)));
        match (kind, value) {
            ("MANUAL", None) => Some(Self::Manual),
            ("API", None) => Some(Self::Api),
            ("ROLLBACK", None) => Some(Self::Rollback),
            ("SCALING", None) => Some(Self::Scaling),
            ("GIT_PUSH", Some(commit)) if !commit.is_empty() => {
                Some(Self::GitPush { commit: commit.to_owned() })
            }
            ("IMAGE_PUSH", Some(digest)) if !digest.is_empty() => {
                Some(Self::ImagePush { digest: digest.to_owned() })
            }
            _ => None,
        }
    }
}

/// A line of an operation's log, numbered from 1 so a follower can ask for what came after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationEvent {
    pub seq: i64,
    pub at: Timestamp,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_round_trip_and_name_app_runners_events() {
        let all = [
            Trigger::Manual,
            Trigger::Api,
            Trigger::Rollback,
            Trigger::GitPush { commit: "0123456789abcdef0123456789abcdef01234567".into() },
            Trigger::ImagePush { digest: format!("sha256:{}", "a".repeat(64)) },
            Trigger::Scaling,
        ];
        for t in all {
            assert_eq!(Trigger::decode(&t.encode()), Some(t.clone()), "{t:?}");
        }
        for bad in ["", "GIT_PUSH", "GIT_PUSH ", "MANUAL x", "SERVICE_CREATE"] {
            assert_eq!(Trigger::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Trigger::Manual.event(OperationType::UpdateService), "SERVICE_UPDATE");
        assert_eq!(Trigger::Api.event(OperationType::CreateService), "SERVICE_CREATE");
        assert_eq!(Trigger::Rollback.event(OperationType::StartDeployment), "ROLLBACK");
    }
}
