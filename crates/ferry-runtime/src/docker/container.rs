//! Container lifecycle: create and start, inspect, list, stop, remove.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HostConfig, HostConfigLogConfig,
    PortBinding, PortMap, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
};
use futures_util::{StreamExt, TryStreamExt};

use super::engine::{DockerOptions, Engine};
use super::error::{self, timed};
use crate::{ContainerInfo, ContainerSpec, Result, RuntimeError, labels};

const NANOS_PER_CPU: i64 = 1_000_000_000;

/// The capabilities a container keeps; every other one is dropped. Docker's default set less what an
/// ordinary web app never needs and an attacker in the container would use:
/// - `CHOWN`, `DAC_OVERRIDE`, `FOWNER`, `FSETID`: an entrypoint running as root fixes the owner and
///   mode of files in its image and writes files it does not own (official images' entrypoints do);
/// - `SETUID`, `SETGID`: a process started as root drops to an unprivileged user (nginx's workers,
///   `gosu`/`su-exec` in entrypoints);
/// - `NET_BIND_SERVICE`: listening on a port below 1024 (80, 443), which even root needs;
/// - `KILL`: signalling processes of another user (a root master stopping its workers).
///
/// Dropped from Docker's defaults: `NET_RAW` (raw packets: with it a container can send packets to the
/// host's 127.0.0.1, which the engine routes from its bridges when its userland proxy is off, and spoof
/// neighbours on its network), `MKNOD` (device nodes), `SETFCAP` and `SETPCAP` (file and process
/// capabilities), `SYS_CHROOT`, `AUDIT_WRITE`. Never added: `NET_ADMIN`, `SYS_ADMIN` or any other.
const CAPABILITIES: [&str; 8] =
    ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID", "NET_BIND_SERVICE", "KILL"];

/// The most processes (threads count: each is a task to the kernel) a container may have: far more
/// than a web app runs (a thread per connection at 1000 connections fits), far less than the host's
/// `pid_max`, so a fork bomb or a thread leak in one app cannot stop the host and the other apps from
/// starting processes.
const PIDS_LIMIT: i64 = 4096;

/// The writable `/tmp` of a container whose root filesystem is read-only: in memory, counted in its
/// memory limit, nothing executable or set-user-id on it.
const READ_ONLY_TMP: &str = "rw,noexec,nosuid,nodev,size=64m";

/// How many containers `list` inspects at once.
const LIST_CONCURRENCY: usize = 8;

/// Creates and starts the container on `network` (the service's network, by id).
pub(super) async fn run(engine: &Engine, spec: &ContainerSpec, network: &str) -> Result<ContainerInfo> {
    let name = labels::container_name(&spec.identity);
    let nano_cpus = capped_nano_cpus(engine.cpus, spec);
    let body = create_body(spec, nano_cpus, &engine.options, network);
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let create = async { engine.docker.create_container(Some(options), body).await.map_err(error::engine) };
    let created = match timed(engine.call_timeout(), "a container create", create).await {
        Ok(created) => created,
        Err(err @ RuntimeError::Unavailable(_)) => {
            // The engine may have created it without answering in time; the name is ours alone.
            discard(engine, &name, &name).await;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    for warning in &created.warnings {
        tracing::warn!(container = %name, warning = %warning, "the docker engine warned about a new container");
    }
    let id = created.id;
    let start = async {
        engine.docker.start_container(&id, None::<StartContainerOptions>).await.map_err(error::engine)
    };
    let started = match timed(engine.call_timeout(), "a container start", start).await {
        Ok(()) => inspect(engine, &id).await.and_then(|info| {
            info.ok_or_else(|| RuntimeError::Engine(format!("container {name} was removed as it started")))
        }),
        Err(err) => Err(err),
    };
    match started {
        Ok(info) => {
            tracing::info!(
                container = %name, container_id = %id, image = %spec.image,
                address = ?info.address, "started a container"
            );
            Ok(info)
        }
        Err(err) => {
            discard(engine, &id, &name).await;
            Err(err)
        }
    }
}

/// Removes what a failed `run` left behind; a failure here is only logged, the run's error wins.
async fn discard(engine: &Engine, id: &str, name: &str) {
    if let Err(err) = remove(engine, id).await {
        tracing::warn!(container = %name, error = %err, "cannot remove a container that failed to start");
    }
}

/// The requested CPU limit, lowered to the host's CPU count: the engine refuses more than that.
fn capped_nano_cpus(cpus: u32, spec: &ContainerSpec) -> i64 {
    if spec.nano_cpus <= NANOS_PER_CPU {
        return spec.nano_cpus; // every host has at least one CPU
    }
    let max = i64::from(cpus).saturating_mul(NANOS_PER_CPU);
    if cpus > 0 && spec.nano_cpus > max {
        tracing::warn!(
            container = %labels::container_name(&spec.identity), requested_nano_cpus = spec.nano_cpus,
            host_cpus = cpus, "the cpu limit is more than the host has; capped at the host's cpus"
        );
        return max;
    }
    spec.nano_cpus
}

pub(super) async fn inspect(engine: &Engine, id: &str) -> Result<Option<ContainerInfo>> {
    let call = async {
        match engine.docker.inspect_container(id, None::<InspectContainerOptions>).await {
            Ok(response) => Ok(Some(container_info(response, &engine.node))),
            Err(e) if error::status(&e) == Some(404) => Ok(None),
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout(), "a container inspect", call).await
}

pub(super) async fn list(engine: &Engine) -> Result<Vec<ContainerInfo>> {
    let filters = HashMap::from([("label", labels::owner_filters(&engine.options.owner))]);
    let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    let call = async { engine.docker.list_containers(Some(options)).await.map_err(error::engine) };
    let summaries = timed(engine.call_timeout(), "a container list", call).await?;
    // The list's summaries lack exit codes and OOM kills: inspect each (one removed since is skipped).
    let infos: Vec<Option<ContainerInfo>> =
        futures_util::stream::iter(summaries.into_iter().filter_map(|s| s.id))
            .map(|id| async move { inspect(engine, &id).await })
            .buffered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
    Ok(infos.into_iter().flatten().collect())
}

pub(super) async fn stop(engine: &Engine, id: &str, grace: Duration) -> Result<()> {
    // The engine takes whole seconds: round up so the app gets at least its grace.
    let secs = grace.as_secs().saturating_add(u64::from(grace.subsec_nanos() > 0));
    let options = StopContainerOptionsBuilder::default().t(i32::try_from(secs).unwrap_or(i32::MAX)).build();
    let call = async {
        // An already stopped container is a 304, which bollard counts as success.
        match engine.docker.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if error::status(&e) == Some(404) => Ok(()),
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout().saturating_add(Duration::from_secs(secs)), "a container stop", call).await?;
    tracing::debug!(container_id = %id, "stopped a container");
    Ok(())
}

pub(super) async fn remove(engine: &Engine, id: &str) -> Result<()> {
    // `v` also removes the anonymous volumes an image's VOLUME lines made, which would pile up.
    let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    let call = async {
        match engine.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if error::status(&e) == Some(404) => Ok(()),
            Err(e)
                if error::status(&e) == Some(409) && error::message(&e).contains("already in progress") =>
            {
                Ok(())
            }
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout(), "a container remove", call).await?;
    tracing::debug!(container_id = %id, "removed a container");
    Ok(())
}

/// The engine's view of a new container; each choice is explained beside it.
fn create_body(
    spec: &ContainerSpec,
    nano_cpus: i64,
    options: &DockerOptions,
    network: &str,
) -> ContainerCreateBody {
    let port = format!("{}/tcp", spec.port);
    // Loopback only, on a port the engine picks: the router is the only way in.
    let binding =
        PortBinding { host_ip: Some(Ipv4Addr::LOCALHOST.to_string()), host_port: Some(String::new()) };
    let log_config = HashMap::from([
        ("max-size".to_owned(), options.log_max_size.clone()),
        ("max-file".to_owned(), options.log_max_files.to_string()),
    ]);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: spec.command.clone(),
        labels: Some(labels::labels(&spec.identity, &options.owner)),
        exposed_ports: Some(vec![port.clone()]),
        host_config: Some(HostConfig {
            port_bindings: Some(PortMap::from([(port, Some(vec![binding]))])),
            nano_cpus: Some(nano_cpus),
            memory: Some(spec.memory_bytes),
            // Memory plus swap: the same as memory, so no swap at all.
            memory_swap: Some(spec.memory_bytes),
            // The engine's tini as PID 1: signals reach the app, zombies are reaped.
            init: Some(true),
            // ferry replaces failed instances itself.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            // json-file (Docker's default) named explicitly: ferry reads logs back, and the rotation
            // options are json-file's.
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".to_owned()),
                config: Some(log_config),
            }),
            // The service's own network, never the engine's default bridge shared by every container.
            network_mode: Some(network.to_owned()),
            extra_hosts: (!options.extra_hosts.is_empty()).then(|| options.extra_hosts.clone()),
            cap_drop: Some(vec!["ALL".to_owned()]),
            cap_add: Some(CAPABILITIES.iter().map(|c| (*c).to_owned()).collect()),
            // Set-user-id files (su, sudo) and file capabilities give a process nothing more.
            security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
            pids_limit: Some(PIDS_LIMIT),
            // Said, not left to a default: never privileged, nothing of the host mounted (no binds, so
            // never the engine's socket). The host's pid, ipc and uts namespaces are never asked for.
            privileged: Some(false),
            binds: None,
            mounts: None,
            readonly_rootfs: Some(spec.read_only_root),
            tmpfs: spec
                .read_only_root
                .then(|| HashMap::from([("/tmp".to_owned(), READ_ONLY_TMP.to_owned())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_info(c: ContainerInspectResponse, node: &str) -> ContainerInfo {
    let state = c.state.unwrap_or_default();
    let running = state.running.unwrap_or(false);
    let stopped = !running
        && matches!(state.status, Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD));
    let (address, network_address) = match (running, c.network_settings) {
        (true, Some(n)) => {
            let ports = n.ports.unwrap_or_default();
            (published_address(&ports), network_address(&ports, n.networks.unwrap_or_default()))
        }
        _ => (None, None),
    };
    ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c.name.map(|n| n.trim_start_matches('/').to_owned()).unwrap_or_default(),
        identity: c.config.and_then(|config| config.labels).as_ref().and_then(labels::identity),
        running,
        exit_code: if stopped { state.exit_code } else { None },
        oom_killed: state.oom_killed.unwrap_or(false),
        error: state.error.filter(|e| !e.is_empty()),
        node: node.to_owned(),
        address,
        network_address,
    }
}

/// The container's own address on its network and the app's port (the key of the published port,
/// `8080/tcp`, not of a port the image only declares): reachable from the engine's host without the port
/// mapping.
fn network_address(
    ports: &PortMap,
    networks: HashMap<String, bollard::models::EndpointSettings>,
) -> Option<SocketAddr> {
    // The published port is the app's (ferry publishes no other). Ports the image only declares
    // (`EXPOSE`) are listed too, with no binding: never those.
    let port = ports
        .iter()
        .filter(|(_, bindings)| bindings.as_ref().is_some_and(|b| !b.is_empty()))
        .filter_map(|(k, _)| k.strip_suffix("/tcp")?.parse::<u16>().ok())
        .min()?;
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    let ip = names
        .into_iter()
        .filter_map(|n| networks.get(n)?.ip_address.as_deref())
        .find_map(|ip| ip.parse::<std::net::IpAddr>().ok())?;
    Some(SocketAddr::new(ip, port))
}

/// The loopback address of the (one) published port; IPv6 bindings are skipped.
fn published_address(ports: &PortMap) -> Option<SocketAddr> {
    let mut keys: Vec<&String> = ports.keys().collect();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| ports.get(k)?.as_ref())
        .flatten()
        .filter(|b| matches!(b.host_ip.as_deref(), None | Some("" | "127.0.0.1" | "0.0.0.0")))
        .find_map(|b| b.host_port.as_deref()?.parse::<u16>().ok().filter(|p| *p > 0))
        .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
