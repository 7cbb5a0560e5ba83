//! What every service controller shares, and the settings they follow.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::{OperationId, ServiceId};
use ferry_runtime::Runtime;
use ferry_store::Store;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::health::Probe;
use crate::logs::LogHub;
use crate::routes::RouteBook;

use super::oplog::OpLog;

/// Settings the controllers need.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub domain: String,
    pub deploy_timeout: Duration,
    pub stop_grace: Duration,
    /// How long a retiring instance gets to finish its requests (and close its WebSockets) before it is
    /// stopped.
    pub drain_timeout: Duration,
    /// How many of a service's newest revisions keep their images on the engine.
    pub keep_revisions: u32,
    /// Where builds keep their checkouts (`git/<service id>` under it).
    pub data_dir: std::path::PathBuf,
    pub runtime_images: ferry_build::RuntimeImages,
    /// Where built images are pushed, if anywhere.
    pub build_registry: Option<String>,
    pub build_timeout: Duration,
    /// How often a controller re-checks its containers even when nothing woke it.
    pub resync: Duration,
    /// How long the router holds a request for an instance (scaled to zero, an instance replaced) or
    /// queues it for room (every instance at its max concurrency) before it answers 503.
    pub hold: Duration,
    /// The autoscaler's knobs (its sizes come from each service).
    pub scaling: ferry_plan::autoscale::ScalingConfig,
    /// The router's internal listener as containers reach it (`FERRY_INTERNAL_URL` in each), if there is one.
    pub internal_url: Option<String>,
}

/// What every service controller shares.
pub(crate) struct Shared {
    pub store: Store,
    pub runtime: Arc<dyn Runtime>,
    pub probe: Arc<dyn Probe>,
    pub clock: Arc<dyn Clock>,
    pub routes: std::sync::Arc<RouteBook>,
    pub logs: LogHub,
    pub settings: Settings,
    pub shutdown: CancellationToken,
    /// What is counted of every service, and of builds.
    pub metrics: Arc<crate::metrics::Registry>,
    /// Bounds how many builds run at once.
    pub builds: tokio::sync::Semaphore,
    /// Told each time an operation of a service ends, so that a push kept while it ran deploys now (the
    /// watcher's catch-up). When full, the watcher's next poll catches up instead.
    pub ended: tokio::sync::mpsc::Sender<ServiceId>,
}

/// What a step of an operation (pulling or building its revision's image, in a task of its own) needs to
/// know of its service.
#[derive(Clone)]
pub(crate) struct Context {
    pub shared: Arc<Shared>,
    pub service: ServiceId,
    pub name: String,
    pub log: OpLog,
    pub op: OperationId,
}
