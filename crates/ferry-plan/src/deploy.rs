//! Deployment decisions: when one has run out of time, what follows its failure, and which revision a
//! rollback goes back to.

use ferry_model::{OperationType, ServiceStatus, Timestamp};

/// When a deployment that started at `started` fails for not being ready: the server's deployment timeout
/// plus the revision's health-check grace period (time the app was promised to start in).
pub fn deadline(started: Timestamp, deploy_timeout_ms: i64, grace_period_secs: u32) -> Timestamp {
    started.plus_millis(deploy_timeout_ms.saturating_add(i64::from(grace_period_secs) * 1000))
}

/// What follows a deployment that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// The operation fails and the service takes `status`: nothing else was serving (a create, or a
    /// service that never ran), or the failed deployment was of the serving revision itself.
    Fail { status: ServiceStatus },
    /// The revision that served before keeps serving: the new instances are removed
    /// (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCEEDED), App Runner's automatic rollback.
    RollBack { to: u32 },
}

/// Decides what follows the failure of an operation of `kind` that deployed `deploying`, while `active`
/// was the serving revision.
pub fn after_failure(kind: OperationType, active: Option<u32>, deploying: Option<u32>) -> AfterFailure {
    let fallback = active.filter(|a| Some(*a) != deploying);
    match (kind, fallback) {
        (OperationType::CreateService, _) | (_, None) => AfterFailure::Fail {
            status: match kind {
                // A resume that failed leaves the service paused: nothing ran before it either.
                OperationType::ResumeService => ServiceStatus::Paused,
                _ if active.is_none() => ServiceStatus::CreateFailed,
                _ => ServiceStatus::Running,
            },
        },
        (_, Some(to)) => AfterFailure::RollBack { to },
    }
}

/// What a rollback decision needs to know of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionFacts {
    pub number: u32,
    /// When it last became the serving revision, if ever.
    pub activated_at: Option<Timestamp>,
    /// Its image got as far as the engine once (so it can run again without a build).
    pub has_image: bool,
}

/// Why a rollback cannot be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackRefusal {
    /// The revision asked for does not exist.
    NoSuchRevision(u32),
    /// No other revision ever served.
    NothingEarlier,
    /// The revision asked for serves already.
    AlreadyServing(u32),
    /// The revision's deployment failed before its image was pulled or built.
    NeverBuilt(u32),
}

impl RollbackRefusal {
    /// The reason, for the user, about service `name`.
    pub fn message(self, name: &str) -> String {
        match self {
            Self::NoSuchRevision(n) => {
                format!("service {name} has no revision {n}; `ferry revisions {name}` lists them")
            }
            Self::NothingEarlier => format!("service {name} has no earlier revision to roll back to"),
            Self::AlreadyServing(n) => format!("revision {n} already serves {name}"),
            Self::NeverBuilt(n) => format!(
                "revision {n} never got as far as an image (its deployment failed before the pull); there is \
                 nothing to roll back to"
            ),
        }
    }
}

/// The revision a rollback goes to: `wanted`, or else the one that served most recently before the active
/// one.
pub fn rollback_target(
    revisions: &[RevisionFacts],
    active: Option<u32>,
    wanted: Option<u32>,
) -> Result<u32, RollbackRefusal> {
    let target = match wanted {
        Some(n) => revisions.iter().find(|r| r.number == n).ok_or(RollbackRefusal::NoSuchRevision(n))?,
        None => revisions
            .iter()
            .filter(|r| r.activated_at.is_some() && Some(r.number) != active)
            .max_by_key(|r| (r.activated_at, r.number))
            .ok_or(RollbackRefusal::NothingEarlier)?,
    };
    if Some(target.number) == active {
        return Err(RollbackRefusal::AlreadyServing(target.number));
    }
    if !target.has_image {
        return Err(RollbackRefusal::NeverBuilt(target.number));
    }
    Ok(target.number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationType::*;

    #[test]
    fn the_deadline_adds_the_grace_period() {
        assert_eq!(deadline(Timestamp(1_000), 300_000, 0), Timestamp(301_000));
        assert_eq!(deadline(Timestamp(1_000), 300_000, 30), Timestamp(331_000));
        assert_eq!(deadline(Timestamp(1), i64::MAX, 3600), Timestamp(i64::MAX));
    }

    #[test]
    fn what_follows_a_failure() {
        use ServiceStatus::*;
        let table = [
            // (kind, active, deploying) → outcome
            (CreateService, None, Some(1), AfterFailure::Fail { status: CreateFailed }),
            (UpdateService, None, Some(2), AfterFailure::Fail { status: CreateFailed }),
            (UpdateService, Some(1), Some(2), AfterFailure::RollBack { to: 1 }),
            (StartDeployment, Some(3), Some(4), AfterFailure::RollBack { to: 3 }),
            // A rollback to revision 2 that fails goes back to what served (3).
            (StartDeployment, Some(3), Some(2), AfterFailure::RollBack { to: 3 }),
            // Redeploying what serves: nothing else to go back to.
            (StartDeployment, Some(3), Some(3), AfterFailure::Fail { status: Running }),
            (ResumeService, Some(3), Some(3), AfterFailure::Fail { status: Paused }),
        ];
        for (kind, active, deploying, want) in table {
            assert_eq!(after_failure(kind, active, deploying), want, "{kind} {active:?} {deploying:?}");
        }
    }

    fn rev(number: u32, activated: Option<i64>, has_image: bool) -> RevisionFacts {
        RevisionFacts { number, activated_at: activated.map(Timestamp), has_image }
    }

    #[test]
    fn a_rollback_goes_to_the_last_revision_that_served_before_the_active_one() {
        let revisions =
            [rev(1, Some(10), true), rev(2, Some(30), true), rev(3, Some(20), true), rev(4, None, true)];
        assert_eq!(rollback_target(&revisions, Some(2), None), Ok(3), "3 served after 1");
        assert_eq!(rollback_target(&revisions, Some(3), None), Ok(2));
        assert_eq!(rollback_target(&revisions, Some(2), Some(1)), Ok(1));
        assert_eq!(
            rollback_target(&revisions, Some(2), Some(4)),
            Ok(4),
            "a named revision need not have served"
        );
        assert_eq!(rollback_target(&revisions, Some(2), Some(2)), Err(RollbackRefusal::AlreadyServing(2)));
        assert_eq!(rollback_target(&revisions, Some(2), Some(9)), Err(RollbackRefusal::NoSuchRevision(9)));
        let only = [rev(1, Some(10), true), rev(2, None, false)];
        assert_eq!(rollback_target(&only, Some(1), None), Err(RollbackRefusal::NothingEarlier));
        assert_eq!(rollback_target(&only, Some(1), Some(2)), Err(RollbackRefusal::NeverBuilt(2)));
        assert_eq!(rollback_target(&[], None, None), Err(RollbackRefusal::NothingEarlier));
        assert!(RollbackRefusal::NothingEarlier.message("web").contains("no earlier revision"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// A rollback never goes to the serving revision, to one that does not exist, or to one that never
            /// had an image; without a named one it goes to the revision that served most recently.
            #[test]
            fn a_rollback_target_is_always_runnable_and_never_the_active_one(
                revisions in proptest::collection::vec((proptest::option::of(0i64..100), any::<bool>()), 0..8),
                active in proptest::option::of(1u32..9),
                wanted in proptest::option::of(1u32..9),
            ) {
                let facts: Vec<RevisionFacts> = revisions
                    .iter()
                    .enumerate()
                    .map(|(i, (at, img))| rev(i as u32 + 1, *at, *img))
                    .collect();
                if let Ok(n) = rollback_target(&facts, active, wanted) {
                    prop_assert!(Some(n) != active);
                    let target = facts.iter().find(|r| r.number == n);
                    prop_assert!(target.is_some_and(|r| r.has_image));
                    if wanted.is_none() {
                        let newest = facts
                            .iter()
                            .filter(|r| r.activated_at.is_some() && Some(r.number) != active)
                            .map(|r| r.activated_at)
                            .max()
                            .flatten();
                        prop_assert_eq!(target.and_then(|r| r.activated_at), newest);
                    } else {
                        prop_assert_eq!(Some(n), wanted);
                    }
                }
            }
        }
    }
}
