//! Access keys for the App Runner-compatible API: `/v1/access-keys`. Only admin tokens may manage them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/access-keys`
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessKeyRequest {
    /// What the key is for, e.g. `ci`; not unique. Default: `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An access key as listed; its secret only in the answer to its creation. Fields are named as AWS names
/// them, so `-o json` output drops into AWS tooling.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyView {
    /// `AKIA` and 16 upper-case letters and digits: what `AWS_ACCESS_KEY_ID` is set to.
    pub access_key_id: String,
    pub name: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// 40 characters, shown once: what `AWS_SECRET_ACCESS_KEY` is set to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyList {
    pub access_keys: Vec<AccessKeyView>,
}
