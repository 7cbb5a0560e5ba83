use ferry_model::{Arn, ServiceId, ServiceName};
use serde_json::json;

use super::*;

/// The message of the error `operation` answers `input` with; panics (failing the test) when it passes.
fn refused(operation: &str, input: Value) -> String {
    let e = super::input(operation, &input).expect_err("the input should be refused");
    assert_eq!(e.code, "InvalidRequestException", "{e:?}");
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    e.message
}

fn passes(operation: &str, input: Value) {
    if let Err(e) = super::input(operation, &input) {
        panic!("{operation} {input} was refused: {}", e.message);
    }
}

/// A valid CreateService input with `extra`'s members put over it.
fn service(extra: Value) -> Value {
    let mut input = json!({ "ServiceName": "web1", "SourceConfiguration": { "ImageRepository": {
        "ImageIdentifier": "nginx", "ImageRepositoryType": "ECR_PUBLIC" } } });
    for (k, v) in extra.as_object().expect("an object") {
        input[k] = v.clone();
    }
    input
}

/// A CreateService input whose image has `config` as its ImageConfiguration.
fn with_image_config(config: Value) -> Value {
    service(json!({ "SourceConfiguration": { "ImageRepository": { "ImageIdentifier": "nginx",
        "ImageRepositoryType": "ECR", "ImageConfiguration": config } } }))
}

fn raw_model() -> RawModel {
    serde_json::from_str(include_str!("../model.json")).expect("model.json parses")
}

#[test]
fn the_embedded_model_loads_and_covers_all_37_operations() {
    let model = MODEL.as_ref().expect("the embedded model loads");
    assert!(model.source.starts_with("botocore 1."), "{}", model.source);
    let all = "AssociateCustomDomain CreateAutoScalingConfiguration CreateConnection \
        CreateObservabilityConfiguration CreateService CreateVpcConnector CreateVpcIngressConnection \
        DeleteAutoScalingConfiguration DeleteConnection DeleteObservabilityConfiguration DeleteService \
        DeleteVpcConnector DeleteVpcIngressConnection DescribeAutoScalingConfiguration DescribeCustomDomains \
        DescribeObservabilityConfiguration DescribeService DescribeVpcConnector DescribeVpcIngressConnection \
        DisassociateCustomDomain ListAutoScalingConfigurations ListConnections ListObservabilityConfigurations \
        ListOperations ListServices ListServicesForAutoScalingConfiguration ListTagsForResource \
        ListVpcConnectors ListVpcIngressConnections PauseService ResumeService StartDeployment TagResource \
        UntagResource UpdateDefaultAutoScalingConfiguration UpdateService UpdateVpcIngressConnection";
    let all: Vec<&str> = all.split_whitespace().collect();
    assert_eq!(all.len(), 37);
    let ops: Vec<&str> = model.operations.keys().map(String::as_str).collect();
    assert_eq!(ops, all);
    for op in crate::operations::SUPPORTED {
        assert!(matches!(model.operations.get(*op), Some(Some(_))), "{op} has no input shape in the model");
    }
}

#[test]
fn every_pattern_in_the_model_compiles_or_is_overridden() {
    let mut patterns = 0;
    for (name, shape) in raw_model().shapes {
        let RawShape::String { pattern: Some(pattern), .. } = shape else { continue };
        patterns += 1;
        let overridden = OVERRIDES.iter().any(|(n, c)| *n == name && !matches!(c, Change::Min(_)));
        assert!(
            regex(&pattern).is_ok() || overridden,
            "{name}'s pattern {pattern} neither compiles nor has an override"
        );
    }
    assert!(patterns > 20, "only {patterns} patterns: is model.json whole?");
    // The look-ahead is why TagKey has its override: the regex crate cannot run it.
    assert!(regex("^(?!aws:).+").is_err());
}

#[test]
fn a_pattern_that_does_not_compile_without_an_override_is_an_error_never_a_skip() {
    let bad = || RawShape::String {
        min: None,
        max: None,
        pattern: Some("(?<=x)y".to_owned()),
        values: vec![],
        sensitive: false,
    };
    let e = compile("Bad", bad(), None).err().expect("the shape is refused");
    assert!(e.contains("the pattern of Bad does not compile"), "{e}");
    assert!(compile("Bad", bad(), Some(&Change::SkipPattern)).is_ok());
    let e = compile("Bad", bad(), Some(&Change::Min(0))).err().expect("a misfit override is refused");
    assert!(e.contains("does not apply"), "{e}");
    // And the model as a whole does not load when a shape it needs is missing.
    let e = Model::load(r#"{"api_version": "x", "source": "t", "operations": {}, "shapes": {}}"#).err();
    assert!(e.is_some_and(|e| e.contains("does not have")));
}

#[test]
fn every_override_and_description_names_a_shape_with_something_to_change() {
    let raw = raw_model();
    for (name, change) in OVERRIDES {
        match (raw.shapes.get(*name), change) {
            (
                Some(RawShape::String { pattern: Some(_), .. }),
                Change::SkipPattern | Change::Pattern { .. },
            ) => {}
            (Some(RawShape::Integer { .. }), Change::Min(_)) => {}
            _ => panic!("the override of {name} does not fit the model"),
        }
    }
    for (name, _) in IN_WORDS {
        assert!(
            matches!(raw.shapes.get(*name), Some(RawShape::String { pattern: Some(_), .. })),
            "{name} has no pattern to put in words"
        );
    }
}

#[test]
fn a_missing_required_member_is_named() {
    // Every problem at once, as AWS answers "2 validation errors detected: …".
    assert_eq!(
        refused("CreateService", json!({})),
        "2 problems: ServiceName: is required; SourceConfiguration: is required"
    );
    assert_eq!(
        refused("CreateService", json!({ "ServiceName": "web1" })),
        "SourceConfiguration: is required"
    );
    // A null is no value.
    assert_eq!(refused("DescribeService", json!({ "ServiceArn": null })), "ServiceArn: is required");
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    assert_eq!(
        refused("CreateService", service(json!({ "ServiceName": 5 }))),
        "ServiceName: must be a string"
    );
    let bad = json!({ "ServiceName": "web1", "SourceConfiguration": [] });
    assert_eq!(refused("CreateService", bad), "SourceConfiguration: must be a structure (a JSON object)");
    let bad = json!({ "AutoScalingConfigurationArn": "arn:aws:apprunner:local:000000000000:autoscalingconfiguration/a", "DeleteAllRevisions": "yes" });
    assert_eq!(
        refused("DeleteAutoScalingConfiguration", bad),
        "DeleteAllRevisions: must be a boolean (true or false)"
    );
    assert_eq!(
        refused("ListServices", json!({ "MaxResults": "5" })),
        "MaxResults: must be an integer from 1 to 20"
    );
    assert_eq!(
        refused("ListServices", json!({ "MaxResults": 1.5 })),
        "MaxResults: must be an integer from 1 to 20"
    );
    assert_eq!(
        refused(
            "UntagResource",
            json!({ "ResourceArn": "arn:aws:apprunner:local:000000000000:service/a/b", "TagKeys": "k" })
        ),
        "TagKeys: must be a list"
    );
}

#[test]
fn a_string_of_the_wrong_length_says_the_range() {
    assert_eq!(
        refused("CreateService", service(json!({ "ServiceName": "x" }))),
        r#"ServiceName: "x" must be 4 to 40 characters"#
    );
    let long = "a".repeat(41);
    let message = refused("CreateService", service(json!({ "ServiceName": long })));
    assert_eq!(message, format!("ServiceName: {long:?} must be 4 to 40 characters"));
    // Characters, not bytes: 4 two-byte letters are 4 characters (and then break the pattern).
    let message = refused("CreateService", service(json!({ "ServiceName": "éééé" })));
    assert!(message.contains("must be 4 to 40 letters, digits"), "{message}");
}

#[test]
fn a_string_that_breaks_its_pattern_says_what_is_wanted_and_the_pattern() {
    let message = refused("CreateService", service(json!({ "ServiceName": "-web" })));
    assert_eq!(
        message,
        r#"ServiceName: "-web" must be 4 to 40 letters, digits, '-' or '_', starting with a letter or digit (pattern [A-Za-z0-9][A-Za-z0-9-_]{3,39})"#
    );
    // Anchored: a valid prefix is not enough.
    let message = refused("CreateService", service(json!({ "InstanceConfiguration": { "Cpu": "9 vCPU" } })));
    assert!(message.starts_with(r#"InstanceConfiguration.Cpu: "9 vCPU" must be one of 256"#), "{message}");
    assert!(message.ends_with("(pattern 256|512|1024|2048|4096|(0.25|0.5|1|2|4) vCPU)"), "{message}");
    for cpu in ["1 vCPU", "1024", "0.25 vCPU"] {
        passes(
            "CreateService",
            service(json!({ "InstanceConfiguration": { "Cpu": cpu, "Memory": "2 GB" } })),
        );
    }
    let bad = service(json!({ "InstanceConfiguration": { "Memory": "2 GBs" } }));
    assert!(
        refused("CreateService", bad).starts_with(r#"InstanceConfiguration.Memory: "2 GBs" must be one of"#)
    );
}

#[test]
fn a_value_outside_its_enum_lists_the_choices() {
    let bad = service(json!({ "SourceConfiguration": { "ImageRepository": { "ImageIdentifier": "nginx",
        "ImageRepositoryType": "FOO" } } }));
    assert_eq!(
        refused("CreateService", bad),
        r#"SourceConfiguration.ImageRepository.ImageRepositoryType: "FOO" is not one of ECR, ECR_PUBLIC"#
    );
}

#[test]
fn an_integer_outside_its_range_says_the_range() {
    let input = |member: &str, n: Value| json!({ "AutoScalingConfigurationName": "small", member: n });
    assert_eq!(
        refused("CreateAutoScalingConfiguration", input("MaxConcurrency", json!(201))),
        "MaxConcurrency: 201 must be an integer from 1 to 200"
    );
    assert_eq!(
        refused("CreateAutoScalingConfiguration", input("MaxSize", json!(0))),
        "MaxSize: 0 must be an integer from 1 to 2147483647"
    );
    // An integer is 32 bits in App Runner's model.
    assert!(
        refused("CreateAutoScalingConfiguration", input("MaxSize", json!(1_u64 << 40)))
            .starts_with("MaxSize: ")
    );
    passes("CreateAutoScalingConfiguration", input("MaxConcurrency", json!(200)));
}

#[test]
fn a_nested_member_is_named_by_its_path() {
    let bad = service(json!({ "HealthCheckConfiguration": { "Interval": 21 } }));
    assert_eq!(
        refused("CreateService", bad),
        "HealthCheckConfiguration.Interval: 21 must be an integer from 1 to 20"
    );
    let bad =
        service(json!({ "SourceConfiguration": { "ImageRepository": { "ImageRepositoryType": "ECR" } } }));
    assert_eq!(
        refused("CreateService", bad),
        "SourceConfiguration.ImageRepository.ImageIdentifier: is required"
    );
}

#[test]
fn a_list_item_is_named_by_its_index() {
    // (App Runner's model does not require a Tag's Key: the tagging itself refuses a tag without one.)
    let bad = json!({ "AutoScalingConfigurationName": "small", "Tags": [{ "Key": "a" }, { "Key": 7 }] });
    assert_eq!(refused("CreateAutoScalingConfiguration", bad), "Tags[1].Key: must be a string");
    let bad = json!({ "AutoScalingConfigurationName": "small", "Tags": [null] });
    assert_eq!(
        refused("CreateAutoScalingConfiguration", bad),
        "Tags[0]: must be a structure (a JSON object)"
    );
}

#[test]
fn a_map_value_is_named_by_its_key_and_a_sensitive_value_is_never_repeated() {
    let with_env = |env: Value| with_image_config(json!({ "RuntimeEnvironmentVariables": env }));
    let path = "SourceConfiguration.ImageRepository.ImageConfiguration.RuntimeEnvironmentVariables";
    assert_eq!(
        refused("CreateService", with_env(json!({ "GREETING": 5 }))),
        format!("{path}.GREETING: must be a string")
    );
    let message = refused("CreateService", with_env(json!({ "TOKEN": "hunter2\nsecond line" })));
    assert_eq!(message, format!("{path}.TOKEN: the value must be one line (pattern .*)"));
    assert!(!message.contains("hunter2"));
    assert_eq!(
        refused("CreateService", with_env(json!({ "": "x" }))),
        format!("{path}: a key must be 1 to 51200 characters")
    );
    assert_eq!(
        refused("CreateService", with_env(json!([]))),
        format!("{path}: must be a map (a JSON object)")
    );
    passes("CreateService", with_env(json!({ "GREETING": "hello", "EMPTY": "" })));
    let message =
        refused("CreateService", with_image_config(json!({ "StartCommand": "run --token=s3cret\n" })));
    assert_eq!(
        message,
        "SourceConfiguration.ImageRepository.ImageConfiguration.StartCommand: the value must be one line (pattern [^\\x0a\\x0d]+)"
    );
}

#[test]
fn ferry_takes_min_size_0_and_any_registry_but_refuses_aws_tag_keys() {
    let scaling = |min: i64| json!({ "AutoScalingConfigurationName": "zero", "MinSize": min });
    passes("CreateAutoScalingConfiguration", scaling(0));
    assert_eq!(
        refused("CreateAutoScalingConfiguration", scaling(-1)),
        "MinSize: -1 must be an integer from 0 to 25"
    );
    assert_eq!(
        refused("CreateAutoScalingConfiguration", scaling(26)),
        "MinSize: 26 must be an integer from 0 to 25"
    );

    for image in ["127.0.0.1:5000/testapp:latest", "nginx", "ghcr.io/org/app@sha256:abc"] {
        let source = json!({ "ImageRepository": { "ImageIdentifier": image, "ImageRepositoryType": "ECR" } });
        passes("CreateService", service(json!({ "SourceConfiguration": source })));
    }

    let tagged = |key: &str| json!({ "AutoScalingConfigurationName": "tagged", "Tags": [{ "Key": key, "Value": "v" }] });
    assert_eq!(
        refused("CreateAutoScalingConfiguration", tagged("aws:x")),
        r#"Tags[0].Key: "aws:x" must not start with "aws:" (nor be empty or hold a line feed)"#
    );
    passes("CreateAutoScalingConfiguration", tagged("team"));
    passes("CreateAutoScalingConfiguration", tagged("AWS:x")); // Java's look-ahead is case-sensitive too.
    let untag = json!({ "ResourceArn": "arn:aws:apprunner:local:000000000000:service/web1/0123", "TagKeys": ["ok", "aws:x"] });
    assert!(refused("UntagResource", untag).starts_with(r#"TagKeys[1]: "aws:x" must not start with "aws:""#));
}

#[test]
fn ferrys_own_arns_pass() {
    for (region, account) in
        [("local", "000000000000"), ("eu-west-1", "123456789012"), ("a-b-c-d-1", "999999999999")]
    {
        let arn = Arn { region: region.to_owned(), account: account.to_owned() };
        let name = ServiceName::parse("My_web-app").expect("a name");
        let own = arn.service(&name, &ServiceId::generate());
        passes("DescribeService", json!({ "ServiceArn": own }));
        passes("ListOperations", json!({ "ServiceArn": own, "MaxResults": 20 }));
        passes("ListTagsForResource", json!({ "ResourceArn": own }));
        let scaling = arn.autoscaling("Default_Configuration-2", 7);
        for partial in [scaling.clone(), format!("{scaling}/{}", "0123456789abcdef".repeat(2))] {
            passes("DescribeAutoScalingConfiguration", json!({ "AutoScalingConfigurationArn": partial }));
        }
        passes("CreateService", service(json!({ "AutoScalingConfigurationArn": scaling })));
    }
    let message = refused("DescribeService", json!({ "ServiceArn": "service/web1" }));
    assert!(message.starts_with(r#"ServiceArn: "service/web1" must be an App Runner ARN"#), "{message}");
}

#[test]
fn a_full_create_service_input_passes() {
    passes(
        "CreateService",
        json!({
            "ServiceName": "web-app_1",
            "SourceConfiguration": {
                "ImageRepository": {
                    "ImageIdentifier": "127.0.0.1:5000/testapp:v2",
                    "ImageRepositoryType": "ECR_PUBLIC",
                    "ImageConfiguration": {
                        "Port": "8080",
                        "StartCommand": "/app --serve --port 8080",
                        "RuntimeEnvironmentVariables": { "GREETING": "hello world", "EMPTY": "" },
                        "RuntimeEnvironmentSecrets": {
                            "DB_PASSWORD": "arn:aws:secretsmanager:local:000000000000:secret:db-password"
                        }
                    }
                },
                "AutoDeploymentsEnabled": false
            },
            "InstanceConfiguration": { "Cpu": "1 vCPU", "Memory": "2 GB" },
            "HealthCheckConfiguration": {
                "Protocol": "HTTP", "Path": "/healthz", "Interval": 5, "Timeout": 2,
                "HealthyThreshold": 1, "UnhealthyThreshold": 5
            },
            "NetworkConfiguration": {
                "EgressConfiguration": { "EgressType": "DEFAULT" },
                "IngressConfiguration": { "IsPubliclyAccessible": true },
                "IpAddressType": "IPV4"
            },
            "Tags": [{ "Key": "team", "Value": "web" }],
            "SomethingNewAwsAdded": { "is": "ignored" }
        }),
    );
}

#[test]
fn an_operation_the_model_does_not_know_passes_to_dispatch() {
    passes("FlyToTheMoon", json!({ "ServiceName": 5 }));
}

#[test]
fn a_long_value_is_cut_short_in_the_error() {
    assert_eq!(quote("abc"), r#""abc""#);
    let cut = quote(&"é".repeat(100));
    assert_eq!(cut, format!("{:?}…", "é".repeat(64)));
}

#[test]
fn list_and_map_sizes_are_checked() {
    let mut problems = Problems::default();
    problems.count("Subnets", 0, (Some(1), Some(16)), "items");
    problems.count("Subnets", 17, (None, Some(16)), "items");
    problems.count("Subnets", 3, (Some(1), None), "items");
    problems.count("Env", 0, (Some(1), None), "entries");
    assert_eq!(
        problems.0,
        [
            "Subnets: has 0 items; it must have 1 to 16",
            "Subnets: has 17 items; it must have at most 16",
            "Env: has 0 entries; it must have at least 1",
        ]
    );
}

#[test]
fn many_problems_are_counted_and_the_first_ten_named() {
    let env: serde_json::Map<String, Value> = (0..12).map(|i| (format!("V{i:02}"), json!(i))).collect();
    let message = refused("CreateService", with_image_config(json!({ "RuntimeEnvironmentVariables": env })));
    assert!(message.starts_with("12 problems: SourceConfiguration."), "{message}");
    assert!(message.contains("RuntimeEnvironmentVariables.V09: must be a string; and 2 more"), "{message}");
    assert!(!message.contains("V10"), "{message}");
}
