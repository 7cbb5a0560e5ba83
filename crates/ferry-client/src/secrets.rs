//! `/v1/secrets`: values go in, names and times come out.

use ferry_wire::{SecretList, SecretSetView, SetSecretRequest};
use http::Method;

use crate::{Client, ClientError, Result, segment};

impl Client {
    /// Makes the secret `name` or gives it a new value (`created` says which).
    pub async fn set_secret(&self, name: &str, value: String) -> Result<SecretSetView> {
        let body = serde_json::to_vec(&SetSecretRequest { value })
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::PUT, &format!("/v1/secrets/{}", segment(name)), Some(body)).await
    }

    pub async fn secrets(&self) -> Result<SecretList> {
        self.call(Method::GET, "/v1/secrets", None).await
    }

    /// Deletes a secret; one that services use only with `force`.
    pub async fn delete_secret(&self, name: &str, force: bool) -> Result<()> {
        let query = if force { "?force=true" } else { "" };
        self.send(Method::DELETE, &format!("/v1/secrets/{}{query}", segment(name)), None).await.map(|_| ())
    }
}
