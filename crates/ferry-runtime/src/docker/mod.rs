//! The Docker driver: [`Runtime`] over the engine's HTTP API on its local socket, through bollard.
//!
//! Every call is bounded by [`DockerOptions::call_timeout`] here, not by bollard: bollard's own timeout
//! only covers the wait for response headers and is shared by all calls (a stop with a long grace would
//! trip it), so it is set out of the way. Pulls are bounded by their caller; log and event streams run
//! as long as they are read. Builds and pushes are bounded by their caller too.
//!
//! Dependencies point one way: each module below is a set of functions over an `engine::Engine`
//! (the connection and the options), and this one composes them. The leaves, `engine`, `error` and
//! `registry`, import none of the others.

mod build;
mod container;
mod engine;
mod error;
mod events;
mod image;
mod logs;
mod network;
mod pull;
mod push;
mod registry;
mod stats;
mod subnet;

use std::time::Duration;

use async_trait::async_trait;
use ferry_model::{ImageRef, RegistryCredentials, ServiceId, Timestamp};
use futures_util::stream::BoxStream;

pub use self::engine::DockerOptions;
use self::engine::Engine;
pub use self::subnet::{Ipv4Net, NetworkPool};
use crate::{
    ContainerInfo, ContainerSpec, ContainerStats, EngineInfo, Images, Instances, LogLine, PulledImage,
    Result, Runtime, RuntimeEvent,
};

/// The Docker driver. Cheap to clone; clones share one connection pool.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    engine: Engine,
}

impl DockerRuntime {
    /// Connects to the engine on its default socket and agrees on an API version with it.
    pub async fn connect() -> Result<Self> {
        Self::connect_with(DockerOptions::default()).await
    }

    pub async fn connect_with(options: DockerOptions) -> Result<Self> {
        Ok(Self { engine: Engine::connect(options).await? })
    }

    /// The engine API version agreed on at connect time (`1.41` for Docker 20.10).
    pub fn api_version(&self) -> String {
        self.engine.docker.client_version().to_string()
    }
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn info(&self) -> Result<EngineInfo> {
        self.engine.info().await
    }
}

#[async_trait]
impl Images for DockerRuntime {
    async fn pull(
        &self,
        image: &ImageRef,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<PulledImage> {
        pull::pull(&self.engine, image, credentials, progress).await
    }

    async fn resolve(&self, image: &ImageRef, credentials: Option<&RegistryCredentials>) -> Result<String> {
        image::resolve(&self.engine, image, credentials).await
    }

    async fn build_image(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<String> {
        build::build(&self.engine, context, dockerfile, tag, progress).await
    }

    async fn push_image(
        &self,
        tag: &str,
        credentials: Option<&RegistryCredentials>,
        progress: &(dyn for<'a> Fn(&'a str) + Send + Sync),
    ) -> Result<Option<String>> {
        push::push(&self.engine, tag, credentials, progress).await
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        image::remove(&self.engine, image).await
    }

    async fn image_exists(&self, image: &str) -> Result<bool> {
        image::exists(&self.engine, image).await
    }
}

#[async_trait]
impl Instances for DockerRuntime {
    async fn run(&self, spec: &ContainerSpec) -> Result<ContainerInfo> {
        let network = network::ensure(&self.engine, &spec.identity.service_id).await?;
        container::run(&self.engine, spec, &network).await
    }

    async fn release_service(&self, service: &ServiceId) -> Result<()> {
        network::release(&self.engine, service).await
    }

    async fn release_services_except(&self, keep: &[ServiceId]) -> Result<usize> {
        network::release_except(&self.engine, keep).await
    }

    async fn inspect(&self, container_id: &str) -> Result<Option<ContainerInfo>> {
        container::inspect(&self.engine, container_id).await
    }

    async fn list(&self) -> Result<Vec<ContainerInfo>> {
        container::list(&self.engine).await
    }

    async fn stats(&self, container_id: &str) -> Result<Option<ContainerStats>> {
        stats::stats(&self.engine, container_id).await
    }

    async fn stop(&self, container_id: &str, grace: Duration) -> Result<()> {
        container::stop(&self.engine, container_id, grace).await
    }

    async fn remove(&self, container_id: &str) -> Result<()> {
        container::remove(&self.engine, container_id).await
    }

    async fn tail_logs(&self, container_id: &str, lines: usize) -> Result<Vec<LogLine>> {
        logs::tail(&self.engine, container_id, lines).await
    }

    fn follow_logs(
        &self,
        container_id: &str,
        since: Option<Timestamp>,
    ) -> BoxStream<'static, Result<LogLine>> {
        logs::follow(&self.engine, container_id, since)
    }

    fn events(&self) -> BoxStream<'static, Result<RuntimeEvent>> {
        events::subscribe(&self.engine)
    }
}
