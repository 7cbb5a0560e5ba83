//! Push payloads of GitHub and of Gitea and Forgejo, which copied GitHub's shape.
//!
//! Where the changed-path list can be cut short:
//! - GitHub lists up to 2048 commits in a webhook delivery (the 20-commit limit of its documentation
//!   applies to the events timeline API, not to webhooks) and up to 3000 files per commit;
//! - Gitea and Forgejo list only the newest `[ui] FEED_MAX_COMMIT_NUM` commits (5 by default) and say how
//!   many there were in `total_commits`; releases before 1.17 did not send that count.

use serde::Deserialize;

use crate::push::{self, Files, malformed};
use crate::{GitHost, HookError, Push};

/// Commits GitHub lists at most in a push delivery.
const GITHUB_MAX_COMMITS: usize = 2048;
/// Files GitHub lists at most per commit.
const GITHUB_MAX_FILES_PER_COMMIT: usize = 3000;

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    created: Option<bool>,
    deleted: Option<bool>,
    forced: Option<bool>,
    head_commit: Option<Commit>,
    commits: Option<Vec<Commit>>,
    /// Sent by the events API, not by webhooks; honoured when present.
    size: Option<u64>,
    /// Gitea and Forgejo: how many commits the push had, of which `commits` lists the newest.
    total_commits: Option<u64>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
    author: Option<push::Person>,
    #[serde(flatten)]
    files: Files,
}

/// Parses a GitHub (`host` GitHub) or Gitea/Forgejo (`host` Gitea) push payload.
pub(crate) fn parse_push(host: GitHost, body: &[u8]) -> Result<Push, HookError> {
    let p: Payload = push::from_json(body)?;
    let git_ref = push::full_ref(p.git_ref.as_deref().ok_or_else(|| malformed("push has no ref"))?)?;
    if let Some(before) = p.before.as_deref() {
        push::commit_id("before", before)?;
    }
    let after = p.after.as_deref().ok_or_else(|| malformed("push has no after"))?;
    let after = push::target("after", Some(after))?.filter(|_| p.deleted != Some(true));
    let listed_commits = p.commits.is_some();
    let commits = p.commits.unwrap_or_default();
    for (i, c) in commits.iter().enumerate() {
        let id = c.id.as_deref().ok_or_else(|| malformed(format!("commits[{i}] has no id")))?;
        push::commit_id(&format!("commits[{i}].id"), id)?;
    }
    let head = match (&after, &p.head_commit) {
        (Some(_), Some(c)) => Some(push::commit_info(
            "head_commit",
            c.id.as_deref(),
            c.message.as_deref(),
            c.author.as_ref().and_then(|a| a.name.as_deref()),
        )?),
        _ => None,
    };

    let listed = commits.len() as u64;
    let complete = match host {
        GitHost::GitHub => commits.len() < GITHUB_MAX_COMMITS && p.size.is_none_or(|size| size <= listed),
        _ => p.total_commits.is_some_and(|total| total <= listed),
    };
    // A created ref has no base the commits extend, and a forced push dropped commits the list omits.
    let no_base = p.forced == Some(true) || p.created == Some(true) || push::created(p.before.as_deref());
    let cap = (host == GitHost::GitHub).then_some(GITHUB_MAX_FILES_PER_COMMIT);
    let paths = if after.is_some() && listed_commits && complete && !no_base {
        push::paths(commits.iter().map(|c| &c.files), cap)
    } else {
        None
    };
    Ok(Push { host, branch: push::branch_of(&git_ref), git_ref, after, head, paths })
}
