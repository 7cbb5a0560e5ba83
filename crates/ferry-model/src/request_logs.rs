//! Whether the router writes a line for each of a service's requests: ferry's addition (App Runner has no
//! request logs). Off by default, since a line per request costs disk and a little of the router's time; a
//! busy service can keep one request in `n`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Which of a service's requests get a line in its request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RequestLogs {
    #[default]
    Off,
    On,
    /// One request in `n` (every `n`-th), `n` in [`RequestLogs::MIN_RATE`]..=[`RequestLogs::MAX_RATE`].
    Sampled(u32),
}

impl RequestLogs {
    pub const MIN_RATE: u32 = 2;
    pub const MAX_RATE: u32 = 1000;

    /// Accepts `on`, `off` and `1/N` (N from 2 to 1000; `1/1` is `on`), in any case.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::new(
                "request_logs",
                format!(
                    "{s:?} is not a request log setting; use on, off, or 1/N to keep one request in N (N from {} to {})",
                    Self::MIN_RATE,
                    Self::MAX_RATE
                ),
            )
        };
        let s2 = s.trim().to_ascii_lowercase();
        match s2.as_str() {
            "on" | "true" => return Ok(Self::On),
            "off" | "false" => return Ok(Self::Off),
            _ => {}
        }
        let n = s2.strip_prefix("1/").and_then(|n| n.trim().parse::<u32>().ok()).ok_or_else(bad)?;
        match n {
            1 => Ok(Self::On),
            n if (Self::MIN_RATE..=Self::MAX_RATE).contains(&n) => Ok(Self::Sampled(n)),
            _ => Err(bad()),
        }
    }

    /// Keep one request in this many; `None`: no request log.
    pub fn one_in(self) -> Option<u32> {
        match self {
            Self::Off => None,
            Self::On => Some(1),
            Self::Sampled(n) => Some(n),
        }
    }
}

impl fmt::Display for RequestLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::On => f.write_str("on"),
            Self::Sampled(n) => write!(f, "1/{n}"),
        }
    }
}

impl TryFrom<String> for RequestLogs {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RequestLogs> for String {
    fn from(r: RequestLogs) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_print_the_same() {
        for (input, want, shown) in [
            ("on", RequestLogs::On, "on"),
            ("OFF", RequestLogs::Off, "off"),
            ("1/1", RequestLogs::On, "on"),
            ("1/2", RequestLogs::Sampled(2), "1/2"),
            (" 1/1000 ", RequestLogs::Sampled(1000), "1/1000"),
        ] {
            let got = RequestLogs::parse(input).unwrap();
            assert_eq!(got, want, "{input}");
            assert_eq!(got.to_string(), shown);
        }
        for bad in ["", "1/0", "1/1001", "2/3", "half", "1/-2", "10"] {
            let err = RequestLogs::parse(bad).unwrap_err();
            assert_eq!(err.field, "request_logs");
            assert!(err.message.contains("use on, off, or 1/N"), "{}", err.message);
        }
        assert_eq!(RequestLogs::default(), RequestLogs::Off);
        assert_eq!(serde_json::to_value(RequestLogs::Sampled(10)).unwrap(), "1/10");
        assert_eq!(serde_json::from_str::<RequestLogs>("\"on\"").unwrap(), RequestLogs::On);
        assert!(serde_json::from_str::<RequestLogs>("\"1/5000\"").is_err(), "a stored value is checked too");
        assert_eq!(RequestLogs::Sampled(7).one_in(), Some(7));
        assert_eq!(RequestLogs::Off.one_in(), None);
    }
}
