//! ferry: one binary. `ferry server` runs the platform; every other command is its client.
//!
//! Exit codes: 0 success; 1 an operation ran and failed; 2 the request or the command line was refused
//! (invalid input, unknown service, name taken); 3 the server could not be reached or refused the
//! token; 4 anything else.

use std::process::ExitCode;

use clap::Parser;
use ferry_client::ClientError;

mod cli;
mod cmd;
mod context;
mod output;
mod wait;

use cli::{Cli, Command};

/// An operation that ended without doing what was asked.
#[derive(Debug)]
pub struct OperationFailed {
    pub operation: String,
    pub status: String,
    pub error: Option<String>,
}

impl std::fmt::Display for OperationFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "operation {} ended {}", self.operation, self.status)?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        write!(f, " (`ferry operations <service> --id {}` shows its log)", self.operation)
    }
}

impl std::error::Error for OperationFailed {}

/// A command line ferry refuses before asking the server anything: what was wrong and how to write it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Refuses the command line with `message` (exit code 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<OperationFailed>().is_some() {
        return 1;
    }
    if err.downcast_ref::<ferry_server::ConfigError>().is_some() || err.downcast_ref::<UsageError>().is_some()
    {
        return 2;
    }
    match err.downcast_ref::<ClientError>() {
        Some(ClientError::Api { status, .. }) if *status < 500 => 2,
        Some(
            ClientError::Unreachable { .. }
            | ClientError::Unauthorized { .. }
            | ClientError::InvalidUrl(_)
            | ClientError::Certificate(_),
        ) => 3,
        _ => 4,
    }
}

/// mimalloc rather than glibc's malloc: the router allocates per connection (hyper's buffers, the connection's
/// task) and per request, and mimalloc takes 2 % (keep-alive) to 12 % (a connection per request) off the
/// router's instructions (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Output piped into a reader that stops early (`ferry operations web | head`) ends ferry quietly, as a
/// SIGPIPE ends other command-line tools, instead of with `println!`'s panic (Rust ignores SIGPIPE and
/// `println!` panics on the broken pipe; restoring the signal would take `unsafe`).
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            // 128 + SIGPIPE, what a shell reports for a process the signal ended.
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server(args) => cmd::server::run(*args),
        Command::Service(c) => client_command(cmd::service::run(&cli.global, c)),
        Command::Operations(a) => client_command(cmd::operations::run(&cli.global, a)),
        Command::Revisions { name } => client_command(cmd::revisions::run(&cli.global, &name)),
        Command::Logs(a) => client_command(cmd::logs::run(&cli.global, a)),
        Command::Metrics(a) => client_command(cmd::metrics::run(&cli.global, a)),
        Command::Login(a) => client_command(cmd::login::run(&cli.global, a)),
        Command::Registry(c) => client_command(cmd::hooks::registry(&cli.global, c)),
        Command::Autoscaling(c) => client_command(cmd::autoscaling::run(&cli.global, c)),
        Command::Domain(c) => client_command(cmd::domain::run(&cli.global, c)),
        Command::Ca => client_command(cmd::domain::ca(&cli.global)),
        Command::Token(c) => client_command(cmd::token::run(&cli.global, c)),
        Command::AccessKey(c) => client_command(cmd::access_key::run(&cli.global, c)),
        Command::Secret(c) => client_command(cmd::secret::run(&cli.global, c)),
        Command::Connection(c) => client_command(cmd::connection::run(&cli.global, c)),
        Command::Build(c) => cmd::build::run(&cli.global, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Runs a client command on a single-threaded runtime.
fn client_command(work: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(work)
}
