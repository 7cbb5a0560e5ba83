//! `ferry service create | list | describe | delete`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use ferry_wire::{
    CreateServiceRequest, HealthCheckInput, ImageSourceInput, InstanceInput, RegistryCredentialsInput,
    ServiceView, SourceInput,
};

use crate::OperationFailed;
use crate::cli::{CreateArgs, Global, Output, ServiceCommand};
use crate::context::client;
use crate::output::{json, short_time, table};
use crate::wait::follow;

pub async fn run(global: &Global, command: ServiceCommand) -> Result<()> {
    match command {
        ServiceCommand::Create(args) => create(global, *args).await,
        ServiceCommand::List => list(global).await,
        ServiceCommand::Describe { name } => describe(global, &name).await,
        ServiceCommand::Delete { name, wait } => delete(global, &name, wait).await,
    }
}

fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--env {pair:?} is not NAME=VALUE");
        };
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}

async fn create(global: &Global, args: CreateArgs) -> Result<()> {
    let client = client(global)?;
    let health = HealthCheckInput {
        protocol: args.health_protocol,
        path: args.health_path,
        interval: args.health_interval,
        timeout: args.health_timeout,
        healthy_threshold: args.healthy_threshold,
        unhealthy_threshold: args.unhealthy_threshold,
    };
    let any_health = health.protocol.is_some()
        || health.path.is_some()
        || health.interval.is_some()
        || health.timeout.is_some()
        || health.healthy_threshold.is_some()
        || health.unhealthy_threshold.is_some();
    let req = CreateServiceRequest {
        name: args.name.clone(),
        source: SourceInput {
            image: Some(ImageSourceInput {
                identifier: args.image,
                port: args.port,
                env: parse_env(&args.env)?,
                start_command: args.start_command,
                credentials: match (args.registry_username, args.registry_password) {
                    (Some(username), Some(password)) => Some(RegistryCredentialsInput { username, password }),
                    _ => None,
                },
            }),
        },
        instance: (args.cpu.is_some() || args.memory.is_some())
            .then_some(InstanceInput { cpu: args.cpu, memory: args.memory }),
        health_check: any_health.then_some(health),
        instances: args.instances,
    };
    let created = client.create_service(&req).await?;
    if global.output == Output::Human {
        eprintln!("Creating {} (operation {})", created.service.name, created.operation_id);
    }
    if !args.wait {
        return match global.output {
            Output::Json => json(&created),
            Output::Human => {
                println!("{} will be served at {}", created.service.name, created.service.url);
                Ok(())
            }
        };
    }
    let op = follow(&client, &created.operation_id, global.output).await?;
    let service = client.describe_service(&args.name).await?;
    if global.output == Output::Json {
        json(&service)?;
    }
    if op.status != "SUCCEEDED" {
        return Err(OperationFailed { operation: op.id, status: op.status, error: op.error }.into());
    }
    if global.output == Output::Human {
        println!("{} is {} at {}", service.name, service.status, service.url);
    }
    Ok(())
}

async fn list(global: &Global) -> Result<()> {
    let list = client(global)?.list_services().await?;
    if global.output == Output::Json {
        return json(&list);
    }
    let rows: Vec<Vec<String>> = list
        .services
        .iter()
        .map(|s| vec![s.name.clone(), s.status.clone(), s.url.clone(), short_time(&s.created_at)])
        .collect();
    table(&["NAME", "STATUS", "URL", "CREATED"], &rows);
    Ok(())
}

async fn describe(global: &Global, name: &str) -> Result<()> {
    let s = client(global)?.describe_service(name).await?;
    if global.output == Output::Json {
        return json(&s);
    }
    print_service(&s);
    Ok(())
}

fn print_service(s: &ServiceView) {
    let field = |k: &str, v: &str| println!("{k:<16}{v}");
    field("Name", &s.name);
    field("Status", &s.status);
    field("URL", &s.url);
    field("ARN", &s.arn);
    if let Some(image) = &s.source.image {
        field("Image", &image.identifier);
        field("Port", &image.port.to_string());
        if let Some(c) = &image.start_command {
            field("Start command", c);
        }
        for (k, v) in &image.env {
            field("Env", &format!("{k}={v}"));
        }
    }
    field("Image digest", s.image_digest.as_deref().unwrap_or("-"));
    field("Revision", &s.active_revision.map(|r| r.to_string()).unwrap_or_else(|| "-".into()));
    field("Size", &format!("{}, {}", s.instance.cpu, s.instance.memory));
    let h = &s.health_check;
    let target = if h.protocol == "HTTP" { format!(" {}", h.path) } else { String::new() };
    field(
        "Health check",
        &format!(
            "{}{target} every {}s, timeout {}s, healthy after {}, unhealthy after {}",
            h.protocol, h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold
        ),
    );
    field("Created", &short_time(&s.created_at));
    if let Some(op) = &s.latest_operation {
        let error = op.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        field("Last operation", &format!("{} {}{error}", op.kind, op.status));
    }
    println!("Instances ({} wanted)", s.instances_desired);
    let rows: Vec<Vec<String>> = s
        .instances
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.revision.to_string(),
                i.state.clone(),
                i.address.clone().unwrap_or_else(|| "-".into()),
                short_time(&i.since),
                i.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["  ID", "REV", "STATE", "ADDRESS", "SINCE", "DETAIL"],
        &rows
            .into_iter()
            .map(|mut r| {
                r[0] = format!("  {}", r[0]);
                r
            })
            .collect::<Vec<_>>(),
    );
}

async fn delete(global: &Global, name: &str, wait: bool) -> Result<()> {
    let client = client(global)?;
    let deleted = client.delete_service(name).await?;
    if !wait {
        return match global.output {
            Output::Json => json(&deleted),
            Output::Human => {
                println!("deleting {} (operation {})", name, deleted.operation_id);
                Ok(())
            }
        };
    }
    let op = follow(&client, &deleted.operation_id, global.output).await?;
    if global.output == Output::Json {
        json(&op)?;
    }
    if op.status != "SUCCEEDED" {
        return Err(OperationFailed { operation: op.id, status: op.status, error: op.error }.into());
    }
    if global.output == Output::Human {
        println!("{name} is deleted");
    }
    Ok(())
}
