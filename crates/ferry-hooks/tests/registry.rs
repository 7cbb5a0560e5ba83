//! Docker Distribution notification envelopes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod support;

use ferry_hooks::{HookError, ImagePushed, parse_registry_events};
use serde_json::{Value, json};
use support::*;

const DIGEST: &str = "sha256:4f3d1a0e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";

fn pushed(tag: &str, media_type: &str) -> ImagePushed {
    ImagePushed {
        repository: "acme/web".into(),
        tag: tag.into(),
        digest: DIGEST.into(),
        media_type: media_type.into(),
        request_host: Some("registry.internal:5000".into()),
    }
}

/// The fixture with its manifest event (the second) changed by `edit`.
fn manifest(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    tweak("registry_events.json", |v| edit(&mut v["events"][1]))
}

#[test]
fn a_tagged_manifest_push_is_kept_and_its_blobs_are_not() {
    let got = parse_registry_events(&fixture("registry_events.json"));
    assert_eq!(got, Ok(vec![pushed("v1.4.0", "application/vnd.docker.distribution.manifest.v2+json")]));
}

#[test]
fn what_is_skipped_and_what_is_kept() {
    let oci_index = "application/vnd.oci.image.index.v1+json";
    let cases: Vec<(&str, Vec<u8>, Vec<ImagePushed>)> = vec![
        ("pull", manifest(|e| e["action"] = json!("pull")), vec![]),
        ("delete", manifest(|e| e["action"] = json!("delete")), vec![]),
        ("mount", manifest(|e| e["action"] = json!("mount")), vec![]),
        (
            "push by digest",
            manifest(|e| {
                e["target"].as_object_mut().unwrap().remove("tag");
            }),
            vec![],
        ),
        ("empty tag", manifest(|e| e["target"]["tag"] = json!("")), vec![]),
        (
            "blob media type with a tag",
            manifest(|e| e["target"]["mediaType"] = json!("application/octet-stream")),
            vec![],
        ),
        ("no target", manifest(|e| e["target"] = Value::Null), vec![]),
        (
            "multi-platform index",
            manifest(|e| e["target"]["mediaType"] = json!(oci_index)),
            vec![pushed("v1.4.0", oci_index)],
        ),
        (
            "no request host",
            manifest(|e| e["request"] = Value::Null),
            vec![ImagePushed {
                request_host: None,
                ..pushed("v1.4.0", "application/vnd.docker.distribution.manifest.v2+json")
            }],
        ),
        (
            "unknown fields",
            manifest(|e| {
                e["target"]["references"] = json!([{"digest": DIGEST}]);
                e["extra"] = json!({"nested": [1, 2, {"x": null}]});
            }),
            vec![pushed("v1.4.0", "application/vnd.docker.distribution.manifest.v2+json")],
        ),
        ("no events", br#"{"events": []}"#.to_vec(), vec![]),
    ];
    for (name, body, want) in cases {
        assert_eq!(parse_registry_events(&body), Ok(want), "{name}");
    }
}

#[test]
fn bad_envelopes_and_bad_pushes_are_malformed() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not json", b"<html>".to_vec()),
        ("no events", b"{}".to_vec()),
        ("events not a list", br#"{"events": {}}"#.to_vec()),
        (
            "uppercase digest",
            manifest(|e| e["target"]["digest"] = json!(DIGEST.to_uppercase().replace("SHA256", "sha256"))),
        ),
        ("short digest", manifest(|e| e["target"]["digest"] = json!("sha256:abc"))),
        ("sha512 digest", manifest(|e| e["target"]["digest"] = json!(DIGEST.replace("sha256", "sha512")))),
        ("bad repository", manifest(|e| e["target"]["repository"] = json!("Acme/Web"))),
        ("bad tag", manifest(|e| e["target"]["tag"] = json!("-rc"))),
        ("tag not a string", manifest(|e| e["target"]["tag"] = json!(1))),
    ];
    for (name, body) in cases {
        let got = parse_registry_events(&body);
        assert!(matches!(got, Err(HookError::Malformed(_))), "{name}: {got:?}");
    }
}
