//! The App Runner-compatible API as its users meet it: the real AWS CLI (Debian's `awscli`) and boto3,
//! pointed at ferry with `--endpoint-url` only and signing with a key from `ferry access-key create`,
//! through the whole life of an image service; and the refusals a wrong key gets.

use std::process::Command;

use serde_json::Value;

use crate::aws::{Aws, REGION, RUNNING, TapEnv, aws_for, image_source, program};
use crate::support::{Server, http, poll, testapp_image};

#[test]
fn the_aws_cli_drives_an_image_service_through_its_life() {
    let server = Server::start_with(&["--region", REGION]);
    let made: Value =
        serde_json::from_str(&server.ferry_ok(&["access-key", "create", "--name", "ci", "-o", "json"]))
            .unwrap();
    let key = made["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = made["SecretAccessKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("AKIA") && key.len() == 20 && secret.len() == 40, "{made}");
    let aws = Aws { server: &server, home: tempfile::tempdir().unwrap(), key: key.clone(), secret };

    let source = serde_json::json!({
        "ImageRepository": {
            "ImageIdentifier": testapp_image(),
            "ImageRepositoryType": "ECR_PUBLIC",
            "ImageConfiguration": { "Port": "8080", "RuntimeEnvironmentVariables": { "TESTAPP_MESSAGE": "from-aws" } },
        },
        "AutoDeploymentsEnabled": false,
    })
    .to_string();
    let created = aws.ok(&[
        "create-service",
        "--service-name",
        "aws-web",
        "--source-configuration",
        &source,
        "--instance-configuration",
        "Cpu=1024,Memory=2048",
        "--health-check-configuration",
        "Protocol=HTTP,Path=/,Interval=1,HealthyThreshold=1",
    ]);
    let arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with(&format!("arn:aws:apprunner:{REGION}:000000000000:service/aws-web/")),
        "{created}"
    );
    assert!(created["OperationId"].is_string(), "{created}");

    let described = poll("the service RUNNING", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "RUNNING").then_some(d)
    });
    let service = &described["Service"];
    assert_eq!(service["InstanceConfiguration"]["Cpu"], "1024");
    assert_eq!(service["HealthCheckConfiguration"]["Protocol"], "HTTP");
    assert_eq!(
        service["AutoScalingConfigurationSummary"]["AutoScalingConfigurationName"],
        "DefaultConfiguration"
    );
    assert_eq!(service["NetworkConfiguration"]["IngressConfiguration"]["IsPubliclyAccessible"], true);
    let url = service["ServiceUrl"].as_str().unwrap();
    let host = url.split(':').next().unwrap();
    assert_eq!(host, "aws-web.localhost", "{described}");
    let answer = http(server.http, "GET", host, "/", &[], b"");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("from-aws"), "{}", answer.body);

    let listed = aws.ok(&["list-services", "--max-results", "5"]);
    assert!(listed["ServiceSummaryList"].as_array().unwrap().iter().any(|s| s["ServiceArn"] == arn.as_str()));
    // What this API made, ferry's own shows.
    assert_eq!(server.describe("aws-web")["status"], "RUNNING");

    let deployment = aws.ok(&["start-deployment", "--service-arn", &arn]);
    let deployment_id = deployment["OperationId"].as_str().unwrap().to_owned();
    let operations = poll("the deployment done", RUNNING, || {
        let ops = aws.ok(&["list-operations", "--service-arn", &arn]);
        let list = ops["OperationSummaryList"].as_array().unwrap().clone();
        list.iter().any(|o| o["Id"] == deployment_id.as_str() && o["Status"] == "SUCCEEDED").then_some(list)
    });
    let kinds: Vec<&str> = operations.iter().map(|o| o["Type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"CREATE_SERVICE") && kinds.contains(&"START_DEPLOYMENT"), "{kinds:?}");

    aws.ok(&["pause-service", "--service-arn", &arn]);
    poll("the service PAUSED", RUNNING, || {
        (aws.ok(&["describe-service", "--service-arn", &arn])["Service"]["Status"] == "PAUSED").then_some(())
    });
    aws.ok(&["resume-service", "--service-arn", &arn]);
    poll("the service RUNNING again", RUNNING, || {
        (aws.ok(&["describe-service", "--service-arn", &arn])["Service"]["Status"] == "RUNNING").then_some(())
    });

    // boto3 too, by the endpoint URL only.
    let boto = Command::new(program("/usr/bin/python3", "python3"))
        .args([
            "-c",
            "import boto3,sys; c=boto3.client('apprunner', endpoint_url=sys.argv[1], region_name=sys.argv[2]); \
             print(','.join(s['ServiceName'] for s in c.list_services()['ServiceSummaryList']))",
            &format!("http://{}", server.api),
            REGION,
        ])
        .tap_env(&aws)
        .output()
        .expect("run python3");
    assert!(boto.status.success(), "{}", String::from_utf8_lossy(&boto.stderr));
    assert_eq!(String::from_utf8_lossy(&boto.stdout).trim(), "aws-web");

    // Errors as App Runner answers them.
    let missing = arn.replace("/aws-web/", "/aws-gone/");
    assert!(
        aws.fails(&["describe-service", "--service-arn", &missing]).contains("ResourceNotFoundException")
    );
    let bad = aws.fails(&["create-service", "--service-name", "bad.name", "--source-configuration", &source]);
    assert!(bad.contains("InvalidRequestException") && bad.contains("ServiceName"), "{bad}");
    let vpc = aws.fails(&[
        "create-service",
        "--service-name",
        "aws-vpc",
        "--source-configuration",
        &source,
        "--network-configuration",
        "EgressConfiguration={EgressType=VPC,VpcConnectorArn=arn:aws:apprunner:eu-west-1:000000000000:vpcconnector/x/1/y}",
    ]);
    assert!(vpc.contains("InvalidRequestException") && vpc.contains("not supported"), "{vpc}");
    let secrets =
        source.replace(r#""Port":"8080""#, r#""Port":"8080","RuntimeEnvironmentSecrets":{"DB":"nosuch"}"#);
    assert_ne!(secrets, source);
    let missing_secret =
        aws.fails(&["create-service", "--service-name", "aws-sec", "--source-configuration", &secrets]);
    assert!(
        missing_secret.contains("RuntimeEnvironmentSecrets") && missing_secret.contains("nosuch"),
        "{missing_secret}"
    );
    // An operation that is not App Runner's is refused by name, never pretended.
    let (status, unknown) = aws.raw_call("ListWidgets", "{}");
    assert_eq!(
        (status, &unknown["__type"]),
        (400, &serde_json::json!("UnknownOperationException")),
        "{unknown}"
    );
    assert!(unknown["Message"].as_str().unwrap().contains("ListWidgets"), "{unknown}");

    aws.ok(&["delete-service", "--service-arn", &arn]);
    poll("the service gone", RUNNING, || {
        let listed = aws.ok(&["list-services"]);
        listed["ServiceSummaryList"].as_array().unwrap().is_empty().then_some(())
    });

    // A wrong secret and an unknown key are refused.
    let wrong =
        Aws { server: &server, home: tempfile::tempdir().unwrap(), key: key.clone(), secret: "x".repeat(40) };
    assert!(wrong.fails(&["list-services"]).contains("InvalidSignatureException"));
    let stranger = Aws {
        server: &server,
        home: tempfile::tempdir().unwrap(),
        key: "AKIAAAAAAAAAAAAAAAAA".to_owned(),
        secret: "x".repeat(40),
    };
    assert!(stranger.fails(&["list-services"]).contains("UnrecognizedClientException"));
    // A deleted key stops working at once.
    server.ferry_ok(&["access-key", "delete", &key]);
    assert!(aws.fails(&["list-services"]).contains("UnrecognizedClientException"));
    let keys = server.ferry_ok(&["access-key", "list"]);
    assert!(!keys.contains(&key), "{keys}");
}

#[test]
fn the_aws_cli_updates_a_service_and_manages_auto_scaling_configurations() {
    let server = Server::start_with(&["--region", REGION]);
    let aws = aws_for(&server);

    let made = aws.ok(&[
        "create-auto-scaling-configuration",
        "--auto-scaling-configuration-name",
        "small",
        "--max-concurrency",
        "10",
        "--min-size",
        "1",
        "--max-size",
        "2",
    ]);
    let config = &made["AutoScalingConfiguration"];
    let config_arn = config["AutoScalingConfigurationArn"].as_str().unwrap().to_owned();
    let prefix = format!("arn:aws:apprunner:{REGION}:000000000000:autoscalingconfiguration/small/1/");
    let id = config_arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{made}"));
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    assert_eq!((config["MaxConcurrency"].as_u64(), config["MaxSize"].as_u64()), (Some(10), Some(2)));
    let described =
        aws.ok(&["describe-auto-scaling-configuration", "--auto-scaling-configuration-arn", &config_arn]);
    assert_eq!(described["AutoScalingConfiguration"]["AutoScalingConfigurationArn"], config_arn.as_str());
    let bad = aws.fails(&["create-auto-scaling-configuration", "--auto-scaling-configuration-name", "a b c"]);
    assert!(bad.contains("InvalidRequestException") && bad.contains("AutoScalingConfigurationName"), "{bad}");

    let created = aws.ok(&[
        "create-service",
        "--service-name",
        "aws-upd",
        "--source-configuration",
        &image_source("before", 0),
        "--auto-scaling-configuration-arn",
        &config_arn,
        "--health-check-configuration",
        "Protocol=HTTP,Path=/,Interval=1,HealthyThreshold=1",
    ]);
    let arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    let summary = &created["Service"]["AutoScalingConfigurationSummary"];
    assert_eq!(summary["AutoScalingConfigurationArn"], config_arn.as_str(), "{created}");
    poll("the service RUNNING", RUNNING, || {
        (aws.ok(&["describe-service", "--service-arn", &arn])["Service"]["Status"] == "RUNNING").then_some(())
    });

    let updated = aws.ok(&[
        "update-service",
        "--service-arn",
        &arn,
        "--source-configuration",
        &image_source("after", 4000),
        "--instance-configuration",
        "Cpu=2048,Memory=4096",
        // Patient enough for instances that listen only after 4 s.
        "--health-check-configuration",
        "UnhealthyThreshold=20",
    ]);
    let update_id = updated["OperationId"].as_str().unwrap().to_owned();
    // App Runner refuses a change while an operation runs; the update's deployment is running now (its
    // instances listen only after 4 s).
    let busy = aws.fails(&["update-service", "--service-arn", &arn, "--instance-configuration", "Cpu=1024"]);
    assert!(busy.contains("InvalidStateException") && busy.contains("in progress"), "{busy}");

    let done = poll("the update done", RUNNING, || {
        let ops = aws.ok(&["list-operations", "--service-arn", &arn]);
        let list = ops["OperationSummaryList"].as_array().unwrap().clone();
        let op = list.into_iter().find(|o| o["Id"] == update_id.as_str())?;
        (!matches!(op["Status"].as_str(), Some("PENDING" | "IN_PROGRESS"))).then_some(op)
    });
    assert_eq!(done["Status"], "SUCCEEDED", "{done}\n{}", server.ferry_ok(&["logs", "aws-upd"]));
    let service = poll("the service RUNNING again", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "RUNNING").then_some(d["Service"].clone())
    });
    assert_eq!(service["InstanceConfiguration"]["Cpu"], "2048", "{service}");
    assert_eq!(service["InstanceConfiguration"]["Memory"], "4096", "{service}");
    let image = &service["SourceConfiguration"]["ImageRepository"]["ImageConfiguration"];
    assert_eq!(image["RuntimeEnvironmentVariables"]["TESTAPP_MESSAGE"], "after", "{service}");
    // Members left out stayed as they were.
    assert_eq!(service["HealthCheckConfiguration"]["UnhealthyThreshold"], 20, "{service}");
    assert_eq!(service["HealthCheckConfiguration"]["Protocol"], "HTTP", "{service}");
    assert_eq!(
        service["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"],
        config_arn.as_str()
    );
    let host = service["ServiceUrl"].as_str().unwrap().split(':').next().unwrap().to_owned();
    let answer = poll("the new revision served", RUNNING, || {
        let answer = http(server.http, "GET", &host, "/", &[], b"");
        (answer.status == 200 && answer.body.contains("after")).then_some(answer)
    });
    assert!(!answer.body.contains("before"), "{}", answer.body);
    // What this API changed, ferry's own shows.
    assert_eq!(server.describe("aws-upd")["status"], "RUNNING");

    let listed = aws.ok(&["list-auto-scaling-configurations", "--max-results", "10"]);
    let names: Vec<&str> = listed["AutoScalingConfigurationSummaryList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["AutoScalingConfigurationName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"small"), "{listed}");
    let refused =
        aws.fails(&["delete-auto-scaling-configuration", "--auto-scaling-configuration-arn", &config_arn]);
    assert!(refused.contains("InvalidRequestException") && refused.contains("aws-upd"), "{refused}");

    // ferry scales to zero, so MinSize 0 is taken (botocore's client-side check stops at 1).
    let body = serde_json::json!({ "AutoScalingConfigurationName": "tozero", "MinSize": 0, "MaxSize": 2 });
    let zero = aws.raw("CreateAutoScalingConfiguration", &body.to_string());
    assert_eq!(zero["AutoScalingConfiguration"]["MinSize"], 0, "{zero}");

    // A configuration no service uses goes, and is then unknown.
    let spare = aws.ok(&["create-auto-scaling-configuration", "--auto-scaling-configuration-name", "spare"]);
    let spare_arn =
        spare["AutoScalingConfiguration"]["AutoScalingConfigurationArn"].as_str().unwrap().to_owned();
    let deleted =
        aws.ok(&["delete-auto-scaling-configuration", "--auto-scaling-configuration-arn", &spare_arn]);
    assert_eq!(deleted["AutoScalingConfiguration"]["Status"], "INACTIVE", "{deleted}");
    let gone =
        aws.fails(&["describe-auto-scaling-configuration", "--auto-scaling-configuration-arn", &spare_arn]);
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");

    // Debian's botocore predates UpdateDefaultAutoScalingConfiguration: sign the call with its SigV4 signer.
    let body = serde_json::json!({ "AutoScalingConfigurationArn": config_arn }).to_string();
    let default = aws.raw("UpdateDefaultAutoScalingConfiguration", &body);
    assert_eq!(default["AutoScalingConfiguration"]["IsDefault"], true, "{default}");
    assert_eq!(default["AutoScalingConfiguration"]["AutoScalingConfigurationName"], "small", "{default}");
}
