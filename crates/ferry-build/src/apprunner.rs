//! `apprunner.yaml`, App Runner's build and run settings for a source-code service (§2.1 of the
//! reference): the whole schema, checked as App Runner checks it, with the line of every error.
//!
//! Parsing happens in two passes. The YAML parser turns the text into [`RawFile`] and reports syntax
//! errors, wrong types, unknown keys (typos) and missing required keys with their line. The second pass
//! checks meaning (a known runtime, version `1.0`, `pre-run` only on revised-build runtimes, no `PORT`
//! in `run.env`, secrets named well) and finds the key's line in the text with [`KeyLines`].
//!
//! Every scalar is read as text, so `version: 1.0` and `runtime-version: 3.10` keep the digits written
//! (a YAML float would turn `3.10` into `3.1`).

use std::collections::BTreeMap;

use ferry_model::{CodeRuntime, EnvVars, SecretName, SecretRefs};
use serde::Deserialize;

use crate::BuildError;
use crate::yaml_lines::KeyLines;

/// The file's name, in the source directory.
const FILE: &str = "apprunner.yaml";

/// A valid `apprunner.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRunnerConfig {
    pub runtime: CodeRuntime,
    pub pre_build: Vec<String>,
    pub build: Vec<String>,
    pub post_build: Vec<String>,
    /// `build.env`: visible to every build command and `pre-run`, not to the running app.
    pub build_env: Vec<(String, String)>,
    /// `run.runtime-version`, as written (`3.11`, `3.11.7`).
    pub runtime_version: Option<String>,
    /// Revised-build runtimes only.
    pub pre_run: Vec<String>,
    pub command: String,
    pub port: Option<u16>,
    /// `run.network.env`: a variable that also receives the port.
    pub port_env: Option<String>,
    pub env: EnvVars,
    /// `run.secrets`: variables whose values come from ferry's secrets when an instance starts. Never
    /// given to the build (App Runner does not either).
    pub secrets: SecretRefs,
    /// What the file does that works but may not do what its author meant (a variable the port
    /// replaces, `yum` on a Debian image): said in the build log, not refused.
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: Option<String>,
    runtime: Option<String>,
    build: RawBuild,
    run: RawRun,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    commands: RawCommands,
    #[serde(default)]
    env: Option<Vec<RawVar>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCommands {
    #[serde(default)]
    pre_build: Option<Vec<String>>,
    build: Option<Vec<String>>,
    #[serde(default)]
    post_build: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRun {
    #[serde(default)]
    runtime_version: Option<String>,
    #[serde(default)]
    pre_run: Option<Vec<String>>,
    command: Option<String>,
    #[serde(default)]
    network: Option<RawNetwork>,
    #[serde(default)]
    env: Option<Vec<RawVar>>,
    #[serde(default)]
    secrets: Option<Vec<RawSecret>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSecret {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value_from: Option<String>,
}

impl AppRunnerConfig {
    /// Parses and checks the text of an `apprunner.yaml`.
    pub fn parse(text: &str) -> Result<Self, BuildError> {
        let lines = KeyLines::index(text);
        let raw: RawFile = serde_norway::from_str(text).map_err(|e| shape::yaml_error(&e, &lines))?;
        let err = |path: &str, message: String| BuildError::config(FILE, lines.line_of(path), message);

        match raw.version.as_deref().map(str::trim) {
            None => return Err(err("version", missing("version"))),
            Some("1.0" | "1") => {}
            Some(v) => {
                return Err(err("version", format!("version {v:?} is not supported; use version: 1.0")));
            }
        }
        let runtime = match raw.runtime.as_deref().map(str::trim) {
            None => return Err(err("runtime", missing("runtime"))),
            Some(name) => CodeRuntime::ALL.into_iter().find(|r| r.name() == name).ok_or_else(|| {
                let all: Vec<&str> = CodeRuntime::ALL.iter().map(|r| r.name()).collect();
                err(
                    "runtime",
                    format!("{name:?} is not an App Runner runtime; use one of {}", all.join(", ")),
                )
            })?,
        };
        let Some(build) = raw.build.commands.build else {
            return Err(err("build.commands.build", missing("build.commands.build")));
        };
        let build_env = build_vars(raw.build.env.unwrap_or_default(), &lines)?;

        let run = raw.run;
        let raw_secrets = run.secrets.unwrap_or_default();
        let pre_run = run.pre_run.unwrap_or_default();
        if !pre_run.is_empty() && !runtime.revised_build() {
            return Err(err(
                "run.pre-run",
                format!(
                    "run.pre-run only works with the revised-build runtimes (python311, nodejs18, nodejs22), \
                     not {runtime}; move the commands to build.commands.build"
                ),
            ));
        }
        if let Some(v) = &run.runtime_version {
            version::check(runtime, v).map_err(|message| err("run.runtime-version", message))?;
        }
        let command = match run.command.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => c.to_owned(),
            _ => return Err(err("run.command", missing("run.command"))),
        };
        let network = run.network.unwrap_or(RawNetwork { port: None, env: None });
        let port = match network.port.as_deref().map(str::trim) {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                err("run.network.port", format!("port {p:?} is not a port number; use 1 to 65535, e.g. 8080"))
            })?),
        };
        // App Runner sets PORT and also the variable named here: naming PORT itself is redundant.
        let port_env = match network.env.as_deref().map(str::trim) {
            None | Some("PORT") => None,
            Some(name) if is_var_name(name) => Some(name.to_owned()),
            Some(name) => {
                return Err(err(
                    "run.network.env",
                    format!(
                        "{name:?} cannot name the port's variable: use letters, digits and _, e.g. APP_PORT"
                    ),
                ));
            }
        };
        let mut warnings = Vec::new();
        let mut env = BTreeMap::new();
        for var in run.env.unwrap_or_default() {
            let (name, value) = var_parts(var, "run.env", &lines)?;
            if name == "PORT" {
                return Err(BuildError::config(
                    FILE,
                    lines.line_of_value("run.env.name", "PORT"),
                    "run.env: PORT is reserved: it is always set to the port; set run.network.port instead",
                ));
            }
            env.insert(name, value);
        }
        if let Some(name) = &port_env {
            // The port wins: the variable exists to carry it (App Runner does not document which
            // wins). Said in the build log rather than done silently.
            let port = port.unwrap_or(8080).to_string();
            if let Some(old) = env.insert(name.clone(), port.clone())
                && old != port
            {
                warnings.push(format!(
                    "{FILE}: run.env sets {name}={old:?}, but run.network.env names {name} too: the instance \
                     gets the port ({port}), which run.network.env's variable carries; remove {name} from run.env"
                ));
            }
        }
        let env = EnvVars::new(env).map_err(|e| {
            let name = e.field.strip_prefix("env.").unwrap_or("");
            BuildError::config(
                FILE,
                lines.line_of_value("run.env.name", name),
                format!("run.env: {}", e.message),
            )
        })?;

        let secrets = secret_refs(raw_secrets, &env, &lines)?;

        Ok(AppRunnerConfig {
            runtime,
            pre_build: raw.build.commands.pre_build.unwrap_or_default(),
            build,
            post_build: raw.build.commands.post_build.unwrap_or_default(),
            build_env,
            runtime_version: run.runtime_version,
            pre_run,
            command,
            port,
            port_env,
            env,
            secrets,
            warnings,
        })
    }
}

mod shape;
#[cfg(test)]
mod tests;
mod version;

/// A required key is absent: what to add.
fn missing(path: &str) -> String {
    let add = match path {
        "version" => "add `version: 1.0` at the top",
        "runtime" => "add `runtime:` with an App Runner runtime, e.g. python311 or nodejs22",
        "build" | "build.commands" | "build.commands.build" => {
            "add build.commands.build with the build commands (an empty list `[]` if there are none)"
        }
        "run" | "run.command" => "add run.command with the command that starts the app",
        _ => "add it",
    };
    format!("{path} is missing; App Runner requires it: {add}")
}

/// `build.env` becomes Dockerfile `ARG`s: names must be shell variable names.
fn build_vars(vars: Vec<RawVar>, lines: &KeyLines) -> Result<Vec<(String, String)>, BuildError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for var in vars {
        let (name, value) = var_parts(var, "build.env", lines)?;
        if !is_var_name(&name) {
            return Err(BuildError::config(
                FILE,
                lines.line_of_value("build.env.name", &name),
                format!("build.env: {name:?} is not a variable name; use letters, digits and _"),
            ));
        }
        if value.contains(['\n', '\r']) {
            return Err(BuildError::config(
                FILE,
                lines.line_of_value("build.env.name", &name),
                format!("build.env: the value of {name} has a line break; build variables are single-line"),
            ));
        }
        out.retain(|(n, _)| *n != name);
        out.push((name, value));
    }
    Ok(out)
}

/// `run.secrets`: `- name: ENV` and `value-from: <secret name or ARN>` (see
/// [`SecretName::from_reference`]).
fn secret_refs(raw: Vec<RawSecret>, env: &EnvVars, lines: &KeyLines) -> Result<SecretRefs, BuildError> {
    let mut refs = BTreeMap::new();
    for secret in raw {
        let Some(name) = secret.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
            return Err(BuildError::config(
                FILE,
                lines.line_of("run.secrets"),
                "run.secrets: an entry has no name; write `- name: ENV_NAME` and `value-from: SECRET_NAME`",
            ));
        };
        let line = lines.line_of_value("run.secrets.name", &name);
        let from = secret.value_from.unwrap_or_default();
        if from.trim().is_empty() {
            return Err(BuildError::config(
                FILE,
                line,
                format!("run.secrets: {name} has no value-from; name the secret: `value-from: SECRET_NAME`"),
            ));
        }
        let secret = SecretName::from_reference(&from)
            .map_err(|e| BuildError::config(FILE, line, format!("run.secrets: {name}: {}", e.message)))?;
        if env.get(&name).is_some() {
            return Err(BuildError::config(
                FILE,
                line,
                format!("run.secrets: {name} is also in run.env (or is run.network.env); keep one"),
            ));
        }
        if refs.insert(name.clone(), secret).is_some() {
            return Err(BuildError::config(FILE, line, format!("run.secrets: {name} is given twice")));
        }
    }
    SecretRefs::new(refs).map_err(|e| {
        let name = e.field.strip_prefix("secrets.").unwrap_or("");
        BuildError::config(
            FILE,
            lines.line_of_value("run.secrets.name", name),
            format!("run.secrets: {}", e.message),
        )
    })
}

fn var_parts(var: RawVar, path: &str, lines: &KeyLines) -> Result<(String, String), BuildError> {
    match var.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        Some(name) => Ok((name, var.value.unwrap_or_default())),
        None => Err(BuildError::config(
            FILE,
            lines.line_of(path),
            format!("{path}: an entry has no name; write `- name: NAME` and `value: VALUE`"),
        )),
    }
}

pub(crate) fn is_var_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
