//! `ferry logs NAME [--follow]`: the application log.

use anyhow::Result;
use futures_util::StreamExt;

use crate::cli::{Global, LogsArgs, Output};
use crate::context::client;
use crate::output::short_time;

pub async fn run(global: &Global, args: LogsArgs) -> Result<()> {
    let client = client(global)?;
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
