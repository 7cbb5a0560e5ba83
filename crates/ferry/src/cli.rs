//! The command line, as clap sees it. One subcommand per module under `cmd`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "A self-hosted App Runner: from a container image to a served URL"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The API to talk to [default: from `ferry login`, else http://127.0.0.1:7700]
    #[arg(long, global = true, env = "FERRY_API_URL")]
    pub api_url: Option<String>,
    /// The API token [default: from `ferry login`, else the local server's admin-token file]
    #[arg(long, global = true, env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust only the CA certificates in this PEM file for an https:// API (a private CA); `ferry login`
    /// saves it [default: from `ferry login`, else the system's certificate store]
    #[arg(long, global = true, env = "FERRY_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Output format: `human` for people, `json` for scripts
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Human)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the ferry server: API, controllers and router, in one process
    Server(Box<ServerArgs>),
    /// Create, list, describe and delete services
    #[command(subcommand)]
    Service(ServiceCommand),
    /// List a service's operations (newest first), or show one with its log
    Operations(OperationsArgs),
    /// List a service's revisions (newest first) and the one serving
    Revisions {
        /// The service
        name: String,
    },
    /// Show a service's application log (its instances' stdout and stderr)
    Logs(LogsArgs),
    /// Show a service's requests, errors, latency, instances, CPU and memory over the last minutes
    Metrics(crate::cmd::metrics::MetricsArgs),
    /// Save the API URL and token for later commands
    Login(LoginArgs),
    /// Registries whose push notifications deploy new images at once
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Auto scaling configurations: how services scale with their load, shared between services
    #[command(subcommand)]
    Autoscaling(AutoscalingCommand),
    /// Custom domains: route your own names to a service, with certificates from an ACME CA
    #[command(subcommand)]
    Domain(DomainCommand),
    /// API tokens: named, scoped (read-only, deploy, admin), expiring; admin tokens only
    #[command(subcommand)]
    Token(TokenCommand),
    /// Access keys for the App Runner-compatible API (the AWS CLI and SDKs sign with them); admin tokens only
    #[command(subcommand)]
    AccessKey(AccessKeyCommand),
    /// Secrets: values services get as environment variables (--secret ENV=NAME), sealed at rest
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Connections: credentials for git hosts that services build from (--connection NAME), sealed at rest
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Print the server's local CA certificate (PEM), for clients to trust: curl --cacert
    Ca,
    /// Source builds without a server: `ferry build plan [DIR]` shows what ferry would build
    #[command(subcommand)]
    Build(crate::cmd::build::BuildCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Make a secret or give it a new value, read from standard input or asked for on a terminal
    ///
    /// The value is read from standard input when it is not a terminal (`printf %s "$VALUE" | ferry
    /// secret set NAME`), else asked for twice without echo; never taken from the command line, where
    /// other users (`ps`) and shell history would see it.
    Set {
        /// 1 to 128 letters, digits or / _ + = . @ -
        name: String,
        /// Keep a trailing newline of the input (by default one is removed, as `echo` adds it)
        #[arg(long)]
        keep_newline: bool,
    },
    /// List secrets with the services that use each (never their values)
    List,
    /// Delete a secret; one that services use is kept unless --force
    Delete {
        name: String,
        /// Delete it even though services use it: their next deployment fails until it is set again
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Make a connection; it waits for its credentials (PENDING_HANDSHAKE) until `ferry connection credentials`
    Create {
        /// 4 to 32 letters, digits, '-' and '_', starting with a letter or digit
        name: String,
        /// The git host: github, bitbucket, or git (any other host) [default: git]
        #[arg(long)]
        provider: Option<String>,
    },
    /// Give a connection its credentials (the handshake), replacing any it had
    ///
    /// With --username, the password or access token is read from standard input when it is not a terminal
    /// (`printf %s "$TOKEN" | ferry connection credentials NAME --username U`), else asked for twice without
    /// echo; never taken from the command line. The next build of every service using the connection
    /// fetches with them.
    Credentials {
        name: String,
        /// User name for an HTTPS git host (the password or token is read as above)
        #[arg(long, required_unless_present = "ssh_key", conflicts_with = "ssh_key")]
        username: Option<String>,
        /// A file with the SSH private key for the git host
        #[arg(long)]
        ssh_key: Option<PathBuf>,
    },
    /// List connections: provider, status, when made, the services that use each (never credentials)
    List,
    /// Delete a connection; one that services use is kept unless --force
    Delete {
        name: String,
        /// Delete it even though services use it: their builds fail until they are given another
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Make an access key and print its AccessKeyId and SecretAccessKey (the secret is shown once)
    Create {
        /// What it is for, e.g. ci [default: default]
        #[arg(long)]
        name: Option<String>,
    },
    /// List access keys: ids, names, when made and last used (never their secrets)
    List,
    /// Delete an access key: requests signed with it are refused at once
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it (shown once)
    Create {
        /// 1 to 64 letters, digits, '-', '_' or '.'; unique
        name: String,
        /// read-only: GET only; deploy: services, deployments, operations, logs, auto scaling, webhooks
        /// (not tokens, registries or writing secrets); admin: everything
        #[arg(long, value_name = "read-only|deploy|admin")]
        scope: String,
        /// Stop working after this long, e.g. 12h, 30d, 90m, 1w [default: never]
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// List tokens (never their secrets)
    List,
    /// Revoke a token: it stops working at once
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Route DOMAIN to SERVICE and get it a certificate (its status shows how that goes)
    Add {
        service: String,
        /// e.g. app.example.com, or *.example.com (a wildcard: certified over dns-01)
        domain: String,
        /// Also route and certify www.DOMAIN
        #[arg(long)]
        www: bool,
        /// How to prove control of the domain to the CA: http-01 (port 80), tls-alpn-01 (port 443), or
        /// dns-01 (the server's DNS hook; wildcards) [default: http-01, dns-01 for wildcards]
        #[arg(long)]
        method: Option<String>,
    },
    /// List a service's custom domains with their certificates' status
    List { service: String },
    /// Stop routing DOMAIN to SERVICE (its certificate is dropped)
    Remove { service: String, domain: String },
}

#[derive(Debug, Subcommand)]
pub enum AutoscalingCommand {
    /// Create a configuration, or the next revision of one with this name
    Create {
        /// 4 to 32 letters, digits, '-' or '_'
        name: String,
        #[command(flatten)]
        values: ScalingValues,
    },
    /// List every revision of every configuration, with the services that use it
    List,
    /// Show a configuration's revisions and the services that use each
    Describe { name: String },
    /// Delete a configuration (every revision, or one); refused while a service uses it
    Delete {
        name: String,
        #[arg(long)]
        revision: Option<u32>,
    },
    /// Make a configuration the one new services get
    Default { name: String },
}

/// A configuration's values.
#[derive(Debug, Args)]
pub struct ScalingValues {
    /// Requests one instance takes at once, 1-200; more wait in the router while instances start [default: 100]
    #[arg(long)]
    pub max_concurrency: Option<i64>,
    /// Instances kept however idle, 0-25; 0 scales to zero [default: 1]
    #[arg(long)]
    pub min_size: Option<i64>,
    /// Instances at most, 1-25 [default: 25]
    #[arg(long)]
    pub max_size: Option<i64>,
}

/// How a service scales (on create and update).
#[derive(Debug, Args)]
pub struct ScalingArgs {
    /// Scale with the load as this auto scaling configuration says (its latest revision)
    #[arg(long, conflicts_with_all = ["instances", "max_concurrency", "min_size", "max_size"])]
    pub autoscaling: Option<String>,
    #[command(flatten)]
    pub values: ScalingValues,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Accept a registry's push notifications: prints the URL, a new token (shown once) and the
    /// registry's configuration to add
    Add {
        /// The registry's host as image references name it, e.g. 127.0.0.1:5000
        host: String,
    },
    /// List the registries whose notifications are accepted
    List,
    /// Stop accepting a registry's notifications
    Remove { host: String },
}

/// `ferry server` flags. Each also comes from a `FERRY_*` environment variable and from the config file;
/// a flag beats the variable, which beats the file, which beats the default shown.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// A TOML file with any of these settings (keys as the flags, `_` for `-`; runtime images under
    /// `[runtime_images]`)
    #[arg(long, env = "FERRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where ferry keeps its state [default: /var/lib/ferry as root, else ~/.local/share/ferry]
    #[arg(long, env = "FERRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the API [default: 127.0.0.1:7700]
    #[arg(long, env = "FERRY_API_LISTEN")]
    pub api_listen: Option<String>,
    /// Address of the router that serves the apps [default: 127.0.0.1:8080]
    #[arg(long, env = "FERRY_HTTP_LISTEN")]
    pub http_listen: Option<String>,
    /// Apps are served at <service>.<domain> [default: localhost]
    #[arg(long, env = "FERRY_DOMAIN")]
    pub domain: Option<String>,
    /// The port in service URLs, when clients reach the router on another port than it listens on
    #[arg(long, env = "FERRY_PUBLIC_PORT")]
    pub public_port: Option<u16>,
    /// The region in ARNs [default: local]
    #[arg(long, env = "FERRY_REGION")]
    pub region: Option<String>,
    /// The 12-digit account id in ARNs [default: 000000000000]
    #[arg(long, env = "FERRY_ACCOUNT")]
    pub account: Option<String>,
    /// Seconds a deployment may take to become healthy [default: 300]
    #[arg(long, env = "FERRY_DEPLOY_TIMEOUT")]
    pub deploy_timeout: Option<u64>,
    /// Seconds an instance gets between SIGTERM and SIGKILL when ferry stops it [default: 10]
    #[arg(long, env = "FERRY_STOP_GRACE")]
    pub stop_grace: Option<u64>,
    /// Seconds a retiring instance gets to finish its requests and close its WebSockets [default: 30]
    #[arg(long, env = "FERRY_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<u64>,
    /// How many of each service's newest revisions keep their images on the engine [default: 5]
    #[arg(long, env = "FERRY_KEEP_REVISIONS")]
    pub keep_revisions: Option<u32>,
    /// Client connections the router keeps open at most; more wait until one closes [default: 20000]
    #[arg(long, env = "FERRY_MAX_CONNECTIONS")]
    pub max_connections: Option<u64>,
    /// Largest request head (request line and headers) in bytes; larger gets 431 [default: 65536]
    #[arg(long, env = "FERRY_MAX_HEADER_SIZE", value_name = "BYTES")]
    pub max_header_size: Option<u64>,
    /// Largest request body in bytes; larger gets 413; 0 means no limit [default: 0]
    #[arg(long, env = "FERRY_MAX_BODY_SIZE", value_name = "BYTES")]
    pub max_body_size: Option<u64>,
    /// The base image of a runtime, NAME=IMAGE, e.g. python311=registry.local/python:3.11 (repeatable;
    /// names: the App Runner runtimes, plus rust and static)
    #[arg(
        long = "runtime-image",
        value_name = "NAME=IMAGE",
        env = "FERRY_RUNTIME_IMAGES",
        value_delimiter = ','
    )]
    pub runtime_images: Vec<String>,
    /// Push built images to this registry path too, e.g. 127.0.0.1:5000/ferry-builds [default: keep them on the engine only]
    #[arg(long, env = "FERRY_BUILD_REGISTRY")]
    pub build_registry: Option<String>,
    /// Seconds one build may take, fetch included [default: 1200]
    #[arg(long, env = "FERRY_BUILD_TIMEOUT")]
    pub build_timeout: Option<u64>,
    /// How many builds run at once [default: 2]
    #[arg(long, env = "FERRY_MAX_BUILDS")]
    pub max_builds: Option<usize>,
    /// Seconds a SIGTERM'd server waits for open requests, log streams and tunnels before it exits
    /// [default: 30]
    #[arg(long, env = "FERRY_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// The Docker engine's socket [default: DOCKER_HOST if it is unix://…, else /var/run/docker.sock]
    #[arg(long, env = "FERRY_DOCKER_SOCKET")]
    pub docker_socket: Option<PathBuf>,
    /// Log filter, e.g. `info` or `info,ferry_server=debug` [default: info]
    #[arg(long, env = "FERRY_LOG")]
    pub log: Option<String>,
    /// ferry's own log: text (lines for people) or json (one JSON object per line) [default: text]
    #[arg(long, env = "FERRY_LOG_FORMAT", value_name = "text|json")]
    pub log_format: Option<String>,
    /// Seconds between two looks at each watched branch and image tag (automatic deployments, beside
    /// webhooks and registry notifications); 0 never looks [default: 60]
    #[arg(long, env = "FERRY_POLL_INTERVAL", value_name = "SECONDS")]
    pub poll_interval: Option<u64>,
    /// How many of those looks run at once [default: 4]
    #[arg(long, env = "FERRY_POLL_CONCURRENCY")]
    pub poll_concurrency: Option<usize>,
    /// Seconds between two samples of every service's metrics: the resolution of `ferry metrics` and the
    /// console's charts, which show the last hour [default: 10]
    #[arg(long, env = "FERRY_METRICS_INTERVAL", value_name = "SECONDS")]
    pub metrics_interval: Option<u64>,
    /// The host, answered by the router, where git hosts send push webhooks and registries send
    /// notifications [default: ferry.<domain>]
    #[arg(long, env = "FERRY_HOOKS_HOST")]
    pub hooks_host: Option<String>,
    /// Seconds the router holds a request while an instance starts (a service scaled to zero, an instance
    /// replaced) or while every instance is at its max concurrency; then 503 [default: 60]
    #[arg(long, env = "FERRY_HOLD_TIMEOUT", value_name = "SECONDS")]
    pub hold_timeout: Option<u64>,
    /// The IPv4 prefix each service's own network gets a /26 from (pick one your LAN does not use)
    /// [default: 10.213.0.0/16]
    #[arg(long, env = "FERRY_NETWORK_POOL", value_name = "CIDR")]
    pub network_pool: Option<String>,
    /// Where services reach each other (private services included) through the router; it takes
    /// connections from the services' networks only; `off` turns it off [default: 0.0.0.0:7780]
    #[arg(long, env = "FERRY_INTERNAL_LISTEN", value_name = "ADDR|off")]
    pub internal_listen: Option<String>,
    /// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on this address too, e.g. 0.0.0.0:443
    #[arg(long, env = "FERRY_HTTPS_LISTEN", value_name = "ADDR")]
    pub https_listen: Option<String>,
    /// The port in https URLs and redirects, when it differs from the listener's [default: its port]
    #[arg(long, env = "FERRY_HTTPS_PUBLIC_PORT")]
    pub https_public_port: Option<u16>,
    /// Redirect plain HTTP requests to HTTPS for hosts that have a certificate [default: true]
    #[arg(long, env = "FERRY_HTTPS_REDIRECT", value_name = "BOOL")]
    pub https_redirect: Option<bool>,
    /// Send Strict-Transport-Security with this max-age on HTTPS responses; 0 sends none [default: 0]
    #[arg(long, env = "FERRY_HSTS_MAX_AGE", value_name = "SECONDS")]
    pub hsts_max_age: Option<u64>,
    /// Certificates for the services' own hosts under --domain: local (ferry's own CA, `ferry ca` prints
    /// it), acme (one wildcard from the ACME CA over DNS-01), none [default: local; acme with a DNS hook
    /// and a domain other than localhost]
    #[arg(long, env = "FERRY_DEFAULT_CERTIFICATES", value_name = "local|acme|none")]
    pub default_certificates: Option<String>,
    /// The ACME CA's directory URL [default: Let's Encrypt]
    #[arg(long, env = "FERRY_ACME_DIRECTORY", value_name = "URL")]
    pub acme_directory: Option<String>,
    /// Extra CA certificates (PEM) to trust for the ACME directory's own TLS
    #[arg(long, env = "FERRY_ACME_CA_FILE", value_name = "FILE")]
    pub acme_ca_file: Option<PathBuf>,
    /// The contact address of ferry's ACME account
    #[arg(long, env = "FERRY_ACME_EMAIL")]
    pub acme_email: Option<String>,
    /// A command that sets DNS-01 TXT records: run as `COMMAND set NAME VALUE` and `COMMAND clear NAME
    /// VALUE`, returning once the record is visible
    #[arg(long, env = "FERRY_ACME_DNS_HOOK", value_name = "COMMAND")]
    pub acme_dns_hook: Option<PathBuf>,
    /// Serve the API over HTTPS with this certificate chain (PEM); needs --api-tls-key
    #[arg(long, env = "FERRY_API_TLS_CERT", value_name = "FILE")]
    pub api_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --api-tls-cert
    #[arg(long, env = "FERRY_API_TLS_KEY", value_name = "FILE")]
    pub api_tls_key: Option<PathBuf>,
    /// Let the API listen on a non-loopback address without TLS (tokens cross the network in clear
    /// unless something else, a VPN or a TLS proxy, encrypts the traffic)
    #[arg(long, env = "FERRY_API_INSECURE")]
    pub api_insecure: bool,
    /// Seconds of load the autoscaler averages over before it scales in [default: 60]
    #[arg(long, env = "FERRY_SCALE_STABLE_WINDOW", value_name = "SECONDS")]
    pub scale_stable_window: Option<u64>,
    /// Seconds of load that make it scale out at once when they want twice what is ready [default: 6]
    #[arg(long, env = "FERRY_SCALE_PANIC_WINDOW", value_name = "SECONDS")]
    pub scale_panic_window: Option<u64>,
    /// Seconds without a request before a service whose minimum is 0 runs no instance [default: 30]
    #[arg(long, env = "FERRY_SCALE_TO_ZERO_GRACE", value_name = "SECONDS")]
    pub scale_to_zero_grace: Option<u64>,
    /// The fraction of max concurrency each instance is sized for; the rest absorbs bursts [default: 0.7]
    #[arg(long, env = "FERRY_SCALE_TARGET_UTILIZATION", value_name = "FRACTION")]
    pub scale_target_utilization: Option<f64>,
    /// Panic (scale out at once, never in) when the panic window wants this many times the ready
    /// instances [default: 2.0]
    #[arg(long, env = "FERRY_SCALE_PANIC_THRESHOLD", value_name = "RATIO")]
    pub scale_panic_threshold: Option<f64>,
    /// One decision asks for at most this many times the ready instances [default: 1000]
    #[arg(long, env = "FERRY_SCALE_MAX_UP_RATE", value_name = "RATIO")]
    pub scale_max_up_rate: Option<f64>,
    /// One decision keeps at least the ready instances divided by this [default: 2]
    #[arg(long, env = "FERRY_SCALE_MAX_DOWN_RATE", value_name = "RATIO")]
    pub scale_max_down_rate: Option<f64>,
    /// Seconds the load must want fewer instances before a scale-in [default: a fifth of the stable
    /// window, 12]
    #[arg(long, env = "FERRY_SCALE_DOWN_DELAY", value_name = "SECONDS")]
    pub scale_down_delay: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a service from a container image and deploy it
    Create(Box<CreateArgs>),
    /// List services
    List,
    /// Show a service: status, URL, image digest, instances
    Describe { name: String },
    /// Change a service's configuration and deploy it as a new revision
    Update(Box<UpdateArgs>),
    /// Deploy the current configuration again, resolving the image tag anew
    Deploy {
        name: String,
        /// Wait until the deployment ends; exit non-zero if it failed or rolled back
        #[arg(long)]
        wait: bool,
    },
    /// Go back to the previous revision (or the one given), without a rebuild
    Rollback {
        name: String,
        /// The revision to go back to
        #[arg(long = "to", value_name = "REVISION")]
        to: Option<u32>,
        #[arg(long)]
        wait: bool,
    },
    /// Stop every instance; the URL answers 503 until the service is resumed
    Pause {
        name: String,
        #[arg(long)]
        wait: bool,
    },
    /// Bring a paused service back on the revision it last served
    Resume {
        name: String,
        #[arg(long)]
        wait: bool,
    },
    /// Show the push webhook to paste into the git host's settings (GitHub, GitLab, Gitea, Forgejo,
    /// Bitbucket): its payload URL and secret, made on first use
    Webhook {
        name: String,
        /// Make a new URL and secret; the old ones stop working at once
        #[arg(long)]
        rotate: bool,
    },
    /// Delete a service and everything it runs
    Delete {
        name: String,
        /// Wait until the deletion has finished
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// 1 to 40 letters, digits, '-' or '_'; the service is served at <name>.<domain>
    pub name: String,
    /// The image to run, from any registry, e.g. 127.0.0.1:5000/web:v1
    #[arg(long, required_unless_present = "repo", conflicts_with = "repo")]
    pub image: Option<String>,
    #[command(flatten)]
    pub code: CodeArgs,
    /// The port the app listens on (also set as PORT) [default: 8080]
    #[arg(long)]
    pub port: Option<i64>,
    /// An environment variable, NAME=VALUE (repeatable)
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// An environment variable whose value is a secret, ENV=SECRET (repeatable; see `ferry secret`)
    #[arg(long = "secret", value_name = "ENV=SECRET")]
    pub secrets: Vec<String>,
    /// Replaces the image's command
    #[arg(long)]
    pub start_command: Option<String>,
    /// vCPUs per instance: 0.25 vCPU, 0.5 vCPU, 1 vCPU, 2 vCPU, 4 vCPU [default: 1 vCPU]
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory per instance, e.g. 2 GB (only App Runner's pairs with --cpu) [default: 2 GB]
    #[arg(long)]
    pub memory: Option<String>,
    /// A fixed number of instances, 1-25, instead of scaling with the load [default: the default auto
    /// scaling configuration: 1 to 25 instances, 100 concurrent requests each]
    #[arg(long, conflicts_with_all = ["max_concurrency", "min_size", "max_size"])]
    pub instances: Option<i64>,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub auto: AutoDeployArgs,
    #[command(flatten)]
    pub scaling: ScalingArgs,
    /// User name for a private registry
    #[arg(long, requires = "registry_password")]
    pub registry_username: Option<String>,
    /// Password or token for a private registry
    #[arg(long, env = "FERRY_REGISTRY_PASSWORD", hide_env_values = true, requires = "registry_username")]
    pub registry_password: Option<String>,
    /// Show the deployment's progress and wait until it ends; exit non-zero if it failed
    #[arg(long)]
    pub wait: bool,
}

/// A code repository source (App Runner's CodeRepository, from any git host).
#[derive(Debug, Args)]
pub struct CodeArgs {
    /// Build from this git repository: https://…, git@host:path, ssh://…, file://… or an absolute path
    #[arg(long)]
    pub repo: Option<String>,
    /// The branch to build [default: main]
    #[arg(long)]
    pub branch: Option<String>,
    /// The directory inside the repository to build (monorepos)
    #[arg(long)]
    pub source_dir: Option<String>,
    /// How to build: auto (apprunner.yaml, else Dockerfile, else detect), apprunner, dockerfile, python,
    /// nodejs, go, rust, ruby, php, static [default: auto]
    #[arg(long)]
    pub builder: Option<String>,
    /// Build with these values instead of the repository's files (App Runner's API configuration):
    /// an App Runner runtime, e.g. python311
    #[arg(long)]
    pub runtime: Option<String>,
    /// With --runtime: the build command
    #[arg(long)]
    pub build_command: Option<String>,
    /// User name for an HTTPS git host
    #[arg(long, requires = "git_password")]
    pub git_username: Option<String>,
    /// Password or access token for an HTTPS git host
    #[arg(long, env = "FERRY_GIT_PASSWORD", hide_env_values = true, requires = "git_username")]
    pub git_password: Option<String>,
    /// A file with the SSH private key for the git host
    #[arg(long, conflicts_with = "git_username")]
    pub git_ssh_key: Option<PathBuf>,
    /// Fetch with this connection's credentials (`ferry connection`), read at each build; with update,
    /// "" stops using one
    #[arg(long, conflicts_with_all = ["git_username", "git_ssh_key"])]
    pub connection: Option<String>,
}

/// Health check settings, App Runner's, plus a grace period.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Health check protocol: tcp or http [default: tcp]
    #[arg(long)]
    pub health_protocol: Option<String>,
    /// Path of an HTTP health check [default: /]
    #[arg(long)]
    pub health_path: Option<String>,
    /// Seconds between health checks, 1-20 [default: 5]
    #[arg(long)]
    pub health_interval: Option<i64>,
    /// Seconds a health check may take, 1-20 [default: 2]
    #[arg(long)]
    pub health_timeout: Option<i64>,
    /// Passes in a row that make an instance healthy, 1-20 [default: 1]
    #[arg(long)]
    pub healthy_threshold: Option<i64>,
    /// Failures in a row that make an instance unhealthy, 1-20 [default: 5]
    #[arg(long)]
    pub unhealthy_threshold: Option<i64>,
    /// Seconds after an instance starts during which failed checks do not count, 0-3600 [default: 0]
    #[arg(long)]
    pub health_grace_period: Option<i64>,
}

/// How the router talks to the instances (ferry's additions to App Runner).
#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// What the app speaks: http1, or http2 (HTTP/2 cleartext with prior knowledge, h2c: for gRPC servers)
    /// [default: http1]
    #[arg(long, value_name = "http1|http2")]
    pub protocol: Option<String>,
    /// Seconds the app may take to start answering a request, 1-3600, then 504; streaming responses,
    /// server-sent events and WebSockets are never cut by it [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub request_timeout: Option<i64>,
    /// Not routed from the public listeners: reachable only from other services, through the router's
    /// internal listener ($FERRY_INTERNAL_URL in their containers, with the service's host as Host)
    #[arg(long, conflicts_with = "public")]
    pub private: bool,
    /// Routed from the public listeners again (the default for new services)
    #[arg(long)]
    pub public: bool,
    /// Run the containers with a read-only root filesystem (a 64 MB in-memory /tmp stays writable)
    #[arg(long, conflicts_with = "writable_root")]
    pub read_only_root: bool,
    /// A writable root filesystem again (the default)
    #[arg(long)]
    pub writable_root: bool,
    /// Redirect plain HTTP to HTTPS for its hosts that have a certificate, or not [default: the server's
    /// --https-redirect]
    #[arg(long, value_name = "BOOL")]
    pub https_redirect: Option<bool>,
    /// Strict-Transport-Security max-age on its HTTPS responses, 0 (none) to 63072000 [default: the
    /// server's --hsts-max-age]
    #[arg(long, value_name = "SECONDS")]
    pub hsts_max_age: Option<i64>,
    /// A line per request in its request log (`ferry logs NAME --requests`): on, off, or 1/N to keep one
    /// request in N (N from 2 to 1000) [default: off]
    #[arg(long, value_name = "on|off|1/N")]
    pub request_logs: Option<String>,
}

impl TrafficArgs {
    /// Whether the root filesystem is read-only, when a flag says.
    pub fn read_only_root(&self) -> Option<bool> {
        match (self.read_only_root, self.writable_root) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }

    /// App Runner's IsPubliclyAccessible, when a flag says.
    pub fn publicly_accessible(&self) -> Option<bool> {
        match (self.private, self.public) {
            (true, _) => Some(false),
            (_, true) => Some(true),
            _ => None,
        }
    }
}

/// Automatic deployments (App Runner's AutoDeploymentsEnabled).
#[derive(Debug, Args)]
pub struct AutoDeployArgs {
    /// Deploy each commit pushed to the branch, or each new image pushed under the tag, by itself
    /// [default: on for a repository, off for an image]
    #[arg(long, conflicts_with = "no_auto_deploy")]
    pub auto_deploy: bool,
    /// Deploy only when asked (`ferry service deploy`)
    #[arg(long)]
    pub no_auto_deploy: bool,
}

impl AutoDeployArgs {
    pub fn value(&self) -> Option<bool> {
        match (self.auto_deploy, self.no_auto_deploy) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub name: String,
    /// A new image reference (the tag is resolved when the revision deploys)
    #[arg(long)]
    pub image: Option<String>,
    #[command(flatten)]
    pub code: CodeArgs,
    #[arg(long)]
    pub port: Option<i64>,
    /// Set an environment variable, NAME=VALUE (repeatable); others are kept
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Remove an environment variable (repeatable)
    #[arg(long = "unset-env", value_name = "NAME")]
    pub unset_env: Vec<String>,
    /// Set an environment variable from a secret, ENV=SECRET (repeatable); others are kept
    #[arg(long = "secret", value_name = "ENV=SECRET")]
    pub secrets: Vec<String>,
    /// Remove a secret variable by its ENV name (repeatable)
    #[arg(long = "remove-secret", alias = "unset-secret", value_name = "ENV")]
    pub remove_secrets: Vec<String>,
    /// Replace the image's command ("" goes back to the image's own)
    #[arg(long)]
    pub start_command: Option<String>,
    #[arg(long)]
    pub cpu: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
    /// A fixed number of instances, 1-25 (scaling with the load stops)
    #[arg(long, conflicts_with_all = ["max_concurrency", "min_size", "max_size"])]
    pub instances: Option<i64>,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub auto: AutoDeployArgs,
    #[command(flatten)]
    pub scaling: ScalingArgs,
    #[arg(long, requires = "registry_password")]
    pub registry_username: Option<String>,
    #[arg(long, env = "FERRY_REGISTRY_PASSWORD", hide_env_values = true, requires = "registry_username")]
    pub registry_password: Option<String>,
    /// Show the deployment's progress and wait until it ends; exit non-zero if it failed or rolled back
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct OperationsArgs {
    /// The service
    pub name: String,
    /// Show this operation with its log instead of the list
    #[arg(long)]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The service
    pub name: String,
    /// Show the output of the latest build instead (what `--wait` shows as [Build] lines)
    #[arg(long)]
    pub build: bool,
    /// Show the request log instead: a line per request, when the service's --request-logs are on
    #[arg(long, conflicts_with = "build")]
    pub requests: bool,
    /// Keep printing new lines as they are written
    #[arg(short, long)]
    pub follow: bool,
    /// How many earlier lines to show
    #[arg(long, default_value_t = 100)]
    pub tail: usize,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The API's URL: http://… on this machine, https://… elsewhere (with --ca-file for a private CA)
    #[arg(long = "url", default_value = "http://127.0.0.1:7700")]
    pub url: String,
    /// A file holding the token, e.g. the server's DATA_DIR/admin-token (else --token or FERRY_TOKEN)
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}
