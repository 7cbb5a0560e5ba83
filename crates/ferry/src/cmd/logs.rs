//! `ferry logs NAME [--follow]`: the application log; `--requests`: the request log; `--build`: the
//! latest build's output.

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
    if args.requests {
        return request_log(global, &client, &args).await;
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

/// The request log, a record per line: as stored with `-o json`, else
/// `2026-12-06T02:20:01.123Z GET /orders 200 3.2ms 512B 127.0.0.1 i-abc123 req-id`.
async fn request_log(global: &Global, client: &ferry_client::Client, args: &LogsArgs) -> Result<()> {
    let mut records = client.request_logs(&args.name, args.tail, args.follow).await?;
    while let Some(r) = records.next().await {
        let r = r?;
        match global.output {
            Output::Json => println!("{}", serde_json::to_string(&r)?),
            Output::Human => println!("{}", request_line(&r)),
        }
    }
    Ok(())
}

fn request_line(r: &ferry_wire::RequestLogView) -> String {
    let instance = r.instance.as_deref().unwrap_or("-");
    format!(
        "{} {} {} {} {:.1}ms {}B {} {instance} {}",
        r.time, r.method, r.path, r.status, r.duration_ms, r.bytes_out, r.client, r.request_id
    )
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_reads_as_one_line() {
        let r = ferry_wire::RequestLogView {
            time: "2026-12-06T02:20:01.123Z".into(),
            service: "web".into(),
            revision: Some(2),
            instance: Some("i-abc123".into()),
            method: "GET".into(),
            path: "/orders".into(),
            status: 200,
            duration_ms: 3.217,
            bytes_in: 0,
            bytes_out: 512,
            client: "127.0.0.1".into(),
            request_id: "req-id".into(),
        };
        assert_eq!(
            super::request_line(&r),
            "2026-12-06T02:20:01.123Z GET /orders 200 3.2ms 512B 127.0.0.1 i-abc123 req-id"
        );
    }
}
