use ferry_model::{ImageRef, RegistryCredentials};

use super::super::tests::spec;
use crate::fake::{Call, FakeRuntime};
use crate::{Images, Instances, RuntimeError};

#[tokio::test]
async fn builds_and_pushes_are_recorded_and_answer_stable_ids() {
    let fake = FakeRuntime::new();
    let lines = std::sync::Mutex::new(Vec::new());
    let record = |line: &str| lines.lock().unwrap().push(line.to_owned());
    let id =
        fake.build_image(b"context".to_vec(), "Dockerfile", "ferry-build/web:abc-r1", &record).await.unwrap();
    assert_eq!(id, FakeRuntime::built_image_id("ferry-build/web:abc-r1", b"context"));
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_ne!(id, FakeRuntime::built_image_id("ferry-build/web:abc-r1", b"other context"));
    assert_ne!(id, FakeRuntime::built_image_id("ferry-build/web:abc-r2", b"context"));
    let again = fake.build_image(b"context".to_vec(), "Dockerfile", "ferry-build/web:abc-r1", &|_| {}).await;
    assert_eq!(again.unwrap(), id, "the same build gives the same id");
    let lines = lines.into_inner().unwrap();
    assert!(lines[0].starts_with("Step 1/2 : "), "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("Successfully tagged ferry-build/web:abc-r1"));
    assert!(fake.image_exists(&id).await.unwrap());

    let pushed = fake.push_image("127.0.0.1:5000/web:abc-r1", None, &|_| {}).await.unwrap();
    assert_eq!(pushed, Some(FakeRuntime::digest("127.0.0.1:5000/web:abc-r1")));
    fake.fail_pushes("127.0.0.1:5000/web:denied", "unauthorized: authentication required");
    let credentials = RegistryCredentials { username: "u".to_owned(), password: "p".to_owned() };
    let err = fake.push_image("127.0.0.1:5000/web:denied", Some(&credentials), &|_| {}).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "image 127.0.0.1:5000/web:denied could not be pushed: unauthorized: authentication required"
    );

    let calls = fake.calls();
    assert_eq!(
        calls[0],
        Call::BuildImage {
            dockerfile: "Dockerfile".to_owned(),
            tag: "ferry-build/web:abc-r1".to_owned(),
            context_len: 7
        }
    );
    assert_eq!(
        calls[calls.len() - 2..],
        [
            Call::PushImage { tag: "127.0.0.1:5000/web:abc-r1".to_owned(), with_credentials: false },
            Call::PushImage { tag: "127.0.0.1:5000/web:denied".to_owned(), with_credentials: true },
        ]
    );
}

#[tokio::test]
async fn scripted_build_failures_name_the_command_and_write_their_lines() {
    let fake = FakeRuntime::new();
    fake.fail_builds(
        "ferry-build/web:",
        "pip install -r requirements.txt",
        1,
        &["ERROR: No matching distribution"],
    );
    let lines = std::sync::Mutex::new(Vec::new());
    let record = |line: &str| lines.lock().unwrap().push(line.to_owned());
    let err =
        fake.build_image(vec![0; 10], "Dockerfile", "ferry-build/web:abc-r1", &record).await.unwrap_err();
    match &err {
        RuntimeError::Build { message, command, exit_code } => {
            assert_eq!(command.as_deref(), Some("pip install -r requirements.txt"));
            assert_eq!(*exit_code, Some(1));
            assert!(message.starts_with("The command '/bin/sh -c pip install"), "{message}");
        }
        other => panic!("expected a build error, got {other:?}"),
    }
    assert_eq!(
        lines.into_inner().unwrap().last().map(String::as_str),
        Some("ERROR: No matching distribution")
    );
    // Other tags build; the latest matching script wins.
    assert!(fake.build_image(vec![], "Dockerfile", "ferry-build/api:abc-r1", &|_| {}).await.is_ok());
    fake.fail_builds("ferry-build/web:abc", "npm ci", 127, &[]);
    let err = fake.build_image(vec![], "Dockerfile", "ferry-build/web:abc-r2", &|_| {}).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Build { exit_code: Some(127), .. }), "{err:?}");

    fake.set_unavailable(Some("engine down"));
    let err = fake.build_image(vec![], "Dockerfile", "ferry-build/api:abc-r1", &|_| {}).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Unavailable(_)));
    assert!(matches!(fake.calls().last(), Some(Call::BuildImage { .. })), "a refused call is still recorded");
}

#[tokio::test]
async fn resolve_answers_the_digest_a_pull_reports_and_fails_like_the_pull() {
    let fake = FakeRuntime::new();
    let tag = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap();
    let digest = fake.resolve(&tag, None).await.unwrap();
    assert_eq!(digest, FakeRuntime::digest("127.0.0.1:5000/web:v1"));
    let pulled = fake.pull(&tag, None, &|_| {}).await.unwrap();
    assert_eq!(pulled.digest.as_deref(), Some(digest.as_str()));
    // A reference with a digest resolves to it, scripts or not.
    let pinned = tag.with_digest(&FakeRuntime::digest("elsewhere"));
    fake.fail_pulls(&pinned.to_string(), "manifest unknown");
    assert_eq!(fake.resolve(&pinned, None).await.unwrap(), FakeRuntime::digest("elsewhere"));

    fake.fail_pulls("web:gone", "manifest unknown");
    let err = fake.resolve(&ImageRef::parse("web:gone").unwrap(), None).await.unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Resolve { image, message } if image == "web:gone" && message == "manifest unknown"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "image web:gone could not be resolved to a digest: manifest unknown");
    fake.set_unavailable(Some("engine down"));
    assert!(matches!(fake.resolve(&tag, None).await, Err(RuntimeError::Unavailable(_))));
    let resolved: Vec<Call> = fake.calls().into_iter().filter(|c| matches!(c, Call::Resolve(_))).collect();
    let as_written = [tag.to_string(), pinned.to_string(), "web:gone".to_owned(), tag.to_string()];
    assert_eq!(resolved, as_written.map(Call::Resolve));
}

#[tokio::test]
async fn a_pull_by_digest_gives_the_image_a_pull_of_its_tag_gives() {
    let fake = FakeRuntime::new();
    let tag = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap();
    let digest = fake.resolve(&tag, None).await.unwrap();
    let by_digest = fake.pull(&tag.with_digest(&digest), None, &|_| {}).await.unwrap();
    assert_eq!(by_digest.image_id, FakeRuntime::image_id("127.0.0.1:5000/web:v1"), "the documented rule");
    assert_eq!(by_digest.digest.as_deref(), Some(digest.as_str()));
    let pinned = ImageRef::parse(&format!("127.0.0.1:5000/web@{digest}")).unwrap();
    assert_eq!(fake.pull(&pinned, None, &|_| {}).await.unwrap(), by_digest, "with or without the tag");
    assert_eq!(fake.pull(&tag, None, &|_| {}).await.unwrap(), by_digest);

    // Scripts for the tag apply to what runs from the digest, by reference or by id.
    fake.fail_runs("127.0.0.1:5000/web:v1", "exec format error");
    for image in [pinned.to_string(), by_digest.image_id.clone()] {
        let err = fake.run(&spec(&image, "000000000000000a")).await.unwrap_err();
        assert_eq!(err.to_string(), "the container engine refused: exec format error", "{image}");
    }
}

#[tokio::test]
async fn a_pull_of_a_pushed_digest_gives_the_pushed_image() {
    let fake = FakeRuntime::new();
    let tag = "127.0.0.1:5000/web:abc-r1";
    let built = fake.build_image(b"context".to_vec(), "Dockerfile", tag, &|_| {}).await.unwrap();
    let pushed = fake.push_image(tag, None, &|_| {}).await.unwrap().unwrap();
    let by_digest = format!("127.0.0.1:5000/web@{pushed}");
    assert!(fake.image_exists(&by_digest).await.unwrap(), "a push names the image by its digest");
    // The tag and its digest are one repository's: removing the image by id takes both.
    fake.remove_image(&built).await.unwrap();
    for name in [built.as_str(), tag, &by_digest] {
        assert!(!fake.image_exists(name).await.unwrap(), "{name}");
    }
    let pulled = fake.pull(&ImageRef::parse(&by_digest).unwrap(), None, &|_| {}).await.unwrap();
    assert_eq!(pulled.image_id, built);
    assert!(fake.image_exists(&built).await.unwrap() && !fake.image_exists(tag).await.unwrap());
}

#[tokio::test]
async fn removing_a_digest_reference_leaves_other_names_and_refuses_while_it_is_the_only_one() {
    let fake = FakeRuntime::new();
    let digest = FakeRuntime::digest("127.0.0.1:5000/web:v1");
    let ours = format!("127.0.0.1:5000/web@{digest}");
    let pulled = fake.pull(&ImageRef::parse(&ours).unwrap(), None, &|_| {}).await.unwrap();
    let running = fake.run(&spec(&pulled.image_id, "000000000000000a")).await.unwrap();
    let short = &pulled.image_id[7..19];
    let err = fake.remove_image(&ours).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the container engine refused: conflict: unable to remove repository reference \"{ours}\" (must \
             force) - container fake-0001 is using its referenced image {short}"
        )
    );
    let err = fake.remove_image(&pulled.image_id).await.unwrap_err();
    assert!(
        err.to_string().ends_with("(cannot be forced) - image is being used by running container fake-0001")
    );
    assert!(fake.image_exists(&ours).await.unwrap());

    // Another repository's name for the image (a user's): ours goes alone, even with the container.
    let theirs = format!("127.0.0.1:5000/mine@{digest}");
    fake.pull(&ImageRef::parse(&theirs).unwrap(), None, &|_| {}).await.unwrap();
    let err = fake.remove_image(&pulled.image_id).await.unwrap_err();
    assert!(err.to_string().contains("image is being used by running container"), "{err}");
    fake.remove_image(&ours).await.unwrap();
    assert!(!fake.image_exists(&ours).await.unwrap());
    assert!(fake.image_exists(&theirs).await.unwrap() && fake.image_exists(&pulled.image_id).await.unwrap());
    fake.remove_image(&ours).await.unwrap(); // already gone

    // Their last name goes once no container uses the image, and the image with it.
    assert!(fake.remove_image(&theirs).await.is_err());
    fake.remove(&running.id).await.unwrap();
    fake.remove_image(&theirs).await.unwrap();
    assert!(!fake.image_exists(&pulled.image_id).await.unwrap());
    fake.remove_image(&pulled.image_id).await.unwrap();
}

#[tokio::test]
async fn removing_a_tag_leaves_the_other_tags_and_takes_its_repositorys_last_digests() {
    let fake = FakeRuntime::new();
    let digest = FakeRuntime::digest("web:v1");
    let pulled = fake.pull(&ImageRef::parse("web:v1").unwrap(), None, &|_| {}).await.unwrap();
    let other = format!("other@{digest}");
    fake.pull(&ImageRef::parse(&other).unwrap(), None, &|_| {}).await.unwrap();
    let id = pulled.image_id.as_str();
    let err = fake.remove_image(id).await.unwrap_err();
    assert!(err.to_string().ends_with("image is referenced in multiple repositories"), "{err}");

    // Names of two repositories: the tag may go under a running container, and its digest goes too.
    fake.run(&spec("web:v1", "000000000000000a")).await.unwrap();
    fake.remove_image("web:v1").await.unwrap();
    for (name, there) in [("web:v1", false), (&format!("web@{digest}"), false), (&other, true), (id, true)] {
        assert_eq!(fake.image_exists(name).await.unwrap(), there, "{name}");
    }
    // A pull names it again.
    fake.pull(&ImageRef::parse("web:v1").unwrap(), None, &|_| {}).await.unwrap();
    assert!(fake.image_exists("web:v1").await.unwrap());
    let removals = fake.calls().into_iter().filter(|c| matches!(c, Call::RemoveImage(_))).count();
    assert_eq!(removals, 2, "refused removals are recorded too");
}

#[tokio::test]
async fn a_digest_already_pulled_is_not_asked_of_the_registry_again() {
    let fake = FakeRuntime::new();
    let digest = FakeRuntime::digest("127.0.0.1:5000/web:v1");
    let pinned = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap().with_digest(&digest);
    let first = fake.pull(&pinned, None, &|_| {}).await.unwrap();
    fake.fail_pulls(&pinned.to_string(), "connection refused");
    let lines = std::sync::Mutex::new(Vec::new());
    let again = fake.pull(&pinned, None, &|l| lines.lock().unwrap().push(l.to_owned())).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(lines.into_inner().unwrap(), [format!("pulled {pinned}: already on the engine")]);
    // Once its reference is removed, the registry is asked (and here refuses).
    fake.remove_image(&format!("127.0.0.1:5000/web@{digest}")).await.unwrap();
    let err = fake.pull(&pinned, None, &|_| {}).await.unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn held_resolves_are_recorded_and_answer_one_permit_each() {
    let fake = std::sync::Arc::new(FakeRuntime::new());
    let gate = fake.hold_resolves();
    let tag = ImageRef::parse("127.0.0.1:5000/web:v1").unwrap();
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let (fake, tag) = (fake.clone(), tag.clone());
            tokio::spawn(async move { fake.resolve(&tag, None).await })
        })
        .collect();
    while fake.calls().len() < 2 {
        tokio::task::yield_now().await;
    }
    // A reference with a digest asks nothing, so nothing holds it.
    let pinned = tag.with_digest(&FakeRuntime::digest("elsewhere"));
    assert_eq!(fake.resolve(&pinned, None).await.unwrap(), FakeRuntime::digest("elsewhere"));
    assert!(waiting.iter().all(|w| !w.is_finished()), "both wait for a permit");

    gate.add_permits(1);
    let (done, _, rest) = futures_util::future::select_all(waiting).await;
    assert_eq!(done.unwrap().unwrap(), FakeRuntime::digest("127.0.0.1:5000/web:v1"));
    assert_eq!(gate.available_permits(), 0, "the permit is used up");
    tokio::task::yield_now().await;
    assert!(!rest[0].is_finished(), "the other still waits");
    gate.add_permits(1);
    assert!(rest.into_iter().next().unwrap().await.unwrap().is_ok());
}
