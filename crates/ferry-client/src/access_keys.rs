//! `/v1/access-keys`: access keys for the App Runner-compatible API (admin tokens only).

use ferry_wire::{AccessKeyList, AccessKeyView, CreateAccessKeyRequest};
use http::Method;

use crate::{Client, ClientError, Result, segment};

impl Client {
    /// Makes an access key; the answer's `secret_access_key` is shown this once.
    pub async fn create_access_key(&self, req: &CreateAccessKeyRequest) -> Result<AccessKeyView> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/access-keys", Some(body)).await
    }

    pub async fn access_keys(&self) -> Result<AccessKeyList> {
        self.call(Method::GET, "/v1/access-keys", None).await
    }

    pub async fn delete_access_key(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &format!("/v1/access-keys/{}", segment(id)), None).await.map(|_| ())
    }
}
