//! Pulls: the engine's per-layer progress folded into one human line, and the resulting image id and
//! registry digest.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptionsBuilder;
use ferry_model::{ImageRef, RegistryCredentials};
use futures_util::StreamExt;
use tokio::time::Instant;

use super::engine::Engine;
use super::error::{self, timed};
use super::registry::{self, repo_digest};
use crate::{PulledImage, Result, RuntimeError};

/// At most two progress lines a second (plus the final one).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(500);

pub(super) async fn pull(
    engine: &Engine,
    image: &ImageRef,
    credentials: Option<&RegistryCredentials>,
    progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
) -> Result<PulledImage> {
    let started = Instant::now();
    // The engine takes a digest where the tag goes, and then names the image `name@digest`.
    let options =
        CreateImageOptionsBuilder::default().from_image(&image.name()).tag(image.pull_tag()).build();
    let pulled_as = match image.digest() {
        Some(digest) => format!("{}@{digest}", image.name()),
        None => format!("{}:{}", image.name(), image.pull_tag()),
    };
    // A digest names its content: if `name@digest` is already here, asking the registry again changes
    // nothing (a rollback, a redeploy of an unchanged tag, a second instance), so it is not asked.
    if image.digest().is_some()
        && let Some(image_id) = present(engine, &pulled_as).await
    {
        progress(&format!("pulled {image}: already on the engine"));
        tracing::info!(image = %image, image_id = %image_id, "the image is already on the engine");
        return Ok(PulledImage { image_id, digest: image.digest().map(str::to_owned) });
    }
    let credentials = registry::credentials(image, credentials);
    let mut state = PullProgress::new(image.to_string());
    let mut last_line: Option<Instant> = None;
    let mut stream = engine.docker.create_image(Some(options), None, credentials);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| error::pull(image, e))?;
        if state.update(&info) && last_line.is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL) {
            progress(&state.line());
            last_line = Some(Instant::now());
        }
    }
    let inspect = async { engine.docker.inspect_image(&pulled_as).await.map_err(error::engine) };
    let inspected = timed(engine.call_timeout(), "an image inspect", inspect).await?;
    let image_id = inspected.id.ok_or_else(|| {
        RuntimeError::Engine(format!("the engine reports no id for the pulled image {pulled_as}"))
    })?;
    let digest = repo_digest(image, inspected.repo_digests.as_deref().unwrap_or_default())
        .or_else(|| image.digest().map(str::to_owned));
    progress(&state.final_line());
    tracing::info!(
        image = %image, image_id = %image_id, digest = ?digest,
        elapsed_ms = started.elapsed().as_millis() as u64, "pulled an image"
    );
    Ok(PulledImage { image_id, digest })
}

/// The id of `reference` if the engine has it; `None` if not or if it cannot say (the pull then tells).
async fn present(engine: &Engine, reference: &str) -> Option<String> {
    let inspect = async { engine.docker.inspect_image(reference).await.map_err(error::engine) };
    timed(engine.call_timeout(), "an image inspect", inspect).await.ok().and_then(|i| i.id)
}

/// Per-layer state of a pull, from the engine's progress messages.
#[derive(Debug)]
struct PullProgress {
    image: String,
    layers: BTreeMap<String, Layer>,
}

#[derive(Debug, Default)]
struct Layer {
    current: u64,
    total: u64,
    /// The layer's bytes are here (downloaded, or already present).
    downloaded: bool,
    /// The layer is in place (extracted, or already present).
    done: bool,
    /// The layer was already present: nothing was downloaded for it.
    existed: bool,
}

impl PullProgress {
    fn new(image: String) -> Self {
        Self { image, layers: BTreeMap::new() }
    }

    /// Folds one message in; whether it changed anything a line shows.
    fn update(&mut self, info: &CreateImageInfo) -> bool {
        let (Some(id), Some(status)) = (info.id.as_deref(), info.status.as_deref()) else {
            return false;
        };
        let detail = info.progress_detail.as_ref();
        let bytes = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        // Only layer statuses create a layer: "Pulling from <repo>" also carries an id (the tag).
        let layer = match status {
            "Pulling fs layer" | "Waiting" | "Downloading" | "Verifying Checksum" | "Download complete"
            | "Extracting" | "Pull complete" | "Already exists" => {
                self.layers.entry(id.to_owned()).or_default()
            }
            _ => return false,
        };
        match status {
            "Downloading" => {
                layer.current = bytes(detail.and_then(|d| d.current));
                layer.total = bytes(detail.and_then(|d| d.total)).max(layer.total);
            }
            "Verifying Checksum" | "Download complete" | "Extracting" => {
                layer.downloaded = true;
                layer.current = layer.total;
            }
            "Pull complete" => {
                layer.downloaded = true;
                layer.done = true;
                layer.current = layer.total;
            }
            "Already exists" => {
                layer.downloaded = true;
                layer.done = true;
                layer.existed = true;
            }
            _ => {}
        }
        true
    }

    /// `pulling 127.0.0.1:5000/web:v1: 3 of 5 layers, 12.1 MB of 40.3 MB`
    fn line(&self) -> String {
        if self.layers.is_empty() {
            return format!("pulling {}", self.image);
        }
        let done = self.layers.values().filter(|l| l.done).count();
        let mut line = format!("pulling {}: {done} of {} layers", self.image, self.layers.len());
        let total: u64 = self.layers.values().map(|l| l.total).sum();
        if total > 0 {
            let current: u64 = self.layers.values().map(|l| l.current).sum();
            line.push_str(&format!(", {} of {}", human_bytes(current), human_bytes(total)));
        }
        line
    }

    /// `pulled 127.0.0.1:5000/web:v1: 5 layers, 40.3 MB downloaded`
    fn final_line(&self) -> String {
        if self.layers.is_empty() {
            return format!("pulled {}: already up to date", self.image);
        }
        let downloaded: u64 = self.layers.values().filter(|l| !l.existed).map(|l| l.total).sum();
        format!("pulled {}: {} layers, {} downloaded", self.image, self.layers.len(), human_bytes(downloaded))
    }
}

/// Decimal units, as the Docker CLI shows them: `999 B`, `12.1 kB`, `40.3 MB`, `1.2 GB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use bollard::models::ProgressDetail;

    use super::*;

    fn msg(id: Option<&str>, status: &str, progress: Option<(i64, i64)>) -> CreateImageInfo {
        CreateImageInfo {
            id: id.map(str::to_owned),
            status: Some(status.to_owned()),
            progress_detail: progress
                .map(|(current, total)| ProgressDetail { current: Some(current), total: Some(total) }),
            ..Default::default()
        }
    }

    #[test]
    fn layer_progress_folds_into_one_line() {
        let mut p = PullProgress::new("127.0.0.1:5000/web:v1".to_owned());
        assert!(!p.update(&msg(Some("v1"), "Pulling from web", None)), "the tag is not a layer");
        assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1");
        assert!(p.update(&msg(Some("aaa"), "Already exists", None)));
        assert!(p.update(&msg(Some("bbb"), "Pulling fs layer", None)));
        assert!(p.update(&msg(Some("ccc"), "Waiting", None)));
        p.update(&msg(Some("bbb"), "Downloading", Some((12_100_000, 30_000_000))));
        p.update(&msg(Some("ccc"), "Downloading", Some((0, 10_300_000))));
        assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1: 1 of 3 layers, 12.1 MB of 40.3 MB");
        p.update(&msg(Some("bbb"), "Download complete", None));
        p.update(&msg(Some("bbb"), "Extracting", Some((5, 30_000_000))));
        p.update(&msg(Some("bbb"), "Pull complete", None));
        assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1: 2 of 3 layers, 30.0 MB of 40.3 MB");
        assert!(!p.update(&msg(None, "Digest: sha256:abc", None)));
        p.update(&msg(Some("ccc"), "Pull complete", None));
        assert_eq!(p.final_line(), "pulled 127.0.0.1:5000/web:v1: 3 layers, 40.3 MB downloaded");
    }

    #[test]
    fn an_image_already_here_says_so() {
        let p = PullProgress::new("web:v1".to_owned());
        assert_eq!(p.final_line(), "pulled web:v1: already up to date");
    }

    #[test]
    fn bytes_read_like_the_docker_cli() {
        let cases =
            [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (12_149_999, "12.1 MB"), (999_960, "1.0 MB")];
        for (n, want) in cases {
            assert_eq!(human_bytes(n), want, "{n}");
        }
        assert_eq!(human_bytes(3_200_000_000_000_000), "3200.0 TB");
    }
}
