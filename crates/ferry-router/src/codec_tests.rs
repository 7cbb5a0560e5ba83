use super::*;
use crate::listen::Scheme;

fn parse(bytes: &[u8], method: Method) -> Result<Option<(ResponseHead, usize)>, ParseError> {
    let mut buf = BytesMut::from(bytes);
    Ok(parse_response(&mut buf, &method, &mut HeaderMap::new())?.map(|head| (head, buf.len())))
}

fn head(bytes: &[u8]) -> ResponseHead {
    parse(bytes, Method::GET).expect("parses").expect("complete").0
}

#[test]
fn writes_the_request_head_with_forwarding_headers_and_framing() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("web.localhost"));
    headers.append("x-custom", HeaderValue::from_static("a"));
    headers.append("x-custom", HeaderValue::from_static("b"));
    // Replaced by the router's own.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("999"));
    headers.insert("x-request-id", HeaderValue::from_static("client-id"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    headers.insert("x-forwarded-host", HeaderValue::from_static("elsewhere"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    headers.insert("x-real-ip", HeaderValue::from_static("10.0.0.2"));
    headers.insert(header::FORWARDED, HeaderValue::from_static("for=10.0.0.3"));
    let host = HeaderValue::from_static("web.localhost");
    let id = HeaderValue::from_static("rid");
    let mut head = RequestHead {
        method: &Method::POST,
        target: "/p?q=1",
        headers: &headers,
        peer: Peer { addr: [192, 0, 2, 7].into(), scheme: Scheme::Http },
        host: &host,
        request_id: &id,
        framing: RequestFraming::Length(12),
    };
    let mut out = Vec::new();
    head.write(&mut out);
    assert_eq!(
        String::from_utf8(out).expect("text"),
        "POST /p?q=1 HTTP/1.1\r\nhost: web.localhost\r\nx-custom: a\r\nx-custom: b\r\n\
         x-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: http\r\nx-forwarded-host: web.localhost\r\n\
         x-real-ip: 192.0.2.7\r\nforwarded: for=192.0.2.7;proto=http;host=web.localhost\r\n\
         x-request-id: rid\r\ncontent-length: 12\r\n\r\n"
    );

    for (framing, tail) in [
        (RequestFraming::None, "x-request-id: rid\r\n\r\n"),
        (RequestFraming::Chunked, "x-request-id: rid\r\ntransfer-encoding: chunked\r\n\r\n"),
        (RequestFraming::Length(0), "x-request-id: rid\r\ncontent-length: 0\r\n\r\n"),
    ] {
        head.framing = framing;
        let mut out = Vec::new();
        head.write(&mut out);
        assert!(String::from_utf8(out).expect("text").ends_with(tail), "{framing:?}");
    }

    // A client of an HTTPS listener: the instance is told so, whatever the client claimed.
    head.peer.scheme = Scheme::Https;
    let mut out = Vec::new();
    head.write(&mut out);
    assert!(String::from_utf8(out).expect("text").contains("\r\nx-forwarded-proto: https\r\n"));
}

#[test]
fn the_routed_host_is_read_back_from_a_written_head() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("Web.LocalHost:8080"));
    // A client's own is replaced, and a value that looks like the line is only a value.
    headers.insert("x-forwarded-host", HeaderValue::from_static("elsewhere"));
    headers.insert("x-note", HeaderValue::from_static("x-forwarded-host: nowhere"));
    let host = HeaderValue::from_static("Web.LocalHost:8080");
    let id = HeaderValue::from_static("rid");
    let head = RequestHead {
        method: &Method::POST,
        target: "/",
        headers: &headers,
        peer: Peer { addr: [192, 0, 2, 7].into(), scheme: Scheme::Http },
        host: &host,
        request_id: &id,
        framing: RequestFraming::Chunked,
    };
    let mut out = Vec::new();
    head.write(&mut out);
    // Body bytes after the head are not looked at.
    out.extend_from_slice(b"1a\r\n\r\nx-forwarded-host: body\r\n\r\n");
    assert_eq!(written_host(&out), Some("Web.LocalHost:8080"));
    assert_eq!(written_host(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"), None);
    assert_eq!(written_host(b"GET / HTTP/1.1\r\nx-forwarded-host: a"), None, "no whole head");
}

#[test]
fn itoa_writes_decimal() {
    for n in [0u64, 7, 10, 65_536, u64::MAX] {
        assert_eq!(itoa(n, &mut [0u8; 20]), n.to_string().as_bytes());
    }
}

#[test]
fn parses_a_head_and_leaves_the_body() {
    let (head, rest) =
        parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello", Method::GET)
            .expect("parses")
            .expect("complete");
    assert_eq!(head.parts.status, StatusCode::OK);
    assert_eq!(head.parts.version, Version::HTTP_11);
    assert_eq!(head.parts.headers.get_all("x-a").iter().collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(head.framing, BodyFraming::Length(5));
    assert!(head.keep_alive);
    assert_eq!(rest, 5);
    assert!(head.parts.extensions.get::<hyper::ext::ReasonPhrase>().is_none());
}

#[test]
fn incomplete_heads_wait_and_garbage_fails() {
    assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Le", Method::GET).expect("partial is fine").is_none());
    assert!(parse(b"this is not http\r\n\r\n", Method::GET).is_err());
    assert!(parse(b"HTTP/1.1 20 OK\r\n\r\n", Method::GET).is_err());
    let huge = [b"HTTP/1.1 200 OK\r\nx: ".as_slice(), &vec![b'a'; MAX_HEAD]].concat();
    assert!(matches!(parse(&huge, Method::GET), Err(ParseError::TooLarge)));
}

#[test]
fn a_custom_reason_phrase_is_kept() {
    let head = head(b"HTTP/1.1 200 Fine Thanks\r\ncontent-length: 0\r\n\r\n");
    let reason = head.parts.extensions.get::<hyper::ext::ReasonPhrase>().expect("kept");
    assert_eq!(reason.as_bytes(), b"Fine Thanks");
}

#[test]
fn framing_follows_rfc_9112() {
    let cases: [(&[u8], Method, BodyFraming, bool); 11] = [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", Method::HEAD, BodyFraming::Empty, true),
        (b"HTTP/1.1 204 No Content\r\ncontent-length: 3\r\n\r\n", Method::GET, BodyFraming::Empty, true),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", Method::GET, BodyFraming::Empty, true),
        (b"HTTP/1.1 100 Continue\r\n\r\n", Method::POST, BodyFraming::Empty, true),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            Method::GET,
            BodyFraming::Chunked,
            true,
        ),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", Method::GET, BodyFraming::Close, false),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
            Method::GET,
            BodyFraming::Chunked,
            false,
        ),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\n", Method::GET, BodyFraming::Length(3), true),
        (b"HTTP/1.1 200 OK\r\n\r\n", Method::GET, BodyFraming::Close, false),
        (
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n",
            Method::GET,
            BodyFraming::Length(1),
            false,
        ),
        (
            b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 1\r\n\r\n",
            Method::GET,
            BodyFraming::Length(1),
            true,
        ),
    ];
    for (bytes, method, framing, keep_alive) in cases {
        let (head, _) = parse(bytes, method).expect("parses").expect("complete");
        let text = String::from_utf8_lossy(bytes);
        assert_eq!((head.framing, head.keep_alive), (framing, keep_alive), "{text}");
    }
    let (head, _) = parse(b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", Method::GET)
        .expect("parses")
        .expect("complete");
    assert!(!head.keep_alive, "HTTP/1.0 closes by default");
}

#[test]
fn conflicting_or_invalid_lengths_are_malformed() {
    for bytes in [
        b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: +1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        assert!(parse(bytes, Method::GET).is_err(), "{}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn heads_with_many_headers_keep_them_all_in_order_up_to_the_limit() {
    for count in [INLINE_HEADERS - 1, INLINE_HEADERS, INLINE_HEADERS + 1, MAX_HEADERS - 1] {
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n".to_vec();
        for i in 0..count {
            bytes.extend_from_slice(format!("x-h{i}: v{i}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        let head = head(&bytes);
        assert_eq!(head.parts.headers.len(), count + 1, "{count} headers");
        for i in 0..count {
            assert_eq!(head.parts.headers[format!("x-h{i}").as_str()], format!("v{i}").as_str());
        }
        assert_eq!(head.framing, BodyFraming::Length(0));
    }
    let mut bytes = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        bytes.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    assert!(matches!(parse(&bytes, Method::GET), Err(ParseError::Syntax(httparse::Error::TooManyHeaders))));
}

#[test]
fn the_last_transfer_coding_decides_and_lengths_matter_only_when_they_frame() {
    let cases: [(&[u8], BodyFraming, bool); 5] = [
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n",
            BodyFraming::Chunked,
            true,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: gzip\r\n\r\n",
            BodyFraming::Close,
            false,
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: x\r\n\r\n",
            BodyFraming::Chunked,
            false,
        ),
        (b"HTTP/1.1 204 No Content\r\ncontent-length: x\r\n\r\n", BodyFraming::Empty, true),
        (
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, CLOSE\r\ncontent-length: 0\r\n\r\n",
            BodyFraming::Length(0),
            false,
        ),
    ];
    for (bytes, framing, keep_alive) in cases {
        let head = head(bytes);
        let text = String::from_utf8_lossy(bytes);
        assert_eq!((head.framing, head.keep_alive), (framing, keep_alive), "{text}");
    }
}

#[test]
fn a_missing_or_non_ascii_reason_phrase_and_empty_values_parse() {
    for bytes in [
        &b"HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n"[..],
        b"HTTP/1.1 200 \r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200\ncontent-length: 0\n\n",
        b"HTTP/1.1 200 Caf\xe9\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 100\r\n\r\n",
    ] {
        let text = String::from_utf8_lossy(bytes);
        let (head, _) = parse(bytes, Method::GET).unwrap_or_else(|e| panic!("{text}: {e}")).unwrap();
        assert!(head.parts.status.as_u16() == 200 || head.parts.status.as_u16() == 100, "{text}");
    }
    let (head, _) =
        parse(b"HTTP/1.1 200 OK\r\nx-empty:\r\nx-blank: \r\ncontent-length: 0\r\n\r\n", Method::GET)
            .unwrap()
            .unwrap();
    assert_eq!(head.parts.headers["x-empty"], "");
    assert_eq!(head.parts.headers["x-blank"], "");
    // A reason phrase of the instance's own is kept for the client.
    let (head, _) =
        parse(b"HTTP/1.1 200 Fine Thanks\r\ncontent-length: 0\r\n\r\n", Method::GET).unwrap().unwrap();
    let reason = head.parts.extensions.get::<hyper::ext::ReasonPhrase>().unwrap();
    assert_eq!(reason.as_bytes(), b"Fine Thanks");
}
