//! `ferry secret set | list | delete`: values services get as environment variables.
//!
//! A value is read from standard input, or asked for on the terminal, never taken from the command line:
//! arguments are visible to every user of the machine (`ps`) and kept in shell history.

use anyhow::Result;

use crate::cli::{Global, Output, SecretCommand};
use crate::cmd::hidden::{self, Hidden};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: SecretCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        SecretCommand::Set { name, keep_newline } => {
            let value = hidden::read(Hidden {
                what: "value",
                piped: "the value",
                example: format!("printf %s \"$VALUE\" | ferry secret set {name}"),
                prompt: format!("Value of secret {name}: "),
                keep_newline,
            })?;
            let set = c.set_secret(&name, value).await?;
            if global.output == Output::Json {
                return json(&set);
            }
            let what = if set.created { "created" } else { "updated" };
            println!("secret {name} {what} (version {})", set.secret.version);
            if !set.created && !set.secret.services.is_empty() {
                println!(
                    "used by {}: instances started from now on get the new value; redeploy to replace the running \
                     ones (ferry service deploy SERVICE)",
                    set.secret.services.join(", ")
                );
            }
            Ok(())
        }
        SecretCommand::List => {
            let list = c.secrets().await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .secrets
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.version.to_string(),
                        short_time(&s.created_at),
                        short_time(&s.updated_at),
                        s.services.join(", "),
                    ]
                })
                .collect();
            table(&["NAME", "VERSION", "CREATED", "UPDATED", "SERVICES"], &rows);
            Ok(())
        }
        SecretCommand::Delete { name, force } => {
            c.delete_secret(&name, force).await?;
            if global.output == Output::Human {
                println!("secret {name} deleted");
            }
            Ok(())
        }
    }
}
