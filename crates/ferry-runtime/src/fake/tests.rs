use std::sync::Arc;
use std::time::Duration;

use ferry_model::{ImageRef, InstanceId, ServiceId, ServiceName};
use futures_util::StreamExt;

use super::*;
use crate::{Images, InstanceIdentity};

pub(super) fn spec(image: &str, instance: &str) -> ContainerSpec {
    ContainerSpec {
        identity: InstanceIdentity {
            service_name: ServiceName::parse("Web-App").unwrap(),
            service_id: ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap(),
            revision: 1,
            instance_id: InstanceId::parse(instance).unwrap(),
        },
        image: image.to_owned(),
        env: vec![("PORT".to_owned(), "8080".to_owned())],
        command: None,
        port: 8080,
        nano_cpus: 1_000_000_000,
        memory_bytes: 2 << 30,
        read_only_root: false,
    }
}

#[tokio::test]
async fn runs_record_calls_and_hand_out_addresses() {
    let fake = FakeRuntime::new();
    let pulled = fake.pull(&ImageRef::parse("web:v1").unwrap(), None, &|_| {}).await.unwrap();
    assert_eq!(pulled.image_id, FakeRuntime::image_id("web:v1"));
    assert_eq!(pulled.digest, Some(FakeRuntime::digest("web:v1")));
    assert_ne!(pulled.image_id, FakeRuntime::digest("web:v1"));

    let a = fake.run(&spec(&pulled.image_id, "000000000000000a")).await.unwrap();
    let b = fake.run(&spec(&pulled.image_id, "000000000000000b")).await.unwrap();
    assert_eq!((a.id.as_str(), b.id.as_str()), ("fake-0001", "fake-0002"));
    assert_eq!(a.name, "ferry-web-app-000000000000000a");
    assert_eq!(a.address, Some("127.0.0.1:32768".parse().unwrap()));
    assert_eq!(b.address, Some("127.0.0.1:32769".parse().unwrap()));
    assert!(a.running);
    assert_eq!(a.node, FAKE_NODE);

    let again = fake.run(&spec(&pulled.image_id, "000000000000000a")).await.unwrap_err();
    assert!(again.to_string().contains("already in use"), "{again}");

    fake.stop(&a.id, Duration::from_secs(5)).await.unwrap();
    fake.stop(&a.id, Duration::from_secs(5)).await.unwrap();
    fake.remove("fake-9999").await.unwrap();
    let stopped = fake.inspect(&a.id).await.unwrap().unwrap();
    assert_eq!((stopped.running, stopped.exit_code, stopped.address), (false, Some(EXIT_STOPPED), None));
    assert_eq!(fake.list().await.unwrap().len(), 2);

    let calls = fake.calls();
    assert_eq!(calls[0], Call::Pull("web:v1".to_owned()));
    assert!(matches!(&calls[1], Call::Run(s) if s.identity.instance_id.as_str() == "000000000000000a"));
    assert_eq!(calls[4], Call::Stop("fake-0001".to_owned(), Duration::from_secs(5)));
    assert_eq!(calls[6], Call::Remove("fake-9999".to_owned()));
    assert_eq!(fake.take_calls().len(), 9);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn scripted_failures_and_crashes() {
    let fake = FakeRuntime::new();
    fake.fail_pulls("web:missing", "manifest unknown");
    let err = fake.pull(&ImageRef::parse("web:missing").unwrap(), None, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Pull { image, message } if image == "web:missing" && message == "manifest unknown")
    );

    fake.fail_runs("web:broken", "exec format error");
    let err = fake.run(&spec("web:broken", "000000000000000c")).await.unwrap_err();
    assert_eq!(err.to_string(), "the container engine refused: exec format error");
    assert!(fake.containers().is_empty());

    // Scripts match the reference or the id its pull returns.
    fake.exit_on_start("web:crash", 3, &[(LogStream::Stdout, "starting"), (LogStream::Stderr, "boom")]);
    let mut events = fake.events();
    let info = fake.run(&spec(&FakeRuntime::image_id("web:crash"), "000000000000000d")).await.unwrap();
    assert_eq!((info.running, info.exit_code), (false, Some(3)));
    let Some(Ok(RuntimeEvent::Died { container_id, identity, exit_code })) = events.next().await else {
        panic!("a crash is a death");
    };
    assert_eq!((container_id.as_str(), exit_code), (info.id.as_str(), Some(3)));
    assert_eq!(identity, info.identity);
    let logs = fake.tail_logs(&info.id, 1).await.unwrap();
    assert_eq!((logs[0].stream, logs[0].line.as_str()), (LogStream::Stderr, "boom"));
    assert_eq!(fake.tail_logs(&info.id, 10).await.unwrap()[0].at, FAKE_EPOCH);

    let err = fake.remove_image(&FakeRuntime::image_id("web:crash")).await.unwrap_err();
    assert!(err.to_string().contains("image is being used by stopped container fake-0001"), "{err}");
    assert!(matches!(fake.tail_logs("nope", 1).await, Err(RuntimeError::NotFound(_))));

    fake.set_unavailable(Some("engine down"));
    assert!(events.next().await.is_none(), "event streams end when the engine goes away");
    assert!(matches!(fake.list().await, Err(RuntimeError::Unavailable(m)) if m == "engine down"));
    fake.set_unavailable(None);
    assert!(fake.list().await.is_ok());
}

#[tokio::test]
async fn deaths_end_log_streams_and_reach_every_subscriber() {
    let fake = FakeRuntime::new();
    let info = fake.run(&spec("web:v1", "000000000000000e")).await.unwrap();
    assert!(fake.write_logs(&info.id, LogStream::Stdout, &["one", "two"]));
    let since = fake.tail_logs(&info.id, 1).await.unwrap()[0].at;
    let mut follow = fake.follow_logs(&info.id, Some(since));
    let (mut first, mut second) = (fake.events(), fake.events());
    fake.write_logs(&info.id, LogStream::Stderr, &["three"]);
    assert!(fake.oom_kill(&info.id));
    assert!(!fake.die(&info.id, 1), "a dead container cannot die again");

    let lines: Vec<String> = follow.by_ref().map(|l| l.unwrap().line).collect().await;
    assert_eq!(lines, ["two", "three"]);
    for events in [&mut first, &mut second] {
        let event = events.next().await.unwrap().unwrap();
        assert!(matches!(event, RuntimeEvent::Died { exit_code: Some(EXIT_KILLED), .. }));
    }
    assert!(fake.inspect(&info.id).await.unwrap().unwrap().oom_killed);

    let adopted = fake.add_container(&spec("web:v0", "000000000000000f"), false);
    assert_eq!((adopted.running, adopted.exit_code), (false, Some(0)));
    assert!(!fake.calls().iter().any(|c| matches!(c, Call::Run(s) if s.image == "web:v0")));
}

#[tokio::test]
async fn a_runtime_upcasts_to_its_images_and_instances() {
    let fake = Arc::new(FakeRuntime::new());
    let runtime: Arc<dyn Runtime> = fake.clone();
    // A part that needs only one half takes it, from the same runtime.
    let images: Arc<dyn Images> = runtime.clone();
    let instances: Arc<dyn Instances> = runtime.clone();
    assert!(images.image_exists("web:v1").await.unwrap());
    assert!(instances.list().await.unwrap().is_empty());
    runtime.info().await.unwrap();
    assert_eq!(fake.calls(), [Call::ImageExists("web:v1".to_owned()), Call::List, Call::Info]);
}

#[tokio::test]
async fn scripted_addresses_are_reported_while_the_container_runs() {
    let fake = FakeRuntime::new();
    let (published, network) = ("127.0.0.1:40000".parse().unwrap(), "172.17.0.9:8080".parse().unwrap());
    fake.set_addresses("web:v1", Some(published), Some(network));
    let pulled = fake.pull(&ImageRef::parse("web:v1").unwrap(), None, &|_| {}).await.unwrap();
    // By reference or by the id its pull returned; other images keep the default.
    let by_id = fake.run(&spec(&pulled.image_id, "000000000000000a")).await.unwrap();
    let by_ref = fake.run(&spec("web:v1", "000000000000000b")).await.unwrap();
    let other = fake.run(&spec("web:v2", "000000000000000c")).await.unwrap();
    for info in [&by_id, &by_ref] {
        assert_eq!((info.address, info.network_address), (Some(published), Some(network)));
    }
    let third = Some(fake_address(32770));
    assert_eq!((other.address, other.network_address), (third, third), "every container takes a port");

    // The latest script wins, `None` is no address, and adopted containers report them too.
    fake.set_addresses("web:v1", None, Some(network));
    let adopted = fake.add_container(&spec("web:v1", "000000000000000d"), true);
    assert_eq!((adopted.address, adopted.network_address), (None, Some(network)));
    assert!(fake.die(&by_id.id, 1));
    let dead = fake.inspect(&by_id.id).await.unwrap().unwrap();
    assert_eq!((dead.address, dead.network_address), (None, None), "only while it runs");
    assert_eq!(fake.inspect(&by_ref.id).await.unwrap().unwrap().address, Some(published));
}

#[tokio::test]
async fn a_service_keeps_its_network_until_released_without_containers() {
    let fake = FakeRuntime::new();
    let web = spec("web:v1", "000000000000000a");
    let service = web.identity.service_id.clone();
    let a = fake.run(&web).await.unwrap();
    let mut other = spec("web:v1", "000000000000000b");
    other.identity.service_id = ServiceId::parse("00000000000000000000000000000002").unwrap();
    fake.run(&other).await.unwrap();
    assert_eq!(fake.networks(), vec![other.identity.service_id.clone(), service.clone()]);

    fake.stop(&a.id, Duration::from_secs(1)).await.unwrap();
    fake.release_service(&service).await.unwrap();
    assert!(fake.networks().contains(&service), "a stopped container still uses it");
    fake.remove(&a.id).await.unwrap();
    fake.release_service(&service).await.unwrap();
    assert!(!fake.networks().contains(&service));
    fake.release_service(&service).await.unwrap();
    assert!(fake.calls().contains(&Call::ReleaseService(service.clone())));

    // At start-up: networks of services that are gone, unless a container still uses them.
    let again = fake.run(&spec("web:v1", "000000000000000c")).await.unwrap();
    assert_eq!(fake.release_services_except(&[]).await.unwrap(), 0, "both are in use");
    fake.remove(&again.id).await.unwrap();
    let kept = vec![other.identity.service_id.clone()];
    assert_eq!(fake.release_services_except(&kept).await.unwrap(), 1);
    assert_eq!(fake.networks(), kept);
}

#[tokio::test]
async fn stats_are_scripted_per_container_while_it_runs() {
    let fake = FakeRuntime::new();
    let a = fake.run(&spec("web:v1", "000000000000000a")).await.unwrap();
    let zero = crate::ContainerStats { cpu_seconds_total: 0.0, memory_bytes: 0 };
    assert_eq!(fake.stats(&a.id).await.unwrap(), Some(zero), "running, nothing scripted");
    let busy = crate::ContainerStats { cpu_seconds_total: 1.5, memory_bytes: 64 << 20 };
    fake.set_stats(&a.id, busy);
    assert_eq!(fake.stats(&a.id).await.unwrap(), Some(busy));
    assert!(fake.die(&a.id, 1));
    assert_eq!(fake.stats(&a.id).await.unwrap(), None, "only while it runs");
    assert_eq!(fake.stats("fake-9999").await.unwrap(), None);
    assert!(fake.calls().contains(&Call::Stats(a.id.clone())));
}
