//! Inputs checked against App Runner's own model before anything runs: what the real AWS CLI sends
//! unchecked (a maximum length, a maximum value, a pattern) is refused by ferry with
//! `InvalidRequestException` naming the member, and nothing is made.

use crate::aws::{REGION, aws_for, image_source};
use crate::support::Server;

#[test]
fn inputs_outside_app_runners_model_are_refused_by_member_and_nothing_is_made() {
    let server = Server::start_with(&["--region", REGION]);
    let aws = aws_for(&server);
    let source = image_source("never", 0);

    // The CLI checks minimum lengths itself, not maximums: 41 characters reach ferry.
    let long = "a".repeat(41);
    let refused = aws.fails(&["create-service", "--service-name", &long, "--source-configuration", &source]);
    assert!(refused.contains("(InvalidRequestException)"), "{refused}");
    assert!(refused.contains(&format!("ServiceName: \"{long}\" must be 4 to 40 characters")), "{refused}");

    // Nor patterns.
    let refused = aws.fails(&[
        "create-service",
        "--service-name",
        "valid-name",
        "--source-configuration",
        &source,
        "--instance-configuration",
        "Cpu=9 vCPU",
    ]);
    assert!(refused.contains("(InvalidRequestException)"), "{refused}");
    assert!(refused.contains("InstanceConfiguration.Cpu: \"9 vCPU\" must be one of"), "{refused}");

    // Nor maximum values.
    let refused = aws.fails(&[
        "create-auto-scaling-configuration",
        "--auto-scaling-configuration-name",
        "too-busy",
        "--max-concurrency",
        "201",
    ]);
    assert!(refused.contains("(InvalidRequestException)"), "{refused}");
    assert!(refused.contains("MaxConcurrency: 201 must be an integer from 1 to 200"), "{refused}");

    // What the CLI would refuse itself, sent signed but unchecked: every problem is named, with a 400.
    let (status, answer) = aws.raw_call(
        "CreateAutoScalingConfiguration",
        r#"{"AutoScalingConfigurationName": "x", "MinSize": "1", "Tags": [{"Key": "aws:owner", "Value": "me"}]}"#,
    );
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["__type"], "InvalidRequestException", "{answer}");
    assert_eq!(
        answer["Message"],
        "3 problems: AutoScalingConfigurationName: \"x\" must be 4 to 32 characters; \
         MinSize: must be an integer from 0 to 25; \
         Tags[0].Key: \"aws:owner\" must not start with \"aws:\" (nor be empty or hold a line feed)",
    );

    // Nothing was made, in the App Runner API or in ferry's own.
    let services = aws.ok(&["list-services"]);
    assert_eq!(services["ServiceSummaryList"], serde_json::json!([]), "{services}");
    let configs = aws.ok(&["list-auto-scaling-configurations"]);
    let names: Vec<&str> = configs["AutoScalingConfigurationSummaryList"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["AutoScalingConfigurationName"].as_str())
        .collect();
    assert!(!names.iter().any(|n| *n == "too-busy" || *n == "x"), "{configs}");
    let listed: serde_json::Value =
        serde_json::from_str(&server.ferry_ok(&["service", "list", "-o", "json"])).unwrap();
    assert_eq!(listed["services"], serde_json::json!([]), "{listed}");
    assert!(server.containers(true).is_empty());
}
