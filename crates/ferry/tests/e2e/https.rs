//! HTTPS end to end: the router's TLS listener with certificates from ferry's local CA (the services' own
//! hosts) and from a real ACME CA (Debian's `pebble`) for custom domains, redirects and HSTS, checked with
//! curl as a client.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{Server, poll, testapp_image};

/// One request with curl, trusting `ca` and resolving `host` to the listener: (status, HTTP version, headers,
/// body), or curl's error.
fn curl(
    ca: &Path,
    host: &str,
    port: u16,
    path: &str,
    extra: &[&str],
) -> Result<(u16, String, String, String), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = dir.path().join("headers");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1"), "-D"])
        .arg(&headers)
        .args(["-w", "\n%{http_code} %{http_version}"])
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .expect("run curl");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').expect("curl's -w line");
    let (code, version) = tail.split_once(' ').expect("code and version");
    let headers = std::fs::read_to_string(headers).unwrap_or_default();
    Ok((code.parse().expect("status"), version.to_owned(), headers, body.to_owned()))
}

/// A plain-HTTP request to the router for `host` (no redirect followed): status and headers.
fn plain(port: u16, host: &str, path: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-D", "-", "--resolve"])
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("http://{host}:{port}{path}"))
        .output()
        .expect("run curl");
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn service_hosts_are_served_over_https_with_the_local_ca() {
    let server = Server::start_with(&["--https-listen", "127.0.0.1:0", "--hsts-max-age", "600"]);
    let https = server.https.expect("the server says where it serves HTTPS").port();
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image(), "--wait"]);

    // The service's URL says https, on the HTTPS listener's port.
    let url = server.describe("web")["url"].as_str().expect("url").to_owned();
    assert_eq!(url, format!("https://web.localhost:{https}"));

    let ca_pem = server.ferry_ok(&["ca"]);
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"), "{ca_pem}");
    let ca = server.data_dir.path().join("client-ca.pem");
    std::fs::write(&ca, &ca_pem).expect("write the CA");

    // HTTP/2 and HTTP/1.1 over TLS, chosen by ALPN; the app is told the request came over https; HSTS.
    let (status, version, head, _) = curl(&ca, "web.localhost", https, "/", &["--http2"])
        .expect("an https request verifies with the local CA");
    assert_eq!((status, version.as_str()), (200, "2"), "{head}");
    assert_eq!(header(&head, "strict-transport-security"), Some("max-age=600"), "{head}");
    let (status, version, _, body) =
        curl(&ca, "web.localhost", https, "/headers", &["--http1.1"]).expect("https over HTTP/1.1");
    assert_eq!((status, version.as_str()), (200, "1.1"));
    assert!(body.to_ascii_lowercase().contains("x-forwarded-proto: https"), "{body}");

    // Plain HTTP for a host with a certificate is redirected, path and query kept, and gets no HSTS.
    let (status, head) = plain(server.http.port(), "web.localhost", "/a/b?c=1");
    assert_eq!(status, 308, "{head}");
    assert_eq!(header(&head, "location"), Some(format!("https://web.localhost:{https}/a/b?c=1").as_str()));
    assert_eq!(header(&head, "strict-transport-security"), None);

    // A service can say otherwise: no redirect, no HSTS.
    server.ferry_ok(&[
        "service",
        "create",
        "plain",
        "--image",
        &testapp_image(),
        "--https-redirect",
        "false",
        "--hsts-max-age",
        "0",
        "--wait",
    ]);
    assert_eq!(plain(server.http.port(), "plain.localhost", "/").0, 200);
    let (_, _, head, _) = curl(&ca, "plain.localhost", https, "/", &[]).expect("https still served");
    assert_eq!(header(&head, "strict-transport-security"), None, "{head}");

    // A name the server has no certificate for is refused in the handshake.
    let refused = curl(&ca, "nothing.example.com", https, "/", &[]);
    assert!(refused.is_err(), "{refused:?}");

    // Without the CA, curl refuses the certificate: it really comes from ferry's own CA.
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if system.exists() {
        let untrusted = curl(system, "web.localhost", https, "/", &[]);
        assert!(untrusted.is_err(), "{untrusted:?}");
    }
}

#[test]
fn custom_domains_need_an_https_listener_and_are_validated() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image()]);
    let out = server.ferry(&["domain", "add", "web", "app.example.com"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--https-listen"), "{out:?}");

    let server = Server::start_with(&["--https-listen", "127.0.0.1:0"]);
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image()]);
    for (args, says) in [
        (vec!["bad..name"], "not a valid domain name"),
        (vec!["*.example.com"], "--acme-dns-hook"),
        (vec!["*.example.com", "--method", "http-01"], "only over dns-01"),
        (vec!["web.localhost"], "ferry's own domain"),
    ] {
        let mut cmd = vec!["domain", "add", "web"];
        cmd.extend(args.iter().copied());
        let out = server.ferry(&cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {stderr}");
        assert!(stderr.contains(says), "{cmd:?}: {stderr}");
    }
    server.ferry_ok(&["domain", "add", "web", "app.example.com", "--www"]);
    let out = server.ferry(&["domain", "add", "web", "www.app.example.com"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already"), "{out:?}");
    // The domain routes at once over plain HTTP, while its certificate is pending.
    let (status, _) = poll("the custom domain to route", Duration::from_secs(30), || {
        let (status, head) = plain(server.http.port(), "www.app.example.com", "/");
        (status == 200).then_some((status, head))
    });
    assert_eq!(status, 200);
    server.ferry_ok(&["domain", "remove", "web", "app.example.com"]);
    poll("the removed domain to stop routing", Duration::from_secs(30), || {
        (plain(server.http.port(), "app.example.com", "/").0 == 404).then_some(())
    });
}

/// The served certificate's start date as curl shows it (it changes when ferry renews).
fn served_since(ca: &Path, host: &str, port: u16) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sS", "-v", "-o", "/dev/null", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("run curl");
    let err = String::from_utf8_lossy(&out.stderr);
    out.status.success().then(|| err.lines().find(|l| l.contains("start date:")).map(str::to_owned)).flatten()
}

/// A port free now on 127.0.0.1, for a listener that an ACME CA must know before ferry starts.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn custom_domains_get_certificates_from_a_real_acme_ca_and_renew_them() {
    use ferry_acme::testing::{Pebble, PebbleOptions};

    let (http, https) = (free_port(), free_port());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // Certificates of 45 s: ferry renews after two thirds of that, while the test watches.
    let options =
        PebbleOptions { cert_validity: Some(Duration::from_secs(45)), ..PebbleOptions::new(http, https) };
    let pebble = rt.block_on(Pebble::start(options)).expect("pebble starts");
    let work = tempfile::tempdir().expect("tempdir");
    let directory_ca = work.path().join("pebble-listener-ca.pem");
    std::fs::write(&directory_ca, pebble.ca_bundle_pem()).expect("write");
    let hook = pebble.dns_hook(work.path()).expect("dns hook");
    let root = work.path().join("pebble-root.pem");
    std::fs::write(&root, rt.block_on(pebble.root_pem()).expect("pebble's root")).expect("write");

    let server = Server::start_on(
        format!("127.0.0.1:{http}").parse().expect("addr"),
        &[
            "--https-listen",
            &format!("127.0.0.1:{https}"),
            "--acme-directory",
            pebble.directory_url(),
            "--acme-ca-file",
            directory_ca.to_str().expect("utf-8"),
            "--acme-dns-hook",
            hook.command.to_str().expect("utf-8"),
            "--default-certificates",
            "local",
        ],
    );
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image(), "--wait"]);
    server.ferry_ok(&["domain", "add", "web", "app.example.test"]);
    server.ferry_ok(&["domain", "add", "web", "alpn.example.test", "--method", "tls-alpn-01"]);
    server.ferry_ok(&["domain", "add", "web", "*.wild.example.test"]);

    let list = || -> serde_json::Value {
        serde_json::from_str(&server.ferry_ok(&["domain", "list", "web", "-o", "json"])).expect("json")
    };
    let all_active = poll("every domain to get its certificate", Duration::from_secs(120), || {
        let domains = list()["domains"].as_array().cloned().unwrap_or_default();
        let active = domains.iter().all(|d| d["status"] == "ACTIVE");
        (domains.len() == 3 && active).then_some(domains)
    });
    for d in &all_active {
        assert!(d["certificate_expires_at"].is_string(), "{d}");
        assert!(d["renews_at"].is_string(), "{d}");
    }

    // Each is served over HTTPS with the CA's certificate, verified against the CA's root; the wildcard
    // covers any one name under it, routed to the service.
    for host in ["app.example.test", "alpn.example.test", "anything.wild.example.test"] {
        let (status, _, _, body) = curl(&root, host, https, "/", &[])
            .unwrap_or_else(|e| panic!("{host} over https: {e}\n{}", pebble.logs()));
        assert_eq!(status, 200, "{host}: {body}");
    }
    // Plain HTTP is redirected now that a certificate exists.
    let (status, head) = plain(http, "app.example.test", "/x");
    assert_eq!(status, 308, "{head}");

    // Renewed before it expires, without a restart: the next handshake gets a newer certificate.
    let first = served_since(&root, "app.example.test", https).expect("a served certificate");
    poll("the certificate to be renewed", Duration::from_secs(90), || {
        served_since(&root, "app.example.test", https).filter(|now| *now != first)
    });

    // A domain whose validation cannot succeed (its DNS points where nothing listens) fails with the CA's
    // reason and is retried later.
    let pointed = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "-X",
            "POST",
            "-d",
            r#"{"host":"nowhere.example.test.","addresses":["127.0.0.2"]}"#,
        ])
        .arg(format!("{}/add-a", pebble.challtestsrv_url()))
        .status()
        .expect("run curl");
    assert!(pointed.success());
    server.ferry_ok(&["domain", "add", "web", "nowhere.example.test", "--method", "tls-alpn-01"]);
    let failed = poll("the unreachable domain to fail", Duration::from_secs(120), || {
        let domains = list()["domains"].as_array().cloned().unwrap_or_default();
        domains.into_iter().find(|d| d["domain"] == "nowhere.example.test" && d["status"] == "CREATE_FAILED")
    });
    assert!(failed["reason"].as_str().is_some_and(|r| !r.is_empty()), "{failed}");
    assert!(failed["next_attempt_at"].is_string(), "{failed}");
    drop(pebble);
}
