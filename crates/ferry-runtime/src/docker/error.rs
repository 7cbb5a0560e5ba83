//! From bollard's errors to [`RuntimeError`], keeping the engine's own message.

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use bollard::errors::Error as BollardError;

use crate::RuntimeError;

/// What the engine answered with an HTTP error status, if that is what `err` is.
pub(super) fn status(err: &BollardError) -> Option<u16> {
    match err {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The engine's message for an answered request, or the transport's explanation for one that never
/// reached it.
pub(super) fn message(err: &BollardError) -> String {
    match err {
        BollardError::DockerResponseServerError { message, .. } => message.clone(),
        BollardError::DockerStreamError { error } => error.clone(),
        other => chain(other),
    }
}

/// Whether `err` says the engine could not be reached at all (rather than that it refused).
fn unreachable(err: &BollardError) -> bool {
    matches!(
        err,
        BollardError::HyperLegacyError { .. }
            | BollardError::HyperResponseError { .. }
            | BollardError::IOError { .. }
            | BollardError::SocketNotFoundError(_)
            | BollardError::RequestTimeoutError
    )
}

/// The general mapping: unreachable → [`RuntimeError::Unavailable`], anything else →
/// [`RuntimeError::Engine`] with the engine's message.
pub(super) fn engine(err: BollardError) -> RuntimeError {
    if unreachable(&err) {
        RuntimeError::Unavailable(chain(&err))
    } else {
        RuntimeError::Engine(message(&err))
    }
}

/// A failed pull: the registry's (or engine's) message, unless the engine itself is unreachable.
pub(super) fn pull(image: &ferry_model::ImageRef, err: BollardError) -> RuntimeError {
    if unreachable(&err) {
        RuntimeError::Unavailable(chain(&err))
    } else {
        RuntimeError::Pull { image: image.to_string(), message: message(&err) }
    }
}

/// A failed push: the registry's (or engine's) message, unless the engine itself is unreachable.
pub(super) fn push(image: &str, err: BollardError) -> RuntimeError {
    if unreachable(&err) {
        RuntimeError::Unavailable(chain(&err))
    } else {
        RuntimeError::Push { image: image.to_owned(), message: message(&err) }
    }
}

/// Like [`engine`], but a 404 means the container `id` does not exist.
pub(super) fn container(id: &str, err: BollardError) -> RuntimeError {
    if status(&err) == Some(404) { RuntimeError::NotFound(id.to_owned()) } else { engine(err) }
}

/// An error and its sources, joined by ": " (hyper's own message alone is often just "client error").
fn chain(err: &BollardError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Runs one engine call, bounded by `limit`; an engine that does not answer in time is unavailable.
pub(super) async fn timed<T>(
    limit: Duration,
    what: &str,
    call: impl Future<Output = Result<T, RuntimeError>>,
) -> Result<T, RuntimeError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(RuntimeError::Unavailable(format!(
            "the docker engine did not answer {what} within {:.1}s",
            limit.as_secs_f64()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_errors_keep_the_engine_message() {
        let err = BollardError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: abc".to_owned(),
        };
        assert!(matches!(container("abc", err), RuntimeError::NotFound(id) if id == "abc"));
        let err = BollardError::DockerResponseServerError {
            status_code: 409,
            message: "Conflict. The container name is already in use".to_owned(),
        };
        assert!(matches!(container("abc", err), RuntimeError::Engine(m) if m.contains("already in use")));
    }

    #[test]
    fn transport_errors_mean_unavailable() {
        let err = BollardError::SocketNotFoundError("/var/run/docker.sock".to_owned());
        assert!(matches!(engine(err), RuntimeError::Unavailable(m) if m.contains("/var/run/docker.sock")));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_time_out_as_unavailable() {
        let never = std::future::pending::<Result<(), RuntimeError>>();
        let err = timed(Duration::from_secs(30), "an inspect", never).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the container engine is not reachable: the docker engine did not answer an inspect within 30.0s"
        );
    }
}
