//! Prometheus' text exposition format, version 0.0.4: a pure writer.
//!
//! Each metric family is written once, with its `# HELP` and `# TYPE` lines, then its samples. Label values
//! are escaped as the format says (`\` → `\\`, `"` → `\"`, a newline → `\n`), help texts too (`\` and the
//! newline). A histogram is written as Prometheus reads it: cumulative `_bucket{le="…"}` lines ending with
//! `le="+Inf"` (equal to `_count`), then `_sum` and `_count`.

use std::fmt::Write;

use ferry_router::HistogramSnapshot;

/// What a family is (its `# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The text being written.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: its help and type lines. Its samples follow.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        // Writing to a String cannot fail.
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample of a counter or gauge.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// A histogram's samples: its buckets made cumulative, `+Inf`, `_sum` and `_count`.
    pub(crate) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let mut cumulative = 0u64;
        for (i, bound) in h.bounds.iter().enumerate() {
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&number(*bound)));
            let _ = writeln!(self.out, " {cumulative}");
        }
        let _ = write!(self.out, "{name}_bucket");
        self.labels(labels, Some("+Inf"));
        let _ = writeln!(self.out, " {}", h.count);
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", number(h.sum_seconds));
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", h.count);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
        for (i, (key, value)) in all.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{key}=\"{}\"", escape(value));
        }
        self.out.push('}');
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A value as the format writes it: whole numbers without a fraction, `+Inf`, `-Inf`, `NaN`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_help_and_type_and_label_values_are_escaped() {
        let mut e = Exposition::default();
        e.family("ferry_http_requests_total", Kind::Counter, "Responses sent.\nBy class, a \\ too.");
        e.sample("ferry_http_requests_total", &[("service", "web"), ("code", "2xx")], 12.0);
        e.sample("ferry_http_requests_total", &[("service", "a\"b\\c\nd"), ("code", "5xx")], 0.0);
        e.family("ferry_router_connections_open", Kind::Gauge, "Open connections.");
        e.sample("ferry_router_connections_open", &[], 3.0);
        e.sample("ferry_instance_cpu_seconds_total", &[], 1.25);
        assert_eq!(
            e.finish(),
            "# HELP ferry_http_requests_total Responses sent.\\nBy class, a \\\\ too.\n\
             # TYPE ferry_http_requests_total counter\n\
             ferry_http_requests_total{service=\"web\",code=\"2xx\"} 12\n\
             ferry_http_requests_total{service=\"a\\\"b\\\\c\\nd\",code=\"5xx\"} 0\n\
             # HELP ferry_router_connections_open Open connections.\n\
             # TYPE ferry_router_connections_open gauge\n\
             ferry_router_connections_open 3\n\
             ferry_instance_cpu_seconds_total 1.25\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        const BOUNDS: &[f64] = &[0.005, 0.1, 2.5];
        let h = HistogramSnapshot { bounds: BOUNDS, counts: vec![2, 0, 3, 1], sum_seconds: 7.5, count: 6 };
        let mut e = Exposition::default();
        e.family("ferry_build_duration_seconds", Kind::Histogram, "Builds.");
        e.histogram("ferry_build_duration_seconds", &[("outcome", "succeeded")], &h);
        assert_eq!(
            e.finish(),
            "# HELP ferry_build_duration_seconds Builds.\n\
             # TYPE ferry_build_duration_seconds histogram\n\
             ferry_build_duration_seconds_bucket{outcome=\"succeeded\",le=\"0.005\"} 2\n\
             ferry_build_duration_seconds_bucket{outcome=\"succeeded\",le=\"0.1\"} 2\n\
             ferry_build_duration_seconds_bucket{outcome=\"succeeded\",le=\"2.5\"} 5\n\
             ferry_build_duration_seconds_bucket{outcome=\"succeeded\",le=\"+Inf\"} 6\n\
             ferry_build_duration_seconds_sum{outcome=\"succeeded\"} 7.5\n\
             ferry_build_duration_seconds_count{outcome=\"succeeded\"} 6\n"
        );
        let mut e = Exposition::default();
        e.histogram(
            "h",
            &[],
            &HistogramSnapshot { bounds: BOUNDS, counts: vec![0; 4], sum_seconds: 0.0, count: 0 },
        );
        let text = e.finish();
        assert!(text.starts_with("h_bucket{le=\"0.005\"} 0\n"), "{text}");
        assert!(text.ends_with("h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"), "{text}");
    }

    #[test]
    fn numbers_are_written_as_the_format_reads_them() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(0.0025), "0.0025");
        assert_eq!(number(300.0), "300");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1e20), "100000000000000000000");
    }
}
