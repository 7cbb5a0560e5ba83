use std::sync::Arc;

use ferry_api::MetricsSource;
use ferry_model::OperationStatus;
use ferry_runtime::ContainerStats;

use super::*;
use crate::metrics::sampler::sample;

/// The counters the router has for `name`'s route.
fn route_metrics(h: &Harness, name: &str) -> Arc<ferry_router::ServiceMetrics> {
    let routes = h.router.routes();
    let route = routes.get(&format!("{name}.localhost")).expect("a route");
    route.metrics.clone().expect("the route counts its requests")
}

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

/// A service's routes count into one set of counters for its life; the sampler reads its ready instances'
/// CPU and memory; deployments are counted as they end; a deleted service's metrics go with it.
#[tokio::test(start_paused = true)]
async fn a_service_is_counted_from_its_creation_to_its_deletion() {
    let h = Harness::start().await;
    let created = h.create("web", WEB_V1, 2, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);
    h.until("two ready instances", |h| (h.endpoints("web")?.len() == 2).then_some(())).await;
    let counters = route_metrics(&h, "web");
    assert!(Arc::ptr_eq(&counters, &h.metrics.service(&created.service_id).metrics()));

    let containers: Vec<String> = h.running().into_iter().map(|c| c.id).collect();
    let stats = |cpu: f64, memory: u64| ContainerStats { cpu_seconds_total: cpu, memory_bytes: memory };
    for id in &containers {
        h.runtime.set_stats(id, stats(1.0, 10 << 20));
    }
    sample(&h.metrics, h.runtime.as_ref()).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    h.runtime.set_stats(&containers[0], stats(2.0, 30 << 20));
    sample(&h.metrics, h.runtime.as_ref()).await;

    let history = h.metrics.history(&created.service_id, 60);
    assert_eq!(history.interval, Duration::from_secs(10));
    let last = history.points.last().expect("a point");
    assert_eq!(history.points.len(), 2);
    assert_eq!(last.instances, 2);
    assert_eq!(last.memory_bytes, Some(40 << 20), "summed over the instances");
    let cpu = last.cpu_percent.expect("a rate over two samples");
    assert!((cpu - 10.0).abs() < 0.01, "1 s of CPU over 10 s: {cpu}");

    // A new revision's route carries the same counters.
    let update = h.update_image("web", WEB_V2, 1).await;
    assert_eq!(h.wait(&update.id).await.status, OperationStatus::Succeeded);
    h.until("the new route", |h| (h.endpoints("web")?.len() == 1).then_some(())).await;
    assert!(Arc::ptr_eq(&counters, &route_metrics(&h, "web")), "counts survive route swaps");
    let text = h.metrics.prometheus();
    assert_eq!(
        line(&text, "ferry_deployments_total{service=\"web\",outcome=\"succeeded\"}"),
        Some("ferry_deployments_total{service=\"web\",outcome=\"succeeded\"} 2"),
        "{text}"
    );
    assert_eq!(line(&text, "ferry_service_instances{"), Some("ferry_service_instances{service=\"web\"} 1"));
    assert!(line(&text, "ferry_http_requests_total{service=\"web\",code=\"2xx\"} 0").is_some(), "{text}");
    assert!(line(&text, "ferry_router_connections_open{listener=\"public\"} 0").is_some(), "{text}");
    assert!(text.contains("ferry_instance_memory_bytes{service=\"web\",instance_id=\""), "{text}");

    let deleted = h.run(Command::Delete { service: Target::Name("web".into()) }).await;
    assert_eq!(h.wait(&deleted.id).await.status, OperationStatus::Succeeded);
    h.until("the service's metrics to go", |h| {
        (!h.metrics.prometheus().contains("service=\"web\"")).then_some(())
    })
    .await;
    assert!(h.metrics.history(&created.service_id, 60).points.is_empty());
}
