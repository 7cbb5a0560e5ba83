//! `ferry secret set | list | delete`: values services get as environment variables.
//!
//! A value is read from standard input, or asked for on the terminal, never taken from the command line:
//! arguments are visible to every user of the machine (`ps`) and kept in shell history.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result};

use crate::cli::{Global, Output, SecretCommand};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: SecretCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        SecretCommand::Set { name, keep_newline } => {
            let value = read_value(&name, keep_newline)?;
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

/// The value: all of standard input when it is not a terminal (one trailing newline removed unless
/// `keep_newline`), else asked for twice without echo.
fn read_value(name: &str, keep_newline: bool) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut value = String::new();
        stdin
            .lock()
            .read_to_string(&mut value)
            .context("cannot read the value from standard input (it must be UTF-8 text)")?;
        if !keep_newline && let Some(v) = value.strip_suffix("\r\n").or_else(|| value.strip_suffix('\n')) {
            let len = v.len();
            value.truncate(len);
        }
        if value.is_empty() {
            return Err(crate::usage(format!(
                "standard input was empty: pipe the value in, e.g. `printf %s \"$VALUE\" | ferry secret set {name}`, \
                 or run it on a terminal to be asked for it"
            )));
        }
        return Ok(value);
    }
    let first =
        rpassword::prompt_password(format!("Value of secret {name}: ")).context("cannot read the value")?;
    let second = rpassword::prompt_password("Again, to confirm: ").context("cannot read the value")?;
    if first != second {
        return Err(crate::usage("the two values differ; nothing was set"));
    }
    Ok(first)
}
