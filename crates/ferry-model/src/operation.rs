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
    /// A push to the watched branch: the commit it brought, who made it and its message's first line
    /// (when the git host said), and how ferry learnt of it.
    GitPush { commit: String, author: Option<String>, subject: Option<String>, via: Via },
    /// A new image under the watched tag: the digest it points at, and how ferry learnt of it.
    ImagePush { digest: String, via: Via },
    /// The autoscaler.
    Scaling,
}

/// How ferry learnt of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// The git host's push webhook.
    Webhook,
    /// The registry's own notification.
    Notification,
    /// ferry asked (the branch head, or the tag's digest) and found something new.
    Poll,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Webhook => "webhook",
            Via::Notification => "notification",
            Via::Poll => "poll",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Via::Webhook, Via::Notification, Via::Poll].into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text from a git host (an author's name, a commit's subject) made fit to store and show on one line:
/// control characters become spaces, and it is cut at 200 characters.
pub fn one_line(text: &str) -> String {
    let line: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect::<String>();
    line.trim().to_owned()
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

    /// The stored form: `MANUAL`, `API`, `ROLLBACK`, `SCALING`, `IMAGE_PUSH <digest> <via>`, or
    /// `GIT_PUSH <commit> <via>` followed by a tab, the author, a tab and the subject when they are known.
    /// (Earlier records have no `<via>`: they read as a webhook's.)
    pub fn encode(&self) -> String {
        match self {
            Self::Manual => "MANUAL".to_owned(),
            Self::Api => "API".to_owned(),
            Self::Rollback => "ROLLBACK".to_owned(),
            Self::GitPush { commit, author, subject, via } => {
                let mut s = format!("GIT_PUSH {commit} {via}");
                if author.is_some() || subject.is_some() {
                    let (a, m) = (author.as_deref().unwrap_or(""), subject.as_deref().unwrap_or(""));
                    s.push_str(&format!("\t{}\t{}", one_line(a), one_line(m)));
                }
                s
            }
            Self::ImagePush { digest, via } => format!("IMAGE_PUSH {digest} {via}"),
            Self::Scaling => "SCALING".to_owned(),
        }
    }

    /// Reads [`Trigger::encode`]'s form back; `None` for anything else.
    pub fn decode(s: &str) -> Option<Self> {
        let (kind, value) = s.split_once(' ').map_or((s, None), |(k, v)| (k, Some(v)));
        let version_and_via = |v: &str| -> Option<(String, Via)> {
            let (version, via) = match v.split_once(' ') {
                Some((version, via)) => (version, Via::parse(via)?),
                None => (v, Via::Webhook),
            };
            (!version.is_empty()).then(|| (version.to_owned(), via))
        };
        let text = |t: &str| (!t.is_empty()).then(|| t.to_owned());
        match (kind, value) {
            ("MANUAL", None) => Some(Self::Manual),
            ("API", None) => Some(Self::Api),
            ("ROLLBACK", None) => Some(Self::Rollback),
            ("SCALING", None) => Some(Self::Scaling),
            ("GIT_PUSH", Some(value)) => {
                let mut parts = value.splitn(3, '\t');
                let (commit, via) = version_and_via(parts.next()?)?;
                let author = parts.next().and_then(text);
                let subject = parts.next().and_then(text);
                Some(Self::GitPush { commit, author, subject, via })
            }
            ("IMAGE_PUSH", Some(value)) => {
                let (digest, via) = version_and_via(value)?;
                Some(Self::ImagePush { digest, via })
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
            Trigger::GitPush {
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                author: Some("Ada Lovelace".into()),
                subject: Some("Fix the greeting".into()),
                via: Via::Webhook,
            },
            Trigger::GitPush {
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                author: None,
                subject: None,
                via: Via::Poll,
            },
            Trigger::GitPush {
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                author: None,
                subject: Some("only a subject".into()),
                via: Via::Webhook,
            },
            Trigger::ImagePush { digest: format!("sha256:{}", "a".repeat(64)), via: Via::Notification },
            Trigger::ImagePush { digest: format!("sha256:{}", "a".repeat(64)), via: Via::Poll },
            Trigger::Scaling,
        ];
        for t in all {
            assert_eq!(Trigger::decode(&t.encode()), Some(t.clone()), "{t:?}");
        }
        for bad in ["", "GIT_PUSH", "GIT_PUSH ", "MANUAL x", "SERVICE_CREATE", "IMAGE_PUSH sha256:a carrier"]
        {
            assert_eq!(Trigger::decode(bad), None, "{bad:?}");
        }
        assert_eq!(Trigger::Manual.event(OperationType::UpdateService), "SERVICE_UPDATE");
        assert_eq!(Trigger::Api.event(OperationType::CreateService), "SERVICE_CREATE");
        assert_eq!(Trigger::Rollback.event(OperationType::StartDeployment), "ROLLBACK");
    }
}
