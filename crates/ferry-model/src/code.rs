//! Source code as a service's source: App Runner's `CodeRepository`, from any git host.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ImageConfiguration, ValidationError};

/// A git repository to build from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSource {
    /// `https://…`, `http://…`, `ssh://…`, `user@host:path`, `file://…`, or an absolute local path.
    pub repository: String,
    /// The branch whose latest commit each deployment builds (App Runner's `SourceCodeVersion`).
    pub branch: String,
    /// The directory inside the repository to build (monorepos), relative to its root; `None` for the root.
    pub source_directory: Option<String>,
    pub configuration: CodeConfiguration,
    /// Port, environment and start command when the repository's own files do not set them (a
    /// Dockerfile, a detected language, or API values); `apprunner.yaml` overrides them.
    pub config: ImageConfiguration,
    /// Never returned by the API.
    pub credentials: Option<GitCredentials>,
    /// The connection whose credentials fetch the repository (App Runner's `ConnectionArn`), read from
    /// the store at each build and poll, so new credentials apply without touching the service. Not set
    /// together with `credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Deploy each commit pushed to the branch (App Runner's `AutoDeploymentsEnabled`; on by default for
    /// repositories, as there, and for specs stored before the switch existed).
    #[serde(default = "on")]
    pub auto_deploy: bool,
}

fn on() -> bool {
    true
}

/// Where the build and run settings come from: App Runner's `ConfigurationSource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeConfiguration {
    /// Read the repository: `apprunner.yaml`, else a `Dockerfile`, else detect the language; or use the
    /// builder named.
    Repository { builder: Builder },
    /// Use these values and ignore `apprunner.yaml` (App Runner's `CodeConfigurationValues`).
    Api { runtime: CodeRuntime, build_command: Option<String> },
}

/// How a repository is built when ferry reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    /// `apprunner.yaml`, else `Dockerfile`, else the first language detected (see `ferry-build`).
    Auto,
    AppRunner,
    Dockerfile,
    Python,
    Nodejs,
    Go,
    Rust,
    Ruby,
    Php,
    Static,
}

impl Builder {
    pub const ALL: [Builder; 10] = [
        Builder::Auto,
        Builder::AppRunner,
        Builder::Dockerfile,
        Builder::Python,
        Builder::Nodejs,
        Builder::Go,
        Builder::Rust,
        Builder::Ruby,
        Builder::Php,
        Builder::Static,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Builder::Auto => "auto",
            Builder::AppRunner => "apprunner",
            Builder::Dockerfile => "dockerfile",
            Builder::Python => "python",
            Builder::Nodejs => "nodejs",
            Builder::Go => "go",
            Builder::Rust => "rust",
            Builder::Ruby => "ruby",
            Builder::Php => "php",
            Builder::Static => "static",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let norm = s.trim().to_ascii_lowercase();
        Builder::ALL.into_iter().find(|b| b.as_str() == norm).ok_or_else(|| {
            let all: Vec<&str> = Builder::ALL.iter().map(|b| b.as_str()).collect();
            ValidationError::new("builder", format!("{s:?} is not a builder; use one of {}", all.join(", ")))
        })
    }
}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// App Runner's managed runtimes. Each maps to a base image in the server's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeRuntime {
    Python3,
    Python311,
    Nodejs12,
    Nodejs14,
    Nodejs16,
    Nodejs18,
    Nodejs22,
    Corretto8,
    Corretto11,
    Dotnet6,
    Php81,
    Ruby31,
    Go1,
}

impl CodeRuntime {
    pub const ALL: [CodeRuntime; 13] = [
        CodeRuntime::Python3,
        CodeRuntime::Python311,
        CodeRuntime::Nodejs12,
        CodeRuntime::Nodejs14,
        CodeRuntime::Nodejs16,
        CodeRuntime::Nodejs18,
        CodeRuntime::Nodejs22,
        CodeRuntime::Corretto8,
        CodeRuntime::Corretto11,
        CodeRuntime::Dotnet6,
        CodeRuntime::Php81,
        CodeRuntime::Ruby31,
        CodeRuntime::Go1,
    ];

    /// The name in `apprunner.yaml` (`python311`).
    pub fn name(self) -> &'static str {
        match self {
            CodeRuntime::Python3 => "python3",
            CodeRuntime::Python311 => "python311",
            CodeRuntime::Nodejs12 => "nodejs12",
            CodeRuntime::Nodejs14 => "nodejs14",
            CodeRuntime::Nodejs16 => "nodejs16",
            CodeRuntime::Nodejs18 => "nodejs18",
            CodeRuntime::Nodejs22 => "nodejs22",
            CodeRuntime::Corretto8 => "corretto8",
            CodeRuntime::Corretto11 => "corretto11",
            CodeRuntime::Dotnet6 => "dotnet6",
            CodeRuntime::Php81 => "php81",
            CodeRuntime::Ruby31 => "ruby31",
            CodeRuntime::Go1 => "go1",
        }
    }

    /// The name in App Runner's API (`PYTHON_311`).
    pub fn api_name(self) -> &'static str {
        match self {
            CodeRuntime::Python3 => "PYTHON_3",
            CodeRuntime::Python311 => "PYTHON_311",
            CodeRuntime::Nodejs12 => "NODEJS_12",
            CodeRuntime::Nodejs14 => "NODEJS_14",
            CodeRuntime::Nodejs16 => "NODEJS_16",
            CodeRuntime::Nodejs18 => "NODEJS_18",
            CodeRuntime::Nodejs22 => "NODEJS_22",
            CodeRuntime::Corretto8 => "CORRETTO_8",
            CodeRuntime::Corretto11 => "CORRETTO_11",
            CodeRuntime::Dotnet6 => "DOTNET_6",
            CodeRuntime::Php81 => "PHP_81",
            CodeRuntime::Ruby31 => "RUBY_31",
            CodeRuntime::Go1 => "GO_1",
        }
    }

    /// Whether App Runner builds it the revised way (a build stage, then a run stage that copies `/app`
    /// and runs `pre-run`), rather than the original one.
    pub fn revised_build(self) -> bool {
        matches!(self, CodeRuntime::Python311 | CodeRuntime::Nodejs18 | CodeRuntime::Nodejs22)
    }

    /// Accepts either spelling, any case.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let t = s.trim();
        CodeRuntime::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(t) || r.api_name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let all: Vec<&str> = CodeRuntime::ALL.iter().map(|r| r.name()).collect();
                ValidationError::new(
                    "runtime",
                    format!("{s:?} is not an App Runner runtime; use one of {}", all.join(", ")),
                )
            })
    }
}

impl fmt::Display for CodeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to authenticate to a git host.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GitCredentials {
    /// HTTPS with a user name and a password or access token.
    Basic { username: String, password: String },
    /// SSH with a private key (PEM/OpenSSH text).
    SshKey { private_key: String },
}

impl GitCredentials {
    /// Which kind they are, for views that must never show the credentials themselves.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "basic",
            Self::SshKey { .. } => "ssh",
        }
    }
}

impl fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).finish_non_exhaustive()
            }
            Self::SshKey { .. } => f.write_str("SshKey(***)"),
        }
    }
}

impl CodeSource {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_repository(&self.repository)?;
        check_branch(&self.branch)?;
        if let Some(dir) = &self.source_directory {
            normalize_directory(dir)?;
        }
        if let CodeConfiguration::Api { build_command: Some(c), .. } = &self.configuration
            && c.contains(['\n', '\r'])
        {
            return Err(ValidationError::new("build_command", "the build command must be a single line"));
        }
        if let Some(name) = &self.connection {
            check_connection_name(name)?;
            if self.credentials.is_some() {
                return Err(ValidationError::new(
                    "connection",
                    format!(
                        "both the connection {name:?} and credentials are given; drop the credentials to \
                         use the connection's, or drop the connection"
                    ),
                ));
            }
        }
        self.config.validate()
    }
}

/// The git hosts a connection can be for, as App Runner names them (`GIT` is ferry's own: any other host).
pub const CONNECTION_PROVIDERS: [&str; 3] = ["GITHUB", "BITBUCKET", "GIT"];

/// A connection's provider in any case (`github`, `Bitbucket`, `GIT`), as App Runner spells it.
pub fn connection_provider(s: &str) -> Result<&'static str, ValidationError> {
    CONNECTION_PROVIDERS.into_iter().find(|p| p.eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
        ValidationError::new("provider", format!("{s:?} is not a provider; use github, bitbucket or git"))
    })
}

/// App Runner's rule for a connection's name: 4 to 32 letters, digits, `-` and `_`, starting with a
/// letter or digit.
pub fn check_connection_name(name: &str) -> Result<(), ValidationError> {
    let mut chars = name.chars();
    let ok = (4..=32).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "connection",
            format!(
                "{name:?} is not a connection name: use 4 to 32 letters, digits, '-' and '_', starting with a \
                 letter or digit"
            ),
        ))
    }
}

/// Refuses what git would misread: options (`-…`), relative paths, spaces, control characters.
pub fn check_repository(url: &str) -> Result<(), ValidationError> {
    let bad = |why: &str| {
        ValidationError::new(
            "repository",
            format!(
                "{url:?} is not a repository git can fetch: {why}; use https://host/owner/repo.git, \
                 git@host:owner/repo.git, ssh://…, file:///path or an absolute path"
            ),
        )
    };
    if url.is_empty() {
        return Err(bad("it is empty"));
    }
    if url.starts_with('-') {
        return Err(bad("it starts with '-'"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("it contains white space or control characters"));
    }
    // A password in the URL would be stored with the service and shown wherever its source is, to every
    // token that may read it.
    let authority = url.split_once("://").map(|(_, rest)| rest.split('/').next().unwrap_or_default());
    if authority.and_then(|a| a.rsplit_once('@')).is_some_and(|(user, _)| user.contains(':')) {
        return Err(ValidationError::new(
            "repository",
            "the URL holds a password or token, which would be stored and shown with the service; give the \
             URL without it, and the credentials as a connection (ferry connection credentials NAME, then \
             --connection NAME) or with --git-username and --git-password (or FERRY_GIT_PASSWORD)",
        ));
    }
    let scheme_ok = ["https://", "http://", "ssh://", "git://", "file://"].iter().any(|s| url.starts_with(s));
    let scp_like = !url.contains("://") && url.split_once(':').is_some_and(|(host, _)| host.contains('@'));
    if scheme_ok || scp_like || url.starts_with('/') {
        Ok(())
    } else {
        Err(bad("it is neither a URL nor an absolute path"))
    }
}

/// Git's rules for a branch name, the ones that matter here.
pub fn check_branch(branch: &str) -> Result<(), ValidationError> {
    let ok = !branch.is_empty()
        && branch.len() <= 255
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.ends_with(".lock")
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.contains("@{")
        && !branch.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("branch", format!("{branch:?} is not a valid git branch name")))
    }
}

/// `services/api`, `/services/api/` and `./services/api` all become `services/api`; `..` is refused.
pub fn normalize_directory(dir: &str) -> Result<Option<String>, ValidationError> {
    let mut parts = Vec::new();
    for part in dir.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(ValidationError::new(
                    "source_directory",
                    format!("{dir:?} leaves the repository; give a directory inside it, e.g. services/api"),
                ));
            }
            p if p.chars().any(|c| c.is_control() || c == '\0') => {
                return Err(ValidationError::new(
                    "source_directory",
                    format!("{dir:?} contains control characters"),
                ));
            }
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_from_any_host_and_nothing_git_would_misread() {
        for ok in [
            "https://github.com/o/r.git",
            "http://127.0.0.1:3000/o/r",
            "git@gitlab.com:o/r.git",
            "ssh://git@host:2222/o/r",
            "https://deploy-bot@git.example.com/o/r.git",
            "file:///srv/git/r",
            "/srv/git/r",
        ] {
            assert!(check_repository(ok).is_ok(), "{ok}");
        }
        // A token in the URL is refused, and not repeated in the refusal.
        let e = check_repository("https://bot:ghp_s3cr3t@github.com/o/r.git").unwrap_err();
        assert!(e.message.contains("connection") && !e.message.contains("ghp_s3cr3t"), "{e}");
        for bad in ["", "-uhttps://x", "relative/path", "https://x y", "ftp://x"] {
            assert_eq!(check_repository(bad).unwrap_err().field, "repository", "{bad}");
        }
    }

    #[test]
    fn branches_and_directories() {
        for ok in ["main", "release/1.2", "feature_x-1"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "x.lock", "a:b", "/x", "x/"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_directory("/services/api/").unwrap().as_deref(), Some("services/api"));
        assert_eq!(normalize_directory("./a/./b").unwrap().as_deref(), Some("a/b"));
        assert_eq!(normalize_directory("/").unwrap(), None);
        assert_eq!(normalize_directory("a/../../etc").unwrap_err().field, "source_directory");
    }

    #[test]
    fn connection_names_and_a_connection_or_credentials_not_both() {
        for ok in ["gh-main", "abcd", "A_b-9", &"x".repeat(32)] {
            assert!(check_connection_name(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "-abc", "_abc", "a.bc", "ab cd", "", &"x".repeat(33), "ábcd"] {
            assert_eq!(check_connection_name(bad).unwrap_err().field, "connection", "{bad}");
        }
        assert_eq!(connection_provider("github").unwrap(), "GITHUB");
        assert_eq!(connection_provider(" Bitbucket").unwrap(), "BITBUCKET");
        assert_eq!(connection_provider("GIT").unwrap(), "GIT");
        assert!(connection_provider("gitlab").unwrap_err().message.contains("github, bitbucket or git"));
        let mut code = CodeSource {
            repository: "https://git.example/o/r.git".into(),
            branch: "main".into(),
            source_directory: None,
            configuration: CodeConfiguration::Repository { builder: Builder::Auto },
            config: ImageConfiguration::default(),
            credentials: None,
            connection: Some("gh-main".into()),
            auto_deploy: true,
        };
        code.validate().unwrap();
        code.credentials = Some(GitCredentials::Basic { username: "u".into(), password: "p".into() });
        let e = code.validate().unwrap_err();
        assert_eq!(e.field, "connection");
        assert!(e.message.contains("drop the credentials"), "{}", e.message);
        code.credentials = None;
        code.connection = Some("no".into());
        assert_eq!(code.validate().unwrap_err().field, "connection");
        // Specs stored before connections existed read as using none, and one without is stored as before.
        let json = serde_json::to_value(CodeSource { connection: None, ..code }).unwrap();
        assert!(json.get("connection").is_none());
    }

    #[test]
    fn runtimes_parse_in_both_spellings_and_know_their_build() {
        assert_eq!(CodeRuntime::parse("PYTHON_311").unwrap(), CodeRuntime::Python311);
        assert_eq!(CodeRuntime::parse("nodejs22").unwrap(), CodeRuntime::Nodejs22);
        assert!(CodeRuntime::Nodejs18.revised_build() && !CodeRuntime::Nodejs16.revised_build());
        let e = CodeRuntime::parse("python2").unwrap_err();
        assert!(e.message.contains("python3, python311"), "{}", e.message);
        assert_eq!(Builder::parse("Dockerfile").unwrap(), Builder::Dockerfile);
        assert!(Builder::parse("make").unwrap_err().message.contains("auto, apprunner"));
    }
}
