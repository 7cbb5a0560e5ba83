//! Single calls about images: what a tag names in its registry now, whether the engine has an image,
//! and removing one.

use bollard::query_parameters::RemoveImageOptions;
use ferry_model::{ImageRef, RegistryCredentials};

use super::engine::Engine;
use super::error::{self, timed};
use super::registry;
use crate::{Result, RuntimeError};

/// The manifest digest `image` names now: its own digest, or the registry's answer through the
/// engine's distribution endpoint (`GET /distribution/{name}/json`). Asking through the engine rather
/// than the registry directly keeps one view of the registry: the engine's network, proxy, mirrors and
/// insecure-registry settings apply as they will to the pull that follows.
pub(super) async fn resolve(
    engine: &Engine,
    image: &ImageRef,
    credentials: Option<&RegistryCredentials>,
) -> Result<String> {
    if let Some(digest) = image.digest() {
        return Ok(digest.to_owned());
    }
    let refused = |message: String| RuntimeError::Resolve { image: image.to_string(), message };
    let name = format!("{}:{}", image.name(), image.pull_tag());
    let call = engine.docker.inspect_registry_image(&name, registry::credentials(image, credentials));
    // Not `timed`: a look-up that takes too long is more likely a registry the engine cannot reach
    // (packets dropped) than an engine that does not answer, and the message should say so.
    let limit = engine.call_timeout();
    let inspected = match tokio::time::timeout(limit, call).await {
        Ok(Ok(inspected)) => inspected,
        Ok(Err(e)) => return Err(error::resolve(image, e)),
        Err(_) => {
            return Err(refused(format!(
                "no answer within {:.1}s; check that the registry is reachable from the engine",
                limit.as_secs_f64()
            )));
        }
    };
    // The engine passes the registry's digest on unchecked: take only one ferry can pull by.
    match inspected.descriptor.digest {
        Some(digest) if ImageRef::parse(&format!("{}@{digest}", image.name())).is_ok() => {
            tracing::debug!(image = %image, digest = %digest, "resolved an image");
            Ok(digest)
        }
        other => Err(refused(format!("the registry answered with no usable digest ({other:?})"))),
    }
}

pub(super) async fn remove(engine: &Engine, image: &str) -> Result<()> {
    let call = async {
        match engine.docker.remove_image(image, None::<RemoveImageOptions>, None).await {
            Ok(_) => Ok(()),
            Err(e) if error::status(&e) == Some(404) => Ok(()),
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout(), "an image remove", call).await?;
    tracing::debug!(image = %image, "removed an image");
    Ok(())
}

pub(super) async fn exists(engine: &Engine, image: &str) -> Result<bool> {
    let call = async {
        match engine.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if error::status(&e) == Some(404) => Ok(false),
            Err(e) => Err(error::engine(e)),
        }
    };
    timed(engine.call_timeout(), "an image inspect", call).await
}
