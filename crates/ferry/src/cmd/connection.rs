//! `ferry connection create | credentials | list | delete`: credentials for git hosts that services build
//! from (App Runner's connections).
//!
//! A password or token is read from standard input, or asked for on the terminal, never taken from the
//! command line: arguments are visible to every user of the machine (`ps`) and kept in shell history.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, Result};
use ferry_wire::{ConnectionCredentialsRequest, ConnectionView};

use crate::cli::{ConnectionCommand, Global, Output};
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
                    let password = read_password(&name, &username)?;
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

/// The password or token: all of standard input when it is not a terminal (one trailing newline
/// removed), else asked for twice without echo.
fn read_password(name: &str, username: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut value = String::new();
        stdin
            .lock()
            .read_to_string(&mut value)
            .context("cannot read the password from standard input (it must be UTF-8 text)")?;
        if let Some(v) = value.strip_suffix("\r\n").or_else(|| value.strip_suffix('\n')) {
            let len = v.len();
            value.truncate(len);
        }
        if value.is_empty() {
            return Err(crate::usage(format!(
                "standard input was empty: pipe the password or token in, e.g. `printf %s \"$TOKEN\" | ferry \
                 connection credentials {name} --username {username}`, or run it on a terminal to be asked for it"
            )));
        }
        return Ok(value);
    }
    let first =
        rpassword::prompt_password(format!("Password or token of {username} for connection {name}: "))
            .context("cannot read the password")?;
    let second = rpassword::prompt_password("Again, to confirm: ").context("cannot read the password")?;
    if first != second {
        return Err(crate::usage("the two passwords differ; nothing was set"));
    }
    Ok(first)
}
