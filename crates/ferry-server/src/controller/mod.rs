//! The control loop: one controller task per service, fed by API calls, health verdicts, container
//! events and a periodic resync.
//!
//! Each service's controller owns that service's instances (their state, health tasks, log followers and
//! router endpoints) and is the only writer of its instances' rows. It works level-triggered: whatever
//! woke it, it reads the desired state from the store, compares it with what runs, and asks
//! `ferry_plan::plan` what to do. Start-up after a crash goes through the same path: [`Controller::start`]
//! adopts the containers that still run and hands them to the controllers, which carry on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_api::{AppLogLine, ControlPlane};
use ferry_model::{InstanceId, ServiceId, ServiceStatus};
use ferry_plan::HealthVerdict;
use ferry_runtime::{ContainerInfo, Runtime, RuntimeEvent};
use ferry_store::Store;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::logs::LogHub;
use crate::routes::RouteBook;

mod build;
mod instance;
mod operation;
mod service;

use service::ServiceController;

/// Messages to a service's controller. Every message also makes it reconcile.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Something about the service may have changed (an API call, a resync).
    Nudge,
    /// An instance's health verdict changed.
    Health { instance: InstanceId, verdict: HealthVerdict, detail: String },
    /// An instance's container stopped.
    Exited { instance: InstanceId, exit_code: Option<i64> },
    /// A stop that the controller started has finished.
    Stopped { instance: InstanceId, result: Result<(), String> },
}

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
}

/// What every service controller shares.
pub(crate) struct Shared {
    pub store: Arc<Store>,
    pub runtime: Arc<dyn Runtime>,
    pub routes: RouteBook,
    pub logs: LogHub,
    pub settings: Settings,
    pub shutdown: CancellationToken,
    /// Bounds how many builds run at once.
    pub builds: tokio::sync::Semaphore,
}

const INBOX: usize = 256;

pub struct Controller {
    shared: Arc<Shared>,
    inboxes: Mutex<HashMap<ServiceId, mpsc::Sender<Msg>>>,
}

impl Controller {
    pub(crate) fn new(shared: Shared) -> Arc<Self> {
        Arc::new(Self { shared: Arc::new(shared), inboxes: Mutex::new(HashMap::new()) })
    }

    /// Adopts what runs and starts a controller for every live service. Routes of adopted ready instances
    /// are published before this returns, so the router serves them as soon as it listens.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), crate::Error> {
        let containers = self.shared.runtime.list().await?;
        let store = self.shared.store.clone();
        let (services, rows) = tokio::task::spawn_blocking(move || {
            Ok::<_, ferry_store::StoreError>((store.list_services()?, store.all_instances()?))
        })
        .await
        .map_err(|e| crate::Error::Internal(e.to_string()))??;

        let mut by_instance: HashMap<InstanceId, ContainerInfo> = HashMap::new();
        for c in containers {
            let known = c.identity.as_ref().is_some_and(|id| rows.iter().any(|r| r.id == id.instance_id));
            match &c.identity {
                Some(identity) if known => {
                    by_instance.insert(identity.instance_id.clone(), c);
                }
                _ => {
                    // A container ferry does not know: its start was cut short, or its service is gone.
                    tracing::info!(container = %c.name, "removing a container no service owns");
                    if let Err(e) = self.shared.runtime.remove(&c.id).await {
                        tracing::warn!(container = %c.name, error = %e, "cannot remove an orphaned container");
                    }
                }
            }
        }
        for service in services {
            if service.status == ServiceStatus::Deleted {
                continue;
            }
            let mine: Vec<_> = rows.iter().filter(|r| r.service_id == service.id).cloned().collect();
            let adopted = mine
                .into_iter()
                .map(|row| {
                    let container = by_instance.remove(&row.id);
                    (row, container)
                })
                .collect();
            self.spawn(service.id.clone(), adopted);
        }
        Ok(())
    }

    /// Starts a service's controller with the instances it adopts, unless one runs already. The inbox is
    /// registered under the lock before anything else happens, so a service never has two controllers.
    fn spawn(self: &Arc<Self>, id: ServiceId, adopted: Vec<(ferry_model::Instance, Option<ContainerInfo>)>) {
        let (tx, rx) = {
            let mut inboxes = self.inboxes.lock().unwrap_or_else(|p| p.into_inner());
            if inboxes.get(&id).is_some_and(|tx| !tx.is_closed()) {
                return;
            }
            let (tx, rx) = mpsc::channel(INBOX);
            inboxes.insert(id.clone(), tx.clone());
            (tx, rx)
        };
        let controller = ServiceController::adopt(id.clone(), self.shared.clone(), tx, rx, adopted);
        let this = self.clone();
        tokio::spawn(async move {
            controller.run().await;
            let mut inboxes = this.inboxes.lock().unwrap_or_else(|p| p.into_inner());
            // Remove only our own inbox: a new controller may already have replaced it.
            if inboxes.get(&id).is_some_and(|t| t.is_closed()) {
                inboxes.remove(&id);
            }
        });
    }

    /// Sends a message to a service's controller, starting one if it has none (a new service, or one
    /// whose controller ended).
    pub(crate) fn send(self: &Arc<Self>, id: &ServiceId, msg: Msg) {
        let existing = self.inboxes.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        let tx = match existing {
            Some(tx) if !tx.is_closed() => tx,
            _ => {
                self.spawn(id.clone(), Vec::new());
                match self.inboxes.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned() {
                    Some(tx) => tx,
                    None => return,
                }
            }
        };
        match tx.try_send(msg) {
            Ok(()) => {}
            // A full inbox means the controller has plenty to wake it; only messages that carry facts
            // must not be lost, so those wait for room.
            Err(mpsc::error::TrySendError::Full(msg)) if !matches!(msg, Msg::Nudge) => {
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
            Err(_) => {}
        }
    }

    /// Feeds the engine's events to the controllers, reconnecting with back-off when the stream ends.
    pub(crate) async fn watch_events(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let mut events = self.shared.runtime.events();
            loop {
                tokio::select! {
                    _ = self.shared.shutdown.cancelled() => return,
                    next = events.next() => match next {
                        Some(Ok(RuntimeEvent::Died { identity: Some(identity), exit_code, .. })) => {
                            backoff = Duration::from_millis(500);
                            self.send(&identity.service_id, Msg::Exited { instance: identity.instance_id, exit_code });
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "the engine's event stream failed");
                            break;
                        }
                        None => break,
                    }
                }
            }
            // Events may have been missed: let every controller look again.
            let ids: Vec<ServiceId> =
                self.inboxes.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
            for id in ids {
                self.send(&id, Msg::Nudge);
            }
            tokio::select! {
                _ = self.shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

/// The API's handle on the controllers.
pub(crate) struct ControlHandle(pub Arc<Controller>);

impl ControlPlane for ControlHandle {
    fn operation_queued(&self, service: &ServiceId) {
        self.0.send(service, Msg::Nudge);
    }

    fn logs(&self, service: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine> {
        self.0.shared.logs.read(service, tail, follow)
    }
}
