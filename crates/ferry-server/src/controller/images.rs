//! A revision's image on the engine: resolved to a digest and pulled by it for an image source, built
//! (`build.rs`) or pulled back from the build registry for code.
//!
//! A tag is resolved to its manifest digest once, when its revision first deploys, and only `name@digest`
//! is pulled: the engine never gets a tag from ferry, so pruning (which removes what ferry put there, by
//! reference) can never take a tag a user made on the same engine, and every instance of a revision runs
//! exactly the image that revision recorded.

use ferry_model::{ImageRef, RegistryCredentials, Revision, Source};
use ferry_runtime::RuntimeError;

use super::build::{BuildFailure, build_revision};
use super::shared::Context;

/// Why a revision's image could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    /// The tag could not be looked up in its registry (it does not exist, the registry is down, the
    /// credentials are wrong).
    #[error("image {image} could not be pulled: {message}")]
    Resolve { image: String, message: String },
    #[error(transparent)]
    Pull(RuntimeError),
    #[error("pulling {0} took longer than the deployment timeout")]
    PullTimedOut(String),
    #[error("the image of revision {0} is no longer on the engine and has no registry digest to pull it by")]
    Gone(u32),
    #[error(transparent)]
    Build(BuildFailure),
}

/// Makes sure the revision's image is on the engine; returns the revision with what it became.
pub(crate) async fn ensure_image(cx: &Context, revision: Revision) -> Result<Revision, ImageError> {
    let runtime = &cx.shared.runtime;
    if let Some(id) = &revision.image_id
        && !revision.image_pruned
        && runtime.image_exists(id).await.unwrap_or(true)
    {
        return Ok(revision);
    }
    let source = match &revision.spec.source {
        Source::Image(source) => source.clone(),
        Source::Code(_) => {
            let pushed = revision.build.as_ref().zip(revision.image_digest.as_ref());
            if let Some((build, digest)) = pushed
                && let Ok(image) = ImageRef::parse(&build.image)
            {
                let reference = image.with_digest(digest);
                return pull(cx, revision.clone(), reference, None).await;
            }
            return build_revision(cx, revision).await.map_err(ImageError::Build);
        }
    };
    let digest = match &revision.image_digest {
        Some(digest) => digest.clone(),
        None if revision.image_id.is_some() => return Err(ImageError::Gone(revision.number)),
        None => resolve(cx, &source.image, source.credentials.as_ref()).await?,
    };
    pull(cx, revision, source.image.with_digest(&digest), source.credentials).await
}

/// The digest the tag points at now, bounded by the deployment timeout.
async fn resolve(
    cx: &Context,
    image: &ImageRef,
    credentials: Option<&RegistryCredentials>,
) -> Result<String, ImageError> {
    let lookup = cx.shared.runtime.resolve(image, credentials);
    match tokio::time::timeout(cx.shared.settings.deploy_timeout, lookup).await {
        Ok(Ok(digest)) => {
            cx.log.event(&cx.op, &format!("Image {image} resolves to {digest}."));
            Ok(digest)
        }
        Ok(Err(RuntimeError::Resolve { image, message })) => Err(ImageError::Resolve { image, message }),
        Ok(Err(e)) => Err(ImageError::Pull(e)),
        Err(_) => Err(ImageError::PullTimedOut(image.to_string())),
    }
}

async fn pull(
    cx: &Context,
    revision: Revision,
    reference: ImageRef,
    credentials: Option<RegistryCredentials>,
) -> Result<Revision, ImageError> {
    cx.log.event(&cx.op, &format!("Pulling image {reference}"));
    let (store, clock, op) = (cx.shared.store.clone(), cx.shared.clock.clone(), cx.op.clone());
    let progress = move |line: &str| store.append_event(&op, clock.now(), line);
    let pull = cx.shared.runtime.pull(&reference, credentials.as_ref(), &progress);
    let pulled = match tokio::time::timeout(cx.shared.settings.deploy_timeout, pull).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return Err(ImageError::Pull(e)),
        Err(_) => return Err(ImageError::PullTimedOut(reference.to_string())),
    };
    let digest = revision.image_digest.clone().or(pulled.digest);
    let (service, number, image_id) = (cx.service.clone(), revision.number, pulled.image_id.clone());
    let recorded = digest.clone();
    // Queued: the step's result is what the deployment goes on with; the record follows it in order.
    cx.shared.store.submit("record a revision's pulled image", move |db| {
        db.set_revision_image(&service, number, recorded.as_deref(), &image_id)?;
        db.set_image_pruned(&service, number, false)
    });
    let shown = digest.as_deref().unwrap_or(&pulled.image_id);
    cx.log.event(&cx.op, &format!("Successfully pulled image {reference} ({shown})"));
    Ok(Revision { image_digest: digest, image_id: Some(pulled.image_id), image_pruned: false, ..revision })
}
