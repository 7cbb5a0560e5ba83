//! The router over real HTTP on 127.0.0.1: one test binary, one module per behaviour.

// clippy's allow-unwrap-in-tests covers `#[test]` bodies only, not the harness and the handlers they pass to
// backends; in a test, a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod balance;
mod capacity;
mod client;
mod grpc;
mod h2;
mod h2c;
mod hardening;
mod headers;
mod hold;
mod listener;
mod metrics;
mod reconnect;
mod retry;
mod routing;
mod shutdown;
mod streaming;
mod support;
mod swap;
mod timeout;
mod tls;
mod upgrade;
mod upstream;
