//! Properties over generated traces: bounds, never zero under load, monotone in load, and no panic on
//! any input.

use proptest::prelude::*;

use super::*;

/// One second (or so) of a trace: time moves on by `gap_ms`, a sample of `load` if any, a request waiting
/// at the router if `demand`, then a decision with `ready` instances ready.
#[derive(Debug, Clone)]
struct Step {
    gap_ms: i64,
    load: Option<f64>,
    demand: bool,
    ready: u32,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![8 => Just(1_000i64), 2 => 0i64..8_000],
        prop_oneof![4 => Just(Some(0.0)), 5 => (0.0f64..2_000.0).prop_map(Some), 1 => Just(None)],
        prop::bool::weighted(0.05),
        0u32..40,
    )
        .prop_map(|(gap_ms, load, demand, ready)| Step { gap_ms, load, demand, ready })
}

/// Single steps and runs of one step repeated (steady load, silence, a stalled collector), up to 600.
fn trace() -> impl Strategy<Value = Vec<Step>> {
    let run = (1usize..90, step()).prop_map(|(n, s)| {
        let mut steps = vec![Step { demand: false, ..s.clone() }; n];
        steps[0].demand = s.demand;
        steps
    });
    prop::collection::vec(prop_oneof![step().prop_map(|s| vec![s]), run], 1..30).prop_map(|runs| {
        let mut steps: Vec<Step> = runs.into_iter().flatten().collect();
        steps.truncate(600);
        steps
    })
}

fn valid_config() -> impl Strategy<Value = ScalingConfig> {
    (
        (prop_oneof![Just(0u32), 0u32..5], 1u32..30, 1u32..=200, 0.1f64..=1.0),
        (6u64..120, 1u64..20, 1.1f64..10.0),
        (1.1f64..1000.0, 1.1f64..10.0, 6u64..60, 0u64..30),
    )
        .prop_map(
            |((min, max, concurrency, utilization), (stable, panic, threshold), (up, down, grace, delay))| {
                let secs = Duration::from_secs;
                ScalingConfig {
                    min_size: min.min(max),
                    max_size: max,
                    max_concurrency: concurrency,
                    target_utilization: utilization,
                    stable_window: secs(stable),
                    panic_window: secs(panic.min(stable)),
                    panic_threshold: threshold,
                    max_scale_up_rate: up,
                    max_scale_down_rate: down,
                    scale_to_zero_grace: secs(grace),
                    scale_down_delay: secs(delay),
                }
            },
        )
}

/// Runs `trace`, with each load scaled by the step's `extra` (0 for none), and returns the decisions.
fn run(config: &ScalingConfig, trace: &[Step], extra: &[f64]) -> Vec<Decision> {
    let mut a = Autoscaler::new(config.clone(), Timestamp(0));
    let mut now = Timestamp(0);
    trace
        .iter()
        .enumerate()
        .map(|(i, s)| {
            now = now.plus_millis(s.gap_ms);
            if let Some(load) = s.load {
                a.record(Sample { at: now, concurrency: load + extra.get(i).copied().unwrap_or(0.0) });
            }
            if s.demand {
                a.demand(now);
            }
            a.decide(now, s.ready)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_count_stays_within_the_bounds(config in valid_config(), trace in trace()) {
        for d in run(&config, &trace, &[]) {
            prop_assert!((config.min_size..=config.max_size).contains(&d.desired), "{d:?}");
        }
    }

    /// Never zero while the newest sample shows load, or a request waits.
    #[test]
    fn never_zero_under_load(config in valid_config(), trace in trace()) {
        let mut loaded = false;
        for (s, d) in trace.iter().zip(run(&config, &trace, &[])) {
            if let Some(load) = s.load {
                loaded = load > 0.0;
            }
            if loaded || s.demand {
                prop_assert!(d.desired >= 1, "{s:?}: {d:?}");
            }
        }
    }

    /// More load, with everything else the same, never gives fewer instances.
    #[test]
    fn more_load_never_gives_fewer_instances(
        config in valid_config(),
        trace in trace(),
        extra in prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..500.0], 600),
    ) {
        let lo = run(&config, &trace, &[]);
        let hi = run(&config, &trace, &extra);
        for (i, (lo, hi)) in lo.iter().zip(&hi).enumerate() {
            prop_assert!(hi.desired >= lo.desired, "step {i}: {hi:?} < {lo:?}");
        }
    }

    /// Whatever comes in (any configuration, any number, any time, backwards too), a decision comes out,
    /// within the clamped bounds, and memory stays bounded.
    #[test]
    fn any_input_decides(
        sizes in (any::<u32>(), any::<u32>(), any::<u32>()),
        knobs in (any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>()),
        windows in (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        steps in prop::collection::vec(
            (any::<i64>(), prop_oneof![Just(None), any::<f64>().prop_map(Some)], any::<bool>(), any::<u32>()),
            1..100,
        ),
    ) {
        let (min_size, max_size, max_concurrency) = sizes;
        let (target_utilization, panic_threshold, up, down) = knobs;
        let ms = Duration::from_millis;
        let config = ScalingConfig {
            min_size,
            max_size,
            max_concurrency,
            target_utilization,
            stable_window: ms(windows.0),
            panic_window: ms(windows.1),
            panic_threshold,
            max_scale_up_rate: up,
            max_scale_down_rate: down,
            scale_to_zero_grace: ms(windows.2),
            scale_down_delay: ms(windows.3),
        };
        let mut a = Autoscaler::new(config, Timestamp(0));
        let max = max_size.max(1);
        for (at, load, demand, ready) in steps {
            if let Some(concurrency) = load {
                a.record(Sample { at: Timestamp(at), concurrency });
            }
            if demand {
                a.demand(Timestamp(at));
            }
            let d = a.decide(Timestamp(at), ready);
            prop_assert!(d.desired <= max && d.desired >= min_size.min(max), "{d:?}");
            prop_assert!(!d.reason.to_string().is_empty());
            prop_assert!(a.load.len() <= 3600 && a.wants.len() <= 3600);
        }
    }
}
