//! `ferry access-key create | list | delete`: keys for the App Runner-compatible API (AWS SigV4).

use anyhow::Result;
use ferry_wire::CreateAccessKeyRequest;

use crate::cli::{AccessKeyCommand, Global, Output};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: AccessKeyCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        AccessKeyCommand::Create { name } => {
            let made = c.create_access_key(&CreateAccessKeyRequest { name }).await?;
            if global.output == Output::Json {
                return json(&made);
            }
            eprintln!("access key {} made; its secret is shown only now, keep it somewhere safe:", made.name);
            println!("AccessKeyId:     {}", made.access_key_id);
            println!("SecretAccessKey: {}", made.secret_access_key.as_deref().unwrap_or_default());
            Ok(())
        }
        AccessKeyCommand::List => {
            let list = c.access_keys().await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .access_keys
                .iter()
                .map(|k| {
                    let used = k.last_used_at.as_deref().map_or("-".to_owned(), short_time);
                    vec![k.access_key_id.clone(), k.name.clone(), short_time(&k.created_at), used]
                })
                .collect();
            table(&["ACCESS KEY ID", "NAME", "CREATED", "LAST USED"], &rows);
            Ok(())
        }
        AccessKeyCommand::Delete { id } => {
            c.delete_access_key(&id).await?;
            if global.output == Output::Human {
                println!("access key {id} deleted; signatures made with it are refused");
            }
            Ok(())
        }
    }
}
