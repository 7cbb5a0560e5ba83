//! Images against the real engine and a local registry: pulls (by tag and by digest), look-ups of a
//! tag's digest, and removing images without touching a tag someone else made.

use std::sync::Mutex;

use anyhow::Context;
use ferry_model::{ImageRef, InstanceId};
use ferry_runtime::{Images, Instances, RuntimeError};

use super::{credentials, runtime};
use crate::support::*;

#[tokio::test]
async fn pull_from_a_private_registry_returns_the_image_id_and_digest() -> anyhow::Result<()> {
    let rt = runtime().await;
    let registry = Registry::start().await?;
    let cleanup = Cleanup::default();
    let reference = format!("{}/ferry-test/web:v1", registry.host);
    let local = format!("ferry-runtime-test-pull:{}", InstanceId::generate());
    cleanup.image(&local);
    cleanup.image(&reference);
    unique_image(&local)?;
    let pushed_digest = registry.push(&local, &reference)?;
    let expected_id = inspect_json(&local)?["Id"].as_str().context("no image id")?.to_owned();
    // Forget the image locally, so that the pull downloads its own layer again.
    docker(&["rmi", &local, &reference])?;

    let image = ImageRef::parse(&reference)?;
    // The registry's digest for the tag, asked before the pull and without credentials refused.
    let resolved = rt.resolve(&image, Some(&credentials())).await?;
    assert_eq!(resolved, pushed_digest);
    let err = rt.resolve(&image, None).await.unwrap_err();
    match &err {
        RuntimeError::Resolve { image, message } => {
            assert_eq!(image, &reference);
            assert!(message.ends_with("; check the registry credentials"), "{message}");
        }
        other => panic!("expected a resolve error, got {other}"),
    }
    let denied = rt.pull(&image, None, &|_| {}).await.unwrap_err();
    match &denied {
        RuntimeError::Pull { image, message } => {
            assert_eq!(image, &reference);
            assert!(message.contains("auth"), "{message}");
        }
        other => panic!("expected a pull error, got {other}"),
    }

    let lines = Mutex::new(Vec::new());
    let pulled =
        rt.pull(&image, Some(&credentials()), &|line| lines.lock().unwrap().push(line.to_owned())).await?;
    assert_eq!(pulled.digest.as_deref(), Some(resolved.as_str()), "resolve and pull agree");
    assert_eq!(pulled.image_id, expected_id);
    let lines = lines.into_inner().unwrap();
    let (last, progress) = lines.split_last().context("no progress at all")?;
    assert!(last.starts_with(&format!("pulled {reference}: 2 layers, ")), "{lines:?}");
    assert!(progress.iter().all(|l| l.starts_with(&format!("pulling {reference}"))), "{lines:?}");
    assert!(!progress.is_empty(), "progress before the end: {lines:?}");

    // Pinned by digest: the same image, and the digest asked for.
    let pinned = rt.pull(&image.with_digest(&pushed_digest), Some(&credentials()), &|_| {}).await?;
    assert_eq!(pinned.image_id, expected_id);
    assert_eq!(pinned.digest.as_deref(), Some(pushed_digest.as_str()));
    cleanup.image(&format!("{}@{pushed_digest}", image.name()));

    // Once here by its digest, the image is not asked of the registry again: pulling it works with the
    // registry gone.
    drop(registry);
    let lines = Mutex::new(Vec::new());
    let again = rt
        .pull(&image.with_digest(&pushed_digest), None, &|l| lines.lock().unwrap().push(l.to_owned()))
        .await?;
    assert_eq!(
        (again.image_id.as_str(), again.digest.as_deref()),
        (expected_id.as_str(), Some(pushed_digest.as_str()))
    );
    assert_eq!(
        lines.into_inner().unwrap(),
        [format!("pulled {}: already on the engine", image.with_digest(&pushed_digest))]
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_tag_or_registry_is_an_error_naming_the_image() -> anyhow::Result<()> {
    let rt = runtime().await;
    let registry = Registry::start().await?;
    let reference = format!("{}/ferry-test/missing:nope", registry.host);
    let image = ImageRef::parse(&reference)?;
    let err = rt.pull(&image, Some(&credentials()), &|_| {}).await.unwrap_err();
    match &err {
        RuntimeError::Pull { image, message } => {
            assert_eq!(image, &reference);
            assert!(message.contains("not found") || message.contains("unknown"), "{message}");
        }
        other => panic!("expected a pull error, got {other}"),
    }
    assert!(err.to_string().contains(&reference), "{err}");
    let err = rt.resolve(&image, Some(&credentials())).await.unwrap_err();
    match &err {
        RuntimeError::Resolve { image, message } => {
            assert_eq!(image, &reference);
            assert!(message.ends_with("; check that the tag exists in the repository"), "{message}");
        }
        other => panic!("expected a resolve error, got {other}"),
    }
    assert!(err.to_string().contains(&reference), "{err}");

    drop(registry);
    let err = rt.pull(&image, None, &|_| {}).await.unwrap_err();
    assert!(matches!(&err, RuntimeError::Pull { message, .. } if message.contains("refused")), "{err}");
    let err = rt.resolve(&image, None).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Resolve { message, .. }
            if message.contains("refused") && message.ends_with("check that the registry is reachable from the engine")),
        "{err}"
    );
    // A reference that carries its digest needs no registry to resolve.
    let digest = format!("sha256:{}", "5e".repeat(32));
    assert_eq!(rt.resolve(&image.with_digest(&digest), None).await?, digest);
    Ok(())
}

#[tokio::test]
async fn remove_image_refuses_an_image_in_use_and_accepts_a_missing_one() -> anyhow::Result<()> {
    let rt = runtime().await;
    let cleanup = Cleanup::default();
    let tag = format!("ferry-runtime-test-rmi:{}", InstanceId::generate());
    cleanup.image(&tag);
    unique_image(&tag)?;
    let mut spec = spec("rmi", &[("EXIT_CODE", "0")]);
    spec.image = tag.clone();
    let info = rt.run(&spec).await?;
    cleanup.container(&info.id);

    let err = rt.remove_image(&tag).await.unwrap_err();
    assert!(matches!(&err, RuntimeError::Engine(m) if m.contains("is using")), "{err}");
    assert!(docker(&["image", "inspect", &tag]).is_ok(), "the image stays");
    assert!(rt.image_exists(&tag).await?);
    rt.remove(&info.id).await?;
    rt.remove_image(&tag).await?;
    assert!(docker(&["image", "inspect", &tag]).is_err(), "the image is gone");
    assert!(!rt.image_exists(&tag).await?);
    rt.remove_image(&tag).await?;
    Ok(())
}

/// ferry pulls `name@digest` only, so what it later removes is never a user's tag: a user's own tag of
/// the same image, in the same repository, survives the pull and the removal.
#[tokio::test]
async fn removing_what_a_pull_by_digest_made_leaves_the_users_tag() -> anyhow::Result<()> {
    let rt = runtime().await;
    let registry = Registry::start().await?;
    let cleanup = Cleanup::default();
    let repository = format!("{}/ferry-test/pinned", registry.host);
    let (local, pushed, users) = (
        format!("ferry-runtime-test-pinned:{}", InstanceId::generate()),
        format!("{repository}:v1"),
        format!("{repository}:mine"),
    );
    for name in [&local, &pushed, &users] {
        cleanup.image(name);
    }
    unique_image(&local)?;
    let digest = registry.push(&local, &pushed)?;
    let image_id = inspect_json(&local)?["Id"].as_str().context("no image id")?.to_owned();
    // What a user has: their own tag of the image, and nothing else naming it.
    docker(&["tag", &local, &users])?;
    docker(&["rmi", &local, &pushed, &format!("{repository}@{digest}")])?;

    let resolved = rt.resolve(&ImageRef::parse(&pushed)?, Some(&credentials())).await?;
    assert_eq!(resolved, digest);
    let by_digest = format!("{repository}@{resolved}");
    cleanup.image(&by_digest);
    let pulled = rt.pull(&ImageRef::parse(&by_digest)?, Some(&credentials()), &|_| {}).await?;
    assert_eq!(
        (pulled.image_id.as_str(), pulled.digest.as_deref()),
        (image_id.as_str(), Some(digest.as_str()))
    );
    assert!(rt.image_exists(&by_digest).await?);
    let tags = docker(&["image", "inspect", "--format", "{{json .RepoTags}}", &image_id])?;
    assert_eq!(tags, format!("[\"{users}\"]"), "the pull by digest made no tag");

    // While a container runs from it, the engine counts a tag and the digests of its repository as one
    // name, and refuses (the fake's rule too).
    let mut spec = spec("pinned", &[]);
    spec.image = by_digest.clone();
    let running = rt.run(&spec).await?;
    cleanup.container(&running.id);
    let err = rt.remove_image(&by_digest).await.unwrap_err();
    assert!(matches!(&err, RuntimeError::Engine(m) if m.contains("is using its referenced image")), "{err}");
    rt.remove(&running.id).await?;

    // The user's tag still names the image, so the engine only untags ferry's reference.
    rt.remove_image(&by_digest).await?;
    assert!(!rt.image_exists(&by_digest).await?, "ferry's reference is gone");
    assert!(rt.image_exists(&users).await?, "the user's tag is still there");
    assert!(rt.image_exists(&image_id).await?, "and so is the image");
    assert!(!rt.image_exists(&pushed).await?, "no tag was ever made by the pull");
    Ok(())
}
