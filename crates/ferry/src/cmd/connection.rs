//! `ferry connection create | credentials | list | delete`: credentials for git hosts that services build
//! from (App Runner's connections).
//!
//! A password or token is read from standard input, or asked for on the terminal, never taken from the
//! command line: arguments are visible to every user of the machine (`ps`) and kept in shell history.

use std::path::Path;

use anyhow::Result;
use ferry_wire::{ConnectionCredentialsRequest, ConnectionView};

use crate::cli::{ConnectionCommand, Global, Output};
use crate::cmd::hidden::{self, Hidden};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: ConnectionCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        ConnectionCommand::Create { name, provider } => {
            let made = c.create_connection(&name, provider.as_deref()).await?;
            if global.output == Output::Json {
                return json(&made);
            }
            println!(
                "connection {name} created ({}, {}); give it credentials: ferry connection credentials {name} \
                 --username USER (or --ssh-key FILE)",
                made.provider, made.status
            );
            Ok(())
        }
        ConnectionCommand::Credentials { name, username, ssh_key } => {
            let req = match (username, ssh_key) {
                (_, Some(path)) => ConnectionCredentialsRequest {
                    ssh_private_key: Some(read_key(&path)?),
                    ..Default::default()
                },
                (Some(username), None) => {
                    let password = hidden::read(Hidden {
                        what: "password",
                        piped: "the password or token",
                        example: format!(
                            "printf %s \"$TOKEN\" | ferry connection credentials {name} --username {username}"
                        ),
                        prompt: format!("Password or token of {username} for connection {name}: "),
                        keep_newline: false,
                    })?;
                    ConnectionCredentialsRequest {
                        username: Some(username),
                        password: Some(password),
                        ssh_private_key: None,
                    }
                }
                (None, None) => return Err(crate::usage("give --username USER or --ssh-key FILE")),
            };
            let set = c.set_connection_credentials(&name, &req).await?;
            if global.output == Output::Json {
                return json(&set);
            }
            println!("connection {name} is {}", set.status);
            if !set.services.is_empty() {
                println!(
                    "used by {}: their next build fetches with these credentials (ferry service deploy SERVICE)",
                    set.services.join(", ")
                );
            }
            Ok(())
        }
        ConnectionCommand::List => {
            let list = c.connections().await?;
            if global.output == Output::Json {
                return json(&list);
            }
            let rows: Vec<Vec<String>> = list.connections.iter().map(row).collect();
            table(&["NAME", "PROVIDER", "STATUS", "CREATED", "USED BY"], &rows);
            Ok(())
        }
        ConnectionCommand::Delete { name, force } => {
            c.delete_connection(&name, force).await?;
            if global.output == Output::Human {
                println!("connection {name} deleted");
            }
            Ok(())
        }
    }
}

fn row(c: &ConnectionView) -> Vec<String> {
    vec![
        c.name.clone(),
        c.provider.clone(),
        c.status.clone(),
        short_time(&c.created_at),
        c.services.join(", "),
    ]
}

fn read_key(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| crate::usage(format!("cannot read the SSH key {}: {e}", path.display())))
}
