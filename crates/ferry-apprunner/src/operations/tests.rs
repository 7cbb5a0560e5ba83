//! Operations run against an in-memory store through `dispatch`, as the API runs them (the input model's
//! checks, `validate.rs`, have their own tests).

use std::sync::Arc;

use ferry_command::{Commands, Dispatch};
use ferry_model::{Arn, ImageRef, ServiceId, Timestamp};
use ferry_store::Store;

use super::*;
use crate::{AppRunnerConfig, AppRunnerTls};

struct Quiet;

impl Dispatch for Quiet {
    fn queued(&self, _service: &ServiceId) {}
}

fn state() -> ApiState {
    let store = Store::in_memory().expect("an in-memory store");
    let config = AppRunnerConfig {
        arn: Arn { region: "local".into(), account: "000000000000".into() },
        domain: "localhost".into(),
        port: None,
        hooks_host: "hooks.localhost".into(),
        tls: Some(AppRunnerTls { dns01: false, domains_changed: Arc::new(|| {}) }),
    };
    ApiState { commands: Commands::new(store.clone(), Arc::new(Quiet)), store, config: Arc::new(config) }
}

async fn call(state: &ApiState, operation: &str, input: Value) -> Result<Value, AwsError> {
    dispatch(state, operation, &input).await
}

#[test]
fn a_token_past_every_item_ends_the_list() {
    // The token is the client's: the largest number must neither overflow nor go on.
    let listed = paged(vec![json!(1), json!(2)], usize::MAX, 20, "Items");
    assert_eq!(listed, json!({ "Items": [] }));
    assert_eq!(paged(vec![json!(1), json!(2)], 0, 1, "Items"), json!({ "Items": [1], "NextToken": "1" }));
}

#[tokio::test]
async fn auto_scaling_configurations_are_listed_latest_revision_only_unless_asked() {
    let state = state();
    for _ in 0..2 {
        call(&state, "CreateAutoScalingConfiguration", json!({ "AutoScalingConfigurationName": "small" }))
            .await
            .expect("created");
    }
    let revisions = |listed: Value| -> Vec<u64> {
        let list = listed["AutoScalingConfigurationSummaryList"].as_array().expect("a list").clone();
        list.iter()
            .filter(|c| c["AutoScalingConfigurationName"] == "small")
            .map(|c| c["AutoScalingConfigurationRevision"].as_u64().expect("a revision"))
            .collect()
    };
    // App Runner's LatestOnly defaults to true.
    let listed = call(&state, "ListAutoScalingConfigurations", json!({})).await.expect("listed");
    assert_eq!(revisions(listed), [2]);
    let all = json!({ "LatestOnly": false });
    let listed = call(&state, "ListAutoScalingConfigurations", all).await.expect("listed");
    assert_eq!(revisions(listed), [1, 2]);
}

#[tokio::test]
async fn a_deleted_service_takes_no_custom_domain() {
    let state = state();
    let name = ServiceName::parse("gone").expect("valid");
    let spec = ServiceSpec::for_image(ImageRef::parse("127.0.0.1:5000/web:v1").expect("valid"));
    let made = state
        .commands
        .execute(Command::Create { name, spec: Box::new(spec) }, Trigger::Api)
        .await
        .expect("created");
    let arn = state.config.service_arn(&made.service);
    let id = made.service.id.clone();
    state.store.call(move |db| db.mark_deleted(&id, Timestamp::now())).await.expect("deleted");

    let input = json!({ "ServiceArn": arn, "DomainName": "app.example.com" });
    let refused = call(&state, "AssociateCustomDomain", input).await.expect_err("a deleted service");
    assert_eq!(refused.code, "InvalidStateException", "{refused:?}");
    assert!(refused.message.contains("is deleted"), "{refused:?}");
    let domains = state.store.call(|db| db.all_domains()).await.expect("read");
    assert!(domains.is_empty(), "the domain is not held by the deleted service: {domains:?}");
}

#[tokio::test]
async fn deleting_every_revision_takes_the_arn_without_a_revision() {
    let state = state();
    for _ in 0..2 {
        call(&state, "CreateAutoScalingConfiguration", json!({ "AutoScalingConfigurationName": "small" }))
            .await
            .expect("created");
    }
    let one = state.config.autoscaling_arn("small", 1);
    let refused = call(
        &state,
        "DeleteAutoScalingConfiguration",
        json!({ "AutoScalingConfigurationArn": one, "DeleteAllRevisions": true }),
    )
    .await
    .expect_err("a revision's ARN with DeleteAllRevisions");
    assert_eq!(refused.code, "InvalidRequestException");
    assert!(refused.message.contains("autoscalingconfiguration/small)"), "{}", refused.message);
    let smalls = |listed: Value| {
        let list = listed["AutoScalingConfigurationSummaryList"].as_array().expect("a list").clone();
        list.iter().filter(|c| c["AutoScalingConfigurationName"] == "small").count()
    };
    let all = json!({ "LatestOnly": false });
    // Nothing went.
    assert_eq!(smalls(call(&state, "ListAutoScalingConfigurations", all.clone()).await.unwrap()), 2);

    let by_name = state.config.arn.autoscaling("small", 0).trim_end_matches("/0").to_owned();
    let deleted = call(
        &state,
        "DeleteAutoScalingConfiguration",
        json!({ "AutoScalingConfigurationArn": by_name, "DeleteAllRevisions": true }),
    )
    .await
    .expect("every revision deleted");
    assert_eq!(deleted["AutoScalingConfiguration"]["Status"], "INACTIVE");
    assert_eq!(smalls(call(&state, "ListAutoScalingConfigurations", all).await.unwrap()), 0);
}

#[tokio::test]
async fn service_members_ferry_cannot_honour_are_refused_by_path() {
    let state = state();
    let source = |config: Value| {
        json!({ "ImageRepository": {
            "ImageIdentifier": "127.0.0.1:5000/web:v1",
            "ImageRepositoryType": "ECR_PUBLIC",
            "ImageConfiguration": config,
        }})
    };
    let create = |extra: Value, config: Value| {
        let mut input = json!({ "ServiceName": "web-app", "SourceConfiguration": source(config) });
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        input
    };
    let cases = [
        (
            create(json!({ "NetworkConfiguration": { "IpAddressType": "DUAL_STACK" } }), json!({})),
            "NetworkConfiguration.IpAddressType: DUAL_STACK is not chosen per service",
        ),
        (
            create(json!({}), json!({ "RuntimeEnvironmentVariables": { "BAD": "a\u{0}b" } })),
            "ImageConfiguration.RuntimeEnvironmentVariables.BAD: ",
        ),
        (
            create(
                json!({}),
                json!({ "RuntimeEnvironmentSecrets": {
                    "DB": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db:password::"
                } }),
            ),
            "ImageConfiguration.RuntimeEnvironmentSecrets.DB: ",
        ),
    ];
    for (input, expected) in cases {
        let refused = call(&state, "CreateService", input).await.expect_err("refused");
        assert_eq!(refused.code, "InvalidRequestException");
        assert!(refused.message.contains(expected), "{expected:?} in {}", refused.message);
    }
    // An SSM parameter's hierarchical name is the whole name, as `/v1` and apprunner.yaml take it.
    let ssm = json!({ "RuntimeEnvironmentSecrets": {
        "DB": "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db"
    } });
    let refused = call(&state, "CreateService", create(json!({}), ssm)).await.expect_err("no such secret");
    assert!(refused.message.contains("no secret named prod/db"), "{}", refused.message);
    let listed = call(&state, "ListServices", json!({})).await.unwrap();
    assert_eq!(listed["ServiceSummaryList"], json!([]));
}
