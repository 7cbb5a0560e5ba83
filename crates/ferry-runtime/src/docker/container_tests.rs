use ferry_model::{InstanceId, ServiceId, ServiceName};

use super::*;
use crate::InstanceIdentity;

fn spec() -> ContainerSpec {
    ContainerSpec {
        identity: InstanceIdentity {
            service_name: ServiceName::parse("Web-App").unwrap(),
            service_id: ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap(),
            revision: 3,
            instance_id: InstanceId::parse("0123456789abcdef").unwrap(),
        },
        image: "sha256:abc".to_owned(),
        env: vec![("PORT".to_owned(), "8080".to_owned()), ("GREETING".to_owned(), "a=b".to_owned())],
        command: Some(vec!["serve".to_owned(), "--fast".to_owned()]),
        port: 8080,
        nano_cpus: 250_000_000,
        memory_bytes: 512 << 20,
        read_only_root: false,
    }
}

const NETWORK: &str = "f00dfeed";

#[test]
fn the_create_body_publishes_on_loopback_with_limits() {
    let body = create_body(&spec(), 250_000_000, &DockerOptions::default(), NETWORK);
    let json = serde_json::to_value(&body).unwrap();
    assert_eq!(json["Image"], "sha256:abc");
    assert_eq!(json["Env"], serde_json::json!(["PORT=8080", "GREETING=a=b"]));
    assert_eq!(json["Cmd"], serde_json::json!(["serve", "--fast"]));
    assert_eq!(json["ExposedPorts"], serde_json::json!({ "8080/tcp": {} }));
    assert_eq!(json["Labels"]["ferry.revision"], "3");
    let host = &json["HostConfig"];
    assert_eq!(
        host["PortBindings"],
        serde_json::json!({ "8080/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "" }] })
    );
    assert_eq!(host["NanoCpus"], 250_000_000);
    assert_eq!(host["Memory"], 512 << 20);
    assert_eq!(host["MemorySwap"], 512 << 20);
    assert_eq!(host["Init"], true);
    assert_eq!(host["RestartPolicy"]["Name"], "no");
    assert_eq!(
        host["LogConfig"],
        serde_json::json!({ "Type": "json-file", "Config": { "max-size": "10m", "max-file": "3" } })
    );
}

#[test]
fn the_create_body_hardens_the_container() {
    let json = serde_json::to_value(create_body(&spec(), 1, &DockerOptions::default(), NETWORK)).unwrap();
    let host = &json["HostConfig"];
    assert_eq!(host["NetworkMode"], NETWORK, "the service's own network, never the default bridge");
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    let added: Vec<&str> = host["CapAdd"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(
        added,
        ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID", "NET_BIND_SERVICE", "KILL"]
    );
    for never in ["NET_RAW", "NET_ADMIN", "SYS_ADMIN", "MKNOD", "SYS_CHROOT", "SETFCAP", "AUDIT_WRITE"] {
        assert!(!added.contains(&never), "{never} must never be added");
    }
    assert_eq!(host["SecurityOpt"], serde_json::json!(["no-new-privileges:true"]));
    assert_eq!(host["PidsLimit"], 4096);
    assert_eq!(host["Privileged"], false);
    assert_eq!(host["ReadonlyRootfs"], false);
    for absent in ["Binds", "Mounts", "Devices", "VolumesFrom", "PidMode", "IpcMode", "UTSMode", "UsernsMode"]
    {
        assert!(host.get(absent).is_none(), "{absent} must not be set: {}", host[absent]);
    }
    assert!(json.get("Volumes").is_none());
    assert!(host.get("Tmpfs").is_none(), "no tmpfs unless the root is read-only");
}

#[test]
fn a_read_only_root_gets_a_small_tmp_in_memory() {
    let mut spec = spec();
    spec.read_only_root = true;
    let json = serde_json::to_value(create_body(&spec, 1, &DockerOptions::default(), NETWORK)).unwrap();
    assert_eq!(json["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(json["HostConfig"]["Tmpfs"], serde_json::json!({ "/tmp": "rw,noexec,nosuid,nodev,size=64m" }));
}

#[test]
fn no_command_keeps_the_image_cmd() {
    let mut spec = spec();
    spec.command = None;
    let json = serde_json::to_value(create_body(&spec, 1, &DockerOptions::default(), NETWORK)).unwrap();
    assert!(json.get("Cmd").is_none());
}

/// A trimmed `GET /containers/{id}/json` answer from Docker 20.10.
fn inspect_json(running: bool, status: &str, exit_code: i64) -> serde_json::Value {
    serde_json::json!({
        "Id": "c0ffee",
        "Created": "2024-05-01T12:00:00.123456789Z",
        "Name": "/ferry-web-app-0123456789abcdef",
        "State": {
            "Status": status, "Running": running, "Paused": false, "Restarting": false, "OOMKilled": false,
            "Dead": false, "Pid": 42, "ExitCode": exit_code, "Error": "",
            "StartedAt": "2024-05-01T12:00:00.2Z", "FinishedAt": "0001-01-01T00:00:00Z"
        },
        "Config": { "Labels": labels::labels(&spec().identity, "test") },
        "NetworkSettings": {
            "Ports": {
                "9999/tcp": null,
                "8080/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "49153" }]
            }
        }
    })
}

#[test]
fn a_running_container_has_its_address_and_identity() {
    let response: ContainerInspectResponse =
        serde_json::from_value(inspect_json(true, "running", 0)).unwrap();
    let info = container_info(response, "node-1");
    assert_eq!(info.id, "c0ffee");
    assert_eq!(info.name, "ferry-web-app-0123456789abcdef");
    assert_eq!(info.identity, Some(spec().identity));
    assert!(info.running);
    assert_eq!(info.exit_code, None);
    assert_eq!(info.error, None);
    assert_eq!(info.address, Some("127.0.0.1:49153".parse().unwrap()));
    assert_eq!(info.node, "node-1");
}

#[test]
fn an_exited_container_has_its_exit_code_and_no_address() {
    let mut json = inspect_json(false, "exited", 3);
    json["State"]["OOMKilled"] = true.into();
    json["State"]["Error"] = "boom".into();
    let info = container_info(serde_json::from_value(json).unwrap(), "node-1");
    assert_eq!((info.running, info.exit_code, info.oom_killed), (false, Some(3), true));
    assert_eq!(info.error.as_deref(), Some("boom"));
    assert_eq!(info.address, None);
    let created =
        container_info(serde_json::from_value(inspect_json(false, "created", 0)).unwrap(), "node-1");
    assert_eq!(created.exit_code, None, "a container that never ran has no exit code");
}

#[test]
fn ipv6_and_unpublished_ports_are_skipped() {
    let ports: PortMap = serde_json::from_value(serde_json::json!({
        "80/tcp": [{ "HostIp": "::", "HostPort": "5000" }, { "HostIp": "0.0.0.0", "HostPort": "5001" }],
        "81/tcp": null
    }))
    .unwrap();
    assert_eq!(published_address(&ports), Some("127.0.0.1:5001".parse().unwrap()));
    assert_eq!(published_address(&PortMap::new()), None);
}

#[test]
fn health_checks_go_to_the_published_port_at_the_containers_own_address() {
    // The image declares port 80, below the app's 8080, which alone is published.
    let ports: PortMap = serde_json::from_value(serde_json::json!({
        "80/tcp": null,
        "8080/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "49153" }]
    }))
    .unwrap();
    let networks: HashMap<String, bollard::models::EndpointSettings> =
        serde_json::from_value(serde_json::json!({ "bridge": { "IPAddress": "172.17.0.2" } })).unwrap();
    assert_eq!(network_address(&ports, networks.clone()), Some("172.17.0.2:8080".parse().unwrap()));
    let unpublished: PortMap = serde_json::from_value(serde_json::json!({ "80/tcp": null })).unwrap();
    assert_eq!(network_address(&unpublished, networks), None, "no published port, nothing to check");
}
