//! `/v1/access-keys`: the keys the App Runner-compatible API's SigV4 signatures are checked against
//! (admin tokens only, [`crate::auth::required_scope`]). The secret is returned once, by the creation;
//! the store keeps it sealed, since checking a signature needs the secret itself.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_model::Timestamp;
use ferry_store::AccessKeyRecord;
use ferry_wire::{AccessKeyList, AccessKeyView, CreateAccessKeyRequest, ErrorBody};

use crate::extract::{Body, Segment};
use crate::views::rfc3339;
use crate::{ApiError, AppState, ErrorKind};

/// AWS's key ids are `AKIA` and 16 characters of this alphabet (base 32).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `len` random characters of `alphabet` (its length divides 256: no bias).
fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < len {
        bytes.extend(hex::decode(ferry_hooks::generate_secret()).unwrap_or_default());
    }
    bytes[..len].iter().map(|b| alphabet[usize::from(*b) % alphabet.len()] as char).collect()
}

/// A new key: its id (`AKIA` + 16) and its secret (40 characters), as AWS forms them.
pub(crate) fn new_key() -> (String, String) {
    (format!("AKIA{}", random_text(ID_ALPHABET, 16)), random_text(SECRET_ALPHABET, 40))
}

fn view(k: &AccessKeyRecord) -> AccessKeyView {
    AccessKeyView {
        access_key_id: k.id.clone(),
        name: k.name.clone(),
        created_at: rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(rfc3339),
        secret_access_key: None,
    }
}

/// Makes an access key; its secret is in this answer only.
#[utoipa::path(
    post, path = "/v1/access-keys", tag = "access-keys",
    request_body = CreateAccessKeyRequest,
    responses((status = 200, body = AccessKeyView), (status = 400, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Body(req): Body<CreateAccessKeyRequest>,
) -> Result<Json<AccessKeyView>, ApiError> {
    let name = req.name.unwrap_or_else(|| "default".to_owned());
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok {
        return Err(ApiError::new(
            ErrorKind::InvalidRequest,
            format!(
                "{name:?} is not an access key name; use 1 to 64 letters, digits, '-', '_' or '.', e.g. ci"
            ),
        )
        .with_field("name"));
    }
    let (id, secret) = new_key();
    let record = AccessKeyRecord { id, name, created_at: Timestamp::now(), last_used_at: None };
    let (stored, sealed) = (record.clone(), secret.clone());
    state.store.call(move |db| db.create_access_key(&stored, &sealed)).await?;
    tracing::info!(access_key = %record.id, name = %record.name, "access key created");
    Ok(Json(AccessKeyView { secret_access_key: Some(secret), ..view(&record) }))
}

/// Every access key, without secrets.
#[utoipa::path(
    get, path = "/v1/access-keys", tag = "access-keys",
    responses((status = 200, body = AccessKeyList)),
    security(("bearer" = []))
)]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<AccessKeyList>, ApiError> {
    let keys = state.store.call(|db| db.access_keys()).await?;
    Ok(Json(AccessKeyList { access_keys: keys.iter().map(view).collect() }))
}

/// Deletes an access key: signatures made with it are refused at once.
#[utoipa::path(
    delete, path = "/v1/access-keys/{id}", tag = "access-keys",
    params(("id" = String, Path, description = "The AccessKeyId")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Segment(id): Segment,
) -> Result<StatusCode, ApiError> {
    let key = id.clone();
    if state.store.call(move |db| db.delete_access_key(&key)).await? {
        tracing::info!(access_key = %id, "access key deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorKind::NotFound,
            format!("no access key has the id {id:?}; `ferry access-key list` shows the keys there are"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::new_key;

    #[test]
    fn keys_are_formed_as_aws_forms_them() {
        let (id, secret) = new_key();
        assert_eq!(id.len(), 20);
        assert!(
            id.starts_with("AKIA") && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{id}"
        );
        assert_eq!(secret.len(), 40);
        assert_ne!(new_key().0, id);
    }
}
