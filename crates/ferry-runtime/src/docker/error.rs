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

/// A failed registry look-up: the engine's message and what to check, unless the engine itself is
/// unreachable.
pub(super) fn resolve(image: &ferry_model::ImageRef, err: BollardError) -> RuntimeError {
    if unreachable(&err) {
        return RuntimeError::Unavailable(chain(&err));
    }
    let message = message(&err);
    let hint = resolve_hint(status(&err), &message);
    RuntimeError::Resolve { image: image.to_string(), message: format!("{message}; {hint}") }
}

/// What to check after a failed look-up, from how the registry (through the engine) answered. The
/// engine passes a registry's refusal on as a 401 or 404 where it can, and as a 500 with the
/// registry's text otherwise, so the text is read too.
fn resolve_hint(status: Option<u16>, message: &str) -> &'static str {
    let text = message.to_ascii_lowercase();
    let said = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if matches!(status, Some(401 | 403))
        || said(&["unauthorized", "authentication required", "denied", "no basic auth credentials"])
    {
        "check the registry credentials"
    } else if status == Some(404) || said(&["manifest unknown", "not found", "name unknown"]) {
        "check that the tag exists in the repository"
    } else {
        "check that the registry is reachable from the engine"
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

    #[test]
    fn failed_look_ups_say_what_to_check() {
        let image = ferry_model::ImageRef::parse("127.0.0.1:5000/web:v9").unwrap();
        let answer = |status_code: u16, message: &str| {
            let err = BollardError::DockerResponseServerError { status_code, message: message.to_owned() };
            resolve(&image, err).to_string()
        };
        assert_eq!(
            answer(404, "manifest unknown: manifest unknown"),
            "image 127.0.0.1:5000/web:v9 could not be resolved to a digest: manifest unknown: manifest \
             unknown; check that the tag exists in the repository"
        );
        let refused = answer(500, "Get \"http://127.0.0.1:5000/v2/\": dial tcp: connect: connection refused");
        assert!(refused.ends_with("; check that the registry is reachable from the engine"), "{refused}");
        let denied = answer(500, "unauthorized: authentication required");
        assert!(denied.ends_with("; check the registry credentials"), "{denied}");
        let gone = BollardError::SocketNotFoundError("/var/run/docker.sock".to_owned());
        assert!(matches!(resolve(&image, gone), RuntimeError::Unavailable(_)));
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
