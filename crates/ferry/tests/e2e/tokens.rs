//! API tokens and the API's TLS, as a user meets them: `ferry token create`, `ferry login` with the token
//! on a fresh machine (no `FERRY_*` variables), a refused change, a revoked token, the failed-login limit,
//! and a server whose API speaks HTTPS with a certificate from a private CA.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{FERRY, Server};

/// The CLI as a user on another machine runs it: its own HOME (where `ferry login` saves), nothing from
/// the environment.
fn cli(home: &Path, args: &[&str]) -> Output {
    Command::new(FERRY)
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("FERRY_API_URL")
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_CA_FILE")
        .output()
        .expect("run ferry")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    )
}

/// `text` without its terminal colours (the server's log has them).
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_read_only_token_reads_cannot_change_and_stops_working_when_revoked() {
    let server = Server::start();
    let made: Value = serde_json::from_str(&server.ferry_ok(&[
        "token",
        "create",
        "viewer",
        "--scope",
        "read-only",
        "--expires",
        "1d",
        "-o",
        "json",
    ]))
    .unwrap();
    let token = made["token"].as_str().expect("the token, once").to_owned();
    assert_eq!(made["scope"], "read-only");
    assert!(made["expires_at"].is_string(), "{made}");

    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("viewer-token");
    std::fs::write(&token_file, &token).unwrap();
    let url = format!("http://{}", server.api);
    let out = cli(home.path(), &["login", "--url", &url, "--token-file", token_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let out = cli(home.path(), &["service", "list"]);
    assert!(out.status.success(), "a read-only token lists services: {}", text(&out));
    let out = cli(home.path(), &["service", "create", "web", "--image", "127.0.0.1:5000/web:v1"]);
    assert_eq!(out.status.code(), Some(2), "a refused request: {}", text(&out));
    assert!(
        stderr(&out).contains("has scope read-only; POST /v1/services needs scope deploy or admin"),
        "{}",
        text(&out)
    );
    let out = cli(home.path(), &["token", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("needs scope admin"), "{}", text(&out));

    let list: Value = serde_json::from_str(&server.ferry_ok(&["token", "list", "-o", "json"])).unwrap();
    let viewer =
        list["tokens"].as_array().unwrap().iter().find(|t| t["name"] == "viewer").expect("listed").clone();
    assert_eq!(viewer["scope"], "read-only");
    assert!(viewer.get("token").is_none(), "the list never shows a token: {viewer}");
    assert!(viewer["last_used_at"].is_string(), "its use is noted: {viewer}");
    let human = server.ferry_ok(&["token", "list"]);
    assert!(human.contains("viewer") && human.contains("read-only") && !human.contains(&token), "{human}");

    server.ferry_ok(&["token", "revoke", "viewer"]);
    let out = cli(home.path(), &["service", "list"]);
    assert_eq!(out.status.code(), Some(3), "a revoked token is refused: {}", text(&out));
    assert!(stderr(&out).contains("the token is not valid for this server"), "{}", text(&out));

    // Failed authentications from this address are limited: after ten, even the admin token is not
    // looked at until the window ends (which shows the server hands the peer's address to the limit).
    for _ in 1..MAX_FAILURES {
        assert_eq!(cli(home.path(), &["service", "list"]).status.code(), Some(3));
    }
    let out = server.ferry(&["service", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("too many failed authentications"), "{}", text(&out));

    let log = plain(&server.log_text());
    assert!(log.contains("API authentication failed") && log.contains("unknown token"), "{log}");
    assert!(log.contains("peer=127.0.0.1:"), "the failure names the peer:\n{log}");
    assert!(!log.contains(&token), "the token is never logged");
}

/// The API's limit of failed authentications per address and minute (`ferry_api::MAX_FAILURES`); the
/// revoked token's call counted as the first.
const MAX_FAILURES: usize = 10;

/// A CA and a certificate it signed for 127.0.0.1 and localhost, as PEM files in `dir`: `ca.pem`,
/// `cert.pem`, `key.pem`.
fn private_ca(dir: &Path, name: &str) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let cert = leaf.signed_by(&key, &Issuer::new(ca, ca_key)).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

#[test]
fn the_api_over_https_is_trusted_with_a_pinned_ca_and_refused_without() {
    let pki = tempfile::tempdir().unwrap();
    private_ca(pki.path(), "ferry test CA");
    let other = tempfile::tempdir().unwrap();
    private_ca(other.path(), "some other CA");
    let (cert, key) = (pki.path().join("cert.pem"), pki.path().join("key.pem"));
    let mut server = Server::start_with(&[
        "--api-tls-cert",
        cert.to_str().unwrap(),
        "--api-tls-key",
        key.to_str().unwrap(),
    ]);
    let home = tempfile::tempdir().unwrap();
    let token_file = server.data_dir.path().join("admin-token");
    let url = format!("https://{}", server.api);
    let login = |extra: &[&str]| {
        let mut args = vec!["login", "--url", &url, "--token-file", token_file.to_str().unwrap()];
        args.extend_from_slice(extra);
        cli(home.path(), &args)
    };

    let out = login(&[]);
    assert_eq!(out.status.code(), Some(3), "the system's store does not know the test CA: {}", text(&out));
    let said = stderr(&out);
    assert!(
        said.contains(&format!("the certificate of {url} does not verify")) && said.contains("--ca-file"),
        "{said}"
    );
    let out = login(&["--ca-file", other.path().join("ca.pem").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "a CA that did not sign it: {}", text(&out));

    let out = login(&["--ca-file", pki.path().join("ca.pem").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // Later commands use the saved CA, without the file.
    std::fs::remove_file(pki.path().join("ca.pem")).unwrap();
    let out = cli(home.path(), &["service", "list", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(home.path(), &["token", "create", "ci", "--scope", "deploy"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).trim().starts_with("ferry_"), "{}", text(&out));

    // Plain HTTP to the HTTPS listener gets nowhere.
    let out = cli(
        home.path(),
        &["service", "list", "--api-url", &format!("http://{}", server.api), "--token", &server.token],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // The HTTPS listener drains and stops on SIGTERM as the plain one does.
    server.terminate_within(std::time::Duration::from_secs(15));
}

#[test]
fn the_api_refuses_to_listen_off_loopback_without_tls() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(FERRY)
        .args(["server", "--data-dir"])
        .arg(data.path())
        .args(["--api-listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0"])
        .output()
        .expect("run ferry server");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let said = stderr(&out);
    assert!(said.contains("api-listen: 0.0.0.0:0 is not a loopback address"), "{said}");
    assert!(said.contains("--api-tls-cert") && said.contains("--api-insecure"), "{said}");
    assert!(std::fs::read_dir(data.path()).unwrap().next().is_none(), "nothing was written before the check");
}
