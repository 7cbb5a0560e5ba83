//! Instances: the running copies of a revision.
//!
//! LIFECYCLE
//!
//! ```text
//!            health passes              fails UnhealthyThreshold in a row
//! Starting ─────────────────► Ready ───────────────────────────────────► Unhealthy ─┐
//!    │ │                        │                                                    │
//!    │ └── fails the threshold ─┼───────────────────────────────────────► Unhealthy  │ replaced, then
//!    │                          │ container exits                                    │ stopped and
//!    └──────────────────────────┴───────────────────────────────────────► Exited ───┤ removed
//!                         ferry scales in, deletes or rolls over                     │
//! any live state ────────────────────────────────────────────────────────► Stopping ─┘
//! ```
//!
//! Only `Ready` instances are in the router's pool. Each transition is persisted with its time, so after a
//! restart ferry knows which adopted containers may take traffic at once.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::{InstanceId, ServiceId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    Starting,
    Ready,
    Unhealthy,
    Exited,
    Stopping,
}

impl InstanceState {
    pub const ALL: [InstanceState; 5] =
        [Self::Starting, Self::Ready, Self::Unhealthy, Self::Exited, Self::Stopping];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Ready => "READY",
            Self::Unhealthy => "UNHEALTHY",
            Self::Exited => "EXITED",
            Self::Stopping => "STOPPING",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Starting or Ready: the instance counts toward the service's capacity.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Starting | Self::Ready)
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub id: InstanceId,
    pub service_id: ServiceId,
    pub revision: u32,
    pub state: InstanceState,
    /// The engine's id for its container, once created.
    pub container_id: Option<String>,
    /// Where it runs and how it is reached, once started.
    pub address: Option<InstanceAddress>,
    pub created_at: Timestamp,
    pub state_since: Timestamp,
    /// Why it is in its state: the last failed check, the exit code.
    pub detail: Option<String>,
}

/// Where an instance runs and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAddress {
    /// The engine node it runs on (one node for a single Docker engine; a cluster engine has several).
    pub node: String,
    /// Where the router sends its requests: the port the engine published for it (`127.0.0.1:<port>`).
    pub endpoint: SocketAddr,
    /// Its own address on the engine's network, where health checks go. A published port can be answered by
    /// the engine's port proxy even when the app does not listen, so checks never go there.
    pub probe: Option<SocketAddr>,
}
