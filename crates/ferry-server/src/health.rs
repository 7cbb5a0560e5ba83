//! Health probes: App Runner's TCP and HTTP checks against one address, behind the [`Probe`] seam.
//!
//! Checks go to an instance's own address on the engine's network, never to a port the engine published
//! for it: with the engine's default userland proxy, `docker-proxy` accepts connections on a published
//! port whether or not the app listens, and a TCP check there would pass for an app that cannot answer.
//! How often a check runs and when a run of results becomes a verdict is the controller's (`fleet.rs`)
//! and `ferry_plan::health`'s.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use ferry_model::{HealthCheckConfiguration, HealthCheckProtocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Why a check failed, for the instance's detail and the operation's log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("cannot send the request: {0}")]
    Send(String),
    #[error("cannot read the answer: {0}")]
    Read(String),
    #[error("the connection closed before an HTTP answer")]
    Closed,
    #[error("the answer's status line is too long")]
    StatusLineTooLong,
    #[error("the answer is not HTTP")]
    NotHttp,
    #[error("GET {path} answered {status}; a healthy instance answers 2xx")]
    Status { path: String, status: u16 },
    #[error("no answer within the {secs}s health check timeout")]
    Timeout { secs: u32 },
    /// The engine gave the instance no address of its own on its network.
    #[error("the engine reports no network address for the instance, so it cannot be checked")]
    NoAddress,
}

/// Checks an instance once.
#[async_trait]
pub trait Probe: Send + Sync + 'static {
    async fn check(&self, addr: SocketAddr, check: &HealthCheckConfiguration) -> Result<(), ProbeError>;
}

/// The real checks, over the network.
pub struct NetworkProbe;

#[async_trait]
impl Probe for NetworkProbe {
    async fn check(&self, addr: SocketAddr, check: &HealthCheckConfiguration) -> Result<(), ProbeError> {
        let limit = Duration::from_secs(u64::from(check.timeout));
        match timeout(limit, attempt(addr, check)).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::Timeout { secs: check.timeout }),
        }
    }
}

async fn attempt(addr: SocketAddr, check: &HealthCheckConfiguration) -> Result<(), ProbeError> {
    let mut stream =
        TcpStream::connect(addr).await.map_err(|e| ProbeError::Connect { addr, reason: e.to_string() })?;
    if check.protocol == HealthCheckProtocol::Tcp {
        return Ok(());
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ferry-health-check\r\nConnection: close\r\n\r\n",
        check.path
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| ProbeError::Send(e.to_string()))?;
    let status = read_status(&mut stream).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(ProbeError::Status { path: check.path.clone(), status })
    }
}

/// Reads an HTTP status line (`HTTP/1.1 200 OK`) and returns its code.
async fn read_status(stream: &mut TcpStream) -> Result<u16, ProbeError> {
    let mut buf = [0u8; 256];
    let mut len = 0;
    while !buf[..len].contains(&b'\n') {
        if len == buf.len() {
            return Err(ProbeError::StatusLineTooLong);
        }
        match stream.read(&mut buf[len..]).await {
            Ok(0) => return Err(ProbeError::Closed),
            Ok(n) => len += n,
            Err(e) => return Err(ProbeError::Read(e.to_string())),
        }
    }
    let line = String::from_utf8_lossy(&buf[..len]);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|c| c.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(ProbeError::NotHttp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn http(path: &str) -> HealthCheckConfiguration {
        HealthCheckConfiguration {
            protocol: HealthCheckProtocol::Http,
            path: path.into(),
            timeout: 1,
            ..Default::default()
        }
    }

    /// A server that answers every connection with `status`.
    async fn answering(status: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0; 1024];
                let _ = s.read(&mut buf).await;
                let _ =
                    s.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn tcp_and_http_checks_pass_and_fail_for_the_right_reasons() {
        let probe = NetworkProbe;
        let ok = answering("200 OK").await;
        assert_eq!(probe.check(ok, &HealthCheckConfiguration::default()).await, Ok(()));
        assert_eq!(probe.check(ok, &http("/healthz")).await, Ok(()));

        let failing = answering("503 Service Unavailable").await;
        let err = probe.check(failing, &http("/healthz")).await.unwrap_err();
        assert_eq!(err, ProbeError::Status { path: "/healthz".into(), status: 503 });
        assert!(err.to_string().contains("answered 503"), "{err}");

        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let err = probe.check(closed, &HealthCheckConfiguration::default()).await.unwrap_err();
        assert!(err.to_string().contains("cannot connect"), "{err}");

        // Accepts but never answers: the timeout decides.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let err = probe.check(addr, &http("/")).await.unwrap_err();
        assert_eq!(err, ProbeError::Timeout { secs: 1 });
        drop(silent);
    }
}
