//! Following an operation to its end, printing its log as it grows.

use std::time::Duration;

use anyhow::Result;
use ferry_client::Client;
use ferry_wire::OperationView;

use crate::cli::Output;
use crate::output::clock;

const POLL: Duration = Duration::from_millis(200);

/// Prints the operation's log lines until it ends, and returns it as it ended.
pub async fn follow(client: &Client, operation_id: &str, output: Output) -> Result<OperationView> {
    let mut after = 0;
    loop {
        let detail = client.operation(operation_id, after).await?;
        for e in &detail.events {
            after = after.max(e.seq);
            if output == Output::Human {
                eprintln!("  {}  {}", clock(&e.at), e.message);
            }
        }
        if is_terminal(&detail.operation.status) {
            return Ok(detail.operation);
        }
        if detail.events.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "SUCCEEDED" | "FAILED" | "ROLLBACK_SUCCEEDED" | "ROLLBACK_FAILED")
}
