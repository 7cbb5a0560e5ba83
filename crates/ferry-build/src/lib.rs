//! Source builds: from a git repository to a build context the container engine can build.
//!
//! App Runner builds a `CodeRepository` from `apprunner.yaml` and one of its managed runtimes; ferry does
//! the same, and also builds a repository's own `Dockerfile` or a detected language. This crate decides
//! *what* to build and packs it; it never runs the engine (the runtime driver builds the image from what
//! this crate returns), and knows no SQL and no HTTP.
//!
//! The flow of one build:
//!
//! 1. [`fetch`]: a shallow `git fetch` of the branch (or a pinned commit) into a repository ferry keeps
//!    for the service, so the next build fetches only what changed; the worktree is checked out clean
//!    and the commit id returned. Local paths and `file://` work like any host.
//! 2. [`source_dir`]: the checkout joined with the service's source directory (monorepos), checked to
//!    exist and to stay inside the checkout.
//! 3. [`plan`]: reads the source directory and decides how to build it, returning the Dockerfile (the
//!    repository's own, or one generated at `.ferry/Dockerfile`) and how instances run (port, env, start
//!    command).
//! 4. [`context_tar`]: packs the source directory (honouring `.dockerignore`, never `.git`) plus the
//!    generated Dockerfile into a tar with sorted entries and zeroed times, the engine's build context.
//!
//! ## Which build
//!
//! With `CodeConfiguration::Repository { builder: Auto }`, the first of these found in the source
//! directory decides, in this fixed order:
//!
//! 1. `apprunner.yaml`: App Runner's file wins, so its users get what they had there;
//! 2. `Dockerfile`: App Runner cannot build one, ferry can;
//! 3. a detected language, the first whose marker file exists: Python (`requirements.txt`,
//!    `pyproject.toml`, `Pipfile`, `setup.py`), Node.js (`package.json`), Go (`go.mod`), Rust
//!    (`Cargo.toml`), Ruby (`Gemfile`), PHP (`composer.json`), a static site (`index.html`).
//!
//! Any other builder forces its kind and fails if its file is missing. `CodeConfiguration::Api` ignores
//! `apprunner.yaml` and builds like one with the given runtime, build command and the service's start
//! command, as App Runner does with `ConfigurationSource: API`.
//!
//! ## Layer caching
//!
//! Every generated Dockerfile copies the dependency manifests (`requirements.txt`, `package.json` and its
//! lock, `go.mod`/`go.sum`, …) and installs dependencies *before* `COPY . .`, so a change to application
//! code alone reuses the engine's cached dependency layer. Commands are only moved before the copy when
//! they provably need nothing but those manifests (see `deps.rs`); otherwise they run after it, in order.

mod apprunner;
mod context;
mod deps;
mod detect;
mod dockerfile;
mod git;
mod ignore;
mod images;
mod languages;
mod log;
mod plan;
mod repo;
#[cfg(test)]
mod test_support;
mod yaml_lines;

pub use apprunner::AppRunnerConfig;
pub use context::context_tar;
pub use git::{Checkout, FetchRequest, branch_head, fetch};
pub use images::RuntimeImages;
pub use log::clean_line;
pub use plan::{APPRUNNER_FILE, GENERATED_DOCKERFILE, Plan, PlanRequest, Step, plan};
pub use repo::source_dir;

/// Why a build could not be prepared. Every message says what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// git failed; the message says what to fix (branch missing, repository unreachable, authentication).
    #[error("{0}")]
    Fetch(String),
    /// A file in the repository is wrong: `apprunner.yaml line 7: run.command is missing …`.
    #[error("{}", config_message(file, *line, message))]
    Config { file: String, line: Option<usize>, message: String },
    /// Nothing to build: says what was looked for, in order, and how to override.
    #[error("{0}")]
    NothingToBuild(String),
    /// The source directory does not exist in the repository, the context is too big, an unreadable file …
    #[error("{0}")]
    Source(String),
}

impl BuildError {
    pub(crate) fn config(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        BuildError::Config { file: file.to_owned(), line, message: message.into() }
    }
}

fn config_message(file: &str, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("{file} line {line}: {message}"),
        None => format!("{file}: {message}"),
    }
}
