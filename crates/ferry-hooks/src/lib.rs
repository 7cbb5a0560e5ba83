//! Incoming webhooks, verified and parsed, without IO.
//!
//! Two senders call ferry: git hosts when a branch or tag moves ([`verify_git`]: GitHub, GitLab, Gitea and
//! Forgejo, Bitbucket Cloud and Server), and a Docker Distribution registry when an image is pushed
//! ([`parse_registry_events`]). Each function takes what an HTTP handler already has (headers and the
//! whole body) and returns typed events; the handler owns the transport, the body limit and the answer.
//!
//! Nothing of a git webhook is parsed before its signature or token checks out, every comparison of a
//! secret runs in constant time, and no input makes anything here panic. [`all_outside`] then tells
//! whether a push touched a service's source directory at all.

mod bitbucket;
mod git;
mod github;
mod gitlab;
mod paths;
mod push;
mod registry;
mod secret;

pub use git::verify_git;
pub use paths::all_outside;
pub use registry::{ImagePushed, bearer_token, parse_registry_events};
pub use secret::{generate_secret, hmac_hex, sign_github};

use std::fmt;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The signature or token is missing or wrong, or the sender could not be recognised. The caller
    /// answers 401 and must not say more: the reason is for the server log only.
    #[error("webhook not authenticated: {0}")]
    Unauthenticated(&'static str),
    /// Authenticated, but the body is not what the sender's event looks like. The message may be shown
    /// to the sender.
    #[error("malformed webhook: {0}")]
    Malformed(String),
}

/// The kind of git host a push came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GitHost {
    GitHub,
    GitLab,
    /// Gitea and Forgejo, which send the same payloads.
    Gitea,
    /// Bitbucket Cloud and Bitbucket Server / Data Center.
    Bitbucket,
}

impl GitHost {
    /// The host's name in lowercase, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            GitHost::GitHub => "github",
            GitHost::GitLab => "gitlab",
            GitHost::Gitea => "gitea",
            GitHost::Bitbucket => "bitbucket",
        }
    }
}

impl fmt::Display for GitHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a payload says about a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// 40 lowercase hex digits.
    pub id: String,
    /// The author's name, without the email; at most 200 characters.
    pub author: Option<String>,
    /// The first line of the message, trimmed, without control characters; at most 200 characters.
    pub subject: Option<String>,
}

/// A ref that moved: one branch or tag created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub host: GitHost,
    /// The full ref, such as `refs/heads/main` or `refs/tags/v1.2.0`.
    pub git_ref: String,
    /// `main` for `refs/heads/main`; `None` for tags and other refs.
    pub branch: Option<String>,
    /// What the ref points to now, 40 lowercase hex digits; `None` when it was deleted. For an annotated
    /// tag this can be the tag object rather than a commit: [`Push::head`] then names the commit.
    pub after: Option<String>,
    /// The new head commit, when the payload describes it.
    pub head: Option<CommitInfo>,
    /// Every path added, modified or removed by the pushed commits, sorted and without duplicates.
    /// `None` when the payload cannot tell: the host does not list files (Bitbucket), the list may be
    /// truncated, the ref was created or deleted, or history was rewritten.
    pub paths: Option<Vec<String>>,
}

/// What a verified git webhook asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitEvent {
    Push(Push),
    /// The host checks that the hook works (GitHub `ping`, Bitbucket Server `diagnostics:ping`).
    Ping,
    /// Another event, by the name the host gave it; nothing to do.
    Ignored(String),
}
