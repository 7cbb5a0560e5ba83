//! Docker Distribution (`registry:2`, CNCF distribution) notifications.
//!
//! The registry POSTs an envelope, `Content-Type: application/vnd.docker.distribution.events.v1+json`,
//! `{"events": [...]}`, with one event per blob or manifest pulled, pushed, mounted or deleted. Pushing
//! an image by tag sends an event per layer and config blob (no tag, a blob media type) and one for the
//! manifest (with `tag`); only the last names something deployable. The registry retries an envelope
//! it got no 2xx for, and holds back the envelopes after it meanwhile: answer 2xx to anything
//! authenticated, even when it is refused here.
//!
//! The registry authenticates with a header set in its `notifications.endpoints[].headers`: read it with
//! [`bearer_token`] and compare it in the caller.

use http::HeaderMap;
use http::header::AUTHORIZATION;
use serde::Deserialize;

use crate::HookError;
use crate::push::{from_json, malformed};

/// Media types of the manifests a tag can name: Docker schema 2 and OCI, single and multi-platform,
/// and the old signed schema 1.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// A tag pushed to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePushed {
    /// The repository within the registry, such as `team/web`.
    pub repository: String,
    pub tag: String,
    /// The manifest's digest: `sha256:` and 64 lowercase hex digits.
    pub digest: String,
    /// The manifest's media type, one of the manifest types above.
    pub media_type: String,
    /// The registry's host as the pusher addressed it (`registry.example.com:5000`), when given.
    pub request_host: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    events: Option<Vec<Event>>,
}

#[derive(Deserialize)]
struct Event {
    action: Option<String>,
    target: Option<Target>,
    request: Option<Request>,
}

#[derive(Deserialize)]
struct Target {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    digest: Option<String>,
    repository: Option<String>,
    tag: Option<String>,
}

#[derive(Deserialize)]
struct Request {
    host: Option<String>,
}

/// The tags pushed in a notification envelope, in its order. Pulls, deletes, mounts, blobs and pushes by
/// digest are skipped; a tagged manifest push with a bad repository, tag or digest refuses the envelope.
pub fn parse_registry_events(body: &[u8]) -> Result<Vec<ImagePushed>, HookError> {
    let envelope: Envelope = from_json(body)?;
    let events = envelope.events.ok_or_else(|| malformed("envelope has no events"))?;
    let mut pushed = Vec::new();
    for (i, event) in events.into_iter().enumerate() {
        let Some(target) = event.target else { continue };
        let tag = target.tag.unwrap_or_default();
        let media_type = target.media_type.unwrap_or_default();
        if event.action.as_deref() != Some("push")
            || tag.is_empty()
            || !MANIFEST_TYPES.contains(&&*media_type)
        {
            continue;
        }
        let repository = target.repository.unwrap_or_default();
        if !valid_repository(&repository) {
            return Err(malformed(format!("events[{i}]: invalid repository")));
        }
        if !valid_tag(&tag) {
            return Err(malformed(format!("events[{i}]: invalid tag")));
        }
        let digest = target.digest.unwrap_or_default();
        if !valid_digest(&digest) {
            return Err(malformed(format!("events[{i}]: digest is not sha256:<64 lowercase hex digits>")));
        }
        let request_host = event.request.and_then(|r| r.host).filter(|h| !h.is_empty());
        pushed.push(ImagePushed { repository, tag, digest, media_type, request_host });
    }
    Ok(pushed)
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A repository name as distribution's reference grammar allows: `/`-separated components of lowercase
/// letters and digits, joined inside a component by `.`, `_`, `__` or runs of `-`.
fn valid_repository(name: &str) -> bool {
    let component = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        let (Some(first), Some(last)) = (b.first(), b.last()) else { return false };
        alnum(first)
            && alnum(last)
            && b.iter().all(|x| alnum(x) || b"._-".contains(x))
            && !c.contains("..")
            && !c.contains("___")
            && !c.contains("._")
            && !c.contains("_.")
            && !c.contains(".-")
            && !c.contains("-.")
            && !c.contains("_-")
            && !c.contains("-_")
    };
    name.len() <= 255 && name.split('/').all(component)
}

/// A tag as distribution allows: a word character, then up to 127 word characters, `.` or `-`.
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    b.len() <= 128
        && b.first().is_some_and(|&f| word(f))
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_reference_grammar() {
        for good in ["web", "team/web", "a/b/c", "my-app", "my__app", "my.app", "a--b", "x1/2y"] {
            assert!(valid_repository(good), "{good}");
        }
        for bad in ["", "Web", "team//web", "/web", "web/", "-web", "web-", "a..b", "a___b", "a._b", "a b"] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_digests_are_checked() {
        for good in ["latest", "v1.2.3", "_x", "1", &"a".repeat(128)] {
            assert!(valid_tag(good), "{good}");
        }
        for bad in ["", ".x", "-x", "a/b", "a:b", &"a".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
        assert!(valid_digest(&format!("sha256:{}", "ab".repeat(32))));
        assert!(!valid_digest(&format!("sha256:{}", "AB".repeat(32))));
        assert!(!valid_digest(&format!("sha512:{}", "ab".repeat(32))));
        assert!(!valid_digest(&format!("sha256:{}", "ab".repeat(31))));
    }

    #[test]
    fn bearer_tokens_are_read_with_any_scheme_case() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, value.parse().unwrap());
            bearer_token(&headers).map(str::to_owned)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc").as_deref(), Some("abc"));
        assert_eq!(with("BEARER abc.def-1").as_deref(), Some("abc.def-1"));
        assert_eq!(with("Basic YWJjOmRlZg=="), None);
        assert_eq!(with("Bearer"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
