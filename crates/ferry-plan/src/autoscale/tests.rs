use super::*;

/// A second, in milliseconds.
pub(super) const S: i64 = 1_000;

pub(super) fn at(sec: i64) -> Timestamp {
    Timestamp(sec * S)
}

/// A service under simulation at one sample and one decision a second. A wanted instance is ready `lag`
/// seconds later; an unwanted one goes at once.
pub(super) struct Sim {
    pub a: Autoscaler,
    pub t: i64,
    pub ready: u32,
    lag: usize,
    wanted: Vec<u32>,
}

impl Sim {
    pub fn new(config: ScalingConfig, ready: u32, lag: usize) -> Self {
        let lag = lag.max(1);
        Self { a: Autoscaler::new(config, at(0)), t: 0, ready, lag, wanted: vec![ready; lag] }
    }

    /// One second: a sample of `load` (none if `None`), then a decision.
    pub fn step(&mut self, load: Option<f64>) -> Decision {
        if let Some(concurrency) = load {
            self.a.record(Sample { at: at(self.t), concurrency });
        }
        let d = self.a.decide(at(self.t), self.ready);
        self.wanted.push(d.desired);
        let n = self.wanted.len();
        self.ready = d.desired.min(self.wanted[n - self.lag]);
        self.t += 1;
        d
    }

    /// `secs` seconds of a constant load.
    pub fn hold(&mut self, load: f64, secs: i64) -> Vec<Decision> {
        (0..secs).map(|_| self.step(Some(load))).collect()
    }
}

fn counts(ds: &[Decision]) -> Vec<u32> {
    ds.iter().map(|d| d.desired).collect()
}

/// How often the count turns from going up to going down or back.
fn turns(counts: &[u32]) -> usize {
    let moves: Vec<bool> = counts.windows(2).filter(|w| w[0] != w[1]).map(|w| w[1] > w[0]).collect();
    moves.windows(2).filter(|m| m[0] != m[1]).count()
}

fn min_zero() -> ScalingConfig {
    ScalingConfig { min_size: 0, ..ScalingConfig::default() }
}

fn no_delay() -> ScalingConfig {
    ScalingConfig { scale_down_delay: Duration::ZERO, ..ScalingConfig::default() }
}

#[test]
fn defaults_are_app_runners_and_knatives() {
    let c = ScalingConfig::default();
    assert_eq!((c.min_size, c.max_size, c.max_concurrency), (1, 25, 100));
    assert_eq!((c.target_utilization, c.panic_threshold), (0.7, 2.0));
    assert_eq!((c.max_scale_up_rate, c.max_scale_down_rate), (1000.0, 2.0));
    let secs = |d: Duration| d.as_secs();
    assert_eq!(
        [c.stable_window, c.panic_window, c.scale_to_zero_grace, c.scale_down_delay].map(secs),
        [60, 6, 30, 12]
    );
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(ScalingConfig::fixed(3), ScalingConfig { min_size: 3, max_size: 3, ..c.clone() });
    let app_runner =
        ferry_model::AutoScaling { max_concurrency: 10, min_size: 0, max_size: 4, configuration: None };
    let from = ScalingConfig::from_app_runner(&app_runner);
    assert_eq!((from.min_size, from.max_size, from.max_concurrency), (0, 4, 10));
    assert_eq!(from.validate(), Ok(()));
}

#[test]
fn validate_names_every_problem() {
    let ok = ScalingConfig::default();
    let ms = Duration::from_millis;
    let cases: Vec<(ScalingConfig, &str)> = vec![
        (ScalingConfig { max_size: 0, min_size: 0, ..ok.clone() }, "max_size must be at least 1"),
        (ScalingConfig { min_size: 5, max_size: 3, ..ok.clone() }, "min_size 5 is above max_size 3"),
        (ScalingConfig { max_concurrency: 0, ..ok.clone() }, "max_concurrency must be 1 to 200, not 0"),
        (ScalingConfig { max_concurrency: 201, ..ok.clone() }, "max_concurrency"),
        (ScalingConfig { target_utilization: f64::NAN, ..ok.clone() }, "target_utilization"),
        (ScalingConfig { target_utilization: 1.5, ..ok.clone() }, "target_utilization"),
        (ScalingConfig { stable_window: Duration::from_secs(5), ..ok.clone() }, "stable_window"),
        (ScalingConfig { stable_window: ms(60_500), ..ok.clone() }, "stable_window"),
        (ScalingConfig { panic_window: Duration::from_secs(61), ..ok.clone() }, "panic_window"),
        (ScalingConfig { panic_window: Duration::ZERO, ..ok.clone() }, "panic_window"),
        (ScalingConfig { panic_threshold: 1.0, ..ok.clone() }, "panic_threshold"),
        (ScalingConfig { max_scale_up_rate: f64::INFINITY, ..ok.clone() }, "max_scale_up_rate"),
        (
            ScalingConfig { max_scale_down_rate: 1.0, ..ok.clone() },
            "max_scale_down_rate must be above 1, not 1",
        ),
        (ScalingConfig { scale_to_zero_grace: Duration::from_secs(1), ..ok.clone() }, "scale_to_zero_grace"),
        (ScalingConfig { scale_down_delay: Duration::from_secs(3601), ..ok.clone() }, "scale_down_delay"),
        (ScalingConfig { scale_down_delay: ms(1500), ..ok.clone() }, "scale_down_delay"),
    ];
    for (config, want) in cases {
        let err = config.validate().expect_err(want);
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }
    let two = ScalingConfig { min_size: 9, max_size: 3, max_concurrency: 0, ..ok };
    assert_eq!(two.validate().unwrap_err().split("; ").count(), 2);
}

#[test]
fn a_steady_load_keeps_a_constant_count() {
    // (load, instances ready at the start, the count throughout)
    let cases = [(140.0, 2, 2), (140.0, 1, 2), (350.0, 5, 5), (50.0, 1, 1), (0.5, 1, 1), (1700.0, 25, 25)];
    for (load, ready, want) in cases {
        let mut sim = Sim::new(ScalingConfig::default(), ready, 3);
        let ds = sim.hold(load, 300);
        assert!(ds.iter().all(|d| d.desired == want), "{load}: {:?}", counts(&ds));
        let last = ds.last().unwrap();
        assert!(!last.panicking, "{load}");
        assert_eq!(
            last.reason,
            Reason::Steady { concurrency: load, window: Duration::from_secs(60), desired: want }
        );
    }
}

#[test]
fn a_step_up_scales_out_within_the_panic_window() {
    let mut sim = Sim::new(ScalingConfig::default(), 1, 3);
    assert!(sim.hold(70.0, 120).iter().all(|d| d.desired == 1));
    let ds = sim.hold(350.0, 180);
    // Panic from the first second, and five instances (350 / 70) within the panic window.
    assert!(ds[0].panicking && ds[0].desired > 1, "{:?}", ds[0]);
    let five = ds.iter().position(|d| d.desired == 5).unwrap();
    assert!(five < 6, "five instances only after {five} s: {:?}", counts(&ds[..10]));
    assert!(ds.iter().all(|d| d.desired <= 5), "never more than the load wants");
    assert!(counts(&ds).windows(2).all(|w| w[1] >= w[0]), "never down on the way up");
    assert!(!ds.last().unwrap().panicking);
}

#[test]
fn a_burst_panics_and_nothing_goes_down_until_it_is_over() {
    let mut sim = Sim::new(no_delay(), 1, 3);
    sim.hold(70.0, 120);
    let mut ds = sim.hold(700.0, 10);
    ds.extend(sim.hold(70.0, 200));
    let c = counts(&ds);
    let calm = ds.iter().position(|d| !d.panicking).unwrap();
    assert!(ds[..calm].iter().all(|d| d.panicking));
    assert!(c[..calm].windows(2).all(|w| w[1] >= w[0]), "down while panicking: {:?}", &c[..calm]);
    assert_eq!(c[calm - 1], 10, "the burst wanted 700 / 70");
    // The last decision over the threshold was in the burst; the panic ends a stable window after it.
    assert!((60..=72).contains(&calm), "panic ended at {calm}");
    assert!(ds.iter().all(|d| d.desired <= 10));
    // Then down, at most halving the ready instances at a time, to what 70 requests want.
    let mut ready = 10;
    for d in &ds[calm..] {
        assert!(d.desired >= ready / 2, "{} from {ready}", d.desired);
        ready = d.desired;
    }
    assert_eq!(*c.last().unwrap(), 1);
}

#[test]
fn a_ramp_down_is_gradual_and_waits_for_the_stable_window() {
    let mut sim = Sim::new(ScalingConfig::default(), 10, 3);
    assert!(sim.hold(700.0, 120).iter().all(|d| d.desired == 10));
    let ds = sim.hold(70.0, 120);
    let c = counts(&ds);
    assert!(c.windows(2).all(|w| w[1] <= w[0]), "down only: {c:?}");
    assert!(c.windows(2).all(|w| w[1] >= w[0] / 2), "at most halving: {c:?}");
    // The stable window forgets the old load a second at a time, and the delay holds each step 12 s.
    let first_down = c.iter().position(|&n| n < 10).unwrap();
    assert!(first_down >= 12, "first down after {first_down} s");
    let at_one = c.iter().position(|&n| n == 1).unwrap();
    assert!((60..=60 + 12).contains(&at_one), "one instance after {at_one} s: {c:?}");
    assert!(c.iter().filter(|&&n| n > 1).count() > 5 * 12, "gradual: {c:?}");
}

#[test]
fn an_idle_service_goes_to_zero_exactly_after_the_grace() {
    let mut sim = Sim::new(min_zero(), 1, 3);
    sim.hold(70.0, 60);
    let ds = sim.hold(0.0, 120);
    let c = counts(&ds);
    // The first zero sample is at second 0 of the idle run; 30 s of them later, zero.
    assert!(c[..30].iter().all(|&n| n == 1), "{c:?}");
    assert!(c[30..].iter().all(|&n| n == 0), "{c:?}");
    assert_eq!(ds[30].reason, Reason::ToZero { idle_for: Duration::from_secs(30), from: 1, to: 0 });
    assert_eq!(ds[30].reason.to_string(), "scale to zero from 1: no requests for 30 s");
    assert_eq!(ds[31].reason.to_string(), "at zero: no requests for 31 s");

    // A grace longer than the stable window: the load wants none after 60 s (and the 12 s delay), one
    // instance stays until the grace.
    let mut sim =
        Sim::new(ScalingConfig { scale_to_zero_grace: Duration::from_secs(90), ..min_zero() }, 1, 3);
    sim.hold(70.0, 60);
    let ds = sim.hold(0.0, 120);
    assert_eq!(counts(&ds).iter().position(|&n| n == 0), Some(90));
    assert_eq!(
        ds[80].reason,
        Reason::Idle { idle_for: Duration::from_secs(80), grace: Duration::from_secs(90) }
    );

    // With a minimum of 1, never.
    let mut sim = Sim::new(ScalingConfig::default(), 1, 3);
    sim.hold(70.0, 60);
    assert!(sim.hold(0.0, 600).iter().all(|d| d.desired == 1));
}

#[test]
fn silence_heads_for_zero_no_faster_than_the_scale_down_rate() {
    let mut sim = Sim::new(min_zero(), 8, 3);
    sim.hold(560.0, 120);
    let ds = sim.hold(0.0, 60);
    let c = counts(&ds);
    // The stable window was letting it down slowly (to 6 by then); after the grace it halves each time.
    assert_eq!(&c[29..34], [6, 3, 1, 0, 0], "{c:?}");
    assert_eq!(ds[30].reason.to_string(), "scale down from 6 to 3 on the way to zero: no requests for 30 s");
}

#[test]
fn gaps_in_the_samples_prove_nothing_idle() {
    let mut sim = Sim::new(min_zero(), 1, 3);
    sim.hold(70.0, 60);
    sim.hold(0.0, 20);
    // Ten seconds without samples: the decisions keep the count, and the silence starts over after.
    let gap: Vec<Decision> = (0..10).map(|_| sim.step(None)).collect();
    assert!(gap.iter().all(|d| d.desired == 1));
    assert!(
        matches!(gap.last().unwrap().reason, Reason::NoData { age: Some(_), desired: 1 }),
        "{:?}",
        gap[9]
    );
    let c = counts(&sim.hold(0.0, 60));
    assert_eq!(c.iter().position(|&n| n == 0), Some(30), "{c:?}");

    // Samples that stop for good never send a service to zero.
    let mut sim = Sim::new(min_zero(), 1, 3);
    sim.hold(70.0, 60);
    assert!((0..600).map(|_| sim.step(None)).all(|d| d.desired == 1));
}

#[test]
fn a_stalled_collector_changes_nothing() {
    let mut sim = Sim::new(ScalingConfig::default(), 10, 3);
    sim.hold(700.0, 120);
    let stalled: Vec<Decision> = (0..200).map(|_| sim.step(None)).collect();
    assert!(stalled.iter().all(|d| d.desired == 10));
    assert_eq!(stalled[150].reason.to_string(), "no load samples for 151 s: keeping 10 instances");
    assert!(sim.hold(700.0, 100).iter().all(|d| d.desired == 10));
}

#[test]
fn zero_stays_zero_without_samples_and_demand_wakes_it_at_once() {
    let mut sim = Sim::new(min_zero(), 1, 3);
    sim.hold(70.0, 30);
    sim.hold(0.0, 40);
    assert!((0..300).map(|_| sim.step(None)).all(|d| d.desired == 0), "missing samples do not wake it");
    sim.a.demand(at(sim.t));
    let d = sim.step(None);
    assert_eq!((d.desired, &d.reason), (1, &Reason::Activate));
    assert_eq!(d.reason.to_string(), "activation: a request waits and no instance is ready");
    // The request is held, then served; one instance stays for the grace after.
    let c = counts(&sim.hold(1.0, 5));
    assert_eq!(c, [1; 5]);
    let c = counts(&sim.hold(0.0, 40));
    assert_eq!(c.iter().position(|&n| n == 0), Some(30), "{c:?}");
}

#[test]
fn a_burst_at_zero_activates_then_sizes_up() {
    for sampled_at_zero in [true, false] {
        let mut sim = Sim::new(min_zero(), 1, 3);
        sim.hold(70.0, 30);
        sim.hold(0.0, 40);
        for _ in 0..100 {
            sim.step(sampled_at_zero.then_some(0.0));
        }
        assert_eq!(sim.ready, 0);
        sim.a.demand(at(sim.t));
        let first = sim.step(None);
        assert_eq!(first.desired, 1);
        let ds = sim.hold(350.0, 120);
        let five = ds.iter().position(|d| d.desired == 5).unwrap();
        assert!(five < 6, "{sampled_at_zero}: {:?}", counts(&ds[..10]));
        assert!(ds.iter().all(|d| (1..=5).contains(&d.desired)));
        assert!(counts(&ds).windows(2).all(|w| w[1] >= w[0]));
    }
}

#[test]
fn a_flapping_load_does_not_move_the_count_each_cycle() {
    // Two levels, alternating every `half` seconds, for ten minutes.
    let levels = [
        (0.0, 265.0),
        (40.0, 240.0),
        (50.0, 250.0),
        (100.0, 400.0),
        (0.0, 110.0),
        (0.0, 700.0),
        (200.0, 300.0),
    ];
    for half in 1..=6 {
        for (low, high) in levels {
            let mut sim = Sim::new(ScalingConfig::default(), 1, 3);
            let c: Vec<u32> = (0..600)
                .map(|t| sim.step(Some(if (t / half) % 2 == 0 { low } else { high })).desired)
                .collect();
            assert!(turns(&c) <= 1, "{low}/{high} every {half} s turned {} times: {c:?}", turns(&c));
            assert!(c[300..].windows(2).all(|w| w[0] == w[1]), "{low}/{high} every {half} s: {c:?}");
        }
    }
}

#[test]
fn without_the_delay_and_burst_rule_a_flapping_load_flips_each_cycle() {
    // What the delay is for: on and off every 4 s, the stable average moves by 4 × 265 / 60 = 18 and
    // crosses 140 (two instances' worth) each cycle.
    let mut sim = Sim::new(no_delay(), 1, 3);
    let c: Vec<u32> =
        (0..600).map(|t| sim.step(Some(if (t / 4) % 2 == 0 { 0.0 } else { 265.0 })).desired).collect();
    assert!(turns(&c[120..]) > 50, "{c:?}");
    // And what the burst rule is for: on and off every 2 s at 110 the panic window wants 2 at its peaks,
    // so one instance panics, and without the rule the count goes back to 1 when the panic ends.
    let mut sim = Sim::new(ScalingConfig::default(), 1, 3);
    let c: Vec<u32> =
        (0..600).map(|t| sim.step(Some(if (t / 2) % 2 == 0 { 0.0 } else { 110.0 })).desired).collect();
    assert_eq!(c[120..], [2; 480]);
    let d = sim.step(Some(110.0));
    assert_eq!(
        d.reason.to_string(),
        "keeping 2 instances: 73.3 concurrent requests in the last 6 s would panic with fewer"
    );
}

#[test]
fn a_restart_with_instances_running_starts_in_panic() {
    let mut sim = Sim::new(no_delay(), 6, 3);
    let ds = sim.hold(70.0, 120);
    let calm = ds.iter().position(|d| !d.panicking).unwrap();
    assert!(ds[..calm].iter().all(|d| d.desired == 6), "a few seconds of history do not scale it down");
    assert!((60..=61).contains(&calm), "{calm}");
    assert_eq!(ds.last().unwrap().desired, 1);
}

#[test]
fn a_new_configuration_keeps_the_history() {
    let mut sim = Sim::new(ScalingConfig::default(), 10, 3);
    sim.hold(700.0, 120);
    sim.a.set_config(ScalingConfig { max_size: 4, ..ScalingConfig::default() });
    let d = sim.step(Some(700.0));
    assert_eq!((d.desired, &d.reason), (4, &Reason::Bounded { wanted: 10, bound: Bound::Max(4) }));
    sim.a.set_config(ScalingConfig::default());
    assert_eq!(sim.step(Some(700.0)).desired, 10, "the window still holds the load");
    sim.a.set_config(ScalingConfig { min_size: 12, ..ScalingConfig::default() });
    assert_eq!(
        sim.step(Some(700.0)).reason.to_string(),
        "keeping the minimum of 12 instances (the load wants 10)"
    );
}

#[test]
fn odd_samples_are_ignored_or_clamped() {
    let mut a = Autoscaler::new(ScalingConfig::default(), at(0));
    a.record(Sample { at: at(0), concurrency: f64::NAN });
    assert!(matches!(a.decide(at(0), 1).reason, Reason::NoData { age: None, desired: 1 }));
    a.record(Sample { at: at(1), concurrency: f64::INFINITY });
    let d = a.decide(at(1), 1);
    assert_eq!((d.desired, d.stable_concurrency), (25, 1e9));
    assert_eq!(d.reason.to_string(), "capped at the maximum of 25 instances (the load wants 1000)");

    // The most load on the smallest target, with a threshold below 1: counts saturate, nothing overflows.
    let tiny = ScalingConfig {
        max_concurrency: 0,
        target_utilization: 0.0,
        panic_threshold: 0.5,
        max_scale_up_rate: f64::INFINITY,
        ..ScalingConfig::default()
    };
    let mut a = Autoscaler::new(tiny, at(0));
    a.record(Sample { at: at(0), concurrency: f64::INFINITY });
    assert_eq!(a.decide(at(0), u32::MAX).desired, 25);
    a.record(Sample { at: at(1), concurrency: 1e9 });
    assert_eq!(a.decide(at(1), 0).desired, 25);

    // Below zero is no load: a service that may go to zero does.
    let mut a = Autoscaler::new(min_zero(), at(0));
    for t in 0..=30 {
        a.record(Sample { at: at(t), concurrency: -5.0 });
        a.decide(at(t), 1);
    }
    assert_eq!(a.decide(at(30), 1).desired, 0);
}

#[test]
fn a_clock_that_goes_back_forgets_and_carries_on() {
    let mut sim = Sim::new(ScalingConfig::default(), 10, 3);
    sim.hold(700.0, 300);
    // An hour back: the windows are forgotten and fill again from the new samples.
    sim.t -= 3600;
    let ds = sim.hold(700.0, 120);
    assert!(ds.iter().all(|d| d.desired == 10), "{:?}", counts(&ds));
    // A decision from before every sample, then samples out of order: no panic, no collapse.
    let d = sim.a.decide(at(sim.t - 10_000), 10);
    assert_eq!(d.desired, 10);
    for t in [5, 3, 4, 1, 2] {
        sim.a.record(Sample { at: at(sim.t + t), concurrency: 700.0 });
    }
    assert_eq!(sim.a.decide(at(sim.t + 5), 10).desired, 10);
}

#[test]
fn bounds_that_cross_let_the_maximum_win() {
    let crossed = ScalingConfig { min_size: 10, max_size: 3, ..ScalingConfig::default() };
    assert!(crossed.validate().is_err());
    for load in [0.0, 70.0, 7000.0] {
        let mut sim = Sim::new(crossed.clone(), 1, 1);
        assert!(sim.hold(load, 100).iter().all(|d| d.desired == 3), "{load}");
    }
    let none = ScalingConfig { min_size: 0, max_size: 0, ..ScalingConfig::default() };
    let mut sim = Sim::new(none, 0, 1);
    assert!(sim.hold(700.0, 100).iter().all(|d| d.desired == 1), "a maximum of 0 runs one");
}

#[test]
fn memory_is_bounded_whatever_the_call_rate() {
    let mut a = Autoscaler::new(ScalingConfig::default(), at(0));
    for i in 0..100_000 {
        let now = Timestamp(i * 10);
        a.record(Sample { at: now, concurrency: (i % 300) as f64 });
        a.decide(now, 3);
    }
    assert!(a.load.len() <= 60 && a.wants.len() <= 12, "{} {}", a.load.len(), a.wants.len());
    let huge = Duration::from_secs(10 * 3600);
    let mut a =
        Autoscaler::new(ScalingConfig { stable_window: huge, scale_down_delay: huge, ..min_zero() }, at(0));
    for i in 0..4_000 {
        a.record(Sample { at: at(i), concurrency: 1.0 });
        if i % 10 == 0 {
            a.decide(at(i), 1);
        }
    }
    assert!(a.load.len() <= 3600 && a.wants.len() <= 3600, "{} {}", a.load.len(), a.wants.len());
}

#[test]
fn reasons_read_as_one_line() {
    let secs = Duration::from_secs;
    let cases = [
        (
            Reason::Steady { concurrency: 140.0, window: secs(60), desired: 2 },
            "steady: 140 concurrent requests over the last 60 s want 2 instances",
        ),
        (
            Reason::ScaleUp { concurrency: 320.5, window: secs(60), from: 2, to: 5, wanted: 5 },
            "scale up from 2 to 5: 320.5 concurrent requests over the last 60 s want 5 instances",
        ),
        (
            Reason::ScaleUp { concurrency: 1e6, window: secs(60), from: 0, to: 10, wanted: 99 },
            "scale up from 0 to 10: 1000000 concurrent requests over the last 60 s want 99 instances, more \
             than the scale-up rate allows at once",
        ),
        (
            Reason::ScaleDown { concurrency: 70.0, window: secs(60), from: 8, to: 4, wanted: 1 },
            "scale down from 8 to 4: 70 concurrent requests over the last 60 s want 1 instance, fewer than \
             the scale-down rate allows at once",
        ),
        (
            Reason::Panic { concurrency: 42.0, window: secs(6), wanted: 6, ready: 2, desired: 6 },
            "panic: 42 concurrent requests in the last 6 s want 6 instances (2 ready)",
        ),
        (
            Reason::Panic { concurrency: 42.0, window: secs(6), wanted: 1, ready: 8, desired: 8 },
            "panic: 42 concurrent requests in the last 6 s want 1 instance (8 ready); holding 8 while \
             panicking",
        ),
        (
            Reason::Delayed { wanted: 2, desired: 4, delay: secs(12) },
            "scale-down delay: the load wants 2 instances, keeping 4, the most it wanted in the last 12 s",
        ),
        (
            Reason::Idle { idle_for: Duration::from_millis(12_500), grace: secs(30) },
            "no requests for 12.5 s: keeping 1 instance until 30 s without requests",
        ),
        (Reason::NoData { age: None, desired: 1 }, "no load samples yet: keeping 1 instance"),
    ];
    for (reason, want) in cases {
        assert_eq!(reason.to_string(), want);
    }
}
