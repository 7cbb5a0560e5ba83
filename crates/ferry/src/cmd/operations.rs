//! `ferry operations NAME [--id ID]`: what happened to a service, newest first.

use anyhow::Result;

use crate::cli::{Global, OperationsArgs, Output};
use crate::context::client;
use crate::output::{clock, json, short_time, table};

pub async fn run(global: &Global, args: OperationsArgs) -> Result<()> {
    let client = client(global)?;
    if let Some(id) = args.id {
        let detail = client.operation(&id, 0).await?;
        if global.output == Output::Json {
            return json(&detail);
        }
        let op = &detail.operation;
        println!(
            "{} {} {} (started {})",
            op.id,
            op.kind,
            op.status,
            op.started_at.as_deref().map(short_time).unwrap_or_default()
        );
        if let Some(e) = &op.error {
            println!("error: {e}");
        }
        for e in &detail.events {
            println!("  {}  {}", clock(&e.at), e.message);
        }
        return Ok(());
    }
    let list = client.operations(&args.name).await?;
    if global.output == Output::Json {
        return json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .operations
        .iter()
        .map(|o| {
            vec![
                o.id.clone(),
                o.kind.clone(),
                o.status.clone(),
                o.started_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()),
                o.ended_at.as_deref().map(short_time).unwrap_or_else(|| "-".into()),
                o.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "TYPE", "STATUS", "STARTED", "ENDED", "ERROR"], &rows);
    Ok(())
}
