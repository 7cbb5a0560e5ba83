//! ferry's server: the composition root.
//!
//! [`run`] validates nothing itself (that is [`config`]'s job) and then, in order: opens the store,
//! makes the admin token on first start, connects to the container engine, adopts the containers that
//! still run and publishes their routes, binds the router and the API, and runs until the shutdown token
//! is cancelled. Shutdown is bounded by the configured grace: the router and the API stop accepting, open
//! requests, log streams and tunnels get the grace to finish and are cut after it, controllers stop where
//! they are, and every app container keeps running for the next start to adopt.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{ApiConfig, PublicUrl};
use ferry_command::Commands;
use ferry_model::Arn;
use ferry_router::{Router, RouterConfig};
use ferry_runtime::Runtime;
use ferry_store::{Db, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod acme_responder;
mod api_server;
mod certs;
pub mod clock;
pub mod config;
mod connection;
mod controller;
pub mod health;
mod hooks;
pub mod https;
mod internal;
mod logs;
mod metrics;
mod private;
mod requests;
mod routes;
mod token;
mod watch;

pub use api_server::ApiTls;
pub use config::{ConfigError, LogFormat, RawConfig, ServerConfig};
pub use token::ADMIN_TOKEN_FILE;

use controller::{ControlHandle, Controller, Settings, Shared};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] ferry_runtime::RuntimeError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("{0}")]
    Internal(String),
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

/// Runs the server with the Docker engine until `shutdown` is cancelled.
pub async fn run(config: ServerConfig, shutdown: CancellationToken) -> Result<(), Error> {
    let (store, owner) = open_state(&config)?;
    println!("ferry: installation {owner}");
    let options = ferry_runtime::docker::DockerOptions {
        owner,
        socket: config.docker_socket.clone(),
        network_pool: config.network_pool,
        // Containers find the internal listener by this name, on their gateway.
        extra_hosts: config
            .internal_listen
            .map(|_| vec![format!("{}:host-gateway", internal::HOST_NAME)])
            .unwrap_or_default(),
        ..Default::default()
    };
    let runtime = ferry_runtime::docker::DockerRuntime::connect_with(options).await?;
    serve(config, store, Arc::new(runtime), Arc::new(health::NetworkProbe), shutdown).await
}

/// Creates the data directory (0700, what is in it 0600, fixed if looser: see `private.rs`), reads or makes
/// the key that seals values at rest, opens and migrates the database, makes the admin token on the first
/// start, and returns the store with this installation's id.
pub fn open_state(config: &ServerConfig) -> Result<(Store, String), Error> {
    private::private_dir(&config.data_dir)?;
    let sealer = ferry_store::Sealer::load_or_create(&config.data_dir.join(ferry_store::KEY_FILE))?;
    let path = config.data_dir.join("ferry.db");
    private::private_file(&path)?;
    let mut db = Db::open(&path, sealer)?;
    if token::bootstrap(&mut db, &config.data_dir)? {
        eprintln!("ferry: admin token written to {}", config.data_dir.join(ADMIN_TOKEN_FILE).display());
    }
    let owner = installation_id(&mut db)?;
    Ok((Store::new(db), owner))
}

/// This installation's id, made on the first start: the engine label that tells its containers from
/// those of other ferry servers sharing the engine.
fn installation_id(db: &mut Db) -> Result<String, Error> {
    if let Some(id) = db.setting("installation_id")? {
        return Ok(id);
    }
    let id = format!("ferry-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    db.set_setting("installation_id", &id)?;
    Ok(id)
}

/// Serves with the given store, engine and health probe until `shutdown` is cancelled.
pub async fn serve(
    config: ServerConfig,
    store: Store,
    runtime: Arc<dyn Runtime>,
    probe: Arc<dyn health::Probe>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let engine = runtime.info().await?;
    tracing::info!(version = %engine.version, cpus = engine.cpus, "container engine connected");
    if engine.rootless {
        tracing::warn!(
            "the container engine runs rootless: its containers' own addresses are not reachable from this \
             host, where ferry checks instances' health, so no instance will become ready; run ferry with \
             the rootful engine (--docker-socket /var/run/docker.sock)"
        );
    }

    raise_open_file_limit(config.max_connections);
    // Bound first: redirects name its port (which port 0 only tells once bound).
    let https_tcp = match &config.https {
        Some(https) => Some(
            TcpListener::bind(https.listen)
                .await
                .map_err(|e| Error::io(format!("cannot listen on {} (--https-listen)", https.listen), e))?,
        ),
        None => None,
    };
    let https_bound = match &https_tcp {
        Some(tcp) => {
            Some(tcp.local_addr().map_err(|e| Error::io("cannot read the HTTPS listener's address", e))?)
        }
        None => None,
    };
    let https_port = config.https.as_ref().zip(https_bound).map(|(h, addr)| match h.listen.port() {
        0 => addr.port(),
        _ => h.public_port,
    });
    let router = Router::new(RouterConfig {
        max_connections: config.max_connections,
        max_header_bytes: config.max_header_size,
        max_body_bytes: config.max_body_size,
        shutdown_grace: config.shutdown_grace,
        https_port,
        ..RouterConfig::default()
    });
    let tls = config.https.as_ref().map(|https| tls_state(&config, https)).transpose()?;
    let logs_dir = config.data_dir.join("logs");
    let logs = logs::LogHub::new(logs_dir.clone(), shutdown.clone())
        .map_err(|e| Error::io(format!("cannot create {}", logs_dir.display()), e))?;
    let (ended_tx, ended_rx) = tokio::sync::mpsc::channel(1024);
    let local = tls
        .as_ref()
        .and_then(|t| t.local.clone())
        .map(|ca| routes::LocalCerts::new(ca, config.domain.clone()));
    let policy = routes::HttpsPolicy {
        redirect: config.https.as_ref().is_some_and(|h| h.redirect),
        hsts: config
            .https
            .as_ref()
            .and_then(|h| h.hsts_max_age)
            .map(|age| u32::try_from(age.as_secs()).unwrap_or(u32::MAX)),
    };
    // The internal listener's router: its own table (every service, private ones too), the same routes.
    let internal_tcp = match config.internal_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| Error::io(format!("cannot listen on {addr} (--internal-listen)"), e))?,
        ),
        None => None,
    };
    let internal_url = match &internal_tcp {
        Some(tcp) => {
            let port = tcp
                .local_addr()
                .map_err(|e| Error::io("cannot read the internal listener's address", e))?
                .port();
            Some(format!("http://{}:{port}", internal::HOST_NAME))
        }
        None => None,
    };
    let internal_router = internal_tcp.as_ref().map(|_| {
        Router::new(RouterConfig {
            max_connections: config.max_connections,
            max_header_bytes: config.max_header_size,
            max_body_bytes: config.max_body_size,
            shutdown_grace: config.shutdown_grace,
            ..RouterConfig::default()
        })
    });
    let routes = Arc::new(routes::RouteBook::new(router.clone(), internal_router.clone(), local, policy));
    let clock: Arc<dyn clock::Clock> = Arc::new(clock::SystemClock);
    let mut listeners = vec![("public", router.clone())];
    listeners.extend(internal_router.clone().map(|r| ("internal", r)));
    let metrics = metrics::Registry::new(config.metrics_interval, clock.clone(), listeners);
    let hooks = Arc::new(hooks::Hooks::default());
    routes.publish_internal(&config.hooks_host, hooks.route());
    let controller = Controller::new(Shared {
        store: store.clone(),
        runtime: runtime.clone(),
        probe,
        clock,
        routes: routes.clone(),
        logs,
        settings: Settings {
            domain: config.domain.clone(),
            deploy_timeout: config.deploy_timeout,
            stop_grace: config.stop_grace,
            drain_timeout: config.drain_timeout,
            keep_revisions: config.keep_revisions,
            data_dir: config.data_dir.clone(),
            runtime_images: config.runtime_images.clone(),
            build_registry: config.build_registry.clone(),
            build_timeout: config.build_timeout,
            resync: Duration::from_secs(15),
            hold: config.hold_timeout,
            scaling: config.scaling.clone(),
            internal_url: internal_url.clone(),
        },
        shutdown: shutdown.clone(),
        metrics: metrics.clone(),
        builds: tokio::sync::Semaphore::new(config.max_builds),
        ended: ended_tx,
    });
    // Adopt first: the routes of what still runs are in the router before it accepts a connection.
    controller.start().await?;

    let http = TcpListener::bind(config.http_listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {} (--http-listen)", config.http_listen), e))?;
    let api_listener = TcpListener::bind(config.api_listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {} (--api-listen)", config.api_listen), e))?;
    let http_addr = http.local_addr().map_err(|e| Error::io("cannot read the router's address", e))?;
    let api_addr = api_listener.local_addr().map_err(|e| Error::io("cannot read the API's address", e))?;

    let router_task = tokio::spawn(router.clone().serve(http, shutdown.clone()));
    let internal_task = match (internal_tcp, &internal_router) {
        (Some(tcp), Some(inner)) => {
            let addr =
                tcp.local_addr().map_err(|e| Error::io("cannot read the internal listener's address", e))?;
            println!("ferry: internal on {addr}");
            let listener = internal::InternalListener::new(tcp, config.network_pool.pool);
            Some(tokio::spawn(inner.clone().serve(listener, shutdown.clone())))
        }
        _ => None,
    };
    let https_task = match (&config.https, &tls, https_tcp) {
        (Some(https), Some(tls), Some(tcp)) => {
            let listener = ferry_router::TlsListener::new(tcp, router.certificates().clone())
                .map_err(|e| Error::Internal(format!("cannot set up TLS: {e}")))?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::io("cannot read the HTTPS listener's address", e))?;
            println!("ferry: https on {addr}");
            tokio::spawn(
                certs::CertManager {
                    store: store.clone(),
                    router: router.clone(),
                    routes: routes.clone(),
                    files: ferry_acme::CertStore::new(&tls.dir),
                    acme: https.acme.clone(),
                    dir: tls.dir.clone(),
                    wildcard: (https.default_certificates == https::DefaultCertificates::Acme)
                        .then(|| format!("*.{}", config.domain)),
                    wake: tls.wake.clone(),
                    shutdown: shutdown.clone(),
                }
                .run(),
            );
            Some((tokio::spawn(router.clone().serve(listener, shutdown.clone())), addr))
        }
        _ => None,
    };
    tokio::spawn(controller.clone().watch_events());
    tokio::spawn(controller.clone().sweep());
    tokio::spawn(metrics::sampler::run(metrics.clone(), runtime.clone(), shutdown.clone()));

    let public_port = if config.http_listen.port() == 0 { http_addr.port() } else { config.public_port };
    let handle = Arc::new(ControlHandle(controller));
    let commands = Commands::new(store.clone(), handle.clone());
    let watcher = watch::Watcher {
        store: store.clone(),
        commands: commands.clone(),
        runtime,
        settings: watch::WatchSettings {
            interval: config.poll_interval,
            concurrency: config.poll_concurrency,
            timeout: Duration::from_secs(30).min(config.deploy_timeout),
            data_dir: config.data_dir.clone(),
        },
        shutdown: shutdown.clone(),
    };
    tokio::spawn(watcher.run(ended_rx));
    // Services' URLs say https when their hosts have certificates.
    let certified =
        config.https.as_ref().is_some_and(|h| h.default_certificates != https::DefaultCertificates::None);
    let public = match https_port {
        Some(port) if certified => PublicUrl {
            scheme: "https".to_owned(),
            domain: config.domain.clone(),
            port: (port != 443).then_some(port),
            https_port,
        },
        _ => PublicUrl {
            scheme: "http".to_owned(),
            domain: config.domain.clone(),
            port: (public_port != 80).then_some(public_port),
            https_port,
        },
    };
    let hooks_url = public.url_of(&config.hooks_host);
    hooks.set(ferry_api::hooks_router(store.clone(), commands.clone()));
    // What both APIs know of HTTPS for custom domains.
    let tls_api = tls.as_ref().map(|t| {
        let wake = t.wake.clone();
        ferry_api::TlsApi {
            dns01: config.https.as_ref().is_some_and(|h| h.acme.dns_hook.is_some()),
            local_ca_pem: t.local.as_ref().map(|ca| ca.ca_pem().to_owned()),
            domains_changed: Arc::new(move || wake.notify_one()),
        }
    });
    let apprunner = ferry_apprunner::AppRunnerConfig {
        arn: Arn { region: config.region.clone(), account: config.account.clone() },
        domain: config.domain.clone(),
        port: public.port,
        hooks_host: config.hooks_host.clone(),
        tls: tls_api.as_ref().map(|t| ferry_apprunner::AppRunnerTls {
            dns01: t.dns01,
            domains_changed: t.domains_changed.clone(),
        }),
    };
    let (apprunner_store, apprunner_commands) = (store.clone(), commands.clone());
    let api = ferry_api::router(
        store.clone(),
        commands,
        handle,
        ApiConfig {
            arn: Arn { region: config.region.clone(), account: config.account.clone() },
            public,
            hooks_host: config.hooks_host.clone(),
            hooks_url: hooks_url.clone(),
            tls: tls_api,
            metrics,
        },
    );
    // The web console shares the API's listener: its pages, its sign-in, and its cookie check before `/v1`.
    let api =
        ferry_console::mount(api, store, ferry_console::ConsoleConfig { secure: config.api_tls.is_some() });
    // The App Runner-compatible API: `POST /`, signed with SigV4 rather than a bearer token.
    let api = ferry_apprunner::mount(api, apprunner_store, apprunner_commands, apprunner);
    tracing::info!(api = %api_addr, router = %http_addr, domain = %config.domain, "ferry is serving");
    // One line on stdout that scripts (and tests) can wait for.
    let api_scheme = api_server::ApiTls::scheme(config.api_tls.as_ref());
    println!(
        "ferry: api on {api_scheme}://{api_addr}, apps on http://*.{}:{}",
        config.domain,
        http_addr.port()
    );
    println!("ferry: webhooks at {hooks_url}");

    let api_tls = config.api_tls.as_ref().map(|t| t.config.clone());
    let api_task = tokio::spawn(api_server::serve(
        api_listener,
        api,
        api_tls,
        api_server::HANDSHAKE_TIMEOUT,
        shutdown.clone(),
    ));
    shutdown.cancelled().await;
    // The router and the API drain side by side, each for at most the grace.
    let deadline = tokio::time::Instant::now() + config.shutdown_grace;
    let https = async {
        match https_task {
            Some((task, _)) => finish("the HTTPS router", task, deadline).await,
            None => Ok(()),
        }
    };
    let internal = async {
        match internal_task {
            Some(task) => finish("the internal router", task, deadline).await,
            None => Ok(()),
        }
    };
    let (api, router, https, internal) = tokio::join!(
        finish("the API", api_task, deadline),
        finish("the router", router_task, deadline),
        https,
        internal
    );
    api.and(router).and(https).and(internal)?;
    tracing::info!("ferry stopped; app containers keep running");
    Ok(())
}

/// What HTTPS needs at start: the directory of certificates and accounts, the local CA (if the services'
/// own hosts use it), and the certificate manager's wake-up.
struct TlsState {
    dir: std::path::PathBuf,
    local: Option<Arc<ferry_acme::LocalCa>>,
    wake: Arc<tokio::sync::Notify>,
}

fn tls_state(config: &ServerConfig, https: &https::HttpsConfig) -> Result<TlsState, Error> {
    let dir = config.data_dir.join("tls");
    let local = match https.default_certificates {
        https::DefaultCertificates::Local => {
            Some(Arc::new(ferry_acme::LocalCa::load_or_create(&dir).map_err(|e| {
                Error::Internal(format!("cannot load or make the local CA in {}: {e}", dir.display()))
            })?))
        }
        _ => None,
    };
    Ok(TlsState { dir, local, wake: Arc::new(tokio::sync::Notify::new()) })
}

/// Waits for a server task until `deadline` (plus a moment for it to cut what is left), then stops it.
async fn finish(
    what: &str,
    mut task: tokio::task::JoinHandle<std::io::Result<()>>,
    deadline: tokio::time::Instant,
) -> Result<(), Error> {
    const CUT: Duration = Duration::from_secs(1);
    match tokio::time::timeout_at(deadline + CUT, &mut task).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(Error::io(format!("{what} failed"), e)),
        Ok(Err(e)) => Err(Error::Internal(format!("{what} ended abnormally: {e}"))),
        Err(_) => {
            tracing::warn!("{what} still had connections open after the shutdown grace; closing them");
            task.abort();
            Ok(())
        }
    }
}

/// Every client connection and its upstream connection take a file descriptor each. Raise the soft limit
/// towards the hard one (often 1024 soft against 1M hard) so `max_connections` can be reached, and say so
/// when it cannot.
fn raise_open_file_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    // Two descriptors per proxied connection, plus room for the store, logs and the engine's sockets.
    let wanted = (max_connections as u64).saturating_mul(2).saturating_add(1024);
    let limit = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= wanted {
        return;
    }
    let target = limit.maximum.map_or(wanted, |max| max.min(wanted));
    let raised = target > current
        && setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: limit.maximum }).is_ok();
    let now = if raised { target } else { current };
    if now < wanted {
        tracing::warn!(
            open_files = now,
            wanted,
            "the open-file limit is below what max-connections needs; raise it (ulimit -n) or lower --max-connections"
        );
    }
}
