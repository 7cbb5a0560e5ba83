//! The fake's builds and pushes: recorded, scripted to fail by tag, and otherwise answered with ids
//! and digests derived from what was asked.

use std::sync::Arc;

use async_trait::async_trait;
use ferry_model::{ImageRef, RegistryCredentials};
use tokio::sync::Semaphore;

use super::state::{self, BuildFailure, FakeContainer};
use super::{Call, FakeRuntime};
use crate::{Images, PulledImage, Result, RuntimeError};

impl FakeRuntime {
    /// The image id a build of `context` tagged `tag` returns: `sha256:` and 64 hex digits derived
    /// from both.
    pub fn built_image_id(tag: &str, context: &[u8]) -> String {
        state::fake_sha256_of("build", &[tag.as_bytes(), context])
    }

    /// Builds whose tag starts with `tag_prefix` write `lines`, then fail as the classic builder does
    /// when the `RUN` of `command` exits with `exit_code`: a [`RuntimeError::Build`] naming both.
    pub fn fail_builds(&self, tag_prefix: &str, command: &str, exit_code: i64, lines: &[&str]) {
        let failure = BuildFailure {
            command: command.to_owned(),
            exit_code,
            lines: lines.iter().map(|line| (*line).to_owned()).collect(),
        };
        self.lock().build_failures.push((tag_prefix.to_owned(), failure));
    }

    /// Pushes of `tag` fail with `message`.
    pub fn fail_pushes(&self, tag: &str, message: &str) {
        self.lock().push_failures.insert(tag.to_owned(), message.to_owned());
    }

    /// From now on, each resolve of a tag, once recorded, waits for a permit of the returned semaphore
    /// (it has none) and uses it up before it answers: a test lets resolves answer one by one with
    /// `add_permits`, and sees how many wait at once in the calls recorded. A resolve dropped while it
    /// waits (a timeout) uses none.
    pub fn hold_resolves(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        self.lock().resolve_gate = Some(gate.clone());
        gate
    }
}

#[async_trait]
impl Images for FakeRuntime {
    async fn pull(
        &self,
        image: &ImageRef,
        _credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<PulledImage> {
        let reference = image.to_string();
        let state = self.enter(Call::Pull(reference.clone()))?;
        // Like the driver: `name@digest` already here is not asked of the registry again.
        if let Some(digest) = image.digest()
            && let Some(image_id) = state.images.holds(&format!("{}@{digest}", image.name()))
        {
            drop(state);
            progress(&format!("pulled {reference}: already on the engine"));
            return Ok(PulledImage { image_id, digest: Some(digest.to_owned()) });
        }
        let failure = state.pull_failures.get(&reference).cloned();
        drop(state);
        if let Some(message) = failure {
            return Err(RuntimeError::Pull { image: reference, message });
        }
        progress(&format!("pulling {reference}: 0 of 1 layers"));
        progress(&format!("pulled {reference}: 1 layers, 1.0 MB downloaded"));
        let digest = image.digest().map_or_else(|| Self::digest(&reference), str::to_owned);
        // Like the engine: a pull by tag names the image by its tag and by its digest, a pull by digest
        // by its digest only.
        let by_digest = format!("{}@{digest}", image.name());
        let names = match image.digest() {
            Some(_) => vec![by_digest],
            None => vec![reference.clone(), by_digest],
        };
        let mut state = self.lock();
        let image_id = state.images.pulled_id(&reference);
        state.images.made(&image_id, &names);
        Ok(PulledImage { image_id, digest: Some(digest) })
    }

    async fn resolve(&self, image: &ImageRef, _credentials: Option<&RegistryCredentials>) -> Result<String> {
        let reference = image.to_string();
        let (failure, gate) = {
            let state = self.enter(Call::Resolve(reference.clone()))?;
            (state.pull_failures.get(&reference).cloned(), state.resolve_gate.clone())
        };
        // Like the driver, a reference that carries its digest is answered without asking the registry.
        if let Some(digest) = image.digest() {
            return Ok(digest.to_owned());
        }
        if let Some(gate) = gate
            && let Ok(permit) = gate.acquire().await
        {
            permit.forget();
        }
        // A registry that refuses the pull refuses the look-up.
        match failure {
            Some(message) => Err(RuntimeError::Resolve { image: reference, message }),
            None => Ok(Self::digest(&reference)),
        }
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<String> {
        let call = Call::BuildImage {
            dockerfile: dockerfile.to_owned(),
            tag: tag.to_owned(),
            context_len: context.len(),
        };
        let failure = self
            .enter(call)?
            .build_failures
            .iter()
            .rev()
            .find(|(prefix, _)| tag.starts_with(prefix.as_str()))
            .map(|(_, failure)| failure.clone());
        progress(&format!("Step 1/2 : FROM fake (a build of {tag} from {dockerfile})"));
        if let Some(BuildFailure { command, exit_code, lines }) = failure {
            progress(&format!("Step 2/2 : RUN {command}"));
            for line in &lines {
                progress(line);
            }
            return Err(RuntimeError::Build {
                message: format!("The command '/bin/sh -c {command}' returned a non-zero code: {exit_code}"),
                command: Some(command),
                exit_code: Some(exit_code),
            });
        }
        progress("Step 2/2 : COPY . /app");
        let image_id = Self::built_image_id(tag, &context);
        progress(&format!("Successfully built {}", image_id.get(7..19).unwrap_or_default()));
        progress(&format!("Successfully tagged {tag}"));
        self.lock().images.made(&image_id, &[tag.to_owned()]);
        Ok(image_id)
    }

    async fn push_image(
        &self,
        tag: &str,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<Option<String>> {
        let call = Call::PushImage { tag: tag.to_owned(), with_credentials: credentials.is_some() };
        let failure = self.enter(call)?.push_failures.get(tag).cloned();
        if let Some(message) = failure {
            return Err(RuntimeError::Push { image: tag.to_owned(), message });
        }
        progress(&format!("pushing {tag}: 0 of 1 layers"));
        progress(&format!("pushed {tag}: 1 layers"));
        let digest = Self::digest(tag);
        self.lock().images.pushed(tag, &digest);
        Ok(Some(digest))
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let mut guard = self.enter(Call::RemoveImage(image.to_owned()))?;
        let state = &mut *guard;
        let users: Vec<_> = state.containers.values().map(FakeContainer::user).collect();
        state.images.remove(image, &users).map_err(RuntimeError::Engine)
    }

    async fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(self.enter(Call::ImageExists(image.to_owned()))?.images.exists(image))
    }
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
