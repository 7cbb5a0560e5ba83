//! Images already on the engine: whether one is there, and removing one.

use bollard::query_parameters::RemoveImageOptions;

use super::engine::Engine;
use super::error::{self, timed};
use crate::Result;

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
