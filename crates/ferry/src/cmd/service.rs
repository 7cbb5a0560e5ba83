//! `ferry service create | list | describe | update | deploy | rollback | pause | resume | delete`.

use std::collections::BTreeMap;

use anyhow::Result;
use ferry_client::Client;
use ferry_wire::{
    AutoScalingInput, CodeRepositoryInput, CodeUpdate, CreateServiceRequest, GitCredentialsInput,
    HealthCheckInput, ImageSourceInput, ImageUpdate, InstanceInput, RegistryCredentialsInput,
    ServiceOperation, ServiceView, SourceInput, UpdateServiceRequest,
};

use crate::OperationFailed;
use crate::cli::{CreateArgs, Global, HealthArgs, Output, ScalingArgs, ServiceCommand, UpdateArgs};
use crate::context::client;
use crate::output::{json, short_time, table};
use crate::wait::follow;

pub async fn run(global: &Global, command: ServiceCommand) -> Result<()> {
    match command {
        ServiceCommand::Create(args) => create(global, *args).await,
        ServiceCommand::List => list(global).await,
        ServiceCommand::Describe { name } => describe(global, &name).await,
        ServiceCommand::Update(args) => update(global, *args).await,
        ServiceCommand::Deploy { name, wait } => {
            let c = client(global)?;
            let queued = c.deploy_service(&name).await?;
            finish(global, &c, &name, queued, wait, "deploying").await
        }
        ServiceCommand::Rollback { name, to, wait } => {
            let c = client(global)?;
            let queued = c.rollback_service(&name, to).await?;
            finish(global, &c, &name, queued, wait, "rolling back").await
        }
        ServiceCommand::Pause { name, wait } => {
            let c = client(global)?;
            let queued = c.pause_service(&name).await?;
            finish(global, &c, &name, queued, wait, "pausing").await
        }
        ServiceCommand::Resume { name, wait } => {
            let c = client(global)?;
            let queued = c.resume_service(&name).await?;
            finish(global, &c, &name, queued, wait, "resuming").await
        }
        ServiceCommand::Delete { name, wait } => delete(global, &name, wait).await,
        ServiceCommand::Webhook { name, rotate } => super::hooks::webhook(global, &name, rotate).await,
    }
}

fn health_input(h: HealthArgs) -> Option<HealthCheckInput> {
    let input = HealthCheckInput {
        protocol: h.health_protocol,
        path: h.health_path,
        interval: h.health_interval,
        timeout: h.health_timeout,
        healthy_threshold: h.healthy_threshold,
        unhealthy_threshold: h.unhealthy_threshold,
        grace_period: h.health_grace_period,
    };
    let any = input.protocol.is_some()
        || input.path.is_some()
        || input.interval.is_some()
        || input.timeout.is_some()
        || input.healthy_threshold.is_some()
        || input.unhealthy_threshold.is_some()
        || input.grace_period.is_some();
    any.then_some(input)
}

fn git_credentials(
    username: Option<String>,
    password: Option<String>,
    ssh_key: Option<std::path::PathBuf>,
) -> Result<Option<GitCredentialsInput>> {
    Ok(match (username, password, ssh_key) {
        (Some(username), Some(password), _) => Some(GitCredentialsInput {
            username: Some(username),
            password: Some(password),
            ssh_private_key: None,
        }),
        (_, _, Some(path)) => {
            let key = std::fs::read_to_string(&path)
                .map_err(|e| crate::usage(format!("cannot read the SSH key {}: {e}", path.display())))?;
            Some(GitCredentialsInput { username: None, password: None, ssh_private_key: Some(key) })
        }
        _ => None,
    })
}

fn credentials(username: Option<String>, password: Option<String>) -> Option<RegistryCredentialsInput> {
    match (username, password) {
        (Some(username), Some(password)) => Some(RegistryCredentialsInput { username, password }),
        _ => None,
    }
}

/// After a mutating call: print what was queued, or with `wait`, follow the operation to its end and
/// fail unless it succeeded.
async fn finish(
    global: &Global,
    client: &Client,
    name: &str,
    queued: ServiceOperation,
    wait: bool,
    doing: &str,
) -> Result<()> {
    if !wait {
        return match global.output {
            Output::Json => json(&queued),
            Output::Human => {
                println!(
                    "{doing} {name} (operation {}); `ferry operations {name}` follows it",
                    queued.operation_id
                );
                Ok(())
            }
        };
    }
    if global.output == Output::Human {
        eprintln!("{doing} {name} (operation {})", queued.operation_id);
    }
    let op = follow(client, &queued.operation_id, global.output).await?;
    let service = client.describe_service(name).await?;
    if global.output == Output::Json {
        json(&service)?;
    }
    if op.status != "SUCCEEDED" {
        return Err(OperationFailed { operation: op.id, status: op.status, error: op.error }.into());
    }
    if global.output == Output::Human {
        let revision = service.active_revision.map(|r| format!(" on revision {r}")).unwrap_or_default();
        println!("{} is {}{revision} at {}", service.name, service.status, service.url);
    }
    Ok(())
}

async fn update(global: &Global, args: UpdateArgs) -> Result<()> {
    let c = client(global)?;
    let code = &args.code;
    let code_changes = code.repo.is_some()
        || code.branch.is_some()
        || code.source_dir.is_some()
        || code.builder.is_some()
        || code.runtime.is_some()
        || code.build_command.is_some()
        || code.git_username.is_some()
        || code.git_ssh_key.is_some()
        || code.connection.is_some();
    // --env, --port and --start-command belong to whichever source the service has.
    let is_code = code_changes || c.describe_service(&args.name).await?.source.code_repository.is_some();
    if is_code {
        let req = UpdateServiceRequest {
            code: Some(CodeUpdate {
                repository_url: args.code.repo,
                branch: args.code.branch,
                source_directory: args.code.source_dir,
                configuration_source: None,
                builder: args.code.builder,
                runtime: args.code.runtime,
                build_command: args.code.build_command,
                start_command: args.start_command,
                port: args.port,
                env: parse_env(&args.env)?,
                env_remove: args.unset_env,
                secrets: parse_secrets(&args.secrets)?,
                secrets_remove: args.remove_secrets,
                credentials: git_credentials(
                    args.code.git_username,
                    args.code.git_password,
                    args.code.git_ssh_key,
                )?,
                connection: args.code.connection,
            }),
            image: None,
            instance: (args.cpu.is_some() || args.memory.is_some())
                .then_some(InstanceInput { cpu: args.cpu, memory: args.memory }),
            health_check: health_input(args.health),
            instances: args.instances,
            protocol: args.traffic.protocol.clone(),
            request_timeout: args.traffic.request_timeout,
            is_publicly_accessible: args.traffic.publicly_accessible(),
            read_only_root: args.traffic.read_only_root(),
            https_redirect: args.traffic.https_redirect,
            hsts_max_age: args.traffic.hsts_max_age,
            request_logs: args.traffic.request_logs.clone(),
            auto_deploy: args.auto.value(),
            autoscaling: scaling_input(&args.scaling),
        };
        let queued = c.update_service(&args.name, &req).await?;
        return finish(global, &c, &args.name, queued, args.wait, "updating").await;
    }
    let image_changes = args.image.is_some()
        || args.port.is_some()
        || !args.env.is_empty()
        || !args.unset_env.is_empty()
        || !args.secrets.is_empty()
        || !args.remove_secrets.is_empty()
        || args.start_command.is_some()
        || args.registry_username.is_some();
    let req = UpdateServiceRequest {
        code: None,
        image: image_changes
            .then(|| -> Result<ImageUpdate> {
                Ok(ImageUpdate {
                    identifier: args.image,
                    port: args.port,
                    env: parse_env(&args.env)?,
                    env_remove: args.unset_env,
                    secrets: parse_secrets(&args.secrets)?,
                    secrets_remove: args.remove_secrets,
                    start_command: args.start_command,
                    credentials: credentials(args.registry_username, args.registry_password),
                })
            })
            .transpose()?,
        instance: (args.cpu.is_some() || args.memory.is_some())
            .then_some(InstanceInput { cpu: args.cpu, memory: args.memory }),
        health_check: health_input(args.health),
        instances: args.instances,
        protocol: args.traffic.protocol.clone(),
        request_timeout: args.traffic.request_timeout,
        is_publicly_accessible: args.traffic.publicly_accessible(),
        read_only_root: args.traffic.read_only_root(),
        https_redirect: args.traffic.https_redirect,
        hsts_max_age: args.traffic.hsts_max_age,
        request_logs: args.traffic.request_logs.clone(),
        auto_deploy: args.auto.value(),
        autoscaling: scaling_input(&args.scaling),
    };
    let queued = c.update_service(&args.name, &req).await?;
    finish(global, &c, &args.name, queued, args.wait, "updating").await
}

/// The scaling a create or update asks for, if any.
fn scaling_input(args: &ScalingArgs) -> Option<AutoScalingInput> {
    let v = &args.values;
    let any = args.autoscaling.is_some()
        || v.max_concurrency.is_some()
        || v.min_size.is_some()
        || v.max_size.is_some();
    any.then(|| AutoScalingInput {
        configuration: args.autoscaling.clone(),
        max_concurrency: v.max_concurrency,
        min_size: v.min_size,
        max_size: v.max_size,
    })
}

fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(crate::usage(format!("--env {pair:?} is not NAME=VALUE, e.g. --env GREETING=hello")));
        };
        env.insert(name.to_owned(), value.to_owned());
    }
    Ok(env)
}

/// `--secret ENV=SECRET` pairs: variable → secret name.
fn parse_secrets(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut secrets = BTreeMap::new();
    for pair in pairs {
        let Some((env, secret)) = pair.split_once('=').filter(|(e, s)| !e.is_empty() && !s.is_empty()) else {
            return Err(crate::usage(format!(
                "--secret {pair:?} is not ENV=SECRET, e.g. --secret DATABASE_PASSWORD=db-password \
                 (the value itself goes in with `ferry secret set db-password`)"
            )));
        };
        secrets.insert(env.to_owned(), secret.to_owned());
    }
    Ok(secrets)
}

async fn create(global: &Global, args: CreateArgs) -> Result<()> {
    let client = client(global)?;
    let env = parse_env(&args.env)?;
    let secrets = parse_secrets(&args.secrets)?;
    let source = match (args.image, args.code.repo.clone()) {
        (Some(identifier), _) => SourceInput {
            image: Some(ImageSourceInput {
                identifier,
                port: args.port,
                env,
                secrets,
                start_command: args.start_command,
                credentials: credentials(args.registry_username, args.registry_password),
            }),
            code_repository: None,
        },
        (None, Some(repository_url)) => SourceInput {
            image: None,
            code_repository: Some(CodeRepositoryInput {
                repository_url,
                branch: args.code.branch,
                source_directory: args.code.source_dir,
                configuration_source: None,
                builder: args.code.builder,
                runtime: args.code.runtime,
                build_command: args.code.build_command,
                start_command: args.start_command,
                port: args.port,
                env,
                secrets,
                credentials: git_credentials(
                    args.code.git_username,
                    args.code.git_password,
                    args.code.git_ssh_key,
                )?,
                connection: args.code.connection,
            }),
        },
        (None, None) => {
            return Err(crate::usage("give --image (an image to run) or --repo (a git repository to build)"));
        }
    };
    let req = CreateServiceRequest {
        name: args.name.clone(),
        source,
        instance: (args.cpu.is_some() || args.memory.is_some())
            .then_some(InstanceInput { cpu: args.cpu, memory: args.memory }),
        health_check: health_input(args.health),
        instances: args.instances,
        protocol: args.traffic.protocol.clone(),
        request_timeout: args.traffic.request_timeout,
        is_publicly_accessible: args.traffic.publicly_accessible(),
        read_only_root: args.traffic.read_only_root(),
        https_redirect: args.traffic.https_redirect,
        hsts_max_age: args.traffic.hsts_max_age,
        request_logs: args.traffic.request_logs.clone(),
        auto_deploy: args.auto.value(),
        autoscaling: scaling_input(&args.scaling),
    };
    let created = client.create_service(&req).await?;
    if !args.wait {
        return match global.output {
            Output::Json => json(&created),
            Output::Human => {
                println!("{} will be served at {}", created.service.name, created.service.url);
                Ok(())
            }
        };
    }
    finish(global, &client, &args.name, created, true, "creating").await
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
    let c = client(global)?;
    let s = c.describe_service(name).await?;
    if global.output == Output::Json {
        return json(&s);
    }
    // A repository's own configuration (apprunner.yaml) may set the port: what the serving revision
    // was built with is what instances get, not the service's --port.
    let built = match (&s.source.code_repository, s.active_revision) {
        (Some(code), Some(active)) if code.configuration_source == "REPOSITORY" => {
            let revisions = c.revisions(name).await?;
            revisions.revisions.into_iter().find(|r| r.number == active && r.builder.is_some())
        }
        _ => None,
    };
    print_service(&s, built.as_ref());
    Ok(())
}

fn print_service(s: &ServiceView, built: Option<&ferry_wire::RevisionView>) {
    let field = |k: &str, v: &str| println!("{k:<16}{v}");
    field("Name", &s.name);
    field("Status", &s.status);
    field("URL", &s.url);
    field("ARN", &s.arn);
    if let Some(code) = &s.source.code_repository {
        let dir = code.source_directory.as_deref().map(|d| format!(" (directory {d})")).unwrap_or_default();
        field("Repository", &format!("{} branch {}{dir}", code.repository_url, code.branch));
        let how = match (&code.builder, &code.runtime) {
            (_, Some(runtime)) => format!(
                "API values: runtime {runtime}{}",
                code.build_command.as_deref().map(|c| format!(", build `{c}`")).unwrap_or_default()
            ),
            (Some(builder), None) => format!("from the repository (builder {builder})"),
            (None, None) => "from the repository".to_owned(),
        };
        field("Build", &how);
        if let Some(connection) = &code.connection {
            field("Connection", connection);
        }
        match built {
            Some(r) if r.port != code.port => field(
                "Port",
                &format!(
                    "{} (as built in revision {} by {}; the service's own: {})",
                    r.port,
                    r.number,
                    r.builder.as_deref().unwrap_or("the repository"),
                    code.port
                ),
            ),
            _ => field("Port", &code.port.to_string()),
        }
        if let Some(c) = &code.start_command {
            field("Start command", c);
        }
        for (k, v) in &code.env {
            field("Env", &format!("{k}={v}"));
        }
        for (k, v) in &code.secrets {
            field("Secret", &format!("{k} from secret {v}"));
        }
    }
    if let Some(image) = &s.source.image {
        field("Image", &image.identifier);
        field("Port", &image.port.to_string());
        if let Some(c) = &image.start_command {
            field("Start command", c);
        }
        for (k, v) in &image.env {
            field("Env", &format!("{k}={v}"));
        }
        for (k, v) in &image.secrets {
            field("Secret", &format!("{k} from secret {v}"));
        }
    }
    field("Image digest", s.image_digest.as_deref().unwrap_or("-"));
    print_watch(s, &field);
    field("Revision", &s.active_revision.map(|r| r.to_string()).unwrap_or_else(|| "-".into()));
    field("Size", &format!("{}, {}", s.instance.cpu, s.instance.memory));
    let h = &s.health_check;
    let target = if h.protocol == "HTTP" { format!(" {}", h.path) } else { String::new() };
    field(
        "Health check",
        &format!(
            "{}{target} every {}s, timeout {}s, healthy after {}, unhealthy after {}{}",
            h.protocol,
            h.interval,
            h.timeout,
            h.healthy_threshold,
            h.unhealthy_threshold,
            if h.grace_period > 0 { format!(", grace {}s", h.grace_period) } else { String::new() }
        ),
    );
    let protocol = if s.protocol == "http2" { "http2 (h2c)" } else { s.protocol.as_str() };
    field("Protocol", protocol);
    field("Request timeout", &format!("{}s", s.request_timeout));
    if let Some(redirect) = s.https_redirect {
        field("HTTPS redirect", if redirect { "on" } else { "off" });
    }
    if let Some(age) = s.hsts_max_age {
        field("HSTS", &if age == 0 { "off".to_owned() } else { format!("max-age={age}") });
    }
    if s.request_logs != "off" {
        field("Request logs", &s.request_logs);
    }
    if let Some(observability) = &s.observability {
        field("Observability", &format!("{observability} (recorded only: ferry collects no traces)"));
    }
    if s.read_only_root {
        field("Root filesystem", "read-only (/tmp writable)");
    }
    if !s.is_publicly_accessible {
        field("Access", "private: only from other services, through the internal listener");
    }
    field("Created", &short_time(&s.created_at));
    if let Some(op) = &s.latest_operation {
        let error = op.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        field("Last operation", &format!("{} {}{error}", op.kind, op.status));
    }
    if let Some(a) = &s.autoscaling {
        let from = a.configuration.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
        field(
            "Scaling",
            &format!(
                "{} to {} instances, {} concurrent requests each{from}",
                a.min_size, a.max_size, a.max_concurrency
            ),
        );
        if let (Some(reason), Some(at)) = (&a.reason, &a.decided_at) {
            let seen = a.concurrency.map(|c| format!(", {c} concurrent requests")).unwrap_or_default();
            field("Last decision", &format!("{reason}{seen} at {}", short_time(at)));
        }
    } else {
        field("Scaling", &format!("fixed, {} instances", s.instances_desired));
    }
    let ready = s.instances.iter().filter(|i| i.state == "READY").count();
    println!("Instances ({} wanted, {} running, {ready} ready)", s.instances_desired, s.instances.len());
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

/// Automatic deployments: on or off, what is watched, the newest version seen, the last look.
fn print_watch(s: &ServiceView, field: &dyn Fn(&str, &str)) {
    let Some(w) = &s.watch else { return };
    let on = if s.auto_deploy { "on" } else { "off" };
    field("Auto deploy", &format!("{on}, watching {}", w.watching));
    if let Some(seen) = &w.seen {
        let short =
            if seen.contains(':') { &seen[..seen.len().min(19)] } else { &seen[..seen.len().min(12)] };
        let by = [w.seen_author.as_deref(), w.seen_subject.as_deref().map(|m| m.trim())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        let by = if by.is_empty() { String::new() } else { format!(" ({by})") };
        let when = w.seen_at.as_deref().map(short_time).unwrap_or_default();
        let via = w.seen_via.as_deref().unwrap_or("-");
        field("Last seen", &format!("{short}{by} at {when} by {via}"));
    }
    if let Some(at) = &w.checked_at {
        let error = w.check_error.as_deref().map(|e| format!(": failed, {e}")).unwrap_or_default();
        field("Last checked", &format!("{}{error}", short_time(at)));
    }
    if let (Some(at), Some(reason)) = (&w.ignored_at, &w.ignored_reason) {
        field("Last ignored", &format!("{} at {}", reason, short_time(at)));
    }
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
