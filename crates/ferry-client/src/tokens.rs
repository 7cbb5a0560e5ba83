//! `/v1/tokens`: API tokens (admin tokens only).

use ferry_wire::{CreateTokenRequest, TokenList, TokenView};
use http::Method;

use crate::{Client, ClientError, Result, segment};

impl Client {
    /// Makes a token; the answer's `token` is its secret, shown this once.
    pub async fn create_token(&self, req: &CreateTokenRequest) -> Result<TokenView> {
        let body = serde_json::to_vec(req).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(Method::POST, "/v1/tokens", Some(body)).await
    }

    pub async fn tokens(&self) -> Result<TokenList> {
        self.call(Method::GET, "/v1/tokens", None).await
    }

    /// Revokes the token named `name`: it stops working at once.
    pub async fn revoke_token(&self, name: &str) -> Result<()> {
        self.send(Method::DELETE, &format!("/v1/tokens/{}", segment(name)), None).await.map(|_| ())
    }
}
