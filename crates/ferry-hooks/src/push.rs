//! What every host's push parser shares: reading the JSON, checking commit ids and refs, trimming
//! subjects and names, and gathering the changed paths.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;

use crate::{CommitInfo, HookError};

/// Characters kept of a commit subject or an author's name.
const MAX_TEXT_CHARS: usize = 200;
/// Characters of a parse error shown to the sender: serde quotes the offending value, which can be long.
const MAX_ERROR_CHARS: usize = 300;
/// Bytes of a ref name; git itself has no limit, but nothing sane comes near this.
const MAX_REF_BYTES: usize = 1024;

pub(crate) fn malformed(message: impl Into<String>) -> HookError {
    HookError::Malformed(message.into())
}

/// Reads an authenticated body as `T`. Unknown fields are ignored; serde_json's recursion limit bounds
/// nesting.
pub(crate) fn from_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, HookError> {
    if body.starts_with(b"payload=") {
        return Err(malformed("expected a JSON body: set the webhook's content type to application/json"));
    }
    serde_json::from_slice(body).map_err(|e| {
        let message: String = e.to_string().chars().take(MAX_ERROR_CHARS).collect();
        malformed(format!("invalid JSON payload: {message}"))
    })
}

/// Whether `id` is the all-zero id hosts use for "no commit" (a created or deleted ref).
pub(crate) fn is_zero(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b == b'0')
}

/// A commit id: 40 hex digits in either case, returned lowercase.
pub(crate) fn commit_id(field: &str, raw: &str) -> Result<String, HookError> {
    if raw.len() == 40 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(malformed(format!("{field} is not a 40-digit hex commit id")))
    }
}

/// What a ref points to: `None` when the field is absent or all zeros, otherwise a checked commit id.
pub(crate) fn target(field: &str, raw: Option<&str>) -> Result<Option<String>, HookError> {
    match raw {
        None => Ok(None),
        Some(id) if is_zero(id) && id.len() == 40 => Ok(None),
        Some(id) => commit_id(field, id).map(Some),
    }
}

/// Whether `before` says the ref did not exist before the push.
pub(crate) fn created(before: Option<&str>) -> bool {
    before.is_none_or(is_zero)
}

/// A full ref name, checked against the rules of `git check-ref-format` that keep a name safe to pass on
/// (no control characters or spaces, no `..`, no empty or dotted components, no `.lock`).
pub(crate) fn full_ref(raw: &str) -> Result<String, HookError> {
    let bad = |why: &str| Err(malformed(format!("invalid ref: {why}")));
    if !raw.starts_with("refs/") {
        return bad("does not start with refs/");
    }
    if raw.len() > MAX_REF_BYTES {
        return bad("too long");
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c)) {
        return bad("contains a forbidden character");
    }
    if raw.contains("..") || raw.contains("@{") || raw.ends_with('.') {
        return bad("contains a forbidden sequence");
    }
    if raw.split('/').any(|c| c.is_empty() || c.starts_with('.') || c.ends_with(".lock")) {
        return bad("has an empty or forbidden component");
    }
    if raw.split('/').count() < 3 {
        return bad("names no branch or tag");
    }
    Ok(raw.to_owned())
}

/// `main` for `refs/heads/main`.
pub(crate) fn branch_of(git_ref: &str) -> Option<String> {
    git_ref.strip_prefix("refs/heads/").map(str::to_owned)
}

/// Text for people: control characters dropped, trimmed, at most [`MAX_TEXT_CHARS`]; `None` when empty.
fn text(raw: &str) -> Option<String> {
    let kept: String = raw.chars().filter(|c| !c.is_control()).collect();
    let trimmed: String = kept.trim().chars().take(MAX_TEXT_CHARS).collect();
    let trimmed = trimmed.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// The first line of a commit message.
pub(crate) fn subject(message: Option<&str>) -> Option<String> {
    text(message?.trim_start().lines().next()?)
}

/// A person's name.
pub(crate) fn name(raw: Option<&str>) -> Option<String> {
    text(raw?)
}

/// A commit as a payload describes it.
pub(crate) fn commit_info(
    field: &str,
    id: Option<&str>,
    message: Option<&str>,
    author: Option<&str>,
) -> Result<CommitInfo, HookError> {
    let id = id.ok_or_else(|| malformed(format!("{field} has no id")))?;
    Ok(CommitInfo { id: commit_id(field, id)?, author: name(author), subject: subject(message) })
}

/// A commit's author, as GitHub, Gitea and GitLab name it.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Person {
    pub name: Option<String>,
}

/// The files one commit touched, as GitHub, Gitea and GitLab list them.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct Files {
    pub(crate) added: Option<Vec<String>>,
    pub(crate) removed: Option<Vec<String>>,
    pub(crate) modified: Option<Vec<String>>,
}

/// Every path the commits touched, sorted and unique; `None` when a commit does not list its files or
/// lists `per_commit_cap` or more (the host may have cut the list there).
pub(crate) fn paths<'a>(
    commits: impl IntoIterator<Item = &'a Files>,
    per_commit_cap: Option<usize>,
) -> Option<Vec<String>> {
    let mut all = BTreeSet::new();
    for files in commits {
        if files.added.is_none() && files.removed.is_none() && files.modified.is_none() {
            return None;
        }
        let lists = [&files.added, &files.removed, &files.modified].map(|l| l.as_deref().unwrap_or(&[]));
        let count: usize = lists.iter().map(|l| l.len()).sum();
        if per_commit_cap.is_some_and(|cap| count >= cap) {
            return None;
        }
        all.extend(lists.into_iter().flatten().map(String::as_str));
    }
    Some(all.into_iter().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_40_hex_and_lowercased() {
        let upper = "ABCDEF0123456789ABCDEF0123456789ABCDEF01";
        assert_eq!(commit_id("after", upper).unwrap(), upper.to_ascii_lowercase());
        assert!(commit_id("after", &upper[..39]).is_err());
        assert!(commit_id("after", &format!("{upper}0")).is_err());
        assert!(commit_id("after", "g".repeat(40).as_str()).is_err());
        assert!(commit_id("after", &"a".repeat(64)).is_err());
        assert_eq!(target("after", Some(&"0".repeat(40))).unwrap(), None);
        assert!(target("after", Some("0")).is_err());
    }

    #[test]
    fn refs_follow_git_rules() {
        for good in ["refs/heads/main", "refs/heads/feature/x-1", "refs/tags/v1.2.0", "refs/heads/ünï"] {
            assert_eq!(full_ref(good).unwrap(), good);
        }
        for bad in [
            "main",
            "refs/heads",
            "refs/heads/",
            "refs/heads//x",
            "refs/heads/a..b",
            "refs/heads/.hidden",
            "refs/heads/x.lock",
            "refs/heads/a b",
            "refs/heads/a\nb",
            "refs/heads/a~1",
            "refs/heads/a@{1}",
            "refs/heads/end.",
        ] {
            assert!(full_ref(bad).is_err(), "{bad:?}");
        }
        assert_eq!(branch_of("refs/heads/feature/x").as_deref(), Some("feature/x"));
        assert_eq!(branch_of("refs/tags/v1"), None);
    }

    #[test]
    fn subjects_are_first_lines_trimmed_and_bounded() {
        assert_eq!(subject(Some("  Fix it \n\nBody")).as_deref(), Some("Fix it"));
        assert_eq!(subject(Some("\n\nLate subject")).as_deref(), Some("Late subject"));
        assert_eq!(subject(Some("tab\there")).as_deref(), Some("tabhere"));
        assert_eq!(subject(Some("  \n")), None);
        assert_eq!(subject(None), None);
        let long = "é".repeat(300);
        assert_eq!(subject(Some(&long)).unwrap().chars().count(), 200);
        assert_eq!(name(Some("  Ada Lovelace ")).as_deref(), Some("Ada Lovelace"));
    }

    #[test]
    fn paths_are_unique_sorted_and_unknown_when_unlisted_or_capped() {
        let files = |a: &[&str], m: &[&str]| Files {
            added: Some(a.iter().map(|s| s.to_string()).collect()),
            removed: Some(vec![]),
            modified: Some(m.iter().map(|s| s.to_string()).collect()),
        };
        let commits = [files(&["b", "a"], &["c"]), files(&[], &["a"])];
        assert_eq!(paths(&commits, None), Some(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(paths(&commits, Some(3)), None);
        assert_eq!(paths(&[Files::default()], None), None);
        assert_eq!(paths(&[], None), Some(vec![]));
    }
}
