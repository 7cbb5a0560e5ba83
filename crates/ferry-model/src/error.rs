use std::fmt;

/// A value a user gave that ferry cannot accept, with the field it was in and what would be accepted.
///
/// `field` uses the dotted path of the native API (`instance.cpu`, `source.image.port`), so a client can
/// point at the exact input; `message` says what was wrong and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// The same error, with its field placed under `prefix` (`port` becomes `source.image.port`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field =
            if self.field.is_empty() { prefix.to_owned() } else { format!("{prefix}.{}", self.field) };
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}
