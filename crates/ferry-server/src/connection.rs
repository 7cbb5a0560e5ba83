//! The git credentials a code source fetches with: its own, or its connection's, read from the store at
//! the moment of the build or poll (so new credentials apply to the next one without touching the
//! service).

use ferry_model::{CodeSource, GitCredentials};
use ferry_store::{Store, StoreError};

/// Why a connection's credentials cannot be had: what the operation's log or the watch's error says.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    #[error(
        "connection {0} no longer exists; make it again (ferry connection create {0}) or give the service \
         another (ferry service update SERVICE --connection NAME)"
    )]
    Gone(String),
    #[error("connection {0} has no credentials yet: run `ferry connection credentials {0}`")]
    Pending(String),
    #[error("cannot read connection {name}: {source}")]
    Store {
        name: String,
        #[source]
        source: StoreError,
    },
}

/// The credentials to fetch `code` with: the connection's when it names one, else its own (if any).
pub(crate) async fn credentials(
    store: &Store,
    code: &CodeSource,
) -> Result<Option<GitCredentials>, ConnectionError> {
    let Some(name) = code.connection.clone() else { return Ok(code.credentials.clone()) };
    let key = name.clone();
    let found = store
        .call(move |db| db.connection(&key))
        .await
        .map_err(|source| ConnectionError::Store { name: name.clone(), source })?;
    match found {
        None => Err(ConnectionError::Gone(name)),
        Some(record) => record.credentials.map(Some).ok_or(ConnectionError::Pending(name)),
    }
}
