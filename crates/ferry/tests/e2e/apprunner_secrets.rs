//! `RuntimeEnvironmentSecrets` through the App Runner API: a Secrets Manager or SSM ARN, as App Runner's
//! users write them, names one of ferry's secrets (its last part); the value reaches the app and never an
//! answer of the API.

use serde_json::{Value, json};

use crate::aws::{REGION, RUNNING, aws_for};
use crate::support::{Server, message_of, poll, testapp_image};

const FIRST: &str = "aws-s3cr3t-Qm73";
const SECOND: &str = "aws-s3cr3t-Wp19";

fn set(server: &Server, name: &str, value: &str) {
    let out = server.ferry_input(&["secret", "set", name], format!("{value}\n").as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn source(reference: &str) -> String {
    json!({
        "ImageRepository": {
            "ImageIdentifier": testapp_image(),
            "ImageRepositoryType": "ECR_PUBLIC",
            "ImageConfiguration": {
                "Port": "8080",
                "RuntimeEnvironmentSecrets": { "TESTAPP_MESSAGE": reference },
            },
        },
        "AutoDeploymentsEnabled": false,
    })
    .to_string()
}

#[test]
fn runtime_environment_secrets_name_ferry_secrets_by_their_arns() {
    let server = Server::start_with(&["--region", REGION]);
    let aws = aws_for(&server);
    set(&server, "app-message", FIRST);
    set(&server, "next-message", SECOND);

    let manager = format!("arn:aws:secretsmanager:{REGION}:000000000000:secret:app-message");
    let created = aws.ok(&[
        "create-service",
        "--service-name",
        "aws-secret",
        "--source-configuration",
        &source(&manager),
        "--health-check-configuration",
        "Protocol=HTTP,Path=/,Interval=1,HealthyThreshold=1",
    ]);
    let arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    let serves = |message: &str| {
        poll(&format!("the app to show {message}"), RUNNING, || {
            (message_of(&server.get("aws-secret", "/").body) == message).then_some(())
        })
    };
    serves(FIRST);

    let described = poll("the service RUNNING", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "RUNNING").then_some(d)
    });
    let secrets = &described["Service"]["SourceConfiguration"]["ImageRepository"]["ImageConfiguration"]["RuntimeEnvironmentSecrets"];
    assert_eq!(secrets["TESTAPP_MESSAGE"], "app-message", "{described}");
    // ferry's own view is of the same service, and names the same secret.
    assert_eq!(server.describe("aws-secret")["source"]["image"]["secrets"]["TESTAPP_MESSAGE"], "app-message");

    // An SSM parameter's ARN names a secret by its last part too.
    let parameter = format!("arn:aws:ssm:{REGION}:000000000000:parameter/next-message");
    let updated =
        aws.ok(&["update-service", "--service-arn", &arn, "--source-configuration", &source(&parameter)]);
    let update_id = updated["OperationId"].as_str().unwrap().to_owned();
    poll("the update done", RUNNING, || {
        let ops = aws.ok(&["list-operations", "--service-arn", &arn]);
        let list = ops["OperationSummaryList"].as_array().unwrap().clone();
        list.iter().any(|o| o["Id"] == update_id.as_str() && o["Status"] == "SUCCEEDED").then_some(())
    });
    serves(SECOND);

    // No answer carries a value.
    let answers: Vec<Value> = vec![
        created,
        described,
        updated,
        aws.ok(&["describe-service", "--service-arn", &arn]),
        aws.ok(&["list-services"]),
        aws.ok(&["list-operations", "--service-arn", &arn]),
    ];
    for answer in answers {
        let text = answer.to_string();
        assert!(!text.contains(FIRST) && !text.contains(SECOND), "an answer shows a secret's value: {text}");
    }

    // A secret that does not exist is refused before anything is made, naming it and what to do.
    let missing = format!("arn:aws:secretsmanager:{REGION}:000000000000:secret:no-such");
    let refused = aws.fails(&[
        "create-service",
        "--service-name",
        "aws-nosecret",
        "--source-configuration",
        &source(&missing),
    ]);
    assert!(
        refused.contains("InvalidRequestException")
            && refused.contains("no-such")
            && refused.contains("ferry secret set"),
        "{refused}"
    );
    let listed = aws.ok(&["list-services"]);
    assert_eq!(listed["ServiceSummaryList"].as_array().unwrap().len(), 1, "{listed}");
}
