//! Bitbucket Cloud `repo:push` and Bitbucket Server / Data Center `repo:refs_changed` payloads.
//!
//! Unlike the other hosts, Bitbucket sends one delivery for a `git push` that moves several refs, with a
//! change per ref. A [`Push`] names one ref, so the first branch change is taken (the first change of any
//! kind when no branch moved) and the others are dropped. Neither flavour lists changed files: `paths` is
//! always `None`.

use serde::Deserialize;

use crate::push::{self, malformed};
use crate::{CommitInfo, GitHost, HookError, Push};

#[derive(Deserialize)]
struct CloudPayload {
    push: Option<CloudPush>,
}

#[derive(Deserialize)]
struct CloudPush {
    changes: Option<Vec<CloudChange>>,
}

#[derive(Deserialize)]
struct CloudChange {
    /// The ref after the push; `null` when it was deleted.
    new: Option<CloudRef>,
    /// The ref before the push; `null` when it was created.
    old: Option<CloudRef>,
}

#[derive(Deserialize)]
struct CloudRef {
    /// `branch`, `tag` or `annotated_tag`.
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    target: Option<CloudCommit>,
}

#[derive(Deserialize)]
struct CloudCommit {
    hash: Option<String>,
    message: Option<String>,
    author: Option<CloudAuthor>,
}

#[derive(Deserialize)]
struct CloudAuthor {
    /// The git author: `Name <email>`.
    raw: Option<String>,
    /// The Bitbucket account the author maps to, if any.
    user: Option<CloudUser>,
}

#[derive(Deserialize)]
struct CloudUser {
    display_name: Option<String>,
}

impl CloudRef {
    fn is_branch(&self) -> bool {
        self.kind.as_deref() == Some("branch")
    }
}

/// Parses a Bitbucket Cloud `repo:push` payload.
pub(crate) fn parse_cloud(body: &[u8]) -> Result<Push, HookError> {
    let p: CloudPayload = push::from_json(body)?;
    let changes = p.push.and_then(|p| p.changes).unwrap_or_default();
    let is_branch = |c: &&CloudChange| c.new.as_ref().or(c.old.as_ref()).is_some_and(CloudRef::is_branch);
    let change = changes
        .iter()
        .find(is_branch)
        .or_else(|| changes.first())
        .ok_or_else(|| malformed("push has no changes"))?;
    let named = change.new.as_ref().or(change.old.as_ref()).ok_or_else(|| malformed("change has no ref"))?;
    let name = named.name.as_deref().ok_or_else(|| malformed("change has no ref name"))?;
    let git_ref = match named.kind.as_deref() {
        Some("branch") => format!("refs/heads/{name}"),
        Some("tag" | "annotated_tag") => format!("refs/tags/{name}"),
        _ => return Err(malformed("change is neither a branch nor a tag")),
    };
    let git_ref = push::full_ref(&git_ref)?;
    let head = match &change.new {
        None => None,
        Some(new) => {
            let commit = new.target.as_ref().ok_or_else(|| malformed("change has no target commit"))?;
            let author = commit.author.as_ref().and_then(|a| {
                let from_git = a.raw.as_deref().map(|raw| raw.split_once('<').map_or(raw, |(name, _)| name));
                push::name(from_git).or_else(|| push::name(a.user.as_ref()?.display_name.as_deref()))
            });
            Some(CommitInfo {
                author,
                ..push::commit_info("new.target", commit.hash.as_deref(), commit.message.as_deref(), None)?
            })
        }
    };
    let after = head.as_ref().map(|h| h.id.clone());
    Ok(Push {
        host: GitHost::Bitbucket,
        branch: push::branch_of(&git_ref),
        git_ref,
        after,
        head,
        paths: None,
    })
}

#[derive(Deserialize)]
struct ServerPayload {
    changes: Option<Vec<ServerChange>>,
}

#[derive(Deserialize)]
struct ServerChange {
    #[serde(rename = "ref")]
    git_ref: Option<ServerRef>,
    #[serde(rename = "refId")]
    ref_id: Option<String>,
    #[serde(rename = "toHash")]
    to_hash: Option<String>,
    #[serde(rename = "fromHash")]
    from_hash: Option<String>,
    /// `ADD`, `UPDATE` or `DELETE`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ServerRef {
    /// The full ref, such as `refs/heads/main`.
    id: Option<String>,
    /// `BRANCH` or `TAG`.
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl ServerChange {
    fn full_ref(&self) -> Option<&str> {
        self.git_ref.as_ref().and_then(|r| r.id.as_deref()).or(self.ref_id.as_deref())
    }

    fn is_branch(&self) -> bool {
        let kind = self.git_ref.as_ref().and_then(|r| r.kind.as_deref());
        kind == Some("BRANCH") || self.full_ref().is_some_and(|r| r.starts_with("refs/heads/"))
    }
}

/// Parses a Bitbucket Server / Data Center `repo:refs_changed` payload. It names commits by id only.
pub(crate) fn parse_server(body: &[u8]) -> Result<Push, HookError> {
    let p: ServerPayload = push::from_json(body)?;
    let changes = p.changes.unwrap_or_default();
    let change = changes
        .iter()
        .find(|c| c.is_branch())
        .or_else(|| changes.first())
        .ok_or_else(|| malformed("refs_changed has no changes"))?;
    let git_ref = push::full_ref(change.full_ref().ok_or_else(|| malformed("change has no ref"))?)?;
    if let Some(from) = change.from_hash.as_deref() {
        push::commit_id("fromHash", from)?;
    }
    let to = change.to_hash.as_deref().ok_or_else(|| malformed("change has no toHash"))?;
    let after = push::target("toHash", Some(to))?.filter(|_| change.kind.as_deref() != Some("DELETE"));
    let head = after.as_ref().map(|id| CommitInfo { id: id.clone(), author: None, subject: None });
    Ok(Push {
        host: GitHost::Bitbucket,
        branch: push::branch_of(&git_ref),
        git_ref,
        after,
        head,
        paths: None,
    })
}
