//! `/v1/connections`: credentials for git hosts go in; names, providers and statuses come out.

use ferry_wire::{ConnectionCredentialsRequest, ConnectionList, ConnectionView, CreateConnectionRequest};
use http::Method;

use crate::{Client, ClientError, Result, segment};

impl Client {
    /// Makes the connection `name` (`provider`: github, bitbucket or git; the server's default is git),
    /// without credentials yet.
    pub async fn create_connection(&self, name: &str, provider: Option<&str>) -> Result<ConnectionView> {
        let req = CreateConnectionRequest { name: name.to_owned(), provider: provider.map(str::to_owned) };
        let body = serde_json::to_vec(&req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/connections", Some(body)).await
    }

    pub async fn connections(&self) -> Result<ConnectionList> {
        self.call(Method::GET, "/v1/connections", None).await
    }

    /// Gives the connection `name` its credentials (replacing any it had).
    pub async fn set_connection_credentials(
        &self,
        name: &str,
        credentials: &ConnectionCredentialsRequest,
    ) -> Result<ConnectionView> {
        let body = serde_json::to_vec(credentials).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::PUT, &format!("/v1/connections/{}/credentials", segment(name)), Some(body)).await
    }

    /// Deletes a connection; one that services use only with `force`.
    pub async fn delete_connection(&self, name: &str, force: bool) -> Result<()> {
        let query = if force { "?force=true" } else { "" };
        self.send(Method::DELETE, &format!("/v1/connections/{}{query}", segment(name)), None)
            .await
            .map(|_| ())
    }
}
