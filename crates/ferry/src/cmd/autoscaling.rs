//! `ferry autoscaling create | list | describe | delete | default`: auto scaling configurations.

use anyhow::Result;
use ferry_wire::{AutoScalingList, AutoScalingRequest};

use crate::cli::{AutoscalingCommand, Global, Output};
use crate::context::client;
use crate::output::{json, short_time, table};

pub async fn run(global: &Global, command: AutoscalingCommand) -> Result<()> {
    let c = client(global)?;
    match command {
        AutoscalingCommand::Create { name, values } => {
            let req = AutoScalingRequest {
                name,
                max_concurrency: values.max_concurrency,
                min_size: values.min_size,
                max_size: values.max_size,
            };
            let made = c.create_autoscaling(&req).await?;
            if global.output == Output::Json {
                return json(&made);
            }
            println!(
                "{} revision {}: {} to {} instances, {} concurrent requests each",
                made.name, made.revision, made.min_size, made.max_size, made.max_concurrency
            );
            Ok(())
        }
        AutoscalingCommand::List => show(global, &c.autoscaling_list().await?),
        AutoscalingCommand::Describe { name } => show(global, &c.autoscaling(&name).await?),
        AutoscalingCommand::Delete { name, revision } => {
            c.delete_autoscaling(&name, revision).await?;
            if global.output == Output::Human {
                match revision {
                    Some(r) => println!("deleted {name} revision {r}"),
                    None => println!("deleted {name}"),
                }
            }
            Ok(())
        }
        AutoscalingCommand::Default { name } => {
            let list = c.default_autoscaling(&name).await?;
            if global.output == Output::Json {
                return json(&list);
            }
            println!("new services now scale as {name}");
            Ok(())
        }
    }
}

fn show(global: &Global, list: &AutoScalingList) -> Result<()> {
    if global.output == Output::Json {
        return json(list);
    }
    let rows: Vec<Vec<String>> = list
        .configurations
        .iter()
        .map(|c| {
            vec![
                format!("{}{}", c.name, if c.is_default { " (default)" } else { "" }),
                c.revision.to_string(),
                c.max_concurrency.to_string(),
                c.min_size.to_string(),
                c.max_size.to_string(),
                short_time(&c.created_at),
                c.services.join(", "),
            ]
        })
        .collect();
    table(&["NAME", "REVISION", "MAX CONCURRENCY", "MIN", "MAX", "CREATED", "SERVICES"], &rows);
    Ok(())
}
