//! Pushes: a local tag sent to its registry, the engine's progress folded into a few lines, and the
//! manifest digest the registry reported.
//!
//! bollard's `PushImageInfo` keeps only `status`, `progressDetail` and `errorDetail` of the engine's
//! messages: not the layer `id`, and not the final `aux` with the digest. So layers are counted by their
//! statuses (each layer says `Preparing` once, and once `Pushed`, `Layer already exists` or `Mounted
//! from …`), and the digest is read from the status line `<tag>: digest: sha256:… size: <n>`, or from
//! the image's `RepoDigests` after the push when that line is missing.

use std::time::Duration;

use bollard::models::PushImageInfo;
use bollard::query_parameters::PushImageOptionsBuilder;
use ferry_model::{ImageRef, RegistryCredentials};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::engine::Engine;
use super::error::{self, timed};
use super::registry::{self, repo_digest};
use crate::{Result, RuntimeError};

/// At most two progress lines a second (plus the final one).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

pub(super) async fn push(
    engine: &Engine,
    tag: &str,
    credentials: Option<&RegistryCredentials>,
    progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
) -> Result<Option<String>> {
    let started = Instant::now();
    let refused = |message: &str| RuntimeError::Push { image: tag.to_owned(), message: message.to_owned() };
    let image = ImageRef::parse(tag).map_err(|e| refused(&e.to_string()))?;
    if image.digest().is_some() {
        return Err(refused("a push needs a tag, not a digest"));
    }
    // Without `tag`, the engine would push every tag of the repository.
    let options = PushImageOptionsBuilder::default().tag(image.tag().unwrap_or("latest")).build();
    let credentials = registry::credentials(&image, credentials);
    let mut state = PushProgress::new(tag.to_owned());
    let mut last_line: Option<Instant> = None;
    let mut stream = engine.docker.push_image(&image.name(), Some(options), credentials);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| error::push(tag, e))?;
        if state.update(&info) && last_line.is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL) {
            progress(&state.line());
            last_line = Some(Instant::now());
        }
    }
    let digest = match state.digest.clone() {
        Some(digest) => Some(digest),
        None => {
            let inspect = async { engine.docker.inspect_image(tag).await.map_err(error::engine) };
            let inspected = timed(engine.call_timeout(), "an image inspect", inspect).await?;
            repo_digest(&image, inspected.repo_digests.as_deref().unwrap_or_default())
        }
    };
    progress(&state.final_line());
    tracing::info!(
        image = %tag, digest = ?digest, elapsed_ms = started.elapsed().as_millis() as u64,
        "pushed an image"
    );
    Ok(digest)
}

/// What a push has done so far, from the engine's progress messages.
#[derive(Debug)]
pub(super) struct PushProgress {
    image: String,
    layers: usize,
    pushed: usize,
    existed: usize,
    digest: Option<String>,
}

impl PushProgress {
    pub(super) fn new(image: String) -> Self {
        Self { image, layers: 0, pushed: 0, existed: 0, digest: None }
    }

    /// Folds one message in; whether it changed anything a line shows.
    pub(super) fn update(&mut self, info: &PushImageInfo) -> bool {
        let Some(status) = info.status.as_deref() else {
            return false;
        };
        match status {
            "Preparing" => self.layers += 1,
            "Pushed" => self.pushed += 1,
            "Layer already exists" => self.existed += 1,
            s if s.starts_with("Mounted from ") => self.existed += 1,
            s => {
                if let Some(digest) = digest_in_status(s) {
                    self.digest = Some(digest.to_owned());
                }
                return false;
            }
        }
        true
    }

    /// `pushing 127.0.0.1:5000/web:v1: 1 of 3 layers`
    pub(super) fn line(&self) -> String {
        if self.layers == 0 {
            return format!("pushing {}", self.image);
        }
        let done = (self.pushed + self.existed).min(self.layers);
        format!("pushing {}: {done} of {} layers", self.image, self.layers)
    }

    /// `pushed 127.0.0.1:5000/web:v1: 3 layers (2 already there)`
    pub(super) fn final_line(&self) -> String {
        let mut line = format!("pushed {}: {} layers", self.image, self.layers);
        if self.existed > 0 {
            line.push_str(&format!(" ({} already there)", self.existed));
        }
        line
    }
}

/// The digest in the status a push ends with: `v1: digest: sha256:4d0c… size: 524`.
fn digest_in_status(status: &str) -> Option<&str> {
    let (_, rest) = status.split_once("digest: ")?;
    let digest = rest.split_whitespace().next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: &str) -> PushImageInfo {
        PushImageInfo { status: Some(status.to_owned()), ..Default::default() }
    }

    const DIGEST: &str = "sha256:4d0cdda1fb898795e8cb543d8ed608152d157667b4292412a70d1a59e77d2420";

    #[test]
    fn layer_statuses_fold_into_one_line_and_the_digest_is_kept() {
        let mut p = PushProgress::new("127.0.0.1:5000/web:v1".to_owned());
        assert!(!p.update(&status("The push refers to repository [127.0.0.1:5000/web]")));
        assert_eq!(p.line(), "pushing 127.0.0.1:5000/web:v1");
        for _ in 0..3 {
            assert!(p.update(&status("Preparing")));
        }
        assert!(!p.update(&status("Waiting")) && !p.update(&status("Pushing")));
        assert!(p.update(&status("Layer already exists")));
        assert!(p.update(&status("Mounted from other/app")));
        assert_eq!(p.line(), "pushing 127.0.0.1:5000/web:v1: 2 of 3 layers");
        assert!(p.update(&status("Pushed")));
        assert!(!p.update(&status(&format!("v1: digest: {DIGEST} size: 524"))));
        assert_eq!(p.digest.as_deref(), Some(DIGEST));
        assert_eq!(p.final_line(), "pushed 127.0.0.1:5000/web:v1: 3 layers (2 already there)");
    }

    #[test]
    fn only_a_whole_sha256_digest_counts() {
        assert_eq!(digest_in_status(&format!("latest: digest: {DIGEST} size: 1")), Some(DIGEST));
        assert_eq!(digest_in_status("v1: digest: sha256:abc size: 1"), None);
        assert_eq!(digest_in_status("v1: digest: md5:abc"), None);
        assert_eq!(digest_in_status("Pushed"), None);
    }
}
