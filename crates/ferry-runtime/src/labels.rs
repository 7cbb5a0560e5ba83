//! How a container carries its [`InstanceIdentity`]: its name and its labels.
//!
//! Shared by the Docker driver and the fake so both name and label containers alike.

use std::collections::HashMap;

use ferry_model::{InstanceId, ServiceId, ServiceName};

use crate::InstanceIdentity;

/// Present (`true`) on every container ferry runs; the filter for listing and events.
pub(crate) const MANAGED: &str = "ferry.managed";
pub(crate) const SERVICE: &str = "ferry.service";
pub(crate) const SERVICE_ID: &str = "ferry.service-id";
pub(crate) const REVISION: &str = "ferry.revision";
pub(crate) const INSTANCE: &str = "ferry.instance";
/// Which ferry installation runs the container, so that several (a test suite's servers, a staging and
/// a production ferry) can share one engine without adopting or removing each other's containers.
pub(crate) const OWNER: &str = "ferry.owner";

/// The label filters that select one installation's containers (the engine ANDs them).
pub(crate) fn owner_filters(owner: &str) -> Vec<String> {
    vec![format!("{MANAGED}=true"), format!("{OWNER}={owner}")]
}

/// `ferry-<service name in lower case>-<instance id>`: unique, since instance ids are.
pub(crate) fn container_name(identity: &InstanceIdentity) -> String {
    format!("ferry-{}-{}", identity.service_name.as_str().to_ascii_lowercase(), identity.instance_id)
}

/// `ferry-<owner without its ferry- prefix>-<service id>`: the network of one service of one installation.
/// Characters a network name cannot hold become `-` (an owner is `ferry-<hex>` unless a test set it).
pub(crate) fn network_name(owner: &str, service: &ServiceId) -> String {
    let owner: String = owner
        .strip_prefix("ferry-")
        .unwrap_or(owner)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' })
        .collect();
    format!("ferry-{owner}-{service}")
}

/// The labels of a service's network: whose it is, so that a network of that name made by someone else is
/// never used, and an installation's networks can be found again.
pub(crate) fn network_labels(owner: &str, service: &ServiceId) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED.to_owned(), "true".to_owned()),
        (OWNER.to_owned(), owner.to_owned()),
        (SERVICE_ID.to_owned(), service.to_string()),
    ])
}

/// The service a network's labels say it belongs to, if they say this installation made it.
pub(crate) fn network_service(labels: &HashMap<String, String>, owner: &str) -> Option<ServiceId> {
    if labels.get(MANAGED).map(String::as_str) != Some("true")
        || labels.get(OWNER).map(String::as_str) != Some(owner)
    {
        return None;
    }
    ServiceId::parse(labels.get(SERVICE_ID)?).ok()
}

pub(crate) fn labels(identity: &InstanceIdentity, owner: &str) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED.to_owned(), "true".to_owned()),
        (OWNER.to_owned(), owner.to_owned()),
        (SERVICE.to_owned(), identity.service_name.to_string()),
        (SERVICE_ID.to_owned(), identity.service_id.to_string()),
        (REVISION.to_owned(), identity.revision.to_string()),
        (INSTANCE.to_owned(), identity.instance_id.to_string()),
    ])
}

/// The identity written by [`labels`], or `None` if a label is missing or not valid.
pub(crate) fn identity(labels: &HashMap<String, String>) -> Option<InstanceIdentity> {
    if labels.get(MANAGED).map(String::as_str) != Some("true") {
        return None;
    }
    Some(InstanceIdentity {
        service_name: ServiceName::parse(labels.get(SERVICE)?).ok()?,
        service_id: ServiceId::parse(labels.get(SERVICE_ID)?).ok()?,
        revision: labels.get(REVISION)?.parse().ok()?,
        instance_id: InstanceId::parse(labels.get(INSTANCE)?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> InstanceIdentity {
        InstanceIdentity {
            service_name: ServiceName::parse("Web_App-1").unwrap(),
            service_id: ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap(),
            revision: 7,
            instance_id: InstanceId::parse("0123456789abcdef").unwrap(),
        }
    }

    #[test]
    fn identity_round_trips_through_labels() {
        let id = sample();
        let labels = labels(&id, "test");
        assert_eq!(labels.get("ferry.owner").map(String::as_str), Some("test"));
        assert_eq!(labels.get("ferry.managed").map(String::as_str), Some("true"));
        assert_eq!(labels.get("ferry.service").map(String::as_str), Some("Web_App-1"));
        assert_eq!(labels.get("ferry.revision").map(String::as_str), Some("7"));
        assert_eq!(identity(&labels), Some(id));
    }

    #[test]
    fn names_are_lower_case_and_carry_the_instance() {
        assert_eq!(container_name(&sample()), "ferry-web_app-1-0123456789abcdef");
    }

    #[test]
    fn networks_are_named_and_labelled_for_their_owner_and_service() {
        let id = sample().service_id;
        assert_eq!(network_name("ferry-0a1b2c3d4e5f", &id), format!("ferry-0a1b2c3d4e5f-{id}"));
        assert_eq!(network_name("my ferry/1", &id), format!("ferry-my-ferry-1-{id}"));
        let labels = network_labels("ferry-0a1b2c3d4e5f", &id);
        assert_eq!(network_service(&labels, "ferry-0a1b2c3d4e5f"), Some(id));
        assert_eq!(network_service(&labels, "ferry-other"), None, "another installation's network");
    }

    #[test]
    fn missing_or_invalid_labels_give_no_identity() {
        let good = labels(&sample(), "test");
        for (key, bad) in [
            ("ferry.managed", Some("false")),
            ("ferry.service", Some("-bad name")),
            ("ferry.service-id", Some("not-hex")),
            ("ferry.revision", Some("-1")),
            ("ferry.instance", None),
        ] {
            let mut labels = good.clone();
            match bad {
                Some(value) => labels.insert(key.to_owned(), value.to_owned()),
                None => labels.remove(key),
            };
            assert_eq!(identity(&labels), None, "{key}={bad:?}");
        }
    }
}
