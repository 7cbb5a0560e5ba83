//! The Docker driver against the real engine on /var/run/docker.sock, a local registry
//! (`docker-registry`) and a test image built here from `testapp/app.c` (gcc -static, FROM scratch).
//! Builds and pushes are in `docker/build.rs`, pulls, look-ups and image removal in `docker/images.rs`;
//! builds that need a shell use the image of `scripts/build-runtime-image`.

#[path = "docker/build.rs"]
mod build;
#[path = "docker/images.rs"]
mod images;
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use ferry_model::RegistryCredentials;
use ferry_runtime::docker::{DockerOptions, DockerRuntime};
use ferry_runtime::{Instances, LogLine, LogStream, Runtime, RuntimeError, RuntimeEvent};
use futures_util::StreamExt;
use support::*;

async fn runtime() -> DockerRuntime {
    DockerRuntime::connect().await.expect("the docker engine runs on /var/run/docker.sock")
}

fn credentials() -> RegistryCredentials {
    RegistryCredentials { username: REGISTRY_USER.to_owned(), password: REGISTRY_PASSWORD.to_owned() }
}

#[tokio::test]
async fn connect_negotiates_the_engines_api_version() -> anyhow::Result<()> {
    let rt = runtime().await;
    // The client speaks the engine's API version when that is older than bollard's own.
    let server_api = docker(&["version", "--format", "{{.Server.APIVersion}}"])?;
    let (major, minor) = server_api.split_once('.').context("an api version is major.minor")?;
    let server = (major.parse::<usize>()?, minor.parse::<usize>()?);
    let newest = bollard::API_DEFAULT_VERSION;
    let expected = server.min((newest.major_version, newest.minor_version));
    assert_eq!(rt.api_version(), format!("{}.{}", expected.0, expected.1));
    let info = rt.info().await?;
    assert_eq!(info.version, docker(&["version", "--format", "{{.Server.Version}}"])?);
    assert!(info.cpus >= 1 && info.memory_bytes > 0, "{info:?}");

    let options = DockerOptions { socket: "/nonexistent/docker.sock".into(), ..Default::default() };
    let err = DockerRuntime::connect_with(options).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("start the docker engine"), "{err}");
    Ok(())
}

#[tokio::test]
async fn run_serves_http_on_a_loopback_port_with_env_and_command() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let mut spec = spec("Run-Http", &[("GREETING", "howdy")]);
    spec.command = Some(vec!["serve".to_owned(), "--flag".to_owned()]);
    let name = format!("ferry-run-http-{}", spec.identity.instance_id);
    cleanup.container(&name);
    let info = rt.run(&spec).await?;
    assert_eq!(info.name, name);
    assert!(info.running);
    assert_eq!(info.identity.as_ref(), Some(&spec.identity));
    // One engine, one node: the engine's name.
    assert_eq!(info.node, docker(&["info", "--format", "{{.Name}}"])?);
    let address = info.address.context("a running container has an address")?;
    assert!(address.ip().is_loopback(), "{address}");

    let response =
        eventually("the app to answer", || async move { Ok(http_get(address, "/").await.ok()) }).await?;
    assert!(response.ends_with("hello howdy args=serve,--flag"), "{response}");
    // The container's own address on its network reaches the same app, without the port mapping.
    let own = info.network_address.context("a running container has a network address")?;
    assert_eq!(own.port(), 8080, "{own}");
    assert!(!own.ip().is_loopback(), "{own}");
    let direct = http_get(own, "/").await?;
    assert!(direct.ends_with("hello howdy args=serve,--flag"), "{direct}");

    let json = inspect_json(&info.id)?;
    let bindings = &json["NetworkSettings"]["Ports"]["8080/tcp"];
    let bindings = bindings.as_array().context("port 8080 is published")?;
    assert!(!bindings.is_empty() && bindings.iter().all(|b| b["HostIp"] == "127.0.0.1"), "{bindings:?}");
    // The image declares port 80 (below the app's): listed, never published, and not where checks go.
    let ports = json["NetworkSettings"]["Ports"].as_object().context("ports")?;
    assert_eq!(ports.get("80/tcp"), Some(&serde_json::Value::Null), "declared, not published: {ports:?}");
    let host = &json["HostConfig"];
    assert_eq!(host["PortBindings"]["8080/tcp"][0]["HostIp"], "127.0.0.1");
    assert_eq!(host["Init"], true);
    assert_eq!(host["RestartPolicy"]["Name"], "no");
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
    assert_eq!(host["LogConfig"]["Config"]["max-file"], "3");
    assert_eq!(json["Config"]["Labels"]["ferry.managed"], "true");
    assert_eq!(json["Config"]["Labels"]["ferry.service"], "Run-Http");
    Ok(())
}

#[tokio::test]
async fn each_service_runs_hardened_on_a_network_of_its_own_released_when_unused() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let web = spec("netted", &[]);
    let mut sibling = spec("netted", &[]);
    sibling.identity.service_id = web.identity.service_id.clone();
    let other = spec("netted-other", &[]);
    // Two runs of one service at once make one network between them.
    let (a, b) = tokio::join!(rt.run(&web), rt.run(&sibling));
    let (a, b) = (a?, b?);
    cleanup.container(&a.id);
    cleanup.container(&b.id);
    let c = rt.run(&other).await?;
    cleanup.container(&c.id);

    let networks_of = |id: &str| -> anyhow::Result<Vec<String>> {
        let json = inspect_json(id)?;
        let networks = json["NetworkSettings"]["Networks"].as_object().context("networks")?;
        Ok(networks.keys().cloned().collect())
    };
    let name = format!("ferry-ferry-{}", web.identity.service_id);
    assert_eq!(
        networks_of(&a.id)?,
        vec![name.clone()],
        "one network, the service's, never the default bridge"
    );
    assert_eq!(networks_of(&b.id)?, vec![name.clone()]);
    assert_eq!(networks_of(&c.id)?, vec![format!("ferry-ferry-{}", other.identity.service_id)]);
    let network = inspect_json(&name)?;
    assert_eq!(network["Labels"]["ferry.owner"], "ferry");
    assert_eq!(network["Labels"]["ferry.service-id"], web.identity.service_id.as_str());
    assert_eq!(network["Driver"], "bridge");
    // Its subnet is a /26 of ferry's pool (not the engine's default pools, which hold about 30 networks),
    // and no other network's.
    let subnet_of = |name: &str| -> anyhow::Result<String> {
        Ok(inspect_json(name)?["IPAM"]["Config"][0]["Subnet"].as_str().context("a subnet")?.to_owned())
    };
    let subnet = subnet_of(&name)?;
    assert!(subnet.starts_with("10.213.") && subnet.ends_with("/26"), "{subnet}");
    assert_ne!(subnet, subnet_of(&format!("ferry-ferry-{}", other.identity.service_id))?);
    // The health check's address is the container's on that network.
    let own = a.network_address.context("a network address")?;
    assert_eq!(
        own.ip().to_string(),
        network["Containers"][&a.id]["IPv4Address"].as_str().unwrap_or("").split('/').next().unwrap_or("")
    );
    assert!(http_get(own, "/").await?.contains("hello"));

    let host = inspect_json(&a.id)?["HostConfig"].clone();
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert!(!host["CapAdd"].as_array().context("cap add")?.iter().any(|c| c == "NET_RAW"));
    assert_eq!(host["SecurityOpt"], serde_json::json!(["no-new-privileges:true"]));
    assert_eq!(host["PidsLimit"], 4096);
    assert_eq!(host["Privileged"], false);

    // Released only once no container uses it; releasing again is fine.
    rt.remove(&a.id).await?;
    rt.release_service(&web.identity.service_id).await?;
    assert!(inspect_json(&name).is_ok(), "still used by the sibling");
    rt.remove(&b.id).await?;
    rt.release_service(&web.identity.service_id).await?;
    assert!(inspect_json(&name).is_err(), "gone with its last container");
    rt.release_service(&web.identity.service_id).await?;
    // A network of that name someone else made is refused, never joined.
    docker(&["network", "create", &name])?;
    let err = rt.run(&spec_for(&web)).await.unwrap_err();
    assert!(err.to_string().contains("did not make it for service"), "{err}");
    rt.release_service(&web.identity.service_id).await?;
    assert!(inspect_json(&name).is_ok(), "not ours: left alone");
    docker(&["network", "rm", &name])?;
    Ok(())
}

/// Drivers that share nothing (as two ferry servers on one engine) make networks at once: each gets a
/// subnet of its own, the one that loses a race for a subnet taking the next.
#[tokio::test]
async fn drivers_making_networks_at_once_get_subnets_of_their_own() -> anyhow::Result<()> {
    let cleanup = Cleanup::default();
    let specs: Vec<_> = (0..4).map(|i| spec(&format!("racing-{i}"), &[])).collect();
    let runs = specs.iter().map(|s| async move { runtime().await.run(s).await });
    let infos = futures_util::future::join_all(runs).await;
    let mut subnets = Vec::new();
    for (info, spec) in infos.into_iter().zip(&specs) {
        let info = info?;
        cleanup.container(&info.id);
        let name = format!("ferry-ferry-{}", spec.identity.service_id);
        subnets
            .push(inspect_json(&name)?["IPAM"]["Config"][0]["Subnet"].as_str().context("subnet")?.to_owned());
    }
    subnets.sort();
    subnets.dedup();
    assert_eq!(subnets.len(), 4, "{subnets:?}");
    Ok(())
}

#[tokio::test]
async fn a_read_only_root_runs_with_a_writable_tmp_only() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let mut spec = spec("read-only", &[]);
    spec.read_only_root = true;
    let info = rt.run(&spec).await?;
    cleanup.container(&info.id);
    let address = info.address.context("an address")?;
    eventually("the app to answer", || async move { Ok(http_get(address, "/").await.ok()) }).await?;
    let host = inspect_json(&info.id)?["HostConfig"].clone();
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Tmpfs"]["/tmp"], "rw,noexec,nosuid,nodev,size=64m");
    Ok(())
}

/// Another instance of the same service.
fn spec_for(spec: &ferry_runtime::ContainerSpec) -> ferry_runtime::ContainerSpec {
    let mut next = spec.clone();
    next.identity.instance_id = ferry_model::InstanceId::generate();
    next
}

#[tokio::test]
async fn limits_are_set_and_cpus_are_capped_at_the_host() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let spec = spec("limits", &[]);
    let info = rt.run(&spec).await?;
    cleanup.container(&info.id);
    let host = inspect_json(&info.id)?["HostConfig"].clone();
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["Memory"], 64 << 20);

    let cpus = i64::from(rt.info().await?.cpus);
    let mut greedy = support::spec("limits-greedy", &[]);
    greedy.nano_cpus = (cpus + 1) * 1_000_000_000;
    let info = rt.run(&greedy).await?;
    cleanup.container(&info.id);
    assert_eq!(inspect_json(&info.id)?["HostConfig"]["NanoCpus"], cpus * 1_000_000_000);
    Ok(())
}

#[tokio::test]
async fn labels_round_trip_through_list_into_identity() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let (a, b) = (spec("listed", &[]), spec("listed", &[]));
    let a_info = rt.run(&a).await?;
    cleanup.container(&a_info.id);
    let b_info = rt.run(&b).await?;
    cleanup.container(&b_info.id);
    rt.stop(&b_info.id, Duration::from_secs(5)).await?;
    let stranger = format!("not-ferry-{}", ferry_model::InstanceId::generate());
    cleanup.container(&stranger);
    docker(&["create", "--name", &stranger, test_image()])?;

    let listed = rt.list().await?;
    let find = |id: &str| listed.iter().find(|c| c.id == id);
    let a_listed = find(&a_info.id).context("a running ferry container is listed")?;
    assert_eq!(a_listed.identity.as_ref(), Some(&a.identity));
    assert!(a_listed.running && a_listed.address == a_info.address);
    let b_listed = find(&b_info.id).context("a stopped ferry container is listed")?;
    assert_eq!(b_listed.identity.as_ref(), Some(&b.identity));
    assert!(!b_listed.running && b_listed.exit_code.is_some() && b_listed.address.is_none());
    assert_eq!(b_listed.node, a_info.node, "a stopped container keeps its node");
    assert!(!listed.iter().any(|c| c.name == stranger), "only ferry's containers");
    assert!(listed.iter().all(|c| c.identity.is_some()));
    Ok(())
}

#[tokio::test]
async fn stop_and_remove_are_idempotent() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let info = rt.run(&spec("stopper", &[])).await?;
    cleanup.container(&info.id);
    let grace = Duration::from_secs(20);
    let started = std::time::Instant::now();
    rt.stop(&info.id, grace).await?;
    // The init process passed SIGTERM on and the app died of it, well before the SIGKILL.
    assert!(started.elapsed() < grace / 2, "stop took {:?}", started.elapsed());
    let stopped = rt.inspect(&info.id).await?.context("a stopped container is still there")?;
    assert_eq!((stopped.running, stopped.exit_code, stopped.address), (false, Some(143), None));

    rt.stop(&info.id, grace).await?;
    rt.remove(&info.id).await?;
    rt.remove(&info.id).await?;
    rt.stop(&info.id, grace).await?;
    assert_eq!(rt.inspect(&info.id).await?, None);
    assert!(matches!(rt.tail_logs(&info.id, 5).await, Err(RuntimeError::NotFound(id)) if id == info.id));

    let running = rt.run(&spec("stopper", &[])).await?;
    cleanup.container(&running.id);
    rt.remove(&running.id).await?;
    assert_eq!(rt.inspect(&running.id).await?, None, "remove kills a running container");
    Ok(())
}

#[tokio::test]
async fn an_exit_with_code_3_is_a_died_event_and_inspect_says_3() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let mut events = rt.events();
    let spec = spec("exits", &[("EXIT_CODE", "3")]);
    let info = rt.run(&spec).await?;
    cleanup.container(&info.id);
    let (identity, exit_code) = loop {
        match next_within(&mut events, "a die event").await?.context("the event stream ended")?? {
            RuntimeEvent::Died { container_id, identity, exit_code } if container_id == info.id => {
                break (identity, exit_code);
            }
            RuntimeEvent::Died { .. } => {} // another test's container
        }
    };
    assert_eq!(exit_code, Some(3));
    assert_eq!(identity, Some(spec.identity.clone()));
    let dead = rt.inspect(&info.id).await?.context("the container is still there")?;
    assert_eq!((dead.running, dead.exit_code, dead.oom_killed), (false, Some(3), false));
    Ok(())
}

#[tokio::test]
async fn tail_logs_returns_stdout_and_stderr_lines_of_a_stopped_container() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let info = rt.run(&spec("tailed", &[("EXIT_CODE", "4")])).await?;
    cleanup.container(&info.id);
    let id = info.id.as_str();
    let rt = &rt;
    eventually(
        "the app to exit",
        || async move { Ok(rt.inspect(id).await?.filter(|c| !c.running).map(|_| ())) },
    )
    .await?;

    let lines = rt.tail_logs(id, 10).await?;
    let mut seen: Vec<(LogStream, &str)> = lines.iter().map(|l| (l.stream, l.line.as_str())).collect();
    // stdout and stderr are separate pipes: their relative order is not defined.
    seen.sort_by_key(|(stream, _)| stream.as_str());
    assert_eq!(
        seen,
        [
            (LogStream::Stderr, "app warming up"),
            (LogStream::Stderr, "exiting with 4"),
            (LogStream::Stdout, "app starting")
        ]
    );
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    assert!(lines.iter().all(|l| (now - l.at.millis()).abs() < 10 * 60 * 1000), "{lines:?}");
    assert!(lines.windows(2).all(|w| w[0].at <= w[1].at), "oldest first: {lines:?}");

    let last = rt.tail_logs(id, 1).await?;
    assert_eq!(last.len(), 1);
    assert_eq!(last[0], lines[2]);
    Ok(())
}

#[tokio::test]
async fn follow_logs_yields_lines_as_they_come_and_ends_when_the_container_stops() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let info = rt.run(&spec("followed", &[])).await?;
    cleanup.container(&info.id);
    let address = info.address.context("no address")?;
    let mut follow = rt.follow_logs(&info.id, None);
    let mut next_line = async |what: &str| -> anyhow::Result<LogLine> {
        Ok(next_within(&mut follow, what)
            .await?
            .with_context(|| format!("the stream ended before {what}"))??)
    };
    // stdout and stderr are separate pipes: their relative order is not defined.
    let mut start = Vec::new();
    while !start.contains(&"listening".to_owned()) || start.len() < 3 {
        start.push(next_line("the start").await?.line);
    }
    start.sort();
    assert_eq!(start, ["app starting", "app warming up", "listening"]);

    // Each line arrives while the app still runs, after the request that makes it.
    http_get(address, "/out?first").await?;
    let first = next_line("the first line").await?;
    assert_eq!((first.stream, first.line.as_str()), (LogStream::Stdout, "first"));
    http_get(address, "/err?second").await?;
    let second = next_line("the second line").await?;
    assert_eq!((second.stream, second.line.as_str()), (LogStream::Stderr, "second"));
    // json-file splits lines over 16 KiB; they come back whole.
    http_get(address, "/long?40000").await?;
    let long = next_line("the long line").await?;
    assert_eq!(long.line.len(), 40000);
    assert!(long.line.bytes().all(|b| b == b'x'));

    // The app exits after writing "bye" with no newline: it comes out, then the stream ends.
    http_get(address, "/exit?0").await?;
    assert_eq!(next_line("the last line").await?.line, "bye");
    assert!(next_within(&mut follow, "the end of the stream").await?.is_none());

    // From a time on: nothing older, even within the same second.
    let again: Vec<String> = rt
        .follow_logs(&info.id, Some(first.at))
        .map(|l| l.map(|l| l.line))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    assert_eq!(again.first().map(String::as_str), Some("first"));
    assert_eq!(again.last().map(String::as_str), Some("bye"));
    assert_eq!(again.len(), 4);
    Ok(())
}

#[tokio::test]
async fn a_container_the_engine_refuses_leaves_nothing_behind() -> anyhow::Result<()> {
    let rt = runtime().await;
    let mut spec = spec("refused", &[]);
    spec.memory_bytes = 1 << 20;
    let name = format!("ferry-refused-{}", spec.identity.instance_id);
    let cleanup = Cleanup::default();
    cleanup.container(&name);
    let err = rt.run(&spec).await.unwrap_err();
    assert!(matches!(&err, RuntimeError::Engine(m) if m.contains("emory")), "{err}");
    assert_eq!(docker(&["ps", "-aq", "--filter", &format!("name={name}")])?, "");
    Ok(())
}

#[tokio::test]
async fn stats_say_what_a_running_container_uses_and_nothing_once_it_stops() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let info = rt.run(&spec("stats", &[])).await?;
    cleanup.container(&info.id);
    let address = info.address.context("a running container has an address")?;
    eventually("the app to answer", || async move { Ok(http_get(address, "/").await.ok()) }).await?;
    let stats = rt.stats(&info.id).await?.context("a running container has stats")?;
    assert!(stats.memory_bytes > 0, "{stats:?}");
    assert!(stats.cpu_seconds_total >= 0.0, "{stats:?}");
    rt.stop(&info.id, Duration::from_secs(1)).await?;
    assert_eq!(rt.stats(&info.id).await?, None, "a stopped container");
    rt.remove(&info.id).await?;
    assert_eq!(rt.stats(&info.id).await?, None, "a container that is gone");
    Ok(())
}
