//! `ferry revisions NAME`: every deployed version, newest first, and the one serving.

use anyhow::Result;

use crate::cli::{Global, Output};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, name: &str) -> Result<()> {
    let list = client(global)?.revisions(name).await?;
    if global.output == Output::Json {
        return json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .revisions
        .iter()
        .map(|r| {
            let digest =
                r.image_digest.as_deref().map(|d| d.chars().take(19).collect()).unwrap_or_else(|| "-".into());
            let state = match (r.serving, r.activated_at.is_some(), r.image_pruned) {
                (true, _, _) => "serving",
                (false, _, true) => "image pruned",
                (false, true, false) => "served before",
                (false, false, false) => "never served",
            };
            vec![
                r.number.to_string(),
                state.to_owned(),
                r.image.clone(),
                digest,
                format!("{}, {}, {}×", r.cpu, r.memory, r.instances),
                short_time(&r.created_at),
            ]
        })
        .collect();
    table(&["REVISION", "STATE", "IMAGE", "DIGEST", "SIZE", "CREATED"], &rows);
    Ok(())
}
