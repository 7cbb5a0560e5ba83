//! A network per service: each service's containers run on a user-defined bridge of their own.
//!
//! Why: on one shared bridge (Docker's default `bridge`) every container can open connections to every
//! other. The engine drops traffic between two different bridges (its `DOCKER-ISOLATION` chains), so a
//! bridge per service keeps services apart, while the host still reaches each container: the router on
//! its port published on 127.0.0.1, health checks on the container's own address.
//!
//! Instances of one service can reach each other (`enable_icc` stays on): they run the same code with
//! the same configuration, so keeping them apart would protect nothing, and apps that cluster (a cache
//! shared over the peers) would break.
//!
//! LIFECYCLE: the first `run` of a service makes its network ([`ensure`]); later runs find it. It goes
//! when the service is deleted ([`release`]), and at start-up for services that are gone
//! ([`release_except`]), once no container uses it. A network of the same name that this installation
//! did not make for this service (other labels) is never used nor removed.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, NetworkInspect};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions, ListNetworksOptionsBuilder};
use ferry_model::ServiceId;

use super::engine::Engine;
use super::error::{self, timed};
use super::subnet::Ipv4Net;
use crate::{Result, RuntimeError, labels};

/// Said explicitly although it is the engine's default: see the module docs for why instances of one
/// service may talk to each other.
const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";

/// How many subnets a make tries when others keep taking them first.
const MAKE_ATTEMPTS: usize = 8;

/// What asking the engine for a network gave.
enum Made {
    Created(String),
    /// Someone made it first (a 409).
    Exists,
    /// Its subnet overlaps a network made since it was picked.
    Taken,
}

/// The service's network, made if it does not exist yet; returns its id, for the container's network
/// mode (an id is never ambiguous, a name can be).
///
/// Engines before API 1.44 (Docker 25) do not refuse a second network with a name already taken, so two
/// runs at once could make two: makes are serialised by the engine's network lock. A 409 ("already
/// exists", from a newer engine and another process) means someone else made it: it is used if its
/// labels say it is this service's.
pub(super) async fn ensure(engine: &Engine, service: &ServiceId) -> Result<String> {
    let owner = &engine.options.owner;
    let name = labels::network_name(owner, service);
    let _made_one_at_a_time = engine.networks.lock().await;
    if let Some(found) = inspect(engine, &name).await? {
        return ours(found, &name, owner, service);
    }
    // Another process (a second ferry on the engine) may take the subnet picked between the look and the
    // make: the engine then says it overlaps, and the next free one is tried.
    // The engine may hold a subnet for a network being made before it lists that network: the subnets
    // found taken are kept out of the next picks.
    let mut taken = Vec::new();
    let made = loop {
        let subnet = free_subnet(engine, &taken).await?;
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".to_owned()),
            labels: Some(labels::network_labels(owner, service)),
            options: Some(HashMap::from([(ENABLE_ICC.to_owned(), "true".to_owned())])),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    gateway: Some(subnet.first_host().to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let call = async {
            match engine.docker.create_network(request).await {
                Ok(created) => Ok(Made::Created(created.id)),
                Err(e) if error::status(&e) == Some(409) => Ok(Made::Exists),
                Err(e) if taken.len() < MAKE_ATTEMPTS && error::message(&e).contains("overlaps") => {
                    Ok(Made::Taken)
                }
                Err(e) => Err(RuntimeError::Engine(network_hint(&name, &error::message(&e)))),
            }
        };
        match timed(engine.call_timeout(), "a network create", call).await? {
            Made::Taken => {
                tracing::debug!(network = %name, %subnet, "a subnet was taken as it was picked; trying the next");
                taken.push(subnet);
            }
            made => break made,
        }
    };
    if let Made::Created(id) = made {
        tracing::info!(network = %name, network_id = %id, service = %service, "created a service's network");
        return Ok(id);
    }
    match inspect(engine, &name).await? {
        Some(found) => ours(found, &name, owner, service),
        None => Err(RuntimeError::Engine(format!("network {name} was removed as it was made; try again"))),
    }
}

/// The first subnet of ferry's pool that no network on the engine (ferry's or anyone's) overlaps. Called
/// with the network lock held, so two makes never pick the same one.
async fn free_subnet(engine: &Engine, taken: &[Ipv4Net]) -> Result<Ipv4Net> {
    let call =
        async { engine.docker.list_networks(None::<ListNetworksOptions>).await.map_err(error::engine) };
    let networks = timed(engine.call_timeout(), "a network list", call).await?;
    let used: Vec<Ipv4Net> = networks
        .iter()
        .flat_map(|n| n.ipam.iter().flat_map(|ipam| ipam.config.iter().flatten()))
        .filter_map(|c| c.subnet.as_deref()?.parse().ok())
        .chain(taken.iter().copied())
        .collect();
    let pool = engine.options.network_pool;
    pool.pick(&used).ok_or_else(|| {
        RuntimeError::Engine(format!(
            "every /{} of the network pool {} is in use ({} networks on the engine): delete services, or give              ferry a larger pool (--network-pool)",
            pool.size,
            pool.pool,
            networks.len()
        ))
    })
}

/// Removes the service's network if it exists, is this installation's, and no container uses it.
pub(super) async fn release(engine: &Engine, service: &ServiceId) -> Result<()> {
    let owner = &engine.options.owner;
    let name = labels::network_name(owner, service);
    let _guard = engine.networks.lock().await;
    let Some(found) = inspect(engine, &name).await? else { return Ok(()) };
    if ours(found.clone(), &name, owner, service).is_err() {
        tracing::warn!(network = %name, "a network with a service's name is not this installation's; left alone");
        return Ok(());
    }
    if found.containers.as_ref().is_some_and(|c| !c.is_empty()) {
        tracing::debug!(network = %name, "a service's network is still in use; left for now");
        return Ok(());
    }
    remove(engine, found.id.as_deref().unwrap_or(&name), &name).await
}

/// Removes this installation's networks of services not in `keep` (deleted while the engine could not be
/// reached, or before networks were released), each once no container uses it. Returns how many went.
pub(super) async fn release_except(engine: &Engine, keep: &[ServiceId]) -> Result<usize> {
    let owner = &engine.options.owner;
    let filters = HashMap::from([("label", labels::owner_filters(owner))]);
    let options = ListNetworksOptionsBuilder::default().filters(&filters).build();
    let call = async { engine.docker.list_networks(Some(options)).await.map_err(error::engine) };
    let networks = timed(engine.call_timeout(), "a network list", call).await?;
    let _guard = engine.networks.lock().await;
    let mut removed = 0;
    for network in networks {
        let service = network.labels.as_ref().and_then(|l| labels::network_service(l, owner));
        let (Some(service), Some(id)) = (service, network.id) else { continue };
        if keep.contains(&service) {
            continue;
        }
        let name = network.name.unwrap_or_else(|| id.clone());
        match remove(engine, &id, &name).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(network = %name, error = %e, "cannot remove a network no service owns"),
        }
    }
    Ok(removed)
}

async fn remove(engine: &Engine, id: &str, name: &str) -> Result<()> {
    let call = async {
        match engine.docker.remove_network(id).await {
            Ok(()) => Ok(true),
            Err(e) if error::status(&e) == Some(404) => Ok(false),
            // "has active endpoints": a container still uses it (the engine answers 403, newer ones 409).
            Err(e) if matches!(error::status(&e), Some(403 | 409)) => {
                tracing::debug!(network = %name, reason = %error::message(&e), "a network is in use; left");
                Ok(false)
            }
            Err(e) => Err(error::engine(e)),
        }
    };
    if timed(engine.call_timeout(), "a network remove", call).await? {
        tracing::info!(network = %name, "removed a service's network");
    }
    Ok(())
}

async fn inspect(engine: &Engine, name: &str) -> Result<Option<NetworkInspect>> {
    let call = async {
        match engine.docker.inspect_network(name, None::<InspectNetworkOptions>).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if error::status(&e) == Some(404) => Ok(None),
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout(), "a network inspect", call).await
}

/// The network's id if its labels say this installation made it for `service`; an error naming it
/// otherwise (ferry never puts a service on a network someone else made).
fn ours(found: NetworkInspect, name: &str, owner: &str, service: &ServiceId) -> Result<String> {
    let labels = found.labels.unwrap_or_default();
    match (labels::network_service(&labels, owner), found.id) {
        (Some(s), Some(id)) if &s == service => Ok(id),
        _ => Err(RuntimeError::Engine(format!(
            "a network named {name} exists but this ferry installation did not make it for service \
             {service}; remove it (`docker network rm {name}`) if nothing else needs it"
        ))),
    }
}

/// The engine's message for a network it could not make, with what to do when its address pools are
/// used up (by default the engine has room for about 30 bridge networks).
fn network_hint(name: &str, message: &str) -> String {
    let text = format!("cannot create network {name}: {message}");
    if message.contains("address pool") {
        format!(
            "{text}; every service has a network of its own and the engine's address pools are used up: \
             give it more in /etc/docker/daemon.json, e.g. \
             \"default-address-pools\": [{{\"base\": \"10.200.0.0/16\", \"size\": 24}}] (256 networks), \
             and restart it"
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> ServiceId {
        ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap()
    }

    fn network(labels: HashMap<String, String>) -> NetworkInspect {
        NetworkInspect { id: Some("n1".to_owned()), labels: Some(labels), ..Default::default() }
    }

    #[test]
    fn only_a_network_made_for_the_service_by_this_installation_is_used() {
        let owner = "ferry-0a1b2c3d4e5f";
        let mine = network(labels::network_labels(owner, &service()));
        assert_eq!(ours(mine.clone(), "n", owner, &service()).unwrap(), "n1");
        let other = ServiceId::parse("00000000000000000000000000000001").unwrap();
        let err = ours(mine, "n", owner, &other).unwrap_err().to_string();
        assert!(err.contains("did not make it for service"), "{err}");
        assert!(
            ours(network(labels::network_labels("ferry-x", &service())), "n", owner, &service()).is_err()
        );
        assert!(ours(network(HashMap::new()), "n", owner, &service()).is_err());
    }

    #[test]
    fn used_up_address_pools_say_how_to_add_some() {
        let message = "could not find an available, non-overlapping IPv4 address pool among the defaults \
                       to assign to the network";
        let text = network_hint("ferry-a-b", message);
        assert!(text.starts_with("cannot create network ferry-a-b: could not find"), "{text}");
        assert!(text.contains("default-address-pools"), "{text}");
        assert_eq!(network_hint("n", "boom"), "cannot create network n: boom");
    }
}
