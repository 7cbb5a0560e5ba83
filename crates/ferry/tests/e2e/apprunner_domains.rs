//! The App Runner API's custom domains (one model with `ferry domain`; certified by a real ACME CA,
//! Debian's `pebble`), the states in which it refuses a change as App Runner does, its refusal of VPC
//! operations, and ListServicesForAutoScalingConfiguration, all driven by the real aws CLI.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws::{Aws, REGION, RUNNING, aws_for, image_source};
use crate::support::{Server, http, poll, testapp_image};

/// The service's ARN, as the App Runner API lists it.
fn arn_of(aws: &Aws<'_>, name: &str) -> String {
    let listed = aws.ok(&["list-services"]);
    let found = listed["ServiceSummaryList"].as_array().unwrap().iter().find(|s| s["ServiceName"] == name);
    found.unwrap_or_else(|| panic!("{name} is not listed: {listed}"))["ServiceArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ferry_domains(server: &Server, service: &str) -> Vec<Value> {
    let out = server.ferry_ok(&["domain", "list", service, "-o", "json"]);
    serde_json::from_str::<Value>(&out).unwrap()["domains"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_aws_cli_associates_custom_domains_that_ferry_domain_shows() {
    let server = Server::start_with(&["--region", REGION, "--https-listen", "127.0.0.1:0"]);
    let aws = aws_for(&server);
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image(), "--wait"]);
    server.ferry_ok(&["service", "create", "other", "--image", &testapp_image()]);
    let (web, other) = (arn_of(&aws, "web"), arn_of(&aws, "other"));

    let made =
        aws.ok(&["associate-custom-domain", "--service-arn", &web, "--domain-name", "app.example.com"]);
    assert_eq!(made["DNSTarget"], "web.localhost", "{made}");
    assert_eq!(made["ServiceArn"], web.as_str(), "{made}");
    assert_eq!(made["VpcDNSTargets"], json!([]), "{made}");
    let domain = &made["CustomDomain"];
    assert_eq!(domain["DomainName"], "app.example.com", "{made}");
    assert_eq!(domain["EnableWWWSubdomain"], true, "App Runner's default: {made}");
    assert_eq!(domain["CertificateValidationRecords"], json!([]), "{made}");
    assert_eq!(domain["Status"], "PENDING_CERTIFICATE_DNS_VALIDATION", "{made}");

    let described = aws.ok(&["describe-custom-domains", "--service-arn", &web]);
    assert_eq!(described["DNSTarget"], "web.localhost", "{described}");
    let listed = described["CustomDomains"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{described}");
    assert_eq!(listed[0]["DomainName"], "app.example.com");
    // One model: ferry's own view shows what the App Runner API added.
    let native = ferry_domains(&server, "web");
    assert_eq!(native.len(), 1, "{native:?}");
    assert_eq!(
        (native[0]["domain"].as_str(), native[0]["www"].as_bool()),
        (Some("app.example.com"), Some(true))
    );

    // Routed at once over plain HTTP, the name and its www. subdomain, while the certificate is pending.
    for host in ["app.example.com", "www.app.example.com"] {
        poll(&format!("{host} to route to the service"), Duration::from_secs(30), || {
            (http(server.http, "GET", host, "/", &[], b"").status == 200).then_some(())
        });
    }

    // No name routes to two places: not the www. that came along, not through the other API either.
    let taken = aws.fails(&[
        "associate-custom-domain",
        "--service-arn",
        &other,
        "--domain-name",
        "www.app.example.com",
    ]);
    assert!(taken.contains("InvalidRequestException") && taken.contains("www.app.example.com"), "{taken}");
    let own =
        aws.fails(&["associate-custom-domain", "--service-arn", &other, "--domain-name", "x.web.localhost"]);
    assert!(own.contains("InvalidRequestException") && own.contains("ferry's own domain"), "{own}");
    server.ferry_ok(&["domain", "add", "other", "second.example.com"]);
    let both = aws.ok(&["describe-custom-domains", "--service-arn", &other, "--max-results", "1"]);
    assert_eq!(both["CustomDomains"][0]["DomainName"], "second.example.com", "{both}");
    assert_eq!(both["CustomDomains"][0]["EnableWWWSubdomain"], false, "{both}");

    let gone =
        aws.ok(&["disassociate-custom-domain", "--service-arn", &web, "--domain-name", "app.example.com"]);
    assert_eq!(gone["CustomDomain"]["Status"], "DELETING", "{gone}");
    assert_eq!(gone["CustomDomain"]["DomainName"], "app.example.com", "{gone}");
    let after = aws.ok(&["describe-custom-domains", "--service-arn", &web]);
    assert_eq!(after["CustomDomains"], json!([]), "{after}");
    assert!(ferry_domains(&server, "web").is_empty());
    let again =
        aws.fails(&["disassociate-custom-domain", "--service-arn", &web, "--domain-name", "app.example.com"]);
    assert!(again.contains("ResourceNotFoundException"), "{again}");
    poll("the disassociated domain to stop routing", Duration::from_secs(30), || {
        (http(server.http, "GET", "app.example.com", "/", &[], b"").status == 404).then_some(())
    });
    // Free again for another service.
    aws.ok(&[
        "associate-custom-domain",
        "--service-arn",
        &other,
        "--domain-name",
        "app.example.com",
        "--no-enable-www-subdomain",
    ]);
}

#[test]
fn the_aws_cli_is_refused_where_app_runner_refuses() {
    let server = Server::start_with(&["--region", REGION]);
    let aws = aws_for(&server);
    // The app listens only 4 s after it starts: creating and resuming it are operations that last.
    let created = aws.ok(&[
        "create-service",
        "--service-name",
        "states",
        "--source-configuration",
        &image_source("s", 4000),
    ]);
    let arn = created["Service"]["ServiceArn"].as_str().unwrap().to_owned();
    let creating = aws.fails(&["pause-service", "--service-arn", &arn]);
    assert!(creating.contains("InvalidStateException") && creating.contains("in progress"), "{creating}");
    let running = || {
        poll("the service RUNNING", RUNNING, || {
            let d = aws.ok(&["describe-service", "--service-arn", &arn]);
            (d["Service"]["Status"] == "RUNNING").then_some(d)
        })
    };
    let described = running();

    // Custom domains need HTTPS.
    let no_https =
        aws.fails(&["associate-custom-domain", "--service-arn", &arn, "--domain-name", "app.example.com"]);
    assert!(
        no_https.contains("InvalidRequestException") && no_https.contains("--https-listen"),
        "{no_https}"
    );

    // Resuming a running service; pausing twice (while the first runs, then once paused); deploying a
    // paused service (StartDeployment's errors have no InvalidStateException).
    let resume = aws.fails(&["resume-service", "--service-arn", &arn]);
    assert!(resume.contains("InvalidStateException") && resume.contains("not paused"), "{resume}");
    aws.ok(&["pause-service", "--service-arn", &arn]);
    // Pausing is quick: the second finds it pausing or paused.
    let twice = aws.fails(&["pause-service", "--service-arn", &arn]);
    assert!(twice.contains("InvalidStateException"), "{twice}");
    poll("the service PAUSED", RUNNING, || {
        let d = aws.ok(&["describe-service", "--service-arn", &arn]);
        (d["Service"]["Status"] == "PAUSED").then_some(())
    });
    let paused = aws.fails(&["pause-service", "--service-arn", &arn]);
    assert!(paused.contains("InvalidStateException") && paused.contains("paused already"), "{paused}");
    let deploy = aws.fails(&["start-deployment", "--service-arn", &arn]);
    assert!(deploy.contains("InvalidRequestException") && deploy.contains("ResumeService"), "{deploy}");
    aws.ok(&["resume-service", "--service-arn", &arn]);
    let busy = aws.fails(&["start-deployment", "--service-arn", &arn]);
    assert!(busy.contains("InvalidRequestException") && busy.contains("in progress"), "{busy}");
    running();

    // VPC operations are answered, with what ferry does instead.
    let vpc = aws.fails(&["list-vpc-connectors"]);
    assert!(vpc.contains("InvalidRequestException") && vpc.contains("not supported"), "{vpc}");
    assert!(!vpc.contains("UnknownOperation"), "{vpc}");

    // The services that use an auto scaling configuration revision (an operation Debian's botocore
    // predates).
    let config_arn = described["Service"]["AutoScalingConfigurationSummary"]["AutoScalingConfigurationArn"]
        .as_str()
        .unwrap();
    let body = json!({ "AutoScalingConfigurationArn": config_arn }).to_string();
    let using = aws.raw("ListServicesForAutoScalingConfiguration", &body);
    assert_eq!(using["ServiceArnList"], json!([arn]), "{using}");
    let made = aws.ok(&["create-auto-scaling-configuration", "--auto-scaling-configuration-name", "unused"]);
    let unused = made["AutoScalingConfiguration"]["AutoScalingConfigurationArn"].as_str().unwrap();
    let body = json!({ "AutoScalingConfigurationArn": unused }).to_string();
    assert_eq!(aws.raw("ListServicesForAutoScalingConfiguration", &body)["ServiceArnList"], json!([]));
}

#[test]
fn a_custom_domain_associated_through_the_aws_cli_gets_its_certificate() {
    use ferry_acme::testing::{Pebble, PebbleOptions};

    let (http_port, https_port) = (crate::https::free_port(), crate::https::free_port());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pebble =
        rt.block_on(Pebble::start(PebbleOptions::new(http_port, https_port))).expect("pebble starts");
    let work = tempfile::tempdir().unwrap();
    let directory_ca = work.path().join("pebble-listener-ca.pem");
    std::fs::write(&directory_ca, pebble.ca_bundle_pem()).unwrap();
    let server = Server::start_on(
        format!("127.0.0.1:{http_port}").parse().unwrap(),
        &[
            "--region",
            REGION,
            "--https-listen",
            &format!("127.0.0.1:{https_port}"),
            "--acme-directory",
            pebble.directory_url(),
            "--acme-ca-file",
            directory_ca.to_str().unwrap(),
        ],
    );
    let aws = aws_for(&server);
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image(), "--wait"]);
    let web = arn_of(&aws, "web");
    aws.ok(&["associate-custom-domain", "--service-arn", &web, "--domain-name", "app.example.test"]);
    let active = poll("the domain ACTIVE", Duration::from_secs(120), || {
        let d = aws.ok(&["describe-custom-domains", "--service-arn", &web]);
        (d["CustomDomains"][0]["Status"] == "ACTIVE").then_some(d)
    });
    assert_eq!(active["CustomDomains"][0]["EnableWWWSubdomain"], true, "{active}\n{}", pebble.logs());
}
