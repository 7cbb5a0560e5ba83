//! Behaviour 5: bodies stream both ways; neither is buffered whole.

use bytes::Bytes;
use http::header::HOST;
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::support::*;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_50_mib_upload_streams_through() {
    let proxy = Proxy::start().await;
    // Counts the bytes and checks their pattern, keeping none of them.
    let backend = Backend::start("sink", |req| async move {
        let mut body = req.into_body();
        let (mut total, mut sum) = (0usize, 0u64);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                total += data.len();
                sum += data.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
        }
        Response::new(full(format!("{total} {sum}")))
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let (mut tx, body) = channel_body();
    let chunk = Bytes::from(vec![7u8; 256 * 1024]);
    let sender = tokio::spawn(async move {
        for _ in 0..(50 * MIB / chunk.len()) {
            tx.send_data(chunk.clone()).await.unwrap();
        }
    });
    let req = Request::post("/upload").header(HOST, "web.localhost").body(body).unwrap();
    let reply = Reply::read(Conn::open(proxy.addr).await.send(req).await).await;
    within("the sender", sender).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, format!("{} {}", 50 * MIB, 7 * 50 * MIB));
}

#[tokio::test]
async fn the_instance_reads_the_upload_before_the_client_finishes_it() {
    let proxy = Proxy::start().await;
    let (first_tx, mut first_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("reader", move |req| {
        let first_tx = first_tx.clone();
        async move {
            let mut body = req.into_body();
            let mut received = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    if received.is_empty() {
                        let _ = first_tx.send(data.clone());
                    }
                    received.extend_from_slice(&data);
                }
            }
            Response::new(full(received))
        }
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let (mut tx, body) = channel_body();
    let req = Request::post("/").header(HOST, "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { Reply::read(conn.send(req).await).await });
    tx.send_data(Bytes::from_static(b"first ")).await.unwrap();
    // The rest of the body is only sent once the instance has seen the first part.
    let first = within("the first chunk at the instance", first_rx.recv()).await.unwrap();
    assert_eq!(first, "first ");
    tx.send_data(Bytes::from_static(b"second")).await.unwrap();
    drop(tx);
    let reply = within("the response", response).await.unwrap();
    assert_eq!(reply.body, "first second");
}

#[tokio::test]
async fn a_slow_download_streams_its_first_chunk_before_the_instance_finishes() {
    let proxy = Proxy::start().await;
    let (body_tx, mut body_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("slow", move |_req| {
        let (tx, body) = channel_body();
        let _ = body_tx.send(tx);
        async move { Response::new(body) }
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/download")).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut tx = within("the backend's body sender", body_rx.recv()).await.unwrap();

    tx.send_data(Bytes::from_static(b"first")).await.unwrap();
    // The instance has not finished (the test holds its sender): this frame can only come through streaming.
    let frame = within("the first chunk at the client", body.frame()).await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "first");

    tx.send_data(Bytes::from_static(b"second")).await.unwrap();
    drop(tx);
    let rest = within("the rest of the body", body.collect()).await.unwrap().to_bytes();
    assert_eq!(rest, "second");
}

#[tokio::test]
async fn a_large_download_streams_through() {
    let proxy = Proxy::start().await;
    let backend = Backend::start("source", |_req| async move {
        let (mut tx, body) = channel_body();
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![1u8; 256 * 1024]);
            for _ in 0..(16 * MIB / chunk.len()) {
                if tx.send_data(chunk.clone()).await.is_err() {
                    return;
                }
            }
        });
        Response::new(body)
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let response = Conn::open(proxy.addr).await.send(get("web.localhost", "/")).await;
    let mut body = response.into_body();
    let mut total = 0;
    while let Some(frame) = within("a chunk", body.frame()).await {
        total += frame.unwrap().into_data().map_or(0, |d| d.len());
    }
    assert_eq!(total, 16 * MIB);
    eventually("in-flight to go back to 0", || backend.endpoint.in_flight() == 0).await;
}

#[tokio::test]
async fn a_client_that_abandons_its_upload_does_not_leak_in_flight() {
    let proxy = Proxy::start().await;
    let (first_tx, mut first_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("reader", move |req| {
        let first_tx = first_tx.clone();
        async move {
            let mut body = req.into_body();
            let _ = body.frame().await;
            let _ = first_tx.send(());
            // Read on until the body ends or breaks.
            while let Some(Ok(_)) = body.frame().await {}
            Response::new(full("read"))
        }
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let (mut tx, body) = channel_body();
    let req = Request::post("/").header(HOST, "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = tokio::spawn(async move { conn.try_send(req).await.map(|r| r.status()) });
    tx.send_data(Bytes::from_static(b"partial")).await.unwrap();
    within("the first chunk at the instance", first_rx.recv()).await.unwrap();
    assert_eq!(backend.endpoint.in_flight(), 1);

    // The client breaks its body off mid-upload.
    tx.abort("client gave up".into());
    let outcome = within("the client side to finish", response).await.unwrap();
    assert!(outcome.is_err(), "the client's own request failed: {outcome:?}");
    eventually("in-flight to go back to 0", || backend.endpoint.in_flight() == 0).await;
    // The router is still serving.
    assert_eq!(fetch(proxy.addr, "web.localhost", "/").await.body, "read");
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let proxy = Proxy::start().await;
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let backend = Backend::start("events", move |_req| {
        let (tx, body) = channel_body();
        let _ = events_tx.send(tx);
        async move {
            let mut response = Response::new(body);
            response.headers_mut().insert("content-type", "text/event-stream".parse().unwrap());
            response.headers_mut().insert("cache-control", "no-cache".parse().unwrap());
            response
        }
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&backend.endpoint]))]);

    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(get("web.localhost", "/events")).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut tx = within("the backend's event sender", events_rx.recv()).await.unwrap();
    // Each event must reach the client while the stream stays open: nothing is held back to fill a buffer.
    for i in 0..5 {
        let event = format!("id: {i}\ndata: tick {i}\n\n");
        tx.send_data(Bytes::from(event.clone())).await.unwrap();
        let frame = within("the event at the client", body.frame()).await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), event);
    }
    drop(tx);
    assert!(within("the end of the stream", body.collect()).await.unwrap().to_bytes().is_empty());
}

#[tokio::test]
async fn an_answer_before_the_upload_ends_never_leaves_the_exchange_hanging() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let proxy = Proxy::start().await;
    // Answers at once, then reads the upload to its end before finishing the answer.
    let (endpoint, _task) = raw_backend("duplex", |mut stream: tokio::net::TcpStream| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let (mut seen, mut buf) = (Vec::new(), [0u8; 1024]);
        while !seen.ends_with(b"0\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(b"4\r\ndone\r\n0\r\n\r\n").await;
    })
    .await;
    proxy.set(&[("web.localhost", serving("web", &[&endpoint]))]);

    let (mut tx, body) = channel_body();
    let req = Request::post("/").header(HOST, "web.localhost").body(body).unwrap();
    let mut conn = Conn::open(proxy.addr).await;
    let response = conn.send(req).await;
    assert_eq!(response.status(), 200);
    let _ = tx.send_data(Bytes::from_static(b"late")).await;
    // The router does not forward an upload after an early answer; it tells the instance the upload is
    // over, so the instance can finish and the exchange ends instead of both sides waiting forever.
    let rest = within("the answer to end", response.into_body().collect()).await.unwrap().to_bytes();
    assert_eq!(rest, "done");
    drop(tx);
}
