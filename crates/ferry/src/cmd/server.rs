//! `ferry server`: runs the platform until SIGINT or SIGTERM; a second signal exits at once.

use anyhow::Result;
use ferry_server::RawConfig;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::cli::ServerArgs;

pub fn run(args: ServerArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| anyhow::anyhow!("--log {:?} is not a log filter: {e}", args.log))?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let raw = RawConfig {
        data_dir: args.data_dir,
        api_listen: args.api_listen,
        http_listen: args.http_listen,
        domain: args.domain,
        public_port: args.public_port,
        region: args.region,
        account: args.account,
        deploy_timeout_secs: args.deploy_timeout,
        stop_grace_secs: args.stop_grace,
        drain_timeout_secs: args.drain_timeout,
        keep_revisions: args.keep_revisions,
    };
    // Validated before anything is bound or written.
    let config = raw.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signals = shutdown.clone();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            tracing::info!("shutting down; a second signal exits at once");
            signals.cancel();
            tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            eprintln!("ferry: second signal, exiting now");
            std::process::exit(130);
        });
        ferry_server::run(config, shutdown).await?;
        Ok(())
    })
}
