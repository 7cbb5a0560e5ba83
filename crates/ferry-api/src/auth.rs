//! Bearer-token authentication for everything under `/v1`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::{ApiError, AppState, ErrorKind, hash_token};

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched in any case (RFC 9110
/// §11.1: authentication schemes are case-insensitive).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub(crate) async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(token) = header.and_then(bearer) else {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "this API needs `Authorization: Bearer <token>`; the admin token is in the server's \
             data directory (admin-token), and `ferry login` saves it for the CLI",
        ));
    };
    // Only hashes are stored, so the lookup compares hashes; the secret itself is never compared.
    let hash = hash_token(token);
    let found = state.store.call(move |db| db.token_by_hash(&hash)).await?;
    if found.is_none() {
        return Err(ApiError::new(ErrorKind::Unauthorized, "the token is not valid for this server"));
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_scheme_is_matched_in_any_case() {
        for header in ["Bearer t0k", "bearer t0k", "BEARER  t0k ", " Bearer t0k"] {
            assert_eq!(bearer(header), Some("t0k"), "{header:?}");
        }
        for header in ["Basic t0k", "Bearer", "Bearer ", "Bearert0k", "t0k"] {
            assert_eq!(bearer(header), None, "{header:?}");
        }
    }
}
