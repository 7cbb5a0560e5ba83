//! `/v1/connections`: named git credentials that services building from a private repository use (App
//! Runner's connections). Credentials go in (`PUT …/credentials`) and never come out.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/connections`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// 4 to 32 letters, digits, `-` and `_`, starting with a letter or digit.
    pub name: String,
    /// The git host: `github`, `bitbucket` or `git` (any other host), any case. Default `git`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// `PUT /v1/connections/{name}/credentials`: `username` and `password` (or an access token) for HTTPS,
/// or `ssh_private_key` for SSH. Its `Debug` shows neither password nor key.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionCredentialsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_private_key: Option<String>,
}

impl fmt::Debug for ConnectionCredentialsRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionCredentialsRequest")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("ssh_private_key", &self.ssh_private_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A connection: never its credentials.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionView {
    pub name: String,
    /// `GITHUB`, `BITBUCKET` or `GIT`.
    pub provider: String,
    /// `PENDING_HANDSHAKE` until it is given credentials, then `AVAILABLE`.
    pub status: String,
    /// `basic` or `ssh` once it has credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    pub created_at: String,
    /// The live services that build with it (their configuration or the revision that serves).
    #[serde(default)]
    pub services: Vec<String>,
}

/// `GET /v1/connections`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionList {
    /// By name.
    pub connections: Vec<ConnectionView>,
}
