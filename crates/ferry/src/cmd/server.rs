//! `ferry server`: runs the platform until SIGINT or SIGTERM; a second signal exits at once.

use anyhow::Result;
use ferry_server::{LogFormat, RawConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::cli::ServerArgs;

pub fn run(args: ServerArgs) -> Result<()> {
    let file = match &args.config {
        Some(path) => RawConfig::from_file(path)?,
        None => RawConfig::default(),
    };
    let mut runtime_images = std::collections::BTreeMap::new();
    for pair in &args.runtime_images {
        let Some((name, image)) = pair.split_once('=') else {
            return Err(crate::usage(format!(
                "--runtime-image {pair:?} is not NAME=IMAGE, e.g. python311=registry.local/python:3.11"
            )));
        };
        runtime_images.insert(name.trim().to_owned(), image.trim().to_owned());
    }
    let flags = RawConfig {
        data_dir: args.data_dir,
        api_listen: args.api_listen,
        http_listen: args.http_listen,
        domain: args.domain,
        public_port: args.public_port,
        region: args.region,
        account: args.account,
        deploy_timeout: args.deploy_timeout,
        stop_grace: args.stop_grace,
        drain_timeout: args.drain_timeout,
        keep_revisions: args.keep_revisions,
        max_connections: args.max_connections,
        max_header_size: args.max_header_size,
        max_body_size: args.max_body_size,
        build_timeout: args.build_timeout,
        max_builds: args.max_builds,
        build_registry: args.build_registry,
        runtime_images,
        shutdown_grace: args.shutdown_grace,
        docker_socket: args.docker_socket,
        log: args.log,
        log_format: args.log_format,
        poll_interval: args.poll_interval,
        poll_concurrency: args.poll_concurrency,
        metrics_interval: args.metrics_interval,
        hooks_host: args.hooks_host,
        hold_timeout: args.hold_timeout,
        scale_stable_window: args.scale_stable_window,
        scale_panic_window: args.scale_panic_window,
        scale_to_zero_grace: args.scale_to_zero_grace,
        scale_target_utilization: args.scale_target_utilization,
        scale_panic_threshold: args.scale_panic_threshold,
        scale_max_up_rate: args.scale_max_up_rate,
        scale_max_down_rate: args.scale_max_down_rate,
        scale_down_delay: args.scale_down_delay,
        network_pool: args.network_pool,
        internal_listen: args.internal_listen,
        https_listen: args.https_listen,
        https_public_port: args.https_public_port,
        https_redirect: args.https_redirect,
        hsts_max_age: args.hsts_max_age,
        default_certificates: args.default_certificates,
        acme_directory: args.acme_directory,
        acme_ca_file: args.acme_ca_file,
        acme_email: args.acme_email,
        acme_dns_hook: args.acme_dns_hook,
        api_tls_cert: args.api_tls_cert,
        api_tls_key: args.api_tls_key,
        api_insecure: args.api_insecure.then_some(true),
    };
    // Validated before anything is bound or written.
    let config = file.overlay(flags).validate()?;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| crate::usage(format!("--log {:?} is not a log filter: {e}", config.log)))?;
    let log = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log.json().init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async move {
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
    });
    // The server has finished within its grace; what still runs on the blocking pool (a store call waiting
    // on a locked database, a build context being packed) gets a moment, not a say in when ferry exits.
    runtime.shutdown_timeout(SHUTDOWN_LEFTOVERS);
    result
}

/// How long blocking work left over at exit may take.
const SHUTDOWN_LEFTOVERS: std::time::Duration = std::time::Duration::from_secs(1);
