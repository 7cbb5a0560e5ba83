//! Services built from source through the App Runner API, with the real AWS CLI: connections (create,
//! the handshake as `ferry connection credentials`, list, delete refused while used), and
//! `CodeRepository` sources with `ConfigurationSource` API (values from the request) and REPOSITORY
//! (`apprunner.yaml`), built from local git repositories with the offline runtime image.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws::{REGION, aws_for};
use crate::support::{Repo, Server, poll, python_app, runtime_flags};

/// A build from source, then the instance's start.
const BUILT: Duration = Duration::from_secs(300);

fn app() -> String {
    python_app(
        "\nbuilt = open(\"built.txt\").read().strip() if os.path.exists(\"built.txt\") else \"no\"\n",
        r#"f"hello from code greeting={os.environ.get('GREETING', '')} built={built} port={os.environ['PORT']}\n""#,
    )
}

const YAML: &str = r#"version: 1.0
runtime: python311
build:
  commands:
    build:
      - python3 -c "open('built.txt', 'w').write('by-yaml')"
run:
  command: python3 app.py
  network:
    port: 8000
  env:
    - name: GREETING
      value: from-yaml
"#;

fn server() -> Server {
    let mut flags = runtime_flags();
    flags.extend(["--region".to_owned(), REGION.to_owned()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Server::start_with(&flags)
}

fn api_source(repo: &Repo, greeting: &str, connection: &str) -> String {
    json!({
        "CodeRepository": {
            "RepositoryUrl": repo.path(),
            "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" },
            "CodeConfiguration": {
                "ConfigurationSource": "API",
                "CodeConfigurationValues": {
                    "Runtime": "PYTHON_311",
                    "BuildCommand": "python3 -c \"open('built.txt', 'w').write('by-api')\"",
                    "StartCommand": "python3 app.py",
                    "Port": "8000",
                    "RuntimeEnvironmentVariables": { "GREETING": greeting },
                },
            },
        },
        "AuthenticationConfiguration": { "ConnectionArn": connection },
    })
    .to_string()
}

fn running(aws: &crate::aws::Aws<'_>, arn: &str) -> Value {
    poll("the service RUNNING", BUILT, || {
        let d = aws.ok(&["describe-service", "--service-arn", arn]);
        assert_ne!(d["Service"]["Status"], "CREATE_FAILED", "{d}\n{}", aws.server.log_text());
        (d["Service"]["Status"] == "RUNNING").then_some(d)
    })
}

#[test]
fn a_connection_and_a_service_built_from_api_values_through_the_aws_cli() {
    let server = server();
    let aws = aws_for(&server);
    let repo = Repo::new(&[("app.py", &app())]);

    let made = aws.ok(&["create-connection", "--connection-name", "gh-main", "--provider-type", "GITHUB"]);
    let connection = &made["Connection"];
    assert_eq!(connection["Status"], "PENDING_HANDSHAKE", "{made}");
    assert_eq!(connection["ProviderType"], "GITHUB");
    let arn = connection["ConnectionArn"].as_str().unwrap().to_owned();
    let prefix = format!("arn:aws:apprunner:{REGION}:000000000000:connection/gh-main/");
    let id = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn}"));
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{arn}");
    let taken =
        aws.fails(&["create-connection", "--connection-name", "gh-main", "--provider-type", "GITHUB"]);
    assert!(taken.contains("InvalidRequestException") && taken.contains("exists already"), "{taken}");
    let gitlab =
        aws.fails(&["create-connection", "--connection-name", "gl-main", "--provider-type", "GITLAB"]);
    assert!(gitlab.contains("InvalidRequestException") && gitlab.contains("ProviderType"), "{gitlab}");
    let malformed = aws.fails(&["delete-connection", "--connection-arn", "gh-main"]);
    assert!(
        malformed.contains("InvalidRequestException") && malformed.contains("ConnectionArn"),
        "{malformed}"
    );

    // Before the handshake no build could fetch with it: refused, saying how to complete it.
    let source = api_source(&repo, "hi", &arn);
    let pending =
        aws.fails(&["create-service", "--service-name", "aws-code", "--source-configuration", &source]);
    assert!(
        pending.contains("InvalidRequestException")
            && pending.contains("PENDING_HANDSHAKE")
            && pending.contains("ferry connection credentials gh-main"),
        "{pending}"
    );
    let out = server.ferry_input(&["connection", "credentials", "gh-main", "--username", "octo"], b"token-1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = aws.ok(&["list-connections", "--connection-name", "gh-main"]);
    let summary = &listed["ConnectionSummaryList"][0];
    assert_eq!(
        (&summary["Status"], summary["ConnectionArn"].as_str()),
        (&json!("AVAILABLE"), Some(arn.as_str()))
    );

    let created =
        aws.ok(&["create-service", "--service-name", "aws-code", "--source-configuration", &source]);
    let service_arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    let described = running(&aws, &service_arn);
    let r = server.get("aws-code", "/");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, "hello from code greeting=hi built=by-api port=8000\n", "the API values were used");

    let source = &described["Service"]["SourceConfiguration"];
    let code = &source["CodeRepository"];
    assert_eq!(code["RepositoryUrl"], repo.path(), "{described}");
    assert_eq!(code["SourceCodeVersion"], json!({ "Type": "BRANCH", "Value": "main" }));
    assert_eq!(code["CodeConfiguration"]["ConfigurationSource"], "API");
    let values = &code["CodeConfiguration"]["CodeConfigurationValues"];
    assert_eq!(values["Runtime"], "PYTHON_311");
    assert_eq!(values["StartCommand"], "python3 app.py");
    assert_eq!(values["Port"], "8000");
    assert_eq!(values["RuntimeEnvironmentVariables"], json!({ "GREETING": "hi" }));
    assert!(values["BuildCommand"].as_str().unwrap().contains("by-api"));
    assert_eq!(source["AuthenticationConfiguration"]["ConnectionArn"], arn.as_str());
    assert_eq!(source["AutoDeploymentsEnabled"], true);

    let used = aws.fails(&["delete-connection", "--connection-arn", &arn]);
    assert!(used.contains("InvalidRequestException") && used.contains("aws-code"), "{used}");
    // App Runner cannot switch a service between code and an image either.
    let image = crate::aws::image_source("x", 0);
    let switch =
        aws.fails(&["update-service", "--service-arn", &service_arn, "--source-configuration", &image]);
    assert!(switch.contains("InvalidRequestException") && switch.contains("cannot switch"), "{switch}");

    // An update's CodeRepository replaces the values; the connection it leaves out stays.
    let mut update: Value = serde_json::from_str(&api_source(&repo, "again", &arn)).unwrap();
    update.as_object_mut().unwrap().remove("AuthenticationConfiguration");
    aws.ok(&["update-service", "--service-arn", &service_arn, "--source-configuration", &update.to_string()]);
    poll("the updated build served", BUILT, || {
        server.get("aws-code", "/").body.contains("greeting=again").then_some(())
    });
    let described = running(&aws, &service_arn);
    let source = &described["Service"]["SourceConfiguration"];
    assert_eq!(source["AuthenticationConfiguration"]["ConnectionArn"], arn.as_str());

    aws.ok(&["delete-service", "--service-arn", &service_arn]);
    poll("the service gone", BUILT, || {
        let listed = aws.ok(&["list-services"]);
        listed["ServiceSummaryList"].as_array().unwrap().is_empty().then_some(())
    });
    let deleted = aws.ok(&["delete-connection", "--connection-arn", &arn]);
    assert_eq!(deleted["Connection"]["Status"], "DELETED", "{deleted}");
    assert_eq!(deleted["Connection"]["ConnectionName"], "gh-main");
    let listed = aws.ok(&["list-connections"]);
    assert_eq!(listed["ConnectionSummaryList"], json!([]), "{listed}");
    let gone = aws.fails(&["delete-connection", "--connection-arn", &arn]);
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
}

#[test]
fn a_service_built_from_its_apprunner_yaml_through_the_aws_cli() {
    let server = server();
    let aws = aws_for(&server);
    let repo = Repo::new(&[("apprunner.yaml", YAML), ("app.py", &app())]);
    let source = json!({
        "CodeRepository": {
            "RepositoryUrl": repo.path(),
            "SourceCodeVersion": { "Type": "BRANCH", "Value": "main" },
            "CodeConfiguration": { "ConfigurationSource": "REPOSITORY" },
        },
        "AutoDeploymentsEnabled": false,
    })
    .to_string();
    let created =
        aws.ok(&["create-service", "--service-name", "aws-yaml", "--source-configuration", &source]);
    let service_arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    let described = running(&aws, &service_arn);
    let r = server.get("aws-yaml", "/");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body, "hello from code greeting=from-yaml built=by-yaml port=8000\n",
        "apprunner.yaml was read"
    );
    let source = &described["Service"]["SourceConfiguration"];
    assert_eq!(source["CodeRepository"]["CodeConfiguration"], json!({ "ConfigurationSource": "REPOSITORY" }));
    assert_eq!(source["AutoDeploymentsEnabled"], false);
    assert!(source.get("AuthenticationConfiguration").is_none(), "{described}");
}
