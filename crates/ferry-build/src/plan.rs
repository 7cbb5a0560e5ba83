//! `plan`: from a source directory and a service's configuration to a Dockerfile and run settings.

use std::collections::BTreeMap;
use std::path::Path;

use ferry_model::{CodeConfiguration, CodeRuntime, EnvVars, ImageConfiguration, SecretName, SecretRefs};

use crate::apprunner::AppRunnerConfig;
use crate::deps::place;
use crate::detect::{self, Kind};
use crate::dockerfile::Recipe;
use crate::ignore::DockerIgnore;
use crate::languages::{self, Ctx};
use crate::repo::Repo;
use crate::{BuildError, RuntimeImages};

/// App Runner's file, in the source directory.
pub const APPRUNNER_FILE: &str = detect::APPRUNNER_FILE;
/// Where a generated Dockerfile goes in the build context.
pub const GENERATED_DOCKERFILE: &str = ".ferry/Dockerfile";

pub struct PlanRequest<'a> {
    /// The directory to build: the checkout joined with the source directory (monorepos).
    pub source_dir: &'a Path,
    pub configuration: &'a CodeConfiguration,
    /// The service's own port, env and start command (from the API/CLI).
    pub defaults: &'a ImageConfiguration,
    pub images: &'a RuntimeImages,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The Dockerfile's path inside the build context: the repository's own `Dockerfile`, or
    /// `.ferry/Dockerfile` when generated.
    pub dockerfile: String,
    /// The generated Dockerfile's text (None when the repository's own is used).
    pub generated: Option<String>,
    /// Port, env and start command the instances get. `start_command` is None when the image's CMD
    /// starts the app.
    pub run: ImageConfiguration,
    /// For people: "apprunner.yaml (python311, revised build)", "Dockerfile", "detected python
    /// (requirements.txt)".
    pub description: String,
    /// Which builder: `apprunner.yaml`, `Dockerfile`, `api` or the language (`python`, `nodejs`, …).
    pub builder: String,
    /// The App Runner runtime or ferry's image key (`python311`, `rust`); None for a Dockerfile.
    pub runtime: Option<String>,
    /// The base image the generated Dockerfile starts from.
    pub image: Option<String>,
    /// The commands, in the order they run: phases `pre-build`, `build`, `post-build`, `pre-run`
    /// (apprunner.yaml), `install` and `build` (a detected language), then `start`.
    pub steps: Vec<Step>,
    /// `build.env`: seen by the build commands and `pre-run` only.
    pub build_env: Vec<(String, String)>,
    /// Things that build but may not do what was meant; the build log shows them as warnings.
    pub warnings: Vec<String>,
}

/// One command of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub phase: &'static str,
    pub command: String,
}

/// Decides how to build `req.source_dir` (see the crate's documentation for the order).
pub fn plan(req: &PlanRequest<'_>) -> Result<Plan, BuildError> {
    let repo = Repo::open(req.source_dir)?;
    let ignore = match repo.read(".dockerignore")? {
        Some(text) => DockerIgnore::parse(&text)?,
        None => DockerIgnore::none(),
    };
    let defaults = req.defaults;
    let baked =
        |description: String, builder: String, runtime: &str, recipe: Recipe, run: ImageConfiguration| {
            let steps = match builder.as_str() {
                "apprunner.yaml" | "api" => Vec::new(),
                _ => [("install", &recipe.deps), ("build", &recipe.build)]
                    .into_iter()
                    .flat_map(|(phase, list)| list.iter().map(move |c| Step { phase, command: c.clone() }))
                    .chain([Step { phase: "start", command: recipe.start.clone() }])
                    .collect(),
            };
            Plan {
                dockerfile: GENERATED_DOCKERFILE.to_owned(),
                generated: Some(recipe.render()),
                run: ImageConfiguration { start_command: None, ..run },
                description,
                builder,
                runtime: Some(runtime.to_owned()),
                image: Some(recipe.image.clone()),
                steps,
                build_env: recipe.args.clone(),
                warnings: Vec::new(),
            }
        };
    let builder = match req.configuration {
        CodeConfiguration::Api { runtime, build_command } => {
            let Some(start) = defaults.start_command.clone() else {
                return Err(BuildError::NothingToBuild(format!(
                    "building with the API's settings ({runtime}) needs a start command; give a start command \
                     (--start-command), or build from the repository's apprunner.yaml (--builder auto)"
                )));
            };
            let description = format!("API settings ({})", build_kind(*runtime));
            let file = AppRunnerConfig {
                runtime: *runtime,
                pre_build: Vec::new(),
                build: build_command.iter().cloned().collect(),
                post_build: Vec::new(),
                build_env: Vec::new(),
                runtime_version: None,
                pre_run: Vec::new(),
                command: start,
                port: None,
                port_env: None,
                env: EnvVars::default(),
                secrets: SecretRefs::default(),
                warnings: Vec::new(),
            };
            let recipe = commands_recipe(&repo, &ignore, req.images, &file, &description);
            let mut plan = baked(description, "api".to_owned(), runtime.name(), recipe, defaults.clone());
            plan.steps = file_steps(&file);
            plan.warnings =
                amazon::warnings(&plan.steps, runtime.name(), plan.image.as_deref().unwrap_or(""));
            return Ok(plan);
        }
        CodeConfiguration::Repository { builder } => *builder,
    };
    match detect::choose(&repo, builder)? {
        Kind::Dockerfile => Ok(Plan {
            dockerfile: detect::DOCKERFILE.to_owned(),
            generated: None,
            run: defaults.clone(),
            description: "Dockerfile".to_owned(),
            builder: "Dockerfile".to_owned(),
            runtime: None,
            image: None,
            steps: Vec::new(),
            build_env: Vec::new(),
            warnings: Vec::new(),
        }),
        Kind::AppRunner => {
            let text = repo.read(APPRUNNER_FILE)?.unwrap_or_default();
            let mut file = AppRunnerConfig::parse(&text)?;
            let mut description = format!("{APPRUNNER_FILE} ({}", build_kind(file.runtime));
            if let Some(version) = &file.runtime_version {
                description.push_str(&format!(
                    "; runtime-version {version} asked; the image mapped to {} decides",
                    file.runtime
                ));
            }
            description.push(')');
            if let Some(start) = &defaults.start_command {
                file.command = start.clone();
            }
            let recipe = commands_recipe(&repo, &ignore, req.images, &file, &description);
            // The file's env, with the service's own on top: what the service says wins.
            let mut env: BTreeMap<String, String> =
                file.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            env.extend(defaults.env.iter().map(|(k, v)| (k.to_owned(), v.to_owned())));
            let env = EnvVars::new(env).map_err(|e| BuildError::config(APPRUNNER_FILE, None, e.message))?;
            // Secrets likewise: the file's references, the service's on top. A variable the service sets
            // plainly replaces the file's secret of that name (and the reverse).
            let mut secrets: BTreeMap<String, SecretName> = file
                .secrets
                .iter()
                .filter(|(k, _)| defaults.env.get(k).is_none())
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect();
            secrets.extend(defaults.secrets.iter().map(|(k, v)| (k.to_owned(), v.clone())));
            let env: BTreeMap<String, String> = env
                .iter()
                .filter(|(k, _)| !defaults.secrets.contains(k))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let env = EnvVars::new(env).map_err(|e| BuildError::config(APPRUNNER_FILE, None, e.message))?;
            let secrets =
                SecretRefs::new(secrets).map_err(|e| BuildError::config(APPRUNNER_FILE, None, e.message))?;
            let run = ImageConfiguration {
                port: file.port.unwrap_or(defaults.port),
                env,
                secrets,
                start_command: None,
            };
            let mut plan = baked(description, APPRUNNER_FILE.to_owned(), file.runtime.name(), recipe, run);
            plan.steps = file_steps(&file);
            plan.warnings = std::mem::take(&mut file.warnings);
            let image = plan.image.clone().unwrap_or_default();
            plan.warnings.extend(amazon::warnings(&plan.steps, file.runtime.name(), &image));
            Ok(plan)
        }
        Kind::Language { language, marker, forced } => {
            let description = if forced {
                format!("builder {} ({marker})", language.name())
            } else {
                format!("detected {} ({marker})", language.name())
            };
            let ctx = Ctx {
                repo: &repo,
                ignore: &ignore,
                images: req.images,
                start: defaults.start_command.as_deref(),
            };
            let recipe = languages::recipe(&ctx, language, &description)?;
            let key = languages::image_key(language);
            Ok(baked(description, language.name().to_owned(), key, recipe, defaults.clone()))
        }
    }
}

fn build_kind(runtime: CodeRuntime) -> String {
    format!("{runtime}, {} build", if runtime.revised_build() { "revised" } else { "original" })
}

/// An `apprunner.yaml` (or the API's values) as a recipe: the leading commands of `pre-build` then
/// `build` that need only manifests run before `COPY . .`; everything from the first other command on
/// runs after it, in the file's order.
fn commands_recipe(
    repo: &Repo<'_>,
    ignore: &DockerIgnore,
    images: &RuntimeImages,
    file: &AppRunnerConfig,
    description: &str,
) -> Recipe {
    let mut recipe = Recipe {
        header: description.to_owned(),
        image: images.for_runtime(file.runtime).to_owned(),
        revised: file.runtime.revised_build(),
        args: file.build_env.clone(),
        post_build: file.post_build.clone(),
        pre_run: file.pre_run.clone(),
        start: file.command.clone(),
        ..Recipe::default()
    };
    for command in file.pre_build.iter().chain(&file.build) {
        place(&mut recipe, command, repo, ignore);
    }
    recipe
}

/// The file's commands in the order they run, then the start command.
fn file_steps(file: &AppRunnerConfig) -> Vec<Step> {
    let phases = [
        ("pre-build", &file.pre_build),
        ("build", &file.build),
        ("post-build", &file.post_build),
        ("pre-run", &file.pre_run),
    ];
    phases
        .into_iter()
        .flat_map(|(phase, list)| list.iter().map(move |c| Step { phase, command: c.clone() }))
        .chain([Step { phase: "start", command: file.command.clone() }])
        .collect()
}

mod amazon;
#[cfg(test)]
mod tests;
