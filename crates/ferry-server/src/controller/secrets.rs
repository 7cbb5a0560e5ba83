//! A revision's secrets, read from the store when its instances start.
//!
//! A revision keeps only references (variable → secret name), from the service's configuration and, for
//! code, from `apprunner.yaml`'s `run.secrets` (both in its run configuration). Values are read, in one
//! store call, for each instance started, so a new value reaches the next instance started (a
//! redeployment replaces them all). They go into the container's environment and nowhere else: not the
//! operation log, not ferry's log, not the container's labels. Builds never get them (App Runner's
//! builds do not either).

use ferry_model::{Revision, SecretValue};
use ferry_store::Store;

use crate::Error;

/// The variables a revision's secrets give its instances, or why they cannot be had: a line for the
/// operation's log naming the secret and what to do.
pub(super) async fn resolve(
    store: &Store,
    revision: &Revision,
) -> Result<Result<Vec<(String, SecretValue)>, String>, Error> {
    let Some(refs) = revision.run_config().map(|c| c.secrets.clone()).filter(|r| !r.is_empty()) else {
        return Ok(Ok(Vec::new()));
    };
    let names = refs.names();
    let mut values = store.call(move |db| db.secret_values(&names)).await?;
    let mut env = Vec::with_capacity(refs.len());
    for (var, name) in refs.iter() {
        // The same secret may give several variables.
        match values.get(name) {
            Some(value) => env.push((var.to_owned(), value.clone())),
            None => {
                return Ok(Err(format!(
                    "secret {name}, referred to by {var}, does not exist: ferry secret set {name}"
                )));
            }
        }
    }
    values.clear();
    Ok(Ok(env))
}

/// Why a revision cannot be deployed for want of a secret, if it cannot.
pub(super) async fn missing(store: &Store, revision: &Revision) -> Result<Option<String>, Error> {
    Ok(resolve(store, revision).await?.err())
}
