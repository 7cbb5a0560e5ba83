//! Secrets: named values kept sealed by the store, and the references a service makes to them.
//!
//! A service never holds a secret's value: its configuration maps environment variable names to secret
//! names (App Runner's `RuntimeEnvironmentSecrets`), revisions freeze those references, and the value is
//! read from the store when an instance starts. So a secret can be changed without a new revision, and
//! its value is in no spec, revision, API answer or log.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A secret's name: 1 to 128 of `A-Z a-z 0-9 / _ + = . @ -`, the characters AWS Secrets Manager allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let ok = (1..=Self::MAX_LEN).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(
                "secret",
                format!(
                    "{:?} is not a valid secret name; use 1 to 128 letters, digits or any of / _ + = . @ -",
                    s.escape_debug().to_string()
                ),
            ))
        }
    }

    /// A reference as App Runner takes it: a secret's name, or the ARN of a Secrets Manager secret
    /// (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`) or of a Systems Manager parameter
    /// (`arn:aws:ssm:<region>:<account>:parameter/<name>`), of which the name is kept.
    pub fn from_reference(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let name = match parts.as_slice() {
                [_, "secretsmanager", _, _, resource] => match resource.strip_prefix("secret:") {
                    // App Runner's `:json-key:version-stage:version-id` suffix picks a part or a version
                    // of a secret; a ferry secret is one value with no versions to pick.
                    Some(rest) => match rest.split_once(':') {
                        Some((name, suffix)) if suffix.chars().any(|c| c != ':') => {
                            return Err(ValidationError::new(
                                "secret",
                                format!(
                                    "{s:?} picks a JSON key or a version of the secret ({suffix:?}); ferry's \
                                     secrets are single values: refer to {name:?} and store the value itself"
                                ),
                            ));
                        }
                        Some((name, _)) => Some(name),
                        None => Some(rest),
                    },
                    None => None,
                },
                [_, "ssm", _, _, resource] => resource.strip_prefix("parameter/"),
                _ => None,
            };
            return match name {
                Some(name) => Self::parse(name),
                None => Err(ValidationError::new(
                    "secret",
                    format!(
                        "{s:?} is not a secret reference; give a secret's name, or an ARN \
                         arn:aws:secretsmanager:<region>:<account>:secret:<name> or \
                         arn:aws:ssm:<region>:<account>:parameter/<name>"
                    ),
                )),
            };
        }
        Self::parse(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SecretName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<SecretName> for String {
    fn from(n: SecretName) -> String {
        n.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret's value, in memory only while it is set or injected. Its `Debug` shows no value, so a value
/// inside anything logged with `?` stays out of the log.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// An environment variable's limits: at most 51200 bytes, no NUL.
    pub fn new(value: String) -> Result<Self, ValidationError> {
        if value.len() > crate::EnvVars::MAX_LEN || value.contains('\0') {
            return Err(ValidationError::new(
                "value",
                "a secret's value is at most 51200 bytes and cannot contain NUL (it becomes an environment variable)",
            ));
        }
        Ok(Self(value))
    }

    /// The value itself: for the store to seal and for a container's environment, nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// Environment variables whose values are secrets: variable name → secret name, sorted by variable.
/// The variable names follow the rules of [`EnvVars`](crate::EnvVars).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretRefs(BTreeMap<String, SecretName>);

impl SecretRefs {
    pub fn new(refs: BTreeMap<String, SecretName>) -> Result<Self, ValidationError> {
        for name in refs.keys() {
            crate::service::check_env_name(name)
                .map_err(|e| ValidationError::new(e.field.replacen("env", "secrets", 1), e.message))?;
        }
        Ok(Self(refs))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretName)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, env: &str) -> Option<&SecretName> {
        self.0.get(env)
    }

    pub fn contains(&self, env: &str) -> bool {
        self.0.contains_key(env)
    }

    /// The secrets referred to, each once.
    pub fn names(&self) -> Vec<SecretName> {
        let mut names: Vec<SecretName> = self.0.values().cloned().collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_map(self) -> BTreeMap<String, SecretName> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_secrets_manager() {
        for ok in ["db-password", "prod/db/password", "a+b=c.d@e_f", "A", &"x".repeat(128)] {
            assert!(SecretName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "semi;colon", "é", &"x".repeat(129), "new\nline"] {
            let e = SecretName::parse(bad).unwrap_err();
            assert_eq!(e.field, "secret");
            assert!(e.message.contains("1 to 128"), "{}", e.message);
        }
    }

    #[test]
    fn references_may_be_arns() {
        let name = |s: &str| SecretName::from_reference(s).map(|n| n.as_str().to_owned());
        assert_eq!(name("db").unwrap(), "db");
        assert_eq!(name("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db").unwrap(), "prod/db");
        assert_eq!(name("arn:aws:ssm:us-east-1:123456789012:parameter/app/key").unwrap(), "app/key");
        assert_eq!(name("arn:aws:secretsmanager:r:1:secret:db-AbCdEf:::").unwrap(), "db-AbCdEf");
        let e = name("arn:aws:secretsmanager:r:1:secret:db-AbCdEf:username::").unwrap_err();
        assert!(e.message.contains("single values"), "{e}");
        for bad in ["arn:aws:s3:::bucket", "arn:aws:secretsmanager:r:a:other:x", "arn:aws:ssm:r:a:param/x"] {
            assert!(name(bad).unwrap_err().message.contains("not a secret reference"), "{bad}");
        }
    }

    #[test]
    fn values_are_never_shown() {
        let v = SecretValue::new("hunter2".to_owned()).unwrap();
        assert!(!format!("{v:?}").contains("hunter2"));
        assert_eq!(v.expose(), "hunter2");
        assert!(SecretValue::new("a\0b".to_owned()).is_err());
        assert!(SecretValue::new("x".repeat(51_201)).is_err());
    }

    #[test]
    fn variable_names_are_checked_like_env() {
        let db = SecretName::parse("db").unwrap();
        let e = SecretRefs::new([("PORT".to_owned(), db.clone())].into()).unwrap_err();
        assert_eq!(e.field, "secrets.PORT");
        let e = SecretRefs::new([("A B".to_owned(), db.clone())].into()).unwrap_err();
        assert!(e.field.starts_with("secrets."), "{e}");
        let refs = SecretRefs::new([("A".to_owned(), db.clone()), ("B".to_owned(), db)].into()).unwrap();
        assert_eq!(refs.names().len(), 1);
    }
}
