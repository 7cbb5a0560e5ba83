//! What a service's instances should do next, given what it should run and what runs.
//!
//! The controller calls [`plan`] whenever anything about a service may have changed (an API call, a
//! health verdict, a container exit, a periodic resync, a restart) and carries out the actions. The same
//! function decides for a new deployment, for recovery after a crash and for replacing a failed
//! instance, so there is one code path for all of them (level-triggered, not event-triggered).
//!
//! LIFECYCLE of a deployment (`Goal::Run` with `deploy` set):
//!
//! ```text
//! start instances of the new revision ──► all `count` Ready ──► DeploySucceeded, stop other revisions
//!          │
//!          ├── one exits or turns Unhealthy ──► DeployFailed (the controller then picks the next goal)
//!          └── deadline passes ──────────────► DeployFailed
//! ```
//!
//! Instances of other revisions keep serving until the new ones are all ready, so a deployment never
//! lowers capacity (App Runner doubles capacity during a deployment, too).

use ferry_model::{InstanceId, InstanceState, Timestamp};

/// What a service should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// Keep `count` instances of `revision` ready.
    Run {
        revision: u32,
        count: u32,
        /// Set while an operation waits for the revision to come up.
        deploy: Option<Deploy>,
        /// Crash back-off: start nothing new before this time.
        start_not_before: Option<Timestamp>,
    },
    /// Run nothing: the service is paused, failed to create, or is being deleted.
    Stop,
    /// Leave the instances as they are: an operation is getting its revision's image (a pull, a build)
    /// and nothing serves that a failure could be replaced from.
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deploy {
    /// The deployment fails if the revision is not ready by then.
    pub deadline: Timestamp,
}

/// An instance as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInstance {
    pub id: InstanceId,
    pub revision: u32,
    pub state: InstanceState,
    /// Why it is in its state (exit code, last failed check).
    pub detail: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It runs another revision than the one that should serve.
    Superseded,
    /// It exited or failed its health checks.
    Failed,
    /// There are more instances than wanted.
    Surplus,
    /// The service is to run nothing.
    ServiceStopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start one instance of `revision`.
    Start { revision: u32 },
    /// Take the instance out of the pool, stop and remove it.
    Stop { id: InstanceId, reason: StopReason },
    /// Every wanted instance of the deploying revision is ready.
    DeploySucceeded,
    /// The deploying revision cannot come up; `reason` says why, for the operation's log.
    DeployFailed { reason: String },
    /// A stop goal is met: no instance is left, not even a stopping one.
    AllStopped,
    /// Nothing more can happen before `at` unless something changes; plan again then.
    WakeAt(Timestamp),
}

/// Decides the next actions. Pure: the same inputs give the same actions.
pub fn plan(goal: &Goal, instances: &[ObservedInstance], now: Timestamp) -> Vec<Action> {
    match goal {
        Goal::Stop => plan_stop(instances),
        Goal::Hold => Vec::new(),
        Goal::Run { revision, count, deploy, start_not_before } => {
            plan_run(*revision, *count, *deploy, *start_not_before, instances, now)
        }
    }
}

fn plan_stop(instances: &[ObservedInstance]) -> Vec<Action> {
    if instances.is_empty() {
        return vec![Action::AllStopped];
    }
    instances
        .iter()
        .filter(|i| i.state != InstanceState::Stopping)
        .map(|i| Action::Stop { id: i.id.clone(), reason: StopReason::ServiceStopped })
        .collect()
}

fn plan_run(
    revision: u32,
    count: u32,
    deploy: Option<Deploy>,
    start_not_before: Option<Timestamp>,
    instances: &[ObservedInstance],
    now: Timestamp,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mine: Vec<&ObservedInstance> = instances.iter().filter(|i| i.revision == revision).collect();
    let failed = mine.iter().filter(|i| matches!(i.state, InstanceState::Exited | InstanceState::Unhealthy));
    let ready = mine.iter().filter(|i| i.state == InstanceState::Ready).count();
    let live = mine.iter().filter(|i| i.state.is_live()).count();
    let count = count as usize;

    if let Some(deploy) = deploy {
        if let Some(bad) =
            mine.iter().find(|i| matches!(i.state, InstanceState::Exited | InstanceState::Unhealthy))
        {
            let reason = match (&bad.state, &bad.detail) {
                (InstanceState::Exited, Some(d)) => format!("an instance stopped: {d}"),
                (InstanceState::Exited, None) => "an instance stopped".to_owned(),
                (_, Some(d)) => format!("an instance failed its health check: {d}"),
                (_, None) => "an instance failed its health check".to_owned(),
            };
            return vec![Action::DeployFailed { reason }];
        }
        if ready >= count {
            actions.push(Action::DeploySucceeded);
            stop_others(revision, instances, &mut actions);
            stop_surplus(&mine, count, &mut actions);
            return actions;
        }
        if now >= deploy.deadline {
            return vec![Action::DeployFailed {
                reason: format!(
                    "{ready} of {count} instances became healthy before the deployment timed out"
                ),
            }];
        }
        actions.extend((live..count).map(|_| Action::Start { revision }));
        actions.push(Action::WakeAt(deploy.deadline));
        return actions;
    }

    // Steady state: replace what failed, retire other revisions, keep the count.
    for bad in failed {
        actions.push(Action::Stop { id: bad.id.clone(), reason: StopReason::Failed });
    }
    stop_others(revision, instances, &mut actions);
    if live < count {
        match start_not_before {
            Some(at) if now < at => actions.push(Action::WakeAt(at)),
            _ => actions.extend((live..count).map(|_| Action::Start { revision })),
        }
    }
    stop_surplus(&mine, count, &mut actions);
    actions
}

fn stop_others(revision: u32, instances: &[ObservedInstance], actions: &mut Vec<Action>) {
    for other in instances.iter().filter(|i| i.revision != revision && i.state != InstanceState::Stopping) {
        actions.push(Action::Stop { id: other.id.clone(), reason: StopReason::Superseded });
    }
}

/// Stops live instances beyond `count`, the least useful first: starting before ready, newest first.
fn stop_surplus(mine: &[&ObservedInstance], count: usize, actions: &mut Vec<Action>) {
    let mut live: Vec<&&ObservedInstance> = mine.iter().filter(|i| i.state.is_live()).collect();
    if live.len() <= count {
        return;
    }
    live.sort_by_key(|i| (i.state == InstanceState::Ready, std::cmp::Reverse(i.created_at)));
    let surplus = live.len() - count;
    for i in live.into_iter().take(surplus) {
        actions.push(Action::Stop { id: i.id.clone(), reason: StopReason::Surplus });
    }
}

#[cfg(test)]
mod tests;
