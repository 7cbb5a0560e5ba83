//! Orders against a real ACME server: Debian's pebble, with pebble-challtestsrv as its DNS.

use std::sync::{Arc, Mutex};

use ferry_acme::testing::{ChallengeServers, Pebble, PebbleOptions};
use ferry_acme::{Acme, AcmeError, Issued, Method, Responder};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

async fn setup() -> (ChallengeServers, Pebble, tempfile::TempDir) {
    let servers = ChallengeServers::start().await.expect("challenge servers");
    let pebble =
        Pebble::start(PebbleOptions::new(servers.http_port(), servers.tls_port())).await.expect("pebble");
    (servers, pebble, tempfile::tempdir().expect("tempdir"))
}

/// Verifies `issued` for `host` against pebble's root the way a TLS client does.
async fn verify(pebble: &Pebble, issued: &Issued, host: &str) -> Result<(), rustls::Error> {
    let root = pebble.root_pem().await.expect("pebble's root");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(root.as_bytes()).expect("root PEM")).expect("root");
    #[allow(deprecated)] // ring, the project's provider
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().expect("verifier");
    let chain = issued.chain_der().expect("chain");
    let name = ServerName::try_from(host.to_owned()).expect("name");
    verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now()).map(|_| ())
}

/// Collects the progress messages.
fn recorder() -> (Arc<Mutex<Vec<String>>>, impl Fn(&str) + Send + Sync) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |message: &str| sink.lock().expect("progress log").push(message.to_owned()))
}

#[tokio::test]
async fn http01_issues_a_certificate_and_reuses_the_account() {
    let (servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let names = vec!["app.example.test".to_owned()];
    let (log, progress) = recorder();

    let issued = acme.issue(&names, Method::Http01, &servers, &progress).await.unwrap_or_else(|e| {
        panic!("issue: {e}\n{}", pebble.logs());
    });
    assert_eq!(issued.names, names);
    verify(&pebble, &issued, "app.example.test").await.expect("the chain verifies for the name");
    assert!(verify(&pebble, &issued, "other.example.test").await.is_err());
    assert_eq!(servers.answers_set(), 0, "the challenge answer was cleared");
    let log = log.lock().unwrap().clone();
    assert!(log.iter().any(|m| m.contains("app.example.test: http-01 challenge in place")), "{log:?}");

    // The account was saved, private, and a new client over the same directory reuses it.
    let first_account = acme.account_id().await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(acme.account_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    again.issue(&["two.example.test".to_owned()], Method::Http01, &servers, &|_| {}).await.unwrap();
    assert_eq!(again.account_id().await.unwrap(), first_account);
    // A different directory (here: another data directory) registers its own.
    let other = Acme::new(tempfile::tempdir().unwrap().path(), pebble.acme_config()).unwrap();
    assert_ne!(other.account_id().await.unwrap(), first_account);
}

#[tokio::test]
async fn tls_alpn01_issues_a_certificate() {
    let (servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let issued = acme
        .issue(&["app.example.test".to_owned()], Method::TlsAlpn01, &servers, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("issue: {e}\n{}", pebble.logs()));
    verify(&pebble, &issued, "app.example.test").await.expect("the chain verifies for the name");
    assert_eq!(servers.answers_set(), 0, "the challenge certificate was removed");
}

#[tokio::test]
async fn dns01_issues_a_wildcard_through_the_hook() {
    let (_servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let hook = pebble.dns_hook(dir.path()).unwrap();
    let names = vec!["*.wild.example.test".to_owned(), "wild.example.test".to_owned()];
    let issued = acme
        .issue(&names, Method::Dns01, &hook, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("issue: {e}\n{}", pebble.logs()));
    assert_eq!(issued.names.len(), 2);
    verify(&pebble, &issued, "x.wild.example.test").await.expect("the wildcard verifies");
    verify(&pebble, &issued, "wild.example.test").await.expect("the base name verifies");
}

#[tokio::test]
async fn a_wildcard_needs_dns01() {
    let (servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let err =
        acme.issue(&["*.example.test".to_owned()], Method::Http01, &servers, &|_| {}).await.unwrap_err();
    assert!(matches!(err, AcmeError::WildcardNeedsDns01 { .. }), "{err}");
    assert!(err.to_string().contains("dns-01"), "{err}");
}

/// Answers nothing, but claims it did: the CA's validation fails.
struct Silent;

#[async_trait::async_trait]
impl Responder for Silent {
    async fn set_http01(&self, _: &str, _: &str) -> Result<(), ferry_acme::BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_validation_carries_the_cas_reason() {
    let (_servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let err =
        acme.issue(&["app.example.test".to_owned()], Method::Http01, &Silent, &|_| {}).await.unwrap_err();
    let AcmeError::Validation { domain, problem } = &err else { panic!("not a validation error: {err:?}") };
    assert_eq!(domain, "app.example.test");
    // pebble's words: the challenge server answered 404 for the token.
    let detail = problem.detail.clone().unwrap_or_default();
    assert!(detail.contains("404") || detail.contains("not found"), "{err}");
    assert_eq!(problem.short_kind(), Some("unauthorized"), "{err}");
    println!("failed as expected: {err}");
}

#[tokio::test]
async fn a_responder_failure_stops_the_order_and_names_the_domain() {
    let (_servers, pebble, dir) = setup().await;
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    // A DNS hook cannot answer HTTP-01.
    let hook = pebble.dns_hook(dir.path()).unwrap();
    let err = acme.issue(&["app.example.test".to_owned()], Method::Http01, &hook, &|_| {}).await.unwrap_err();
    assert!(matches!(&err, AcmeError::Responder { domain, .. } if domain == "app.example.test"), "{err}");
}

#[tokio::test]
async fn an_account_the_ca_forgot_is_registered_again() {
    // Credentials from one pebble are unknown to another, as after a test CA's restart.
    let (servers, first, dir) = setup().await;
    let old = Acme::new(dir.path(), first.acme_config()).unwrap();
    old.account_id().await.unwrap();
    let credentials = std::fs::read_to_string(old.account_path()).unwrap();

    let second =
        Pebble::start(PebbleOptions::new(servers.http_port(), servers.tls_port())).await.expect("pebble");
    let acme = Acme::new(dir.path(), second.acme_config()).unwrap();
    let mut moved: serde_json::Value = serde_json::from_str(&credentials).unwrap();
    moved["directory"] = second.directory_url().into();
    let base = |pebble: &Pebble| pebble.directory_url().trim_end_matches("/dir").to_owned();
    let id = moved["id"].as_str().unwrap().replace(&base(&first), &base(&second));
    moved["id"] = id.into();
    std::fs::write(acme.account_path(), moved.to_string()).unwrap();

    acme.issue(&["app.example.test".to_owned()], Method::Http01, &servers, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("issue: {e}\n{}", second.logs()));
    let saved = std::fs::read_to_string(acme.account_path()).unwrap();
    assert_ne!(saved, moved.to_string(), "the new account replaced the forgotten one");
}

#[tokio::test]
async fn a_short_lived_certificate_is_due_early() {
    let servers = ChallengeServers::start().await.expect("challenge servers");
    let mut options = PebbleOptions::new(servers.http_port(), servers.tls_port());
    options.cert_validity = Some(std::time::Duration::from_secs(300));
    let pebble = Pebble::start(options).await.expect("pebble");
    let dir = tempfile::tempdir().unwrap();
    let acme = Acme::new(dir.path(), pebble.acme_config()).unwrap();
    let issued =
        acme.issue(&["app.example.test".to_owned()], Method::Http01, &servers, &|_| {}).await.unwrap();

    let lifetime = issued.not_after.duration_since(issued.not_before).unwrap();
    assert!(
        lifetime <= std::time::Duration::from_secs(301),
        "pebble honours the validity period: {lifetime:?}"
    );
    let renew = ferry_acme::renew_at(issued.not_before, issued.not_after);
    assert_eq!(renew.duration_since(issued.not_before).unwrap(), lifetime * 2 / 3);
    assert!(!ferry_acme::renewal_due(issued.not_before, issued.not_before, issued.not_after));
    assert!(ferry_acme::renewal_due(issued.not_after, issued.not_before, issued.not_after));
}
