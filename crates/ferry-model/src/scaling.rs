//! How many instances a service runs: App Runner's auto scaling configurations (MaxConcurrency, MinSize,
//! MaxSize), named and revisioned, shared between services; ferry lets MinSize be 0 (scale to zero).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{MAX_INSTANCES, Timestamp, ValidationError};

/// The most concurrent requests one instance may be given (App Runner's range is 1 to 200).
pub const MAX_CONCURRENCY: u32 = 200;

/// The name of App Runner's default configuration, which every installation has.
pub const DEFAULT_CONFIGURATION: &str = "DefaultConfiguration";

/// A service's sizing, as a revision froze it: the values of an auto scaling configuration (or given for
/// the service alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoScaling {
    /// Requests one instance takes at once; the router queues the rest while more instances start.
    pub max_concurrency: u32,
    /// Instances kept however idle the service is; 0 lets it scale to zero.
    pub min_size: u32,
    /// Instances at most.
    pub max_size: u32,
    /// The named configuration the values came from, if any.
    #[serde(default)]
    pub configuration: Option<ConfigurationRef>,
}

/// A named configuration's revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfigurationRef {
    pub name: String,
    pub revision: u32,
}

impl fmt::Display for ConfigurationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.revision)
    }
}

impl AutoScaling {
    /// App Runner's defaults: 100 concurrent requests per instance, 1 to 25 instances.
    pub fn app_runner_default() -> Self {
        Self {
            max_concurrency: 100,
            min_size: 1,
            max_size: MAX_INSTANCES,
            configuration: Some(ConfigurationRef { name: DEFAULT_CONFIGURATION.to_owned(), revision: 1 }),
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if !(1..=MAX_CONCURRENCY).contains(&self.max_concurrency) {
            return Err(ValidationError::new(
                "max_concurrency",
                format!("{} is out of range; use 1 to {MAX_CONCURRENCY}", self.max_concurrency),
            ));
        }
        if self.min_size > MAX_INSTANCES {
            return Err(ValidationError::new(
                "min_size",
                format!("{} is out of range; use 0 to {MAX_INSTANCES} (0 scales to zero)", self.min_size),
            ));
        }
        if !(1..=MAX_INSTANCES).contains(&self.max_size) {
            return Err(ValidationError::new(
                "max_size",
                format!("{} is out of range; use 1 to {MAX_INSTANCES}", self.max_size),
            ));
        }
        if self.min_size > self.max_size {
            return Err(ValidationError::new(
                "min_size",
                format!(
                    "{} is above max_size {}; make min_size at most max_size",
                    self.min_size, self.max_size
                ),
            ));
        }
        Ok(())
    }
}

/// A named, revisioned auto scaling configuration (App Runner's `AutoScalingConfiguration`). Each create
/// under an existing name makes its next revision; a revision never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoScalingConfiguration {
    pub name: String,
    pub revision: u32,
    pub max_concurrency: u32,
    pub min_size: u32,
    pub max_size: u32,
    pub created_at: Timestamp,
    /// New services without a configuration of their own get this one's latest revision.
    pub is_default: bool,
}

impl AutoScalingConfiguration {
    /// Whether a service with `spec` scales by this revision of this configuration.
    pub fn used_by(&self, spec: &crate::ServiceSpec) -> bool {
        spec.autoscaling
            .as_ref()
            .and_then(|a| a.configuration.as_ref())
            .is_some_and(|r| r.name == self.name && r.revision == self.revision)
    }

    /// App Runner's rule for configuration names: 4 to 32 letters, digits, `-` or `_`, starting with a
    /// letter or digit.
    pub fn check_name(name: &str) -> Result<(), ValidationError> {
        let ok = (4..=32).contains(&name.len())
            && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "name",
                format!(
                    "{name:?} is not a configuration name; use 4 to 32 letters, digits, '-' or '_', starting with a letter or digit"
                ),
            ))
        }
    }

    /// The values a service that uses this revision runs with.
    pub fn scaling(&self) -> AutoScaling {
        AutoScaling {
            max_concurrency: self.max_concurrency,
            min_size: self.min_size,
            max_size: self.max_size,
            configuration: Some(ConfigurationRef { name: self.name.clone(), revision: self.revision }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_against_app_runners_ranges_and_min_may_be_zero() {
        let ok = AutoScaling { max_concurrency: 10, min_size: 0, max_size: 3, configuration: None };
        assert!(ok.validate().is_ok());
        assert!(AutoScaling::app_runner_default().validate().is_ok());
        let cases = [
            (AutoScaling { max_concurrency: 0, ..ok.clone() }, "max_concurrency"),
            (AutoScaling { max_concurrency: 201, ..ok.clone() }, "max_concurrency"),
            (AutoScaling { max_size: 0, ..ok.clone() }, "max_size"),
            (AutoScaling { max_size: 26, ..ok.clone() }, "max_size"),
            (AutoScaling { min_size: 4, ..ok.clone() }, "min_size"),
        ];
        for (bad, field) in cases {
            assert_eq!(bad.validate().unwrap_err().field, field, "{bad:?}");
        }
    }

    #[test]
    fn configuration_names_follow_app_runner() {
        for ok in ["fast", "DefaultConfiguration", "web-2_x", &"a".repeat(32)] {
            assert!(AutoScalingConfiguration::check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "-abc", "a b c d", &"a".repeat(33), "wé11"] {
            assert!(AutoScalingConfiguration::check_name(bad).is_err(), "{bad}");
        }
    }
}
