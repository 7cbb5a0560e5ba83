//! API tokens: `/v1/tokens`. Only admin tokens may manage them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/tokens`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 64 letters, digits, `-`, `_` or `.`; unique.
    pub name: String,
    /// `read-only` (GET and HEAD only), `deploy` (services, deployments, operations, logs, auto scaling,
    /// webhooks; not tokens, registries or writing secrets) or `admin` (everything).
    pub scope: String,
    /// Seconds until the token stops working; none: it never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<i64>,
}

/// A token as listed: never its secret, except once in the answer to its creation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub name: String,
    pub scope: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it was last used, to the minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Whether its expiry has passed (it is refused; revoke it to tidy up).
    #[serde(default)]
    pub expired: bool,
    /// The token itself, shown once, when it is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}
