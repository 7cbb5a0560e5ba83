use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ServiceName, ValidationError};

/// A service's permanent identity: 32 lower-case hex digits, as App Runner's `ServiceId`.
///
/// Names can be reused after a delete; ids never are.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceId(String);

impl ServiceId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new("service_id", "a service id is 32 lower-case hex digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServiceId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ServiceId> for String {
    fn from(id: ServiceId) -> String {
        id.0
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An operation's id: a UUID (36 characters with dashes), as App Runner's `OperationId`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperationId(String);

impl OperationId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        uuid::Uuid::try_parse(s)
            .map(|u| Self(u.hyphenated().to_string()))
            .map_err(|_| ValidationError::new("operation_id", "an operation id is a UUID such as 3e0c9a52-…"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OperationId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<OperationId> for String {
    fn from(id: OperationId) -> String {
        id.0
    }
}

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One running copy of a service: 16 lower-case hex digits, also found in its container's name and labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceId(String);

impl InstanceId {
    pub fn generate() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        Self(hex[..16].to_owned())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new("instance_id", "an instance id is 16 lower-case hex digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InstanceId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<InstanceId> for String {
    fn from(id: InstanceId) -> String {
        id.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where ARNs are minted: App Runner's `arn:aws:apprunner:<region>:<account>:…` with this server's region
/// and account, so tools that parse ARNs keep working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    pub region: String,
    pub account: String,
}

impl Arn {
    /// `arn:aws:apprunner:<region>:<account>:service/<name>/<id>`
    pub fn service(&self, name: &ServiceName, id: &ServiceId) -> String {
        format!("arn:aws:apprunner:{}:{}:service/{}/{}", self.region, self.account, name, id)
    }

    /// An auto scaling configuration revision's ARN (App Runner ends it with an id; ferry's is the name's
    /// revision again, stable across restarts).
    pub fn autoscaling(&self, name: &str, revision: u32) -> String {
        format!(
            "arn:aws:apprunner:{}:{}:autoscalingconfiguration/{name}/{revision}",
            self.region, self.account
        )
    }

    /// `arn:aws:apprunner:<region>:<account>:connection/<name>/<id>`; `id` empty: the ARN stops after the
    /// name (App Runner takes both).
    pub fn connection(&self, name: &str, id: &str) -> String {
        let arn = format!("arn:aws:apprunner:{}:{}:connection/{name}", self.region, self.account);
        if id.is_empty() { arn } else { format!("{arn}/{id}") }
    }

    /// The name and id named by a service ARN, if `arn` is one of this server's.
    pub fn parse_service<'a>(&self, arn: &'a str) -> Option<(&'a str, Option<&'a str>)> {
        let prefix = format!("arn:aws:apprunner:{}:{}:service/", self.region, self.account);
        let rest = arn.strip_prefix(&prefix)?;
        match rest.split_once('/') {
            Some((name, id)) => Some((name, Some(id))),
            None => Some((rest, None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_app_runner_shapes() {
        let s = ServiceId::generate();
        assert_eq!(s.as_str().len(), 32);
        assert!(ServiceId::parse(s.as_str()).is_ok());
        let o = OperationId::generate();
        assert_eq!(o.as_str().len(), 36);
        assert!(OperationId::parse(o.as_str()).is_ok());
        let i = InstanceId::generate();
        assert!(InstanceId::parse(i.as_str()).is_ok());
        assert!(ServiceId::parse("8FE1E10304F84FD2B0DF550FE98A71FA").is_err());
        assert!(InstanceId::parse("../../etc").is_err());
    }

    #[test]
    fn service_arn_round_trips() {
        let arn = Arn { region: "local".into(), account: "000000000000".into() };
        let name = ServiceName::parse("web-app").unwrap();
        let id = ServiceId::parse("8fe1e10304f84fd2b0df550fe98a71fa").unwrap();
        let s = arn.service(&name, &id);
        assert_eq!(
            s,
            "arn:aws:apprunner:local:000000000000:service/web-app/8fe1e10304f84fd2b0df550fe98a71fa"
        );
        assert_eq!(arn.parse_service(&s), Some(("web-app", Some("8fe1e10304f84fd2b0df550fe98a71fa"))));
        assert_eq!(arn.parse_service("arn:aws:apprunner:other:000000000000:service/x/y"), None);
    }
}
