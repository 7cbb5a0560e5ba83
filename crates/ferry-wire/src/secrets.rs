//! `/v1/secrets`: named values that services get as environment variables. A value goes in (`PUT`) and
//! never comes out: no answer carries one.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `PUT /v1/secrets/{name}`. Its `Debug` shows no value.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecretRequest {
    /// The value, as the app gets it: at most 51200 bytes, no NUL.
    pub value: String,
}

impl fmt::Debug for SetSecretRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetSecretRequest").field("value", &"***").finish()
    }
}

/// The answer to `PUT /v1/secrets/{name}` (201 when made, 200 when given a new value).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretSetView {
    pub secret: SecretView,
    /// `true` when the secret did not exist before.
    pub created: bool,
}

/// A secret as listed: never its value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretView {
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
    /// 1 when made, one more at every new value.
    pub version: u32,
    /// The live services that refer to it (their configuration or the revision that serves).
    #[serde(default)]
    pub services: Vec<String>,
}

/// `GET /v1/secrets`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SecretList {
    /// By name.
    pub secrets: Vec<SecretView>,
}
