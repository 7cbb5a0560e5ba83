//! The one error type of the crate, and the ACME server's problem documents in a form fit to show a person.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// What a responder or hook returns when it cannot put a challenge in place.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a certificate could not be made, stored or read.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A stored file that is not what this crate wrote (bad JSON, a PEM without a certificate).
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("invalid certificate: {0}")]
    Certificate(String),
    #[error("generating a key or certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error(
        "{name} is a wildcard name: wildcard certificates can only be validated with dns-01 (use the DNS method)"
    )]
    WildcardNeedsDns01 { name: String },
    #[error("invalid ACME directory URL {url:?}: it must start with https://")]
    DirectoryUrl { url: String },
    #[error("invalid CA bundle for the ACME directory: {0}")]
    CaBundle(String),
    /// The ACME server answered a request with a problem document (RFC 7807), outside any one domain's validation.
    #[error("the ACME server refused: {0}")]
    Server(Problem),
    /// The ACME server tried to validate `domain` and failed; `problem` holds its words.
    #[error("validation of {domain} failed: {problem}")]
    Validation { domain: String, problem: Problem },
    #[error("{domain}: the ACME server offers no {method} challenge")]
    NoChallenge { domain: String, method: &'static str },
    #[error("{domain}: setting the {method} challenge failed: {source}")]
    Responder { domain: String, method: &'static str, source: BoxError },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },
    /// A failure talking to the ACME server that is not a problem document (connection, TLS, bad JSON).
    #[error("talking to the ACME server: {0}")]
    Protocol(#[source] instant_acme::Error),
}

impl AcmeError {
    /// The ACME server's own explanation, when the error came from it.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Server(problem) | Self::Validation { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The domain this error is about, when it is about one (to show "failed: `reason`" beside it).
    pub fn domain(&self) -> Option<&str> {
        match self {
            Self::Validation { domain, .. }
            | Self::NoChallenge { domain, .. }
            | Self::Responder { domain, .. } => Some(domain),
            Self::WildcardNeedsDns01 { name } | Self::InvalidName { name, .. } => Some(name),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl From<instant_acme::Error> for AcmeError {
    fn from(error: instant_acme::Error) -> Self {
        match error {
            instant_acme::Error::Api(problem) => Self::Server(Problem::from(&problem)),
            other => Self::Protocol(other),
        }
    }
}

/// An ACME problem document (RFC 8555 section 6.7): the error's type URN and the server's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// e.g. `urn:ietf:params:acme:error:unauthorized`.
    pub kind: Option<String>,
    /// The server's explanation, e.g. why validation failed.
    pub detail: Option<String>,
    /// Per-identifier problems, `identifier: detail`.
    pub subproblems: Vec<String>,
}

impl Problem {
    /// The type without its `urn:ietf:params:acme:error:` prefix (`unauthorized`, `connection`, …).
    pub fn short_kind(&self) -> Option<&str> {
        let kind = self.kind.as_deref()?;
        Some(kind.strip_prefix("urn:ietf:params:acme:error:").unwrap_or(kind))
    }
}

impl From<&instant_acme::Problem> for Problem {
    fn from(problem: &instant_acme::Problem) -> Self {
        Self {
            kind: problem.r#type.clone(),
            detail: problem.detail.clone(),
            subproblems: problem.subproblems.iter().map(ToString::to_string).collect(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.detail, self.short_kind()) {
            (Some(detail), Some(kind)) => write!(f, "{detail} ({kind})")?,
            (Some(detail), None) => f.write_str(detail)?,
            (None, Some(kind)) => f.write_str(kind)?,
            (None, None) => f.write_str("no detail given")?,
        }
        for sub in &self.subproblems {
            write!(f, "; {sub}")?;
        }
        Ok(())
    }
}
