//! Bearer-token authentication for everything under `/v1`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::{ApiError, AppState, ErrorKind, hash_token};

pub(crate) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match header.and_then(|h| h.strip_prefix("Bearer ")) {
        Some(t) if !t.trim().is_empty() => t.trim(),
        _ => {
            return Err(ApiError::new(
                ErrorKind::Unauthorized,
                "this API needs `Authorization: Bearer <token>`; the admin token is in the server's \
                 data directory (admin-token), and `ferry login` saves it for the CLI",
            ));
        }
    };
    // Only hashes are stored, so the lookup compares hashes; the secret itself is never compared.
    let hash = hash_token(token);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.token_by_hash(&hash))
        .await
        .map_err(ApiError::internal)??;
    if found.is_none() {
        return Err(ApiError::new(ErrorKind::Unauthorized, "the token is not valid for this server"));
    }
    Ok(next.run(req).await)
}
