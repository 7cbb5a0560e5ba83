use super::*;
use InstanceState::*;

fn inst(n: u8, revision: u32, state: InstanceState) -> ObservedInstance {
    ObservedInstance {
        id: InstanceId::parse(&format!("{n:016x}")).unwrap(),
        revision,
        state,
        detail: None,
        created_at: Timestamp(i64::from(n)),
    }
}

fn id(n: u8) -> InstanceId {
    InstanceId::parse(&format!("{n:016x}")).unwrap()
}

const NOW: Timestamp = Timestamp(1_000);

fn deploying(revision: u32, count: u32) -> Goal {
    Goal::Run { revision, count, deploy: Some(Deploy { deadline: Timestamp(5_000) }), start_not_before: None }
}

fn steady(revision: u32, count: u32) -> Goal {
    Goal::Run { revision, count, deploy: None, start_not_before: None }
}

#[test]
fn a_new_deployment_starts_its_instances_and_waits() {
    let actions = plan(&deploying(1, 2), &[], NOW);
    assert_eq!(
        actions,
        [Action::Start { revision: 1 }, Action::Start { revision: 1 }, Action::WakeAt(Timestamp(5_000))]
    );
    let actions = plan(&deploying(1, 2), &[inst(1, 1, Starting), inst(2, 1, Ready)], NOW);
    assert_eq!(actions, [Action::WakeAt(Timestamp(5_000))]);
}

#[test]
fn a_deployment_succeeds_when_all_are_ready_and_only_then_retires_the_old_revision() {
    let old = inst(9, 1, Ready);
    let actions = plan(&deploying(2, 2), &[old.clone(), inst(1, 2, Ready), inst(2, 2, Starting)], NOW);
    assert_eq!(actions, [Action::WakeAt(Timestamp(5_000))], "old keeps serving while new starts");
    let actions = plan(&deploying(2, 2), &[old, inst(1, 2, Ready), inst(2, 2, Ready)], NOW);
    assert_eq!(
        actions,
        [Action::DeploySucceeded, Action::Stop { id: id(9), reason: StopReason::Superseded }]
    );
}

#[test]
fn a_deployment_fails_on_exit_unhealthy_or_timeout() {
    let mut exited = inst(1, 1, Exited);
    exited.detail = Some("exit code 3".into());
    let actions = plan(&deploying(1, 1), &[exited], NOW);
    assert_eq!(actions, [Action::DeployFailed { reason: "an instance stopped: exit code 3".into() }]);

    let actions = plan(&deploying(1, 1), &[inst(1, 1, Unhealthy)], NOW);
    assert_eq!(actions, [Action::DeployFailed { reason: "an instance failed its health check".into() }]);

    let actions = plan(&deploying(1, 2), &[inst(1, 1, Ready), inst(2, 1, Starting)], Timestamp(5_000));
    assert_eq!(
        actions,
        [Action::DeployFailed {
            reason: "1 of 2 instances became healthy before the deployment timed out".into()
        }]
    );
}

#[test]
fn steady_state_replaces_failed_instances_and_respects_back_off() {
    let actions = plan(&steady(1, 2), &[inst(1, 1, Ready), inst(2, 1, Exited)], NOW);
    assert_eq!(
        actions,
        [Action::Stop { id: id(2), reason: StopReason::Failed }, Action::Start { revision: 1 }]
    );

    let held = Goal::Run { revision: 1, count: 1, deploy: None, start_not_before: Some(Timestamp(2_000)) };
    let actions = plan(&held, &[inst(2, 1, Unhealthy)], NOW);
    assert_eq!(
        actions,
        [Action::Stop { id: id(2), reason: StopReason::Failed }, Action::WakeAt(Timestamp(2_000))]
    );
    let actions = plan(&held, &[], Timestamp(2_000));
    assert_eq!(actions, [Action::Start { revision: 1 }]);
}

#[test]
fn steady_state_stops_surplus_starting_and_newest_first() {
    let instances = [inst(1, 1, Ready), inst(2, 1, Ready), inst(3, 1, Starting), inst(4, 1, Ready)];
    let actions = plan(&steady(1, 2), &instances, NOW);
    assert_eq!(
        actions,
        [
            Action::Stop { id: id(3), reason: StopReason::Surplus },
            Action::Stop { id: id(4), reason: StopReason::Surplus },
        ]
    );
}

#[test]
fn stopping_instances_are_left_alone_and_do_not_count() {
    let actions = plan(&steady(1, 1), &[inst(1, 1, Stopping)], NOW);
    assert_eq!(actions, [Action::Start { revision: 1 }]);
    let actions = plan(&Goal::Stop, &[inst(1, 1, Stopping), inst(2, 1, Ready)], NOW);
    assert_eq!(actions, [Action::Stop { id: id(2), reason: StopReason::ServiceStopped }]);
    assert_eq!(plan(&Goal::Stop, &[], NOW), [Action::AllStopped]);
}

/// A seeded simulation: instances start, turn ready, fail and exit at random while the controller
/// applies the plan. The plan must never exceed the wanted count of live instances by more than it
/// replaces, never stop the serving revision's ready instances during a deploy, and reach the wanted
/// count once failures stop.
mod simulation {
    use super::*;
    use proptest::prelude::*;

    struct World {
        instances: Vec<ObservedInstance>,
        next_id: u8,
    }

    impl World {
        fn apply(&mut self, actions: &[Action], now: Timestamp) {
            for a in actions {
                match a {
                    Action::Start { revision } => {
                        self.next_id = self.next_id.wrapping_add(1);
                        let mut i = inst(self.next_id, *revision, Starting);
                        i.created_at = now;
                        self.instances.push(i);
                    }
                    Action::Stop { id, .. } => self.instances.retain(|i| &i.id != id),
                    _ => {}
                }
            }
        }
    }

    proptest! {
        #[test]
        fn steady_state_converges(events in proptest::collection::vec((0u8..4, 0usize..8), 0..60), count in 1u32..5) {
            let goal = steady(1, count);
            let mut world = World { instances: vec![], next_id: 0 };
            let mut now = Timestamp(0);
            for (kind, which) in events {
                now = now.plus_millis(100);
                let actions = plan(&goal, &world.instances, now);
                world.apply(&actions, now);
                let live = world.instances.iter().filter(|i| i.state.is_live()).count();
                prop_assert!(live <= count as usize, "live {live} > count {count}");
                if world.instances.is_empty() { continue; }
                let n = which % world.instances.len();
                world.instances[n].state = match kind {
                    0 => Ready,
                    1 => Exited,
                    2 => Unhealthy,
                    _ => world.instances[n].state,
                };
            }
            // Failures stop: everything that starts turns ready.
            for _ in 0..4 {
                now = now.plus_millis(100);
                let actions = plan(&goal, &world.instances, now);
                world.apply(&actions, now);
                for i in &mut world.instances { if i.state == Starting { i.state = Ready; } }
            }
            let ready = world.instances.iter().filter(|i| i.state == Ready).count();
            prop_assert_eq!(ready, count as usize);
            prop_assert_eq!(world.instances.len(), count as usize);
        }

        #[test]
        fn a_deploy_never_stops_the_serving_revision_before_success(
            events in proptest::collection::vec((0u8..3, 0usize..8), 0..40),
        ) {
            let mut world = World { instances: vec![inst(200, 1, Ready), inst(201, 1, Ready)], next_id: 0 };
            let goal = deploying(2, 2);
            let mut now = Timestamp(0);
            for (kind, which) in events {
                now = now.plus_millis(100);
                let actions = plan(&goal, &world.instances, now);
                let succeeded = actions.contains(&Action::DeploySucceeded);
                let failed = actions.iter().any(|a| matches!(a, Action::DeployFailed { .. }));
                for a in &actions {
                    if let Action::Stop { id, .. } = a {
                        let stopped_old = world.instances.iter().any(|i| &i.id == id && i.revision == 1);
                        prop_assert!(!stopped_old || succeeded, "old revision stopped before success");
                    }
                }
                if succeeded || failed { return Ok(()); }
                world.apply(&actions, now);
                let new: Vec<usize> = (0..world.instances.len()).filter(|&k| world.instances[k].revision == 2).collect();
                if new.is_empty() { continue; }
                let n = new[which % new.len()];
                world.instances[n].state = match kind { 0 | 1 => Ready, _ => Exited };
            }
        }
    }
}

/// A seeded simulation of a whole deployment as the controller drives it: deploy revision 2 beside a
/// serving revision 1 while instances of both fail at random; on `DeployFailed` the goal goes back to
/// revision 1 (the rollback), on `DeploySucceeded` revision 2 becomes the steady goal. Whatever happens,
/// the plan never retires a healthy revision-1 instance before revision 2 succeeded, a rollback removes
/// every revision-2 instance, and the service ends with the wanted count of ready instances.
mod rollout_simulation {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Phase {
        Deploying,
        RolledBack,
        Succeeded,
    }

    proptest! {
        #[test]
        fn deploy_or_roll_back_and_converge(
            events in proptest::collection::vec((0u8..6, 0usize..16), 0..80),
            count in 1u32..4,
        ) {
            let mut instances: Vec<ObservedInstance> = (0..count).map(|k| inst(100 + k as u8, 1, Ready)).collect();
            let mut next = 0u8;
            let mut phase = Phase::Deploying;
            let mut now = Timestamp(0);
            let step = |instances: &mut Vec<ObservedInstance>, phase: &mut Phase, now: Timestamp, next: &mut u8| -> Result<(), TestCaseError> {
                let goal = match phase {
                    Phase::Deploying => Goal::Run { revision: 2, count, deploy: Some(Deploy { deadline: Timestamp(1_000_000) }), start_not_before: None },
                    Phase::RolledBack => steady(1, count),
                    Phase::Succeeded => steady(2, count),
                };
                let actions = plan(&goal, instances, now);
                let succeeded = actions.contains(&Action::DeploySucceeded);
                for a in &actions {
                    match a {
                        Action::Start { revision } => {
                            *next = next.wrapping_add(1);
                            let mut i = inst(*next, *revision, Starting);
                            i.created_at = now;
                            instances.push(i);
                        }
                        Action::Stop { id, reason } => {
                            let victim = instances.iter().find(|i| &i.id == id).cloned();
                            if let Some(v) = &victim && *phase == Phase::Deploying && v.revision == 1 && v.state == Ready {
                                prop_assert!(succeeded, "a ready old instance was stopped ({reason:?}) before the new revision succeeded");
                            }
                            instances.retain(|i| &i.id != id);
                        }
                        Action::DeployFailed { .. } => *phase = Phase::RolledBack,
                        Action::DeploySucceeded => *phase = Phase::Succeeded,
                        _ => {}
                    }
                }
                Ok(())
            };
            for (kind, which) in events {
                now = now.plus_millis(100);
                step(&mut instances, &mut phase, now, &mut next)?;
                if instances.is_empty() { continue; }
                let n = which % instances.len();
                instances[n].state = match kind {
                    0..=2 => Ready,
                    3 => Exited,
                    4 => Unhealthy,
                    _ => instances[n].state,
                };
            }
            // Failures stop: what starts turns ready.
            for _ in 0..6 {
                now = now.plus_millis(100);
                step(&mut instances, &mut phase, now, &mut next)?;
                for i in instances.iter_mut() { if i.state == Starting { i.state = Ready; } }
            }
            let serving = match phase { Phase::Succeeded => 2, _ => 1 };
            prop_assert!(instances.iter().all(|i| i.revision == serving), "{phase:?}: {instances:?}");
            prop_assert_eq!(instances.iter().filter(|i| i.state == Ready).count(), count as usize);
        }
    }
}
