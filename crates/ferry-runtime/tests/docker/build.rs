//! Builds and pushes against the real engine: the classic builder's output as lines, its image id, its
//! failures as `RuntimeError::Build`, its cache, a dropped build, and a push's digest as the registry
//! has it.

use std::sync::Mutex;

use anyhow::Context;
use ferry_model::InstanceId;
use ferry_runtime::{Images, RuntimeError};

use super::{credentials, runtime};
use crate::support::*;

/// A unique tag for a test's image, removed when `cleanup` drops.
fn tag(cleanup: &Cleanup, name: &str) -> String {
    let tag = format!("ferry-runtime-test-{name}:{}", InstanceId::generate());
    cleanup.image(&tag);
    tag
}

/// Collects progress lines.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Lines {
    fn push(&self, line: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line.to_owned());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// The ids of the containers the builder ran for steps (` ---> Running in <id>`).
fn step_containers(lines: &[String]) -> Vec<String> {
    lines.iter().filter_map(|l| l.strip_prefix(" ---> Running in ")).map(str::to_owned).collect()
}

/// Whether any of `ids` is still a container.
fn any_container_left(ids: &[String]) -> anyhow::Result<bool> {
    for id in ids {
        if !docker(&["ps", "-aq", "--filter", &format!("id={id}")])?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

#[tokio::test]
async fn build_from_scratch_streams_steps_and_returns_the_engines_image_id() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let tag = tag(&cleanup, "build");
    let nonce = InstanceId::generate();
    let dockerfile = format!("FROM scratch\nCOPY hello.txt /hello.txt\nLABEL ferry.test.nonce={nonce}\n");
    let context = tar_context(&[("build/Dockerfile.ferry", &dockerfile), ("hello.txt", "hello\n")])?;

    let lines = Lines::default();
    let id = rt.build_image(context.clone(), "build/Dockerfile.ferry", &tag, &|l| lines.push(l)).await?;
    let first = lines.take();
    assert_eq!(id, docker(&["image", "inspect", "--format", "{{.Id}}", &tag])?);
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    // The step titles come without their newline from the engine: whole lines here.
    for step in ["Step 1/3 : FROM scratch", "Step 2/3 : COPY hello.txt /hello.txt"] {
        assert!(first.iter().any(|l| l == step), "{step:?} in {first:?}");
    }
    assert!(first.iter().any(|l| l == &format!("Successfully tagged {tag}")), "{first:?}");
    assert!(first.iter().all(|l| !l.is_empty() && !l.contains(['\n', '\r'])), "{first:?}");
    // The LABEL step ran in a container, which `forcerm` removed.
    let containers = step_containers(&first);
    assert!(!containers.is_empty(), "{first:?}");
    assert!(!any_container_left(&containers)?, "intermediate containers left: {containers:?}");

    // The same context again: every step from the cache, and the same image.
    let again = rt.build_image(context, "build/Dockerfile.ferry", &tag, &|l| lines.push(l)).await?;
    assert_eq!(again, id);
    let second = lines.take();
    assert_eq!(second.iter().filter(|l| *l == " ---> Using cache").count(), 2, "{second:?}");
    Ok(())
}

#[tokio::test]
async fn a_failing_run_is_a_build_error_naming_the_command_and_its_exit_code() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let tag = tag(&cleanup, "fail");
    let base = runtime_image();
    let dockerfile = format!("FROM {base}\nRUN echo building {}\nRUN false\n", InstanceId::generate());
    let context = tar_context(&[("Dockerfile", &dockerfile)])?;
    let lines = Lines::default();
    let err = rt.build_image(context, "Dockerfile", &tag, &|l| lines.push(l)).await.unwrap_err();
    match &err {
        RuntimeError::Build { message, command, exit_code } => {
            assert_eq!((command.as_deref(), *exit_code), (Some("false"), Some(1)), "{message}");
            assert_eq!(message, "The command '/bin/sh -c false' returned a non-zero code: 1");
        }
        other => panic!("expected a build error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the build failed: The command '/bin/sh -c false' returned a non-zero code: 1"
    );
    let lines = lines.take();
    assert!(
        lines.iter().any(|l| l.starts_with("building ")),
        "the command's output comes through: {lines:?}"
    );
    let failed_step = lines.iter().position(|l| l == "Step 3/3 : RUN false").context("no step 3")?;
    // The layer step 2 made is no one's (the build failed after it): remove it with the test.
    let layer = lines[..failed_step].last().and_then(|l| l.strip_prefix(" ---> ")).context("no layer")?;
    cleanup.image(layer);
    let containers = step_containers(&lines);
    assert_eq!(containers.len(), 2, "{lines:?}");
    assert!(!any_container_left(&containers)?, "the failed step's container is removed too");
    assert!(docker(&["image", "inspect", &tag]).is_err(), "no image is tagged");

    // Exec form: no shell, and the exit code as the command gave it.
    let dockerfile = format!("FROM {base}\nRUN [\"python3\", \"-c\", \"import sys; sys.exit(7)\"]\n");
    let context = tar_context(&[("Dockerfile", &dockerfile)])?;
    let err = rt.build_image(context, "Dockerfile", &tag, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Build { command: Some(c), exit_code: Some(7), .. }
            if c == "python3 -c import sys; sys.exit(7)"),
        "{err:?}"
    );

    // No Dockerfile where it was said to be: the engine refuses the build before it starts.
    let context = tar_context(&[("Dockerfile", "FROM scratch\n")])?;
    let err = rt.build_image(context, "missing/Dockerfile", &tag, &|_| {}).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Build { message, command: None, exit_code: None }
            if message.contains("missing/Dockerfile")),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn dropping_a_build_stops_it_and_removes_its_container() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let tag = tag(&cleanup, "drop");
    let dockerfile = format!("FROM {}\nRUN echo {} && sleep 300\n", runtime_image(), InstanceId::generate());
    let context = tar_context(&[("Dockerfile", &dockerfile)])?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = move |line: &str| {
        if let Some(id) = line.strip_prefix(" ---> Running in ") {
            let _ = tx.send(id.to_owned());
        }
    };
    let container = tokio::select! {
        result = rt.build_image(context, "Dockerfile", &tag, &progress) => {
            anyhow::bail!("the build ended on its own: {result:?}")
        }
        id = next_within_recv(&mut rx) => id?,
    };
    let ids = [container];
    assert!(any_container_left(&ids)?, "the step's container runs as its id is announced");
    // The build future is gone: the engine hears the client leave, kills the step and removes it.
    eventually("the build's container to go", || async { Ok((!any_container_left(&ids)?).then_some(())) })
        .await?;
    assert!(docker(&["image", "inspect", &tag]).is_err(), "no image is tagged");
    Ok(())
}

async fn next_within_recv(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> anyhow::Result<String> {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .context("the build did not start its step in time")?
        .context("the build ended before its step started")
}

#[tokio::test]
async fn push_returns_the_digest_the_registry_has() -> anyhow::Result<()> {
    let rt = runtime().await;
    let registry = Registry::start().await?;
    let cleanup = Cleanup::default();
    let reference = format!("{}/ferry-test/pushed:v1", registry.host);
    cleanup.image(&reference);
    let dockerfile =
        format!("FROM scratch\nCOPY nonce /nonce\nLABEL ferry.test.nonce={}\n", InstanceId::generate());
    let context = tar_context(&[("Dockerfile", &dockerfile), ("nonce", InstanceId::generate().as_str())])?;
    rt.build_image(context, "Dockerfile", &reference, &|_| {}).await?;

    let denied = rt.push_image(&reference, None, &|_| {}).await.unwrap_err();
    match &denied {
        RuntimeError::Push { image, message } => {
            assert_eq!(image, &reference);
            assert!(message.contains("auth"), "{message}");
        }
        other => panic!("expected a push error, got {other:?}"),
    }

    let lines = Lines::default();
    let digest = rt.push_image(&reference, Some(&credentials()), &|l| lines.push(l)).await?;
    let digest = digest.context("the push reports a digest")?;
    assert_eq!(digest, registry.manifest_digest("ferry-test/pushed", "v1")?);
    let repo_digests = docker(&["image", "inspect", "--format", "{{json .RepoDigests}}", &reference])?;
    assert!(repo_digests.contains(&digest), "{repo_digests}");
    let first = lines.take();
    let (last, progress) = first.split_last().context("no progress at all")?;
    assert_eq!(last, &format!("pushed {reference}: 1 layers"), "{first:?}");
    assert!(progress.iter().all(|l| l.starts_with(&format!("pushing {reference}"))), "{first:?}");

    // Again: nothing to upload, the same digest.
    let again = rt.push_image(&reference, Some(&credentials()), &|l| lines.push(l)).await?;
    assert_eq!(again.as_deref(), Some(digest.as_str()));
    assert_eq!(lines.take().last(), Some(&format!("pushed {reference}: 1 layers (1 already there)")));

    let missing = format!("{}/ferry-test/pushed:never-built", registry.host);
    let err = rt.push_image(&missing, Some(&credentials()), &|_| {}).await.unwrap_err();
    assert!(matches!(&err, RuntimeError::Push { image, .. } if image == &missing), "{err:?}");
    let err = rt.push_image(&format!("{reference}@{digest}"), None, &|_| {}).await.unwrap_err();
    assert!(err.to_string().contains("needs a tag"), "{err}");
    Ok(())
}
