use super::*;
use crate::head::read_request;

fn app(unhealthy: bool) -> App {
    App {
        message: "hi there".to_owned(),
        instance: "box-1".to_owned(),
        port: 8080,
        unhealthy: std::sync::atomic::AtomicBool::new(unhealthy),
    }
}

/// Runs one request (head and body) through the routes; returns the outcome, the raw answer
/// and the input left unread.
fn run_with(app: &App, raw: &[u8]) -> (Outcome, String, Vec<u8>) {
    let mut input = raw;
    let req = read_request(&mut input).unwrap().unwrap();
    let mut out = Vec::new();
    let outcome = handle(app, &req, &mut input, &mut out);
    (outcome, String::from_utf8_lossy(&out).into_owned(), input.to_vec())
}

fn run(raw: &str) -> (Outcome, String) {
    let (outcome, answer, _) = run_with(&app(false), raw.as_bytes());
    (outcome, answer)
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default()
}

#[test]
fn root_shows_message_instance_and_port() {
    let (outcome, answer) = run("GET / HTTP/1.1\r\n\r\n");
    assert_eq!(outcome, Outcome { status: 200, then: Then::KeepAlive });
    assert_eq!(body(&answer), "testapp message=hi there instance=box-1 port=8080\n");
}

#[test]
fn healthz_follows_configuration() {
    let (_, answer) = run("GET /healthz HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(body(&answer), "ok");
    let (outcome, _, _) = run_with(&app(true), b"GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 500);
    let healthy = app(false);
    let (outcome, _, _) = run_with(&healthy, b"POST /healthz/fail HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 200);
    let (outcome, _, _) = run_with(&healthy, b"GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 500, "it stays unhealthy");
}

#[test]
fn headers_are_listed_lower_case_in_order() {
    let (_, answer) = run("GET /headers HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n");
    assert_eq!(body(&answer), "host: a\nx-forwarded-for: 1.2.3.4\n");
}

#[test]
fn status_paths_answer_that_status() {
    let (outcome, answer) = run("POST /status/503 HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 503);
    assert_eq!(body(&answer), "status 503\n");
    let (outcome, answer) = run("GET /status/204 HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 204);
    assert_eq!(body(&answer), "");
    for bad in ["/status/101", "/status/600", "/status/abc", "/status/"] {
        assert_eq!(run(&format!("GET {bad} HTTP/1.1\r\n\r\n")).0.status, 400, "{bad}");
    }
}

#[test]
fn slow_waits_then_answers() {
    let started = std::time::Instant::now();
    let (_, answer) = run("GET /slow?ms=30 HTTP/1.1\r\n\r\n");
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(body(&answer), "slow 30\n");
    assert_eq!(run("GET /slow?ms=-1 HTTP/1.1\r\n\r\n").0.status, 400);
}

#[test]
fn stream_sends_chunks() {
    let (outcome, answer) = run("GET /stream?chunks=3&ms=1 HTTP/1.1\r\n\r\n");
    assert_eq!(outcome, Outcome { status: 200, then: Then::KeepAlive });
    assert!(answer.contains("Transfer-Encoding: chunked\r\n"));
    assert_eq!(body(&answer), "8\r\nchunk 0\n\r\n8\r\nchunk 1\n\r\n8\r\nchunk 2\n\r\n0\r\n\r\n");
}

#[test]
fn stream_to_http10_is_close_delimited() {
    let (outcome, answer) = run("GET /stream?chunks=2&ms=0 HTTP/1.0\r\n\r\n");
    assert_eq!(outcome.then, Then::Close);
    assert!(!answer.contains("Transfer-Encoding"));
    assert_eq!(body(&answer), "chunk 0\nchunk 1\n");
}

#[test]
fn bytes_sends_that_many() {
    let (_, answer) = run("GET /bytes?n=100000 HTTP/1.1\r\n\r\n");
    assert!(answer.contains("Content-Length: 100000\r\n"));
    assert_eq!(body(&answer).len(), 100_000);
    let (_, answer) = run("HEAD /bytes?n=5 HTTP/1.1\r\n\r\n");
    assert!(answer.contains("Content-Length: 5\r\n"));
    assert_eq!(body(&answer), "");
}

#[test]
fn echo_returns_a_length_delimited_body_and_leaves_the_next_request() {
    let raw = b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Type: text/x\r\n\r\nhelloGET / HTTP/1.1";
    let (outcome, answer, rest) = run_with(&app(false), raw);
    assert_eq!(outcome, Outcome { status: 200, then: Then::KeepAlive });
    assert!(answer.contains("Content-Type: text/x\r\n"));
    assert!(answer.contains("Content-Length: 5\r\n"));
    assert_eq!(body(&answer), "hello");
    assert_eq!(rest, b"GET / HTTP/1.1");
}

#[test]
fn echo_returns_a_chunked_body_chunked() {
    let raw = b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n\
                3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let (outcome, answer, rest) = run_with(&app(false), raw);
    assert_eq!(outcome.then, Then::KeepAlive);
    assert!(answer.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert!(answer.ends_with("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    assert!(rest.is_empty());
}

#[test]
fn echo_of_a_broken_body_closes_the_connection() {
    let raw = b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n";
    let (outcome, answer, _) = run_with(&app(false), raw);
    assert_eq!(outcome, Outcome { status: 200, then: Then::Close });
    assert!(!answer.ends_with("0\r\n\r\n"));
}

#[test]
fn unread_bodies_are_drained_to_keep_the_connection() {
    let raw = b"POST /status/201 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /";
    let (outcome, _, rest) = run_with(&app(false), raw);
    assert_eq!(outcome, Outcome { status: 201, then: Then::KeepAlive });
    assert_eq!(rest, b"GET /");
}

#[test]
fn ambiguous_bodies_are_refused() {
    let (outcome, _) = run("POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(outcome, Outcome { status: 400, then: Then::Close });
    let (outcome, _) = run("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
    assert_eq!(outcome.status, 501);
}

#[test]
fn exit_answers_then_asks_to_exit() {
    let (outcome, answer) = run("POST /exit?code=7 HTTP/1.1\r\n\r\n");
    assert_eq!(outcome, Outcome { status: 200, then: Then::Exit(7) });
    assert!(answer.contains("Connection: close\r\n"));
    assert_eq!(body(&answer), "exiting with code 7\n");
    assert_eq!(run("POST /exit?code=256 HTTP/1.1\r\n\r\n").0.status, 400);
}

#[test]
fn upgrades_to_echo_or_websocket_only() {
    for protocol in ["echo", "websocket", "WebSocket"] {
        let raw = format!("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n");
        let (outcome, answer) = run(&raw);
        assert_eq!(outcome, Outcome { status: 101, then: Then::Echo });
        assert_eq!(
            answer,
            format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: {protocol}\r\nConnection: Upgrade\r\n\r\n")
        );
    }
    let (outcome, _) = run("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    assert_eq!(outcome.status, 200);
}

#[test]
fn wrong_methods_and_unknown_paths() {
    let (outcome, answer) = run("DELETE /echo HTTP/1.1\r\n\r\n");
    assert_eq!(outcome.status, 405);
    assert!(answer.contains("Allow: POST, PUT\r\n"));
    assert_eq!(run("GET /exit HTTP/1.1\r\n\r\n").0.status, 405);
    assert_eq!(run("GET /nope HTTP/1.1\r\n\r\n").0.status, 404);
}
