//! Watching a service's source for pushes: what was last seen on the watched branch or tag, when ferry
//! last asked, and the webhook that lets a git host tell it.

use std::fmt;

use crate::{ServiceId, Timestamp, Via};

/// A version of a watched source: a commit of the branch, or a manifest digest of the tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceVersion {
    /// 40 lowercase hex digits.
    Commit(String),
    /// `sha256:…`.
    Digest(String),
}

impl SourceVersion {
    pub fn as_str(&self) -> &str {
        match self {
            SourceVersion::Commit(c) => c,
            SourceVersion::Digest(d) => d,
        }
    }

    /// For people: a commit's first 12 digits, or the digest's algorithm and first 12.
    pub fn short(&self) -> &str {
        match self {
            SourceVersion::Commit(c) => &c[..c.len().min(12)],
            SourceVersion::Digest(d) => &d[..d.len().min(19)],
        }
    }

    /// Reads a stored version: a digest has its algorithm, a commit does not.
    pub fn parse(s: &str) -> Option<Self> {
        if s.contains(':') {
            Some(SourceVersion::Digest(s.to_owned()))
        } else if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(SourceVersion::Commit(s.to_ascii_lowercase()))
        } else {
            None
        }
    }
}

impl fmt::Display for SourceVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version seen on the watched branch or tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub version: SourceVersion,
    pub at: Timestamp,
    pub via: Via,
    /// A commit's author and the first line of its message, when the git host said.
    pub author: Option<String>,
    pub subject: Option<String>,
}

/// A push that was recorded and not deployed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub at: Timestamp,
    pub reason: String,
}

/// What ferry knows of a service's watched source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceWatch {
    pub service_id: ServiceId,
    /// The newest version seen; the service deploys it when it differs from its newest revision's.
    pub seen: Option<Seen>,
    /// When ferry last asked the git host or the registry, and what went wrong if it could not.
    pub checked_at: Option<Timestamp>,
    pub check_error: Option<String>,
    /// The last push that was not deployed, and why.
    pub ignored: Option<Ignored>,
}

impl SourceWatch {
    pub fn new(service_id: ServiceId) -> Self {
        Self { service_id, seen: None, checked_at: None, check_error: None, ignored: None }
    }
}

/// A service's push webhook: the path it is reached at and the secret its requests are signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub service_id: ServiceId,
    /// 32 hex digits, in the webhook's URL: unguessable, and new on each rotation.
    pub hook_id: String,
    /// The shared secret (HMAC key, or GitLab's token). Not a hash (signatures need it): the store seals it.
    pub secret: String,
    pub created_at: Timestamp,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("service_id", &self.service_id)
            .field("hook_id", &self.hook_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_back() {
        let commit = "0123456789ABCDEF0123456789abcdef01234567";
        assert_eq!(SourceVersion::parse(commit), Some(SourceVersion::Commit(commit.to_ascii_lowercase())));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(SourceVersion::parse(&digest), Some(SourceVersion::Digest(digest.clone())));
        assert_eq!(SourceVersion::Digest(digest).short(), "sha256:aaaaaaaaaaaa");
        for bad in ["", "abc", "main"] {
            assert_eq!(SourceVersion::parse(bad), None, "{bad}");
        }
    }
}
