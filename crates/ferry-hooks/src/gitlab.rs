//! GitLab `Push Hook` and `Tag Push Hook` payloads.
//!
//! GitLab lists at most the newest 20 commits and says how many there were in `total_commits_count`.
//! It does not say whether a push rewrote history: after a force push `commits` holds only the commits
//! that are new, so a path filter can miss what the replaced commits had changed.

use serde::Deserialize;

use crate::push::{self, Files, malformed};
use crate::{GitHost, HookError, Push};

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    before: Option<String>,
    after: Option<String>,
    /// The commit to check out: for an annotated tag, the commit it points to rather than the tag.
    checkout_sha: Option<String>,
    total_commits_count: Option<u64>,
    commits: Option<Vec<Commit>>,
}

#[derive(Deserialize)]
struct Commit {
    id: Option<String>,
    message: Option<String>,
    title: Option<String>,
    author: Option<push::Person>,
    #[serde(flatten)]
    files: Files,
}

pub(crate) fn parse_push(body: &[u8]) -> Result<Push, HookError> {
    let p: Payload = push::from_json(body)?;
    let git_ref = push::full_ref(p.git_ref.as_deref().ok_or_else(|| malformed("push has no ref"))?)?;
    if let Some(before) = p.before.as_deref() {
        push::commit_id("before", before)?;
    }
    let after = p.after.as_deref().ok_or_else(|| malformed("push has no after"))?;
    let after = push::target("after", Some(after))?;
    let checkout = push::target("checkout_sha", p.checkout_sha.as_deref())?;

    let listed_commits = p.commits.is_some();
    let commits = p.commits.unwrap_or_default();
    let mut ids = Vec::with_capacity(commits.len());
    for (i, c) in commits.iter().enumerate() {
        let id = c.id.as_deref().ok_or_else(|| malformed(format!("commits[{i}] has no id")))?;
        ids.push(push::commit_id(&format!("commits[{i}].id"), id)?);
    }
    let by_id = |want: &String| commits.iter().zip(&ids).find(|(_, id)| *id == want);
    let head_commit =
        after.as_ref().and_then(|after| by_id(after).or_else(|| checkout.as_ref().and_then(by_id)));
    let head = match head_commit {
        Some((c, id)) => {
            let message = c.message.as_deref().or(c.title.as_deref());
            let author = c.author.as_ref().and_then(|a| a.name.as_deref());
            Some(push::commit_info("head commit", Some(id), message, author)?)
        }
        None => None,
    };

    let complete = p.total_commits_count.is_some_and(|total| total <= commits.len() as u64);
    let paths = if after.is_some() && listed_commits && complete && !push::created(p.before.as_deref()) {
        push::paths(commits.iter().map(|c| &c.files), None)
    } else {
        None
    };
    Ok(Push { host: GitHost::GitLab, branch: push::branch_of(&git_ref), git_ref, after, head, paths })
}
