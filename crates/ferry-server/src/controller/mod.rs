//! The control loop: one controller task per service, fed by queued operations, health verdicts,
//! container events and a periodic resync.
//!
//! Each service's controller owns that service's instances (their state, health tasks, log followers and
//! router endpoints) and is the only writer of its instances' rows. It works level-triggered: whatever
//! woke it, it reads the desired state from the store, compares it with what runs, and asks `ferry_plan`
//! what to do. Start-up after a crash goes through the same path: [`Controller::start`] adopts the
//! containers that still run and hands them to the controllers, which carry on.
//!
//! The modules depend one way: `inbox`, `oplog` ← `shared`, `revisions` ← `fleet`, `build` ← `images`,
//! `route` ← `service` ← this registry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ferry_api::{AppLogLine, LogSource};
use ferry_command::Dispatch;
use ferry_model::{InstanceId, ServiceId, ServiceStatus};
use ferry_runtime::{ContainerInfo, RuntimeEvent};
use ferry_store::StoreError;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

mod build;
mod fleet;
mod images;
mod inbox;
mod oplog;
mod revisions;
mod route;
mod scaler;
mod secrets;
mod service;
mod shared;
#[cfg(test)]
mod tests;

pub(crate) use shared::{Settings, Shared};

use inbox::{Inbox, Msg};
use service::ServiceController;

pub struct Controller {
    shared: Arc<Shared>,
    inboxes: Mutex<HashMap<ServiceId, Inbox>>,
}

impl Controller {
    pub(crate) fn new(shared: Shared) -> Arc<Self> {
        Arc::new(Self { shared: Arc::new(shared), inboxes: Mutex::new(HashMap::new()) })
    }

    fn inboxes(&self) -> std::sync::MutexGuard<'_, HashMap<ServiceId, Inbox>> {
        self.inboxes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adopts what runs and starts a controller for every live service. Routes of adopted ready instances
    /// are published before this returns, so the router serves them as soon as it listens.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), crate::Error> {
        let containers = self.shared.runtime.list().await?;
        let (services, rows) = self
            .shared
            .store
            .call(|db| Ok::<_, StoreError>((db.list_services()?, db.all_instances()?)))
            .await?;

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
        // Networks of services deleted while the engine was away go now (no controller runs yet).
        let live: Vec<ServiceId> =
            services.iter().filter(|s| s.status != ServiceStatus::Deleted).map(|s| s.id.clone()).collect();
        match self.shared.runtime.release_services_except(&live).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(networks = n, "removed the networks of services that are gone"),
            Err(e) => tracing::warn!(error = %e, "cannot remove the networks of services that are gone"),
        }
        for service in services {
            if service.status == ServiceStatus::Deleted {
                continue;
            }
            let adopted = rows
                .iter()
                .filter(|r| r.service_id == service.id)
                .map(|row| (row.clone(), by_instance.remove(&row.id)))
                .collect();
            if let Some(controller) = self.register(&service.id) {
                let controller =
                    ServiceController::adopt(service.id.clone(), self.shared.clone(), controller, adopted);
                self.run(service.id.clone(), controller.await);
            }
        }
        Ok(())
    }

    /// A new inbox for the service, unless a live controller has one: then `None`. Registered under the
    /// lock before anything else happens, so a service never has two controllers.
    fn register(&self, id: &ServiceId) -> Option<(Inbox, inbox::Mailbox)> {
        let mut inboxes = self.inboxes();
        if inboxes.get(id).is_some_and(|tx| !tx.is_closed()) {
            return None;
        }
        let (tx, rx) = inbox::inbox();
        inboxes.insert(id.clone(), tx.clone());
        Some((tx, rx))
    }

    fn run(self: &Arc<Self>, id: ServiceId, controller: ServiceController) {
        let this = self.clone();
        tokio::spawn(async move {
            controller.run().await;
            let mut inboxes = this.inboxes();
            // Remove only our own inbox: a new controller may already have replaced it.
            if inboxes.get(&id).is_some_and(Inbox::is_closed) {
                inboxes.remove(&id);
            }
        });
    }

    /// Offers a message to a service's controller, starting one if it has none (a new service, or one
    /// whose controller ended). Never waits (see `inbox.rs`).
    pub(crate) fn offer(self: &Arc<Self>, id: &ServiceId, msg: Msg) {
        let existing = self.inboxes().get(id).filter(|tx| !tx.is_closed()).cloned();
        match existing {
            Some(tx) => tx.offer(msg),
            None => {
                let Some(inbox) = self.register(id) else {
                    // Another caller registered it a moment ago.
                    if let Some(tx) = self.inboxes().get(id).cloned() {
                        tx.offer(msg);
                    }
                    return;
                };
                inbox.0.offer(msg);
                let this = self.clone();
                let id = id.clone();
                tokio::spawn(async move {
                    let controller =
                        ServiceController::adopt(id.clone(), this.shared.clone(), inbox, Vec::new());
                    this.run(id, controller.await);
                });
            }
        }
    }

    /// Feeds the engine's events to the controllers, reconnecting with back-off when the stream ends.
    pub(crate) async fn watch_events(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(500);
        let mut reconnected = false;
        loop {
            // Events from now on; what happened while the stream was down, every controller looks for
            // itself, once the new stream is there (so nothing falls between the two).
            let mut events = self.shared.runtime.events();
            if reconnected {
                let ids: Vec<ServiceId> = self.inboxes().keys().cloned().collect();
                for id in ids {
                    self.offer(&id, Msg::Resync);
                }
            }
            reconnected = true;
            loop {
                tokio::select! {
                    () = self.shared.shutdown.cancelled() => return,
                    next = events.next() => match next {
                        Some(Ok(RuntimeEvent::Died { identity: Some(identity), exit_code, .. })) => {
                            backoff = Duration::from_millis(500);
                            self.offer(&identity.service_id, Msg::Exited { instance: identity.instance_id, exit_code });
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
            tokio::select! {
                () = self.shared.shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    }
}

impl Controller {
    /// Every resync period, makes sure each service with an operation to carry out has a controller: a
    /// safety net under the command layer's dispatch (which starts one at once).
    pub(crate) async fn sweep(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.shared.settings.resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.shared.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.shared.store.call(|db| db.services_with_unfinished_operations()).await {
                Ok(ids) => {
                    for id in ids {
                        let idle = self.inboxes().get(&id).is_none_or(Inbox::is_closed);
                        if idle {
                            tracing::info!(service = %id, "an operation waits with no controller; starting one");
                            self.offer(&id, Msg::Nudge);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot look for operations waiting for a controller"),
            }
        }
    }
}

/// What the rest of the server sees of the controllers: the command layer's dispatch and the API's logs.
pub(crate) struct ControlHandle(pub Arc<Controller>);

impl Dispatch for ControlHandle {
    fn queued(&self, service: &ServiceId) {
        self.0.offer(service, Msg::Nudge);
    }
}

impl LogSource for ControlHandle {
    fn logs(&self, service: &ServiceId, tail: usize, follow: bool) -> BoxStream<'static, AppLogLine> {
        self.0.shared.logs.read(service, tail, follow)
    }

    fn request_logs(
        &self,
        service: &ServiceId,
        tail: usize,
        follow: bool,
    ) -> BoxStream<'static, ferry_api::RequestLogView> {
        self.0.shared.logs.read_requests(service, tail, follow)
    }
}
