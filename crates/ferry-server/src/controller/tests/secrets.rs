use ferry_model::{OperationStatus, SecretName, SecretRefs, SecretValue, ServiceSpec, Timestamp};

use super::*;

async fn set(h: &Harness, name: &str, value: &str) {
    let (name, value) = (SecretName::parse(name).unwrap(), SecretValue::new(value.to_owned()).unwrap());
    h.store.call(move |db| db.set_secret(&name, &value, Timestamp(1))).await.unwrap();
}

fn with_secret(
    env: &str,
    secret: &str,
) -> impl Fn(&ServiceSpec) -> Result<ServiceSpec, ferry_model::ValidationError> {
    let refs = SecretRefs::new([(env.to_owned(), SecretName::parse(secret).unwrap())].into()).unwrap();
    move |spec: &ServiceSpec| {
        let mut spec = spec.clone();
        spec.source.config_mut().secrets = refs.clone();
        Ok(spec)
    }
}

/// The value in the container's environment, under the variable's name; none anywhere in the log.
#[tokio::test(start_paused = true)]
async fn a_secret_reaches_the_container_and_a_missing_one_fails_the_deployment() {
    let h = Harness::start().await;
    let created = h.create("web", WEB_V1, 1, &[]).await;
    assert_eq!(h.wait(&created.id).await.status, OperationStatus::Succeeded);

    set(&h, "db-password", "hunter2-value").await;
    let change = Box::new(with_secret("DB_PASSWORD", "db-password"));
    let update = h.run(Command::Update { service: Target::Name("web".into()), change }).await;
    assert_eq!(h.wait(&update.id).await.status, OperationStatus::Succeeded);
    // The old instance drains and stops after the new one is ready.
    let running = h.until("the old instance to stop", |h| Some(h.running()).filter(|r| r.len() == 1)).await;
    let spec = h.runtime.spec(&running[0].id).unwrap();
    assert!(spec.env.contains(&("DB_PASSWORD".to_owned(), "hunter2-value".to_owned())), "{:?}", spec.env);
    for line in h.events(&update.id).await {
        assert!(!line.contains("hunter2"), "{line}");
    }

    // A reference to a secret that does not exist: the deployment fails, saying what to do, and the
    // revision that serves keeps serving.
    let change = Box::new(with_secret("API_KEY", "api-key"));
    let update = h.run(Command::Update { service: Target::Name("web".into()), change }).await;
    let ended = h.wait(&update.id).await;
    assert_eq!(ended.status, OperationStatus::RollbackSucceeded, "{ended:?}");
    let expected = "secret api-key, referred to by API_KEY, does not exist: ferry secret set api-key";
    let events = h.events(&update.id).await;
    assert!(events.iter().any(|l| l.contains(expected)), "{events:#?}");
    let left = h.until("the new instances to stop", |h| Some(h.running()).filter(|r| r.len() == 1)).await;
    assert_eq!(left[0].id, running[0].id, "the old instance keeps serving");
}
