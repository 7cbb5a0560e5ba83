//! `ferry build plan [DIR]`: what ferry would build for a directory, without building or asking the
//! server: the builder it chooses, the runtime and base image, the commands in the order they run, the
//! env, the port and the generated Dockerfile. Errors are the ones a build of the same directory would
//! report, so a repository can be checked before it is pushed.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use ferry_build::{Plan, PlanRequest, RuntimeImages};
use ferry_model::{Builder, CodeConfiguration, ImageConfiguration};
use serde_json::json;

use crate::cli::{Global, Output};

#[derive(Debug, Subcommand)]
pub enum BuildCommand {
    /// Print what ferry would build for a directory (builder, commands, env, port, Dockerfile) without
    /// building it
    Plan(PlanArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The source directory (a monorepo's service directory)
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The builder, as a service's --builder: auto (apprunner.yaml, then Dockerfile, then a detected
    /// language), apprunner, dockerfile, python, nodejs, go, rust, ruby, php, static
    #[arg(long, default_value = "auto")]
    pub builder: String,
    /// The port the service would be given (apprunner.yaml's run.network.port wins)
    #[arg(long)]
    pub port: Option<u16>,
    /// A runtime's base image, NAME=IMAGE, as the server's --runtime-image (repeatable)
    #[arg(long = "runtime-image", value_name = "NAME=IMAGE", value_delimiter = ',')]
    pub runtime_images: Vec<String>,
}

pub fn run(global: &Global, command: BuildCommand) -> Result<()> {
    match command {
        BuildCommand::Plan(args) => plan(global, &args),
    }
}

fn plan(global: &Global, args: &PlanArgs) -> Result<()> {
    let builder =
        Builder::parse(&args.builder).map_err(|e| crate::usage(format!("--builder: {}", e.message)))?;
    let mut images = RuntimeImages::defaults();
    for pair in &args.runtime_images {
        let Some((name, image)) = pair.split_once('=') else {
            return Err(crate::usage(format!(
                "--runtime-image {pair:?} is not NAME=IMAGE, e.g. python311=registry.local/python:3.11"
            )));
        };
        images
            .set(name.trim(), image.trim())
            .map_err(|e| crate::usage(format!("--runtime-image: {}", e.message)))?;
    }
    let mut defaults = ImageConfiguration::default();
    if let Some(port) = args.port {
        defaults.port = port;
    }
    let configuration = CodeConfiguration::Repository { builder };
    let plan = ferry_build::plan(&PlanRequest {
        source_dir: &args.dir,
        configuration: &configuration,
        defaults: &defaults,
        images: &images,
    })
    // Refused as a build of this directory would be: the same message, exit code 2.
    .map_err(|e| crate::usage(e.to_string()))?;
    match global.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&as_json(&plan))?),
        Output::Human => print_plan(&plan),
    }
    Ok(())
}

fn as_json(plan: &Plan) -> serde_json::Value {
    let pairs = |list: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
        list.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
    };
    let run_env: Vec<(String, String)> =
        plan.run.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let secrets: Vec<(String, String)> =
        plan.run.secrets.iter().map(|(k, v)| (k.to_owned(), v.as_str().to_owned())).collect();
    json!({
        "builder": plan.builder,
        "description": plan.description,
        "runtime": plan.runtime,
        "image": plan.image,
        "steps": plan.steps.iter().map(|s| json!({"phase": s.phase, "command": s.command})).collect::<Vec<_>>(),
        "build_env": pairs(&plan.build_env),
        "env": pairs(&run_env),
        "secrets": pairs(&secrets),
        "port": plan.run.port,
        "dockerfile": plan.dockerfile,
        "generated_dockerfile": plan.generated,
        "warnings": plan.warnings,
    })
}

fn print_plan(plan: &Plan) {
    let field = |k: &str, v: &str| println!("{k:<16}{v}");
    field("Builder", &plan.description);
    if let Some(runtime) = &plan.runtime {
        field("Runtime", runtime);
    }
    if let Some(image) = &plan.image {
        field("Base image", image);
    }
    for step in &plan.steps {
        field(&format!("[{}]", step.phase), &step.command.replace('\n', "\n                "));
    }
    for (k, v) in &plan.build_env {
        field("Build env", &format!("{k}={v}"));
    }
    for (k, v) in plan.run.env.iter() {
        field("Env", &format!("{k}={v}"));
    }
    // Names only: the values live in the server's secret store.
    for (k, v) in plan.run.secrets.iter() {
        field("Secret", &format!("{k} from secret {}", v.as_str()));
    }
    field("Port", &plan.run.port.to_string());
    for warning in &plan.warnings {
        field("Warning", warning);
    }
    match &plan.generated {
        Some(text) => {
            println!("\nDockerfile (generated, {}):", plan.dockerfile);
            print!("{text}");
        }
        None => field("Dockerfile", &format!("{} (the repository's own)", plan.dockerfile)),
    }
}
