//! `ferry operations NAME [--id ID]`: what happened to a service, newest first.

use anyhow::Result;
use ferry_wire::TriggerView;

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
        if let Some(t) = &op.triggered_by {
            println!("triggered by {}", trigger(t));
        }
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
                o.triggered_by.as_ref().map(trigger).unwrap_or_else(|| "-".into()),
                o.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["ID", "TYPE", "STATUS", "STARTED", "ENDED", "TRIGGER", "ERROR"], &rows);
    Ok(())
}

/// What started an operation, on one line: `manual`, `push 1a2b3c4d5e6f by Ada: Fix it (webhook)`, ….
fn trigger(t: &TriggerView) -> String {
    let via = t.via.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
    if let Some(commit) = &t.commit {
        let who =
            [t.author.as_deref().map(|a| format!(" by {a}")), t.subject.as_deref().map(|s| format!(": {s}"))]
                .into_iter()
                .flatten()
                .collect::<String>();
        return format!("push {}{who}{via}", &commit[..commit.len().min(12)]);
    }
    if let Some(digest) = &t.image_digest {
        return format!("image {}{via}", &digest[..digest.len().min(19)]);
    }
    t.kind.to_ascii_lowercase()
}
