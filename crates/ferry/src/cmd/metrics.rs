//! `ferry metrics NAME`: a service's last minutes at a glance: a sparkline per measure, then a row per
//! minute. `-o json` prints the API's answer as it is.

use anyhow::Result;
use clap::Args;
use ferry_wire::{MetricsPoint, MetricsView};

use crate::cli::{Global, Output};
use crate::context::client;
use crate::output::{clock, json, table};
use crate::usage;

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The service
    pub name: String,
    /// How many of the last minutes to show, 1 to 60 (the server keeps an hour)
    #[arg(long, default_value_t = 15)]
    pub minutes: u32,
}

/// The widest a sparkline gets: more points than this are taken together.
const SPARK_WIDTH: usize = 60;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub async fn run(global: &Global, args: MetricsArgs) -> Result<()> {
    if !(1..=60).contains(&args.minutes) {
        return Err(usage(format!("--minutes {} is out of range; use 1 to 60", args.minutes)));
    }
    let view = client(global)?.metrics(&args.name, args.minutes).await?;
    if global.output == Output::Json {
        return json(&view);
    }
    let (summary, rows) = render(&args.name, args.minutes, &view);
    print!("{summary}");
    if !rows.is_empty() {
        println!();
        table(&HEADER, &rows);
    }
    Ok(())
}

const HEADER: [&str; 8] = ["MINUTE", "REQUESTS", "ERRORS", "P50", "P99", "INSTANCES", "CPU", "MEMORY"];

/// The report for people: a sparkline per measure, and a row per minute (the slowest latencies within it).
fn render(name: &str, minutes: u32, view: &MetricsView) -> (String, Vec<Vec<String>>) {
    let points = &view.points;
    let mut out = format!("{name}: the last {minutes} min, a point every {} s\n", view.interval_seconds);
    if points.is_empty() {
        out.push_str("no samples yet: the server takes one every interval after the service starts\n");
        return (out, Vec::new());
    }
    let requests: u64 = points.iter().map(|p| p.requests).sum();
    let errors: u64 = points.iter().map(|p| p.errors).sum();
    let seconds = (points.len() as f64 * f64::from(view.interval_seconds)).max(1.0);
    let last = &points[points.len() - 1];
    let error_share = if requests == 0 { 0.0 } else { errors as f64 * 100.0 / requests as f64 };
    let lines: [(&str, Vec<Option<f64>>, String); 6] = [
        (
            "requests",
            points.iter().map(|p| Some(p.requests as f64)).collect(),
            format!("{requests} ({:.2}/s)", requests as f64 / seconds),
        ),
        (
            "errors",
            points.iter().map(|p| Some(p.errors as f64)).collect(),
            format!("{errors} ({error_share:.1} %)"),
        ),
        ("p99", points.iter().map(|p| p.p99_ms).collect(), format!("{} now", ms(last.p99_ms))),
        (
            "instances",
            points.iter().map(|p| Some(f64::from(p.instances))).collect(),
            format!("{} now", last.instances),
        ),
        ("cpu", points.iter().map(|p| p.cpu_percent).collect(), format!("{} now", percent(last.cpu_percent))),
        (
            "memory",
            points.iter().map(|p| p.memory_bytes.map(|b| b as f64)).collect(),
            format!("{} now", bytes(last.memory_bytes)),
        ),
    ];
    for (label, values, summary) in lines {
        out.push_str(&format!("{label:<10} {}  {summary}\n", sparkline(&values)));
    }
    (out, by_minute(points).iter().map(Minute::row).collect())
}

/// One minute's points taken together: counts summed, the slowest latencies, the last instances and
/// memory, the mean CPU.
struct Minute {
    at: String,
    requests: u64,
    errors: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    instances: u32,
    cpu: Vec<f64>,
    memory: Option<u64>,
}

impl Minute {
    fn row(&self) -> Vec<String> {
        let cpu = (!self.cpu.is_empty()).then(|| self.cpu.iter().sum::<f64>() / self.cpu.len() as f64);
        vec![
            self.at.clone(),
            self.requests.to_string(),
            self.errors.to_string(),
            ms(self.p50_ms),
            ms(self.p99_ms),
            self.instances.to_string(),
            percent(cpu),
            bytes(self.memory),
        ]
    }
}

fn by_minute(points: &[MetricsPoint]) -> Vec<Minute> {
    let mut minutes: Vec<Minute> = Vec::new();
    for p in points {
        let hhmm: String = clock(&p.at).chars().take(5).collect();
        if minutes.last().is_none_or(|m| m.at != hhmm) {
            minutes.push(Minute {
                at: hhmm,
                requests: 0,
                errors: 0,
                p50_ms: None,
                p99_ms: None,
                instances: 0,
                cpu: Vec::new(),
                memory: None,
            });
        }
        let Some(m) = minutes.last_mut() else { continue };
        m.requests += p.requests;
        m.errors += p.errors;
        m.p50_ms = max(m.p50_ms, p.p50_ms);
        m.p99_ms = max(m.p99_ms, p.p99_ms);
        m.instances = p.instances;
        m.cpu.extend(p.cpu_percent);
        m.memory = p.memory_bytes.or(m.memory);
    }
    minutes
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Bars from the lowest to the highest value; a gap where a value is unknown. Past [`SPARK_WIDTH`]
/// points, neighbours are taken together (the highest of them).
fn sparkline(values: &[Option<f64>]) -> String {
    let per = values.len().div_ceil(SPARK_WIDTH).max(1);
    let columns: Vec<Option<f64>> = values.chunks(per).map(|c| c.iter().copied().fold(None, max)).collect();
    let top = columns.iter().flatten().copied().fold(0.0_f64, f64::max);
    columns
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if top <= 0.0 => BARS[0],
            Some(v) => BARS[((v / top) * (BARS.len() - 1) as f64).round().clamp(0.0, 7.0) as usize],
        })
        .collect()
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) => format!("{v:.0} ms"),
    }
}

fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} %"))
}

fn bytes(v: Option<u64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(b) if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        Some(b) => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: &str, requests: u64, errors: u64, p99: Option<f64>, cpu: Option<f64>) -> MetricsPoint {
        MetricsPoint {
            at: at.to_owned(),
            requests,
            errors,
            status: Default::default(),
            p50_ms: p99.map(|v| v / 10.0),
            p99_ms: p99,
            in_flight: 0,
            instances: 2,
            cpu_percent: cpu,
            memory_bytes: Some(12 << 20),
        }
    }

    #[test]
    fn sparklines_scale_to_the_highest_value_and_leave_gaps_for_unknowns() {
        assert_eq!(sparkline(&[Some(0.0), Some(7.0), Some(3.5), None, Some(7.0)]), "▁█▅ █");
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)]), "▁▁");
        assert_eq!(sparkline(&vec![Some(1.0); 360]).chars().count(), 60);
    }

    #[test]
    fn the_report_has_a_line_per_measure_and_a_row_per_minute() {
        let view = MetricsView {
            interval_seconds: 10,
            points: vec![
                point("2026-12-06T02:10:50.000Z", 10, 1, Some(40.0), None),
                point("2026-12-06T02:11:00.000Z", 20, 0, Some(5.0), Some(3.0)),
                point("2026-12-06T02:11:10.000Z", 0, 0, None, Some(5.0)),
            ],
        };
        let (text, rows) = render("web", 15, &view);
        assert!(text.starts_with("web: the last 15 min, a point every 10 s\n"), "{text}");
        assert!(text.contains("requests   ▅█▁  30 (1.00/s)\n"), "{text}");
        assert!(text.contains("errors     █▁▁  1 (3.3 %)\n"), "{text}");
        assert!(text.contains("p99        █▂   - now\n"), "{text}");
        let cells = |r: &[&str]| r.iter().map(|c| c.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rows,
            vec![
                cells(&["02:10", "10", "1", "4.00 ms", "40 ms", "2", "-", "12.0 MiB"]),
                cells(&["02:11", "20", "0", "0.50 ms", "5.00 ms", "2", "4.0 %", "12.0 MiB"]),
            ]
        );
        let (empty, rows) = render("web", 5, &MetricsView { interval_seconds: 10, points: Vec::new() });
        assert!(empty.contains("no samples yet") && rows.is_empty(), "{empty}");
    }
}
