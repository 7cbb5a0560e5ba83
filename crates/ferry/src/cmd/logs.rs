//! `ferry logs NAME [--follow]`: the application log.

use anyhow::Result;
use futures_util::StreamExt;

use crate::cli::{Global, LogsArgs, Output};
use crate::context::client;
use crate::output::short_time;

pub async fn run(global: &Global, args: LogsArgs) -> Result<()> {
    let client = client(global)?;
    if args.build {
        return build_log(global, &client, &args).await;
    }
    let mut lines = client.logs(&args.name, args.tail, args.follow).await?;
    while let Some(line) = lines.next().await {
        let line = line?;
        match global.output {
            Output::Json => println!("{}", serde_json::to_string(&line)?),
            Output::Human => {
                let instance: String = line.instance.chars().take(8).collect();
                println!("{} {instance} {}", short_time(&line.at), line.line);
            }
        }
    }
    Ok(())
}

/// The latest build's output: the `[Build]` lines of the newest operation that has any, followed while
/// it runs when asked.
async fn build_log(global: &Global, client: &ferry_client::Client, args: &LogsArgs) -> Result<()> {
    let ops = client.operations(&args.name).await?;
    let mut chosen = None;
    for op in ops.operations.iter().filter(|o| o.kind != "DELETE_SERVICE" && o.kind != "PAUSE_SERVICE") {
        let detail = client.operation(&op.id, 0).await?;
        if detail.events.iter().any(|e| e.message.starts_with("[Build]"))
            || !crate::wait::is_terminal(&op.status)
        {
            chosen = Some(op.id.clone());
            break;
        }
    }
    let Some(id) = chosen else {
        anyhow::bail!(
            "service {} has no build yet (it runs an image, or its builds have not started)",
            args.name
        );
    };
    let mut after = 0;
    loop {
        let detail = client.operation(&id, after).await?;
        for e in &detail.events {
            after = after.max(e.seq);
            let Some(line) = e.message.strip_prefix("[Build] ") else { continue };
            match global.output {
                Output::Json => println!("{}", serde_json::to_string(e)?),
                Output::Human => println!("{} {line}", short_time(&e.at)),
            }
        }
        if !args.follow || crate::wait::is_terminal(&detail.operation.status) {
            return Ok(());
        }
        if detail.events.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
