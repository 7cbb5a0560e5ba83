//! A typed client for ferry's REST API (`/v1`), used by the CLI and by tests.
//!
//! Every call is bounded by a timeout except following logs, which lasts as long as the caller reads.
//! Errors say whether the server could not be reached, refused the token, or refused the request (with
//! the API's code, message and field).

use std::time::Duration;

use bytes::Bytes;
use ferry_wire::*;
use futures_util::stream::{BoxStream, StreamExt};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde::de::DeserializeOwned;

mod access_keys;
mod connections;
mod metrics;
mod secrets;
mod tls;
mod tokens;

pub use tls::Trust;

const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0:?} is not an API URL; use e.g. http://127.0.0.1:7700 or https://ferry.example.com:7700")]
    InvalidUrl(String),
    #[error("cannot reach the ferry API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The server's certificate does not verify (or the CA file to trust is unusable).
    #[error("{0}")]
    Certificate(String),
    #[error("the server refused the token: {message}")]
    Unauthorized { message: String },
    #[error("{message}")]
    Api { status: u16, code: String, message: String, field: Option<String> },
    #[error("the server's answer cannot be read: {0}")]
    Decode(String),
}

impl ClientError {
    /// The API's error code (`InvalidRequest`, `NotFound`, …), if the server answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            Self::Unauthorized { .. } => Some("Unauthorized"),
            _ => None,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    http: tls::Http,
}

impl Client {
    /// `base_url` is the API's root, e.g. `http://127.0.0.1:7700`; `https://` URLs are verified against
    /// the system's certificate store.
    pub fn new(base_url: &str, token: &str) -> Result<Self> {
        Self::with_trust(base_url, token, &Trust::System)
    }

    /// As [`Client::new`], trusting `trust` for `https://` URLs.
    pub fn with_trust(base_url: &str, token: &str, trust: &Trust) -> Result<Self> {
        let base = base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().map_err(|_| ClientError::InvalidUrl(base_url.to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(ClientError::InvalidUrl(base_url.to_owned()));
        }
        let http = tls::http_client(trust, uri.scheme_str() == Some("https"))?;
        Ok(Self { base, token: token.trim().to_owned(), http })
    }

    /// Whether the token goes over the network unencrypted: an `http://` URL to another machine.
    pub fn sends_token_in_clear(&self) -> bool {
        let uri: Option<Uri> = self.base.parse().ok();
        uri.is_some_and(|u| u.scheme_str() == Some("http") && !u.host().is_some_and(tls::is_loopback))
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<hyper::Response<hyper::body::Incoming>> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header("authorization", format!("Bearer {}", self.token))
            .header("user-agent", concat!("ferry-cli/", env!("CARGO_PKG_VERSION")));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|_| ClientError::InvalidUrl(url.clone()))?;
        let resp = self.http.request(req).await.map_err(|e| {
            if let Some(reason) = tls::certificate_error(&e) {
                return ClientError::Certificate(format!(
                    "the certificate of {} does not verify ({reason}); if the server uses a private CA, \
                     trust it with `ferry login --url {} --ca-file CA.pem`",
                    self.base, self.base
                ));
            }
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            ClientError::Unreachable { url: self.base.clone(), reason }
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Err(api_error(status, &bytes))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let work = async {
            let resp = self.send(method, path, body).await?;
            let bytes =
                resp.into_body().collect().await.map_err(|e| ClientError::Decode(e.to_string()))?.to_bytes();
            serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
        };
        tokio::time::timeout(CALL_TIMEOUT, work).await.unwrap_or_else(|_| {
            Err(ClientError::Unreachable {
                url: self.base.clone(),
                reason: "no answer within 30 s".to_owned(),
            })
        })
    }

    pub async fn create_service(&self, req: &CreateServiceRequest) -> Result<ServiceOperation> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/services", Some(body)).await
    }

    pub async fn list_services(&self) -> Result<ServiceList> {
        self.call(Method::GET, "/v1/services", None).await
    }

    pub async fn describe_service(&self, name: &str) -> Result<ServiceView> {
        self.call(Method::GET, &format!("/v1/services/{}", segment(name)), None).await
    }

    pub async fn delete_service(&self, name: &str) -> Result<ServiceOperation> {
        self.call(Method::DELETE, &format!("/v1/services/{}", segment(name)), None).await
    }

    /// Changes the configuration and deploys it as a new revision.
    pub async fn update_service(&self, name: &str, req: &UpdateServiceRequest) -> Result<ServiceOperation> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::PATCH, &format!("/v1/services/{}", segment(name)), Some(body)).await
    }

    /// Deploys the current configuration again, resolving the image tag anew.
    pub async fn deploy_service(&self, name: &str) -> Result<ServiceOperation> {
        self.call(Method::POST, &format!("/v1/services/{}/deployments", segment(name)), Some(b"{}".to_vec()))
            .await
    }

    /// Goes back to `revision`, or to the one that served before the current one.
    pub async fn rollback_service(&self, name: &str, revision: Option<u32>) -> Result<ServiceOperation> {
        let body = serde_json::to_vec(&RollbackRequest { revision: revision.map(i64::from) })
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, &format!("/v1/services/{}/rollback", segment(name)), Some(body)).await
    }

    pub async fn pause_service(&self, name: &str) -> Result<ServiceOperation> {
        self.call(Method::POST, &format!("/v1/services/{}/pause", segment(name)), Some(b"{}".to_vec())).await
    }

    pub async fn resume_service(&self, name: &str) -> Result<ServiceOperation> {
        self.call(Method::POST, &format!("/v1/services/{}/resume", segment(name)), Some(b"{}".to_vec())).await
    }

    /// The service's push webhook (made on first use); with `rotate`, a new URL and secret.
    pub async fn webhook(&self, name: &str, rotate: bool) -> Result<WebhookView> {
        let body =
            serde_json::to_vec(&WebhookRequest { rotate }).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, &format!("/v1/services/{}/webhook", segment(name)), Some(body)).await
    }

    /// Accepts the push notifications of the registry at `host`: a new token, shown once.
    pub async fn add_registry(&self, host: &str) -> Result<RegistryHookView> {
        let req = RegistryHookRequest { host: host.to_owned() };
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/registries", Some(body)).await
    }

    pub async fn registries(&self) -> Result<RegistryHookList> {
        self.call(Method::GET, "/v1/registries", None).await
    }

    pub async fn remove_registry(&self, host: &str) -> Result<()> {
        self.send(Method::DELETE, &format!("/v1/registries/{}", segment(host)), None).await.map(|_| ())
    }

    /// Routes `domain` to the service and starts getting its certificate.
    pub async fn add_domain(&self, name: &str, req: &DomainRequest) -> Result<DomainView> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, &format!("/v1/services/{}/domains", segment(name)), Some(body)).await
    }

    pub async fn domains(&self, name: &str) -> Result<DomainList> {
        self.call(Method::GET, &format!("/v1/services/{}/domains", segment(name)), None).await
    }

    pub async fn remove_domain(&self, name: &str, domain: &str) -> Result<()> {
        let path = format!("/v1/services/{}/domains/{}", segment(name), segment(domain));
        self.send(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// The server's local CA certificate (PEM).
    pub async fn local_ca(&self) -> Result<String> {
        let resp = self.send(Method::GET, "/v1/tls/ca", None).await?;
        let bytes =
            resp.into_body().collect().await.map_err(|e| ClientError::Decode(e.to_string()))?.to_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub async fn create_autoscaling(&self, req: &AutoScalingRequest) -> Result<AutoScalingView> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/autoscaling", Some(body)).await
    }

    pub async fn autoscaling_list(&self) -> Result<AutoScalingList> {
        self.call(Method::GET, "/v1/autoscaling", None).await
    }

    pub async fn autoscaling(&self, name: &str) -> Result<AutoScalingList> {
        self.call(Method::GET, &format!("/v1/autoscaling/{}", segment(name)), None).await
    }

    pub async fn delete_autoscaling(&self, name: &str, revision: Option<u32>) -> Result<()> {
        let query = revision.map(|r| format!("?revision={r}")).unwrap_or_default();
        self.send(Method::DELETE, &format!("/v1/autoscaling/{}{query}", segment(name)), None)
            .await
            .map(|_| ())
    }

    pub async fn default_autoscaling(&self, name: &str) -> Result<AutoScalingList> {
        let path = format!("/v1/autoscaling/{}/default", segment(name));
        self.call(Method::POST, &path, Some(b"{}".to_vec())).await
    }

    /// A service's revisions, newest first.
    pub async fn revisions(&self, name: &str) -> Result<RevisionList> {
        self.call(Method::GET, &format!("/v1/services/{}/revisions", segment(name)), None).await
    }

    pub async fn operations(&self, name: &str) -> Result<OperationList> {
        self.call(Method::GET, &format!("/v1/services/{}/operations", segment(name)), None).await
    }

    /// An operation and its log lines numbered after `after`.
    pub async fn operation(&self, id: &str, after: i64) -> Result<OperationDetail> {
        self.call(Method::GET, &format!("/v1/operations/{}?after={after}", segment(id)), None).await
    }

    /// The service's application log: `tail` earlier lines, then new ones while `follow`.
    pub async fn logs(
        &self,
        name: &str,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLineView>>> {
        self.ndjson(format!("/v1/services/{}/logs?tail={tail}&follow={follow}", segment(name))).await
    }

    /// The service's request log: `tail` earlier records, then new ones while `follow`.
    pub async fn request_logs(
        &self,
        name: &str,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<RequestLogView>>> {
        let path = format!("/v1/services/{}/logs?requests=true&tail={tail}&follow={follow}", segment(name));
        self.ndjson(path).await
    }

    /// A newline-delimited JSON response, a value per line, read as it comes.
    async fn ndjson<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        path: String,
    ) -> Result<BoxStream<'static, Result<T>>> {
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.send(Method::GET, &path, None))
            .await
            .unwrap_or_else(|_| {
                Err(ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: "no answer within 30 s".into(),
                })
            })?;
        let frames = resp.into_body().into_data_stream();
        let lines =
            futures_util::stream::unfold((frames, Vec::<u8>::new()), |(mut frames, mut buf)| async move {
                loop {
                    if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = buf.drain(..=pos).collect();
                        let parsed = serde_json::from_slice::<T>(&line)
                            .map_err(|e| ClientError::Decode(e.to_string()));
                        return Some((parsed, (frames, buf)));
                    }
                    match frames.next().await {
                        Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                        Some(Err(e)) => {
                            return Some((Err(ClientError::Decode(e.to_string())), (frames, Vec::new())));
                        }
                        None => return None,
                    }
                }
            });
        Ok(lines.boxed())
    }
}

/// Percent-encodes a path segment (names and ids are plain, but the user may type anything).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if status == StatusCode::UNAUTHORIZED => ClientError::Unauthorized { message: e.error.message },
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
            field: e.error.field,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: status.canonical_reason().unwrap_or("Error").replace(' ', ""),
            message: format!("the server answered {status}: {}", String::from_utf8_lossy(body).trim()),
            field: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_segments_encoded() {
        assert!(Client::new("http://127.0.0.1:7700/", "t").is_ok());
        assert!(matches!(Client::new("127.0.0.1:7700", "t"), Err(ClientError::InvalidUrl(_))));
        assert!(Client::new("https://x", "t").is_ok());
        assert!(matches!(Client::new("ftp://x", "t"), Err(ClientError::InvalidUrl(_))));
        let clear = |url: &str| Client::new(url, "t").unwrap().sends_token_in_clear();
        assert!(clear("http://ferry.example.com:7700") && clear("http://10.0.0.1:7700"));
        assert!(
            !clear("http://127.0.0.1:7700") && !clear("http://[::1]:7700") && !clear("http://localhost:7700")
        );
        assert!(!clear("https://ferry.example.com"));
        assert_eq!(segment("web-1"), "web-1");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn api_errors_keep_code_message_and_field() {
        let body =
            br#"{"error":{"code":"InvalidRequest","message":"port: bad","field":"source.image.port"}}"#;
        match api_error(StatusCode::BAD_REQUEST, body) {
            ClientError::Api { status, code, field, .. } => {
                assert_eq!(
                    (status, code.as_str(), field.as_deref()),
                    (400, "InvalidRequest", Some("source.image.port"))
                );
            }
            other => panic!("{other:?}"),
        }
        let body = br#"{"error":{"code":"Unauthorized","message":"no"}}"#;
        assert!(matches!(api_error(StatusCode::UNAUTHORIZED, body), ClientError::Unauthorized { .. }));
    }
}
