//! Tags and observability configurations through the real AWS CLI: tags on a service and on an auto
//! scaling configuration (given at creation, added, replaced, removed, forgotten with the resource), and
//! observability configurations made, revised, listed, used by a service, refused deletion while used.

use serde_json::{Value, json};

use crate::aws::{Aws, REGION, RUNNING, aws_for, image_source};
use crate::support::{Server, poll};

fn tags(aws: &Aws<'_>, arn: &str) -> Vec<(String, String)> {
    let listed = aws.ok(&["list-tags-for-resource", "--resource-arn", arn]);
    let list = listed["Tags"].as_array().unwrap_or_else(|| panic!("{listed}"));
    list.iter()
        .map(|t| (t["Key"].as_str().unwrap().to_owned(), t["Value"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn observability_arns(aws: &Aws<'_>, extra: &[&str]) -> Vec<String> {
    let listed = aws.ok(&[&["list-observability-configurations"], extra].concat());
    let list =
        listed["ObservabilityConfigurationSummaryList"].as_array().unwrap_or_else(|| panic!("{listed}"));
    list.iter().map(|c| c["ObservabilityConfigurationArn"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_aws_cli_tags_resources_and_manages_observability_configurations() {
    let server = Server::start_with(&["--region", REGION]);
    let aws = aws_for(&server);
    let account = format!("arn:aws:apprunner:{REGION}:000000000000");

    // Observability configurations: revisioned by name, with App Runner's ARNs.
    let made = aws.ok(&[
        "create-observability-configuration",
        "--observability-configuration-name",
        "tracing",
        "--trace-configuration",
        "Vendor=AWSXRAY",
        "--tags",
        "Key=team,Value=obs",
    ]);
    let first = &made["ObservabilityConfiguration"];
    let first_arn = first["ObservabilityConfigurationArn"].as_str().unwrap().to_owned();
    let id = first_arn
        .strip_prefix(&format!("{account}:observabilityconfiguration/tracing/1/"))
        .unwrap_or_else(|| panic!("{made}"));
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    assert_eq!(first["TraceConfiguration"]["Vendor"], "AWSXRAY", "{made}");
    assert_eq!((&first["Status"], &first["Latest"]), (&json!("ACTIVE"), &json!(true)), "{made}");
    assert_eq!(tags(&aws, &first_arn), pairs(&[("team", "obs")]));
    let second =
        aws.ok(&["create-observability-configuration", "--observability-configuration-name", "tracing"]);
    let second = &second["ObservabilityConfiguration"];
    assert_eq!(second["ObservabilityConfigurationRevision"], 2, "{second}");
    assert!(second.get("TraceConfiguration").is_none(), "no tracing asked for: {second}");
    let second_arn = second["ObservabilityConfigurationArn"].as_str().unwrap().to_owned();
    let described =
        aws.ok(&["describe-observability-configuration", "--observability-configuration-arn", &first_arn]);
    assert_eq!(described["ObservabilityConfiguration"]["Latest"], false, "{described}");
    // A partial ARN names the latest revision.
    let latest = aws.ok(&[
        "describe-observability-configuration",
        "--observability-configuration-arn",
        &format!("{account}:observabilityconfiguration/tracing"),
    ]);
    assert_eq!(latest["ObservabilityConfiguration"]["ObservabilityConfigurationArn"], second_arn.as_str());
    // As App Runner lists them: the latest revision of each name unless asked otherwise.
    assert_eq!(observability_arns(&aws, &[]), [second_arn.as_str()]);
    assert_eq!(observability_arns(&aws, &["--no-latest-only"]), [first_arn.as_str(), second_arn.as_str()]);
    assert_eq!(
        observability_arns(&aws, &["--no-latest-only", "--observability-configuration-name", "other"]),
        Vec::<String>::new()
    );
    let reserved = aws.fails(&[
        "create-observability-configuration",
        "--observability-configuration-name",
        "DefaultConfiguration",
    ]);
    assert!(
        reserved.contains("InvalidRequestException") && reserved.contains("ObservabilityConfigurationName"),
        "{reserved}"
    );

    // Tags at creation, on a service that uses revision 1 of the observability configuration.
    let scaling = aws.ok(&[
        "create-auto-scaling-configuration",
        "--auto-scaling-configuration-name",
        "tagged",
        "--tags",
        "Key=team,Value=infra",
    ]);
    let scaling_arn =
        scaling["AutoScalingConfiguration"]["AutoScalingConfigurationArn"].as_str().unwrap().to_owned();
    let created = aws.ok(&[
        "create-service",
        "--service-name",
        "aws-tags",
        "--source-configuration",
        &image_source("tagged", 0),
        "--health-check-configuration",
        "Protocol=HTTP,Path=/,Interval=1,HealthyThreshold=1",
        "--tags",
        "Key=team,Value=web",
        "Key=env,Value=prod",
        "--observability-configuration",
        &format!("ObservabilityEnabled=true,ObservabilityConfigurationArn={first_arn}"),
    ]);
    let arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    assert_eq!(
        created["Service"]["ObservabilityConfiguration"]["ObservabilityConfigurationArn"],
        first_arn.as_str()
    );
    assert_eq!(tags(&aws, &arn), pairs(&[("env", "prod"), ("team", "web")]));
    assert_eq!(tags(&aws, &scaling_arn), pairs(&[("team", "infra")]));

    // Added, replaced and removed, on both kinds of resource.
    aws.ok(&["tag-resource", "--resource-arn", &arn, "--tags", "Key=env,Value=staging", "Key=owner,Value="]);
    assert_eq!(tags(&aws, &arn), pairs(&[("env", "staging"), ("owner", ""), ("team", "web")]));
    aws.ok(&["untag-resource", "--resource-arn", &arn, "--tag-keys", "team", "absent"]);
    assert_eq!(tags(&aws, &arn), pairs(&[("env", "staging"), ("owner", "")]));
    aws.ok(&["tag-resource", "--resource-arn", &scaling_arn, "--tags", "Key=cost,Value=low"]);
    aws.ok(&["untag-resource", "--resource-arn", &scaling_arn, "--tag-keys", "team"]);
    assert_eq!(tags(&aws, &scaling_arn), pairs(&[("cost", "low")]));
    // A partial ARN tags the revision it names.
    aws.ok(&[
        "tag-resource",
        "--resource-arn",
        &format!("{account}:autoscalingconfiguration/tagged"),
        "--tags",
        "Key=b,Value=2",
    ]);
    assert_eq!(tags(&aws, &scaling_arn), pairs(&[("b", "2"), ("cost", "low")]));

    // Refusals: a reserved key, too many tags, an ARN naming nothing, something not an App Runner ARN.
    let reserved =
        aws.fails(&["tag-resource", "--resource-arn", &arn, "--tags", r#"[{"Key":"aws:x","Value":"v"}]"#]);
    assert!(reserved.contains("InvalidRequestException") && reserved.contains("aws:x"), "{reserved}");
    // It has two; 48 more make 50, the most.
    let many: Vec<Value> = (0..48).map(|i| json!({ "Key": format!("k{i}"), "Value": "v" })).collect();
    aws.ok(&["tag-resource", "--resource-arn", &scaling_arn, "--tags", &Value::Array(many).to_string()]);
    let full = aws.fails(&["tag-resource", "--resource-arn", &scaling_arn, "--tags", "Key=one-more,Value=v"]);
    assert!(full.contains("InvalidRequestException") && full.contains("at most 50"), "{full}");
    assert_eq!(tags(&aws, &scaling_arn).len(), 50, "nothing of the refused call was kept");
    let missing = arn.replace("/aws-tags/", "/aws-none/");
    let unknown = aws.fails(&["list-tags-for-resource", "--resource-arn", &missing]);
    assert!(unknown.contains("ResourceNotFoundException"), "{unknown}");
    let unknown = aws.fails(&[
        "tag-resource",
        "--resource-arn",
        &format!("{account}:autoscalingconfiguration/nosuch"),
        "--tags",
        "Key=a,Value=b",
    ]);
    assert!(unknown.contains("ResourceNotFoundException"), "{unknown}");
    let foreign = aws.fails(&[
        "list-tags-for-resource",
        "--resource-arn",
        "arn:aws:s3:eu-west-1:000000000000:bucket/x",
    ]);
    assert!(foreign.contains("InvalidRequestException") && foreign.contains("ResourceArn"), "{foreign}");

    // The service reports the observability configuration it uses, and it cannot be deleted meanwhile.
    let service = poll("the service RUNNING", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "RUNNING").then_some(d["Service"].clone())
    });
    let observability = &service["ObservabilityConfiguration"];
    assert_eq!(observability["ObservabilityEnabled"], true, "{service}");
    assert_eq!(observability["ObservabilityConfigurationArn"], first_arn.as_str(), "{service}");
    assert_eq!(server.describe("aws-tags")["observability"], "tracing/1");
    let refused =
        aws.fails(&["delete-observability-configuration", "--observability-configuration-arn", &first_arn]);
    assert!(refused.contains("InvalidRequestException") && refused.contains("aws-tags"), "{refused}");
    let update = aws.ok(&[
        "update-service",
        "--service-arn",
        &arn,
        "--observability-configuration",
        "ObservabilityEnabled=false",
    ]);
    assert_eq!(update["Service"]["ObservabilityConfiguration"], json!({ "ObservabilityEnabled": false }));
    let deleted =
        aws.ok(&["delete-observability-configuration", "--observability-configuration-arn", &first_arn]);
    let deleted = &deleted["ObservabilityConfiguration"];
    assert_eq!(deleted["Status"], "INACTIVE", "{deleted}");
    assert!(!deleted["DeletedAt"].is_null(), "{deleted}");
    let gone =
        aws.fails(&["describe-observability-configuration", "--observability-configuration-arn", &first_arn]);
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    assert_eq!(observability_arns(&aws, &["--no-latest-only"]), [second_arn.as_str()]);
    poll("the update done", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "RUNNING").then_some(())
    });

    // Whichever API deletes a service, its tags go with it: here ferry's own CLI.
    let other = aws.ok(&[
        "create-service",
        "--service-name",
        "aws-tags-two",
        "--source-configuration",
        &image_source("two", 0),
        "--tags",
        "Key=team,Value=b",
    ]);
    let other_arn = other["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    assert_eq!(tags(&aws, &other_arn), pairs(&[("team", "b")]));
    server.ferry_ok(&["service", "delete", "aws-tags-two"]);
    poll("the CLI-deleted service's tags forgotten", RUNNING, || {
        tags(&aws, &other_arn).is_empty().then_some(())
    });

    // A deleted service's tags are forgotten; it can no longer be tagged.
    aws.ok(&["delete-service", "--service-arn", &arn]);
    assert_eq!(tags(&aws, &arn), pairs(&[]));
    poll("the service gone", RUNNING, || {
        let listed = aws.ok(&["list-services"]);
        listed["ServiceSummaryList"].as_array().unwrap().is_empty().then_some(())
    });
    let late = aws.fails(&["tag-resource", "--resource-arn", &arn, "--tags", "Key=late,Value=v"]);
    assert!(late.contains("InvalidStateException"), "{late}");
}
