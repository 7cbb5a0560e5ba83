//! OCI image references, parsed after the grammar of `distribution/reference`.
//!
//! App Runner accepts only ECR; ferry accepts any registry. A reference is validated here so that a typo
//! is a 400 naming the field, not a pull failure a minute later.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// `[registry[:port]/]repository[:tag][@digest]`, e.g. `127.0.0.1:5000/web:v1` or `nginx@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

const MAX_NAME_LEN: usize = 255;
const MAX_REF_LEN: usize = 1024;

fn invalid(reference: &str, why: &str) -> ValidationError {
    ValidationError::new(
        "",
        format!(
            "{reference:?} is not a valid image reference: {why}; \
             use [registry[:port]/]repository[:tag][@sha256:digest], e.g. 127.0.0.1:5000/web:v1"
        ),
    )
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, ValidationError> {
        let r = reference;
        if r.is_empty() {
            return Err(invalid(r, "it is empty"));
        }
        if r.len() > MAX_REF_LEN {
            return Err(invalid(r, "it is longer than 1024 characters"));
        }
        if r.contains(char::is_whitespace) {
            return Err(invalid(r, "it contains white space"));
        }
        let (rest, digest) = match r.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(|why| invalid(r, why))?;
                (rest, Some(digest.to_owned()))
            }
            None => (r, None),
        };
        // A tag is what follows the last ':' when no '/' comes after it (a ':' before a '/' is a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|why| invalid(r, why))?;
        }
        if name.is_empty() {
            return Err(invalid(r, "the repository name is missing"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(r, "the name is longer than 255 characters"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if looks_like_registry(first) => (Some(first), path),
            _ => (None, name),
        };
        if let Some(registry) = registry {
            check_registry(registry).map_err(|why| invalid(r, why))?;
        }
        for component in repository.split('/') {
            check_path_component(component).map_err(|why| invalid(r, why))?;
        }
        Ok(Self {
            registry: registry.map(str::to_owned),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry host as written (`127.0.0.1:5000`), or `docker.io` when none was.
    pub fn registry(&self) -> &str {
        self.registry.as_deref().unwrap_or("docker.io")
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The name a pull asks for, without tag or digest: `127.0.0.1:5000/web`, or `web` as written.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// What to pull: the digest if pinned, else the tag, else `latest`.
    pub fn pull_tag(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }

    /// The same repository pinned to `digest`, e.g. for running exactly what a deploy resolved.
    pub fn with_digest(&self, digest: &str) -> Self {
        Self { digest: Some(digest.to_owned()), ..self.clone() }
    }
}

fn looks_like_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("the registry's IPv6 address has no closing ']'")?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the registry's IPv6 address is not valid");
        }
        (None, after.strip_prefix(':'))
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err("the registry host is empty");
        }
        for label in host.split('.') {
            let ok = !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err("the registry host is not a valid host name");
            }
        }
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err("the registry port is not a number from 1 to 65535"),
        }
    }
    Ok(())
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path_component(c: &str) -> Result<(), &'static str> {
    const WHY: &str = "repository names are lower-case letters, digits and single '.', '_', '__' or '-' \
                       between them, in '/'-separated parts";
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(WHY);
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(WHY);
        }
    }
    Ok(())
}

/// `[\w][\w.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), &'static str> {
    const WHY: &str = "a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 || !word(bytes[0]) {
        return Err(WHY);
    }
    if !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(WHY);
    }
    Ok(())
}

/// `algorithm:hex`, with at least 32 hex digits (64 for sha256).
fn check_digest(digest: &str) -> Result<(), &'static str> {
    const WHY: &str = "a digest is algorithm:hex, e.g. sha256: followed by 64 hex digits";
    let (algorithm, hex) = digest.split_once(':').ok_or(WHY)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.as_bytes()[0].is_ascii_alphabetic()
        && algorithm.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-_".contains(&b));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !algorithm_ok || !hex_ok || (algorithm == "sha256" && hex.len() != 64) {
        return Err(WHY);
    }
    Ok(())
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl TryFrom<String> for ImageRef {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ImageRef> for String {
    fn from(r: ImageRef) -> String {
        r.to_string()
    }
}

/// A user name and password (or token) for a private registry.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_references_from_any_registry() {
        let cases = [
            ("web", "docker.io", "web", None, None),
            ("library/nginx:1.27", "docker.io", "library/nginx", Some("1.27"), None),
            ("127.0.0.1:5000/web:v1", "127.0.0.1:5000", "web", Some("v1"), None),
            ("localhost/app", "localhost", "app", None, None),
            ("ghcr.io/org/team/app:sha-1a2b", "ghcr.io", "org/team/app", Some("sha-1a2b"), None),
            ("[::1]:5000/web:v2", "[::1]:5000", "web", Some("v2"), None),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/my_app__x",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "my_app__x",
                None,
                None,
            ),
        ];
        for (input, registry, repository, tag, digest) in cases {
            let r = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), registry, "{input}");
            assert_eq!(r.repository(), repository, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest(), digest, "{input}");
            assert_eq!(r.to_string(), input);
        }
        let pinned = format!("web@sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&pinned).unwrap();
        assert_eq!(r.pull_tag(), format!("sha256:{}", "a".repeat(64)));
        assert_eq!(r.to_string(), pinned);
    }

    #[test]
    fn rejects_malformed_references_with_a_reason() {
        let cases = [
            ("", "it is empty"),
            ("Web", "lower-case"),
            ("web:", "a tag is"),
            ("web:-x", "a tag is"),
            ("web@sha256:abc", "a digest is"),
            ("127.0.0.1:99999/web", "registry port"),
            ("web app", "white space"),
            ("a//b", "lower-case"),
            ("registry.example.com/", "lower-case"),
            ("web---x_._y", "lower-case"),
        ];
        for (input, why) in cases {
            let e = ImageRef::parse(input).expect_err(input);
            assert!(e.message.contains(why), "{input}: {}", e.message);
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = ImageRef::parse(&s);
        }

        #[test]
        fn valid_references_round_trip(
            registry in proptest::option::of("[a-z][a-z0-9]{0,8}\\.[a-z]{2,4}(:[1-9][0-9]{0,3})?"),
            path in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}",
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        ) {
            let mut s = String::new();
            if let Some(r) = &registry { s.push_str(r); s.push('/'); }
            s.push_str(&path);
            if let Some(t) = &tag { s.push(':'); s.push_str(t); }
            let parsed = ImageRef::parse(&s).unwrap();
            prop_assert_eq!(parsed.to_string(), s);
            prop_assert_eq!(parsed.tag(), tag.as_deref());
        }
    }
}
