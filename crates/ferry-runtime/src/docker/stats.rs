//! A container's CPU and memory, from the engine's stats API in one shot.

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::StreamExt;

use super::engine::Engine;
use super::error::{self, timed};
use crate::{ContainerStats, Result};

const NANOS_PER_SECOND: f64 = 1e9;

/// One sample: `stream=false` answers once; `one-shot=true` answers at once instead of waiting a second
/// to fill in the previous sample (`precpu_stats`), which ferry does not use: it keeps its own.
pub(super) async fn stats(engine: &Engine, id: &str) -> Result<Option<ContainerStats>> {
    let options = StatsOptionsBuilder::default().stream(false).one_shot(true).build();
    let call = async {
        let mut answers = engine.docker.stats(id, Some(options));
        match answers.next().await {
            Some(Ok(response)) => Ok(container_stats(&response)),
            Some(Err(e)) if error::status(&e) == Some(404) => Ok(None),
            Some(Err(e)) => Err(error::engine(e)),
            None => Ok(None),
        }
    };
    timed(engine.call_timeout(), "a container's stats", call).await
}

/// The engine's answer as ferry counts it; `None` for a container that does not run (the engine then
/// sends empty figures).
fn container_stats(response: &ContainerStatsResponse) -> Option<ContainerStats> {
    let cpu_nanos = response.cpu_stats.as_ref()?.cpu_usage.as_ref()?.total_usage?;
    let memory = response.memory_stats.as_ref()?;
    let usage = memory.usage?;
    // What `docker stats` shows: the usage less the inactive page cache, which the kernel reclaims under
    // pressure (cgroup v1 names it `total_inactive_file`, v2 `inactive_file`).
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("total_inactive_file").or_else(|| s.get("inactive_file")).copied())
        .filter(|cache| *cache < usage)
        .unwrap_or(0);
    Some(ContainerStats {
        cpu_seconds_total: cpu_nanos as f64 / NANOS_PER_SECOND,
        memory_bytes: usage - cache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(json: &str) -> ContainerStatsResponse {
        serde_json::from_str(json).expect("stats json")
    }

    #[test]
    fn cgroup_v1_figures_take_the_inactive_cache_off_the_usage() {
        let r = response(
            r#"{"cpu_stats":{"cpu_usage":{"total_usage":2500000000}},
                "memory_stats":{"usage":10000000,"stats":{"total_inactive_file":4000000,"cache":5000000}}}"#,
        );
        let stats = container_stats(&r).expect("stats");
        assert_eq!(stats.cpu_seconds_total, 2.5);
        assert_eq!(stats.memory_bytes, 6_000_000);
    }

    #[test]
    fn cgroup_v2_names_the_cache_inactive_file() {
        let r = response(
            r#"{"cpu_stats":{"cpu_usage":{"total_usage":1000}},
                "memory_stats":{"usage":5000,"stats":{"inactive_file":1000}}}"#,
        );
        assert_eq!(container_stats(&r).map(|s| s.memory_bytes), Some(4000));
    }

    #[test]
    fn a_stopped_container_has_no_stats() {
        let r = response(r#"{"cpu_stats":{"cpu_usage":{"total_usage":0}},"memory_stats":{}}"#);
        assert_eq!(container_stats(&r), None);
        assert_eq!(container_stats(&response("{}")), None);
    }
}
