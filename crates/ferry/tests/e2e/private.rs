//! Private services (App Runner's `IsPubliclyAccessible: false`): not routed from the public listener,
//! reachable from other services through the router's internal listener, and from nothing else.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::{Server, poll, testapp_image};

#[test]
fn a_private_service_is_reachable_only_from_other_services() {
    let server = Server::start();
    server.ferry_ok(&["service", "create", "api", "--image", &testapp_image(), "--private", "--wait"]);
    server.ferry_ok(&["service", "create", "web", "--image", &testapp_image(), "--wait"]);
    assert_eq!(server.describe("api")["is_publicly_accessible"], false);
    assert_eq!(server.describe("web")["is_publicly_accessible"], true);

    // Not on the public listener: answered as a host nobody serves.
    assert_eq!(server.get("api", "/").status, 404);

    // From another service's container, through the internal listener, by its host.
    let answer = server.get("web", "/probe/internal?host=api.localhost&path=/headers");
    assert_eq!(answer.status, 200);
    assert!(answer.body.starts_with("HTTP/1.1 200"), "{}", answer.body);
    assert!(answer.body.to_ascii_lowercase().contains("host: api.localhost"), "{}", answer.body);
    // Public services are there too.
    let answer = server.get("web", "/probe/internal?host=web.localhost&path=/healthz");
    assert!(answer.body.starts_with("HTTP/1.1 200"), "{}", answer.body);

    // Anyone else connecting (here, the host itself) is closed without an answer.
    let internal = SocketAddr::from((Ipv4Addr::LOCALHOST, server.internal.port()));
    let mut conn = TcpStream::connect(internal).expect("the listener accepts at the TCP level");
    conn.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: api.localhost\r\n\r\n");
    let mut got = Vec::new();
    let _ = conn.read_to_end(&mut got);
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));

    // Made public, it is routed from the public listener again.
    server.ferry_ok(&["service", "update", "api", "--public", "--wait"]);
    poll("the service to be public", Duration::from_secs(30), || {
        (server.get("api", "/").status == 200).then_some(())
    });
}
