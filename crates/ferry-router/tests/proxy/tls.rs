//! Behaviour 16: HTTPS. TLS terminated by the router (certificates by SNI, HTTP/1.1 or HTTP/2 by ALPN),
//! TLS-ALPN-01 and HTTP-01 challenges answered by the router itself, redirects to HTTPS and HSTS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_router::{Certificates, Router, RouterConfig, ServiceRoute, TlsListener, certified_key_from_pem};
use http::header::{HOST, LOCATION, STRICT_TRANSPORT_SECURITY};
use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, IsCa, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::*;

/// A test CA, trusted by the clients below, and certificates it signs.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Pki { ca: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }

    /// A certificate for `names` (leaf, then the CA), read as the router reads PEM files.
    fn leaf(&self, names: &[&str]) -> Arc<CertifiedKey> {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &self.ca).unwrap();
        let chain = format!("{}{}", cert.pem(), self.ca.pem());
        Arc::new(certified_key_from_pem(chain.as_bytes(), key.serialize_pem().as_bytes()).unwrap())
    }

    fn client(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

#[allow(deprecated)] // ring, as in the router.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A router with a TLS listener over its own [`Router::certificates`].
async fn https_proxy(config: RouterConfig) -> Proxy {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let router = Router::new(config);
    let listener = TlsListener::new(tcp, router.certificates().clone()).unwrap();
    Proxy::with_router(router, listener, addr)
}

fn certificates(proxy: &Proxy) -> &Certificates {
    proxy.router.certificates()
}

async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    within("a TLS handshake", TlsConnector::from(config).connect(name, tcp)).await
}

/// The certificate the server presented.
fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream.get_ref().1.peer_certificates().expect("a certificate")[0].clone().into_owned()
}

fn leaf_of(key: &CertifiedKey) -> &CertificateDer<'static> {
    &key.cert[0]
}

async fn http1(stream: TlsStream<TcpStream>) -> hyper::client::conn::http1::SendRequest<TestBody> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

fn route_with_https(
    service: &str,
    backend: &Backend,
    https_redirect: bool,
    hsts: Option<u32>,
) -> Arc<ServiceRoute> {
    let plain = serving(service, &[&backend.endpoint]);
    Arc::new(ServiceRoute {
        service: plain.service.clone(),
        target: ferry_router::RouteTarget::Instances(plain.endpoints().to_vec()),
        protocol: plain.protocol,
        request_timeout: plain.request_timeout,
        capacity: None,
        https_redirect,
        hsts,
        metrics: None,
        request_log: None,
    })
}

#[tokio::test]
async fn https_serves_http1_and_http2_as_alpn_chooses() {
    let pki = Pki::new();
    let proxy = https_proxy(RouterConfig::default()).await;
    certificates(&proxy).set("web.localhost", pki.leaf(&["web.localhost"]));
    let mut backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let stream = tls_connect(proxy.addr, "web.localhost", pki.client(&[b"http/1.1"])).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut sender = http1(stream).await;
    let reply =
        Reply::read(within("a response", sender.send_request(get("web.localhost", "/"))).await.unwrap())
            .await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    let seen = backend.next_seen().await;
    assert_eq!(seen.headers["x-forwarded-proto"], "https");
    assert_eq!(seen.headers["forwarded"], "for=127.0.0.1;proto=https;host=web.localhost");

    let stream = tls_connect(proxy.addr, "web.localhost", pki.client(&[b"h2", b"http/1.1"])).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let request = Request::get("https://web.localhost/").body(empty()).unwrap();
    let response = within("a response", h2.send_request(request)).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let reply = Reply::read(response).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
    assert_eq!(backend.next_seen().await.headers["x-forwarded-proto"], "https");

    // No ALPN at all: HTTP/1.1, told apart by its first bytes as on plain TCP.
    let stream = tls_connect(proxy.addr, "web.localhost", pki.client(&[])).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), None);
    let mut sender = http1(stream).await;
    let reply =
        Reply::read(within("a response", sender.send_request(get("web.localhost", "/"))).await.unwrap())
            .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn sni_picks_the_certificate_an_exact_name_before_a_one_label_wildcard() {
    let pki = Pki::new();
    let proxy = https_proxy(RouterConfig::default()).await;
    let exact = pki.leaf(&["a.example.test"]);
    let wildcard = pki.leaf(&["*.example.test"]);
    certificates(&proxy).set("A.Example.Test.", Arc::clone(&exact));
    certificates(&proxy).set("*.example.test", Arc::clone(&wildcard));
    assert_eq!(certificates(&proxy).hosts(), ["*.example.test", "a.example.test"]);
    let client = pki.client(&[b"http/1.1"]);

    let stream = tls_connect(proxy.addr, "a.example.test", Arc::clone(&client)).await.unwrap();
    assert_eq!(&served(&stream), leaf_of(&exact));
    let stream = tls_connect(proxy.addr, "b.example.test", Arc::clone(&client)).await.unwrap();
    assert_eq!(&served(&stream), leaf_of(&wildcard));

    // One label only, and not the parent itself; unknown names and no SNI at all are refused.
    for refused in ["x.b.example.test", "example.test", "other.test", "127.0.0.1"] {
        let result = tls_connect(proxy.addr, refused, Arc::clone(&client)).await;
        assert!(result.is_err(), "{refused} was served");
    }

    certificates(&proxy).remove("a.example.test");
    let stream = tls_connect(proxy.addr, "a.example.test", Arc::clone(&client)).await.unwrap();
    assert_eq!(&served(&stream), leaf_of(&wildcard), "the wildcard covers it once its own is gone");
}

#[tokio::test]
async fn a_certificate_replaced_at_runtime_is_served_to_the_next_connection() {
    let pki = Pki::new();
    let proxy = https_proxy(RouterConfig::default()).await;
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    let first = pki.leaf(&["web.localhost"]);
    certificates(&proxy).set("web.localhost", Arc::clone(&first));
    let client = pki.client(&[b"http/1.1"]);
    let stream = tls_connect(proxy.addr, "web.localhost", Arc::clone(&client)).await.unwrap();
    assert_eq!(&served(&stream), leaf_of(&first));
    let mut open = http1(stream).await;

    let second = pki.leaf(&["web.localhost"]);
    certificates(&proxy).set("web.localhost", Arc::clone(&second));
    let stream = tls_connect(proxy.addr, "web.localhost", Arc::clone(&client)).await.unwrap();
    assert_eq!(&served(&stream), leaf_of(&second));
    // The connection made before goes on.
    let reply =
        Reply::read(within("a response", open.send_request(get("web.localhost", "/"))).await.unwrap()).await;
    assert_eq!(reply.status, 200);
}

/// Accepts any certificate: what a TLS-ALPN-01 validator does before it checks the acmeIdentifier itself.
#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    // webpki cannot parse a certificate with the critical acmeIdentifier extension to check the handshake's
    // signature with it; a real validator (pebble, Go's x509) can. The certificate is what this test checks.
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

#[tokio::test]
async fn acme_tls_alpn_gets_the_challenge_certificate_and_no_http() {
    let pki = Pki::new();
    let proxy = https_proxy(RouterConfig::default()).await;
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);
    certificates(&proxy).set("web.localhost", pki.leaf(&["web.localhost"]));
    let mut validator = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth();
    validator.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let validator = Arc::new(validator);

    // No challenge set: refused, even though the host has a certificate.
    assert!(tls_connect(proxy.addr, "web.localhost", Arc::clone(&validator)).await.is_err());

    // RFC 8737 §3: self-signed, the identifier as its only SAN, the critical acmeIdentifier extension.
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["web.localhost".to_owned()]).unwrap();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(&[7u8; 32])];
    let cert = params.self_signed(&key).unwrap();
    let challenge = certified_key_from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    certificates(&proxy).set_alpn_challenge("web.localhost", Arc::new(challenge));

    let mut stream = tls_connect(proxy.addr, "web.localhost", Arc::clone(&validator)).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    assert_eq!(&served(&stream), cert.der(), "the challenge certificate, byte for byte");
    // Closed after the handshake: nothing is served over it.
    let mut rest = Vec::new();
    let _ = within("the router to close", stream.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    assert_eq!(backend.hits(), 0);

    // Clients that do not offer acme-tls/1 still get the host's own certificate.
    let stream = tls_connect(proxy.addr, "web.localhost", pki.client(&[b"http/1.1"])).await.unwrap();
    assert_ne!(&served(&stream), cert.der());

    certificates(&proxy).remove_alpn_challenge("web.localhost");
    assert!(tls_connect(proxy.addr, "web.localhost", validator).await.is_err());
}

#[tokio::test]
async fn a_client_that_never_says_hello_does_not_hold_up_other_accepts() {
    let pki = Pki::new();
    // Far longer than the wait below: if the handshake ran in the accept loop, the next client would wait it.
    let config = RouterConfig { tls_handshake_timeout: Duration::from_secs(120), ..RouterConfig::default() };
    let proxy = https_proxy(config).await;
    certificates(&proxy).set("web.localhost", pki.leaf(&["web.localhost"]));
    let backend = Backend::hello("web-1").await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let _silent: Vec<TcpStream> = silent_clients(proxy.addr, 3).await;
    let attempt = async {
        let stream = tls_connect(proxy.addr, "web.localhost", pki.client(&[b"http/1.1"])).await.unwrap();
        let mut sender = http1(stream).await;
        Reply::read(sender.send_request(get("web.localhost", "/")).await.unwrap()).await
    };
    let reply =
        tokio::time::timeout(Duration::from_secs(5), attempt).await.expect("served beside silent clients");
    assert_eq!(reply.status, 200);
}

/// `n` TCP connections that send nothing.
async fn silent_clients(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::new();
    for _ in 0..n {
        streams.push(TcpStream::connect(addr).await.unwrap());
    }
    streams
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let config =
        RouterConfig { tls_handshake_timeout: Duration::from_millis(200), ..RouterConfig::default() };
    let proxy = https_proxy(config).await;
    let mut silent = TcpStream::connect(proxy.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = within("the router to close a silent client", silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_with_port_path_and_query() {
    let pki = Pki::new();
    let key = pki.leaf(&["web.localhost"]);
    let backend = Backend::hello("web-1").await;
    for (port, location) in [
        (Some(8443), "https://web.localhost:8443/a/b?c=d"),
        (Some(443), "https://web.localhost/a/b?c=d"),
        (None, "https://web.localhost/a/b?c=d"),
    ] {
        let proxy = Proxy::with_config(RouterConfig { https_port: port, ..RouterConfig::default() }).await;
        proxy.set(&[("web.localhost", route_with_https("web", &backend, true, None))]);
        proxy.router.certificates().set("web.localhost", Arc::clone(&key));
        let req = Request::post("/a/b?c=d").header(HOST, "Web.Localhost:8080").body(full("unread")).unwrap();
        let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
        assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(reply.header(LOCATION.as_str()), Some(location));
        assert_eq!(reply.header(STRICT_TRANSPORT_SECURITY.as_str()), None);
    }
    assert_eq!(backend.hits(), 0, "nothing reached the instance");

    // A host without a certificate yet (a custom domain waiting for one) is still served over HTTP.
    let proxy = Proxy::start().await;
    proxy.set(&[("web.localhost", route_with_https("web", &backend, true, None))]);
    let reply = fetch(proxy.addr, "web.localhost", "/").await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web-1"));
}

#[tokio::test]
async fn hsts_is_sent_over_https_only() {
    let pki = Pki::new();
    let backend = Backend::hello("web-1").await;
    let route = route_with_https("web", &backend, false, Some(600));
    let https = https_proxy(RouterConfig::default()).await;
    certificates(&https).set("web.localhost", pki.leaf(&["web.localhost"]));
    https.set(&[("web.localhost", Arc::clone(&route))]);
    let plain = Proxy::start().await;
    plain.set(&[("web.localhost", route)]);

    let stream = tls_connect(https.addr, "web.localhost", pki.client(&[b"http/1.1"])).await.unwrap();
    let mut sender = http1(stream).await;
    let reply =
        Reply::read(within("a response", sender.send_request(get("web.localhost", "/"))).await.unwrap())
            .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header(STRICT_TRANSPORT_SECURITY.as_str()), Some("max-age=600"));
    let reply = fetch(plain.addr, "web.localhost", "/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header(STRICT_TRANSPORT_SECURITY.as_str()), None, "RFC 6797 §7.2: never over HTTP");
}

#[tokio::test]
async fn http01_challenges_are_answered_for_any_host_before_redirects() {
    let backend = Backend::hello("web-1").await;
    let proxy = Proxy::start().await;
    proxy.set(&[("web.localhost", route_with_https("web", &backend, true, None))]);
    proxy.router.certificates().set("web.localhost", Pki::new().leaf(&["web.localhost"]));
    let path = "/.well-known/acme-challenge/tok-123";
    proxy.router.http01().set("tok-123", "tok-123.thumbprint");

    for host in ["unknown.example", "web.localhost"] {
        let reply = fetch(proxy.addr, host, path).await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "tok-123.thumbprint"), "{host}");
        assert_eq!(reply.header("content-type"), Some("text/plain"));
    }
    // Other tokens and paths go on as usual: routing, redirects.
    assert_eq!(fetch(proxy.addr, "unknown.example", "/.well-known/acme-challenge/other").await.status, 404);
    assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.status, StatusCode::PERMANENT_REDIRECT);

    proxy.router.http01().remove("tok-123");
    assert_eq!(fetch(proxy.addr, "unknown.example", path).await.status, 404);
    assert_eq!(fetch(proxy.addr, "web.localhost", path).await.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(backend.hits(), 0);
}
