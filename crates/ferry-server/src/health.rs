//! Health checks: App Runner's TCP and HTTP checks against an instance, run by one task per instance.
//!
//! A starting instance is probed often (every [`STARTUP_PROBE`]) so it can take traffic as soon as it
//! listens, but a failed probe counts only once per configured interval: the time an app gets to start
//! is the same as App Runner's (`UnhealthyThreshold × Interval`), while a fast app is ready in
//! milliseconds instead of one interval. Once the instance has a verdict, probes run every interval.
//! During the check's grace period (from the instance's start) failed probes do not count at all.

use std::net::SocketAddr;
use std::time::Duration;

use ferry_model::{HealthCheckConfiguration, HealthCheckProtocol, InstanceId};
use ferry_plan::{HealthTracker, HealthVerdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use crate::controller::Msg;

pub(crate) const STARTUP_PROBE: Duration = Duration::from_millis(100);

/// Checks `addr` once; `Err` says what failed, for the instance's detail and the operation's log.
pub(crate) async fn probe(addr: SocketAddr, check: &HealthCheckConfiguration) -> Result<(), String> {
    let limit = Duration::from_secs(u64::from(check.timeout));
    let attempt = async {
        let mut stream =
            TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        if check.protocol == HealthCheckProtocol::Tcp {
            return Ok(());
        }
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ferry-health-check\r\nConnection: close\r\n\r\n",
            check.path
        );
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("cannot send the request: {e}"))?;
        let status = read_status(&mut stream).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("GET {} answered {status}; a healthy instance answers 2xx", check.path))
        }
    };
    match timeout(limit, attempt).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within the {}s health check timeout", check.timeout)),
    }
}

/// Reads an HTTP status line (`HTTP/1.1 200 OK`) and returns its code.
async fn read_status(stream: &mut TcpStream) -> Result<u16, String> {
    let mut buf = [0u8; 256];
    let mut len = 0;
    while !buf[..len].contains(&b'\n') {
        if len == buf.len() {
            return Err("the answer's status line is too long".to_owned());
        }
        match stream.read(&mut buf[len..]).await {
            Ok(0) => return Err("the connection closed before an HTTP answer".to_owned()),
            Ok(n) => len += n,
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        }
    }
    let line = String::from_utf8_lossy(&buf[..len]);
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|c| c.parse::<u16>().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err("the answer is not HTTP".to_owned()),
    }
}

/// Probes an instance until the task is aborted, reporting each change of verdict to its controller.
pub(crate) async fn watch(
    instance: InstanceId,
    addr: SocketAddr,
    check: HealthCheckConfiguration,
    resume: Option<HealthVerdict>,
    to_controller: mpsc::Sender<Msg>,
) {
    let mut tracker = match resume {
        Some(v) => HealthTracker::resume(check.healthy_threshold, check.unhealthy_threshold, v),
        None => HealthTracker::new(check.healthy_threshold, check.unhealthy_threshold),
    };
    let interval = Duration::from_secs(u64::from(check.interval));
    // The grace period runs from the instance's start; an adopted instance is past it.
    let grace =
        if resume.is_some() { Duration::ZERO } else { Duration::from_secs(u64::from(check.grace_period)) };
    let grace_until = Instant::now() + grace;
    let mut last_counted_failure: Option<Instant> = None;
    loop {
        let result = probe(addr, &check).await;
        let passed = result.is_ok();
        let in_grace = Instant::now() < grace_until;
        let counts = passed
            || (!in_grace
                && (tracker.verdict().is_some()
                    || last_counted_failure.is_none_or(|t| t.elapsed() >= interval)));
        if counts {
            if !passed {
                last_counted_failure = Some(Instant::now());
            }
            let failures_before = tracker.failures();
            if let Some(verdict) = tracker.record(passed) {
                let detail = match &result {
                    Ok(()) => "health check passed".to_owned(),
                    Err(e) => format!("{} health checks in a row failed; the last: {e}", failures_before + 1),
                };
                let msg = Msg::Health { instance: instance.clone(), verdict, detail };
                if to_controller.send(msg).await.is_err() {
                    return; // the controller is gone
                }
            }
        }
        let pause = if tracker.verdict().is_none() { STARTUP_PROBE } else { interval };
        tokio::time::sleep(pause).await;
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
        let ok = answering("200 OK").await;
        assert_eq!(probe(ok, &HealthCheckConfiguration::default()).await, Ok(()));
        assert_eq!(probe(ok, &http("/healthz")).await, Ok(()));

        let failing = answering("503 Service Unavailable").await;
        let err = probe(failing, &http("/healthz")).await.unwrap_err();
        assert!(err.contains("answered 503"), "{err}");

        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let err = probe(closed, &HealthCheckConfiguration::default()).await.unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");

        // Accepts but never answers: the timeout decides.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let err = probe(addr, &http("/")).await.unwrap_err();
        assert!(err.contains("timeout"), "{err}");
        drop(silent);
    }
}
