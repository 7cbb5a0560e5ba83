use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Api, web};

const VALUE: &str = "s3cr3t-value-never-shown";

fn with_secret(env: &str, secret: &str) -> Value {
    let mut req = web();
    req["source"]["image"]["secrets"] = json!({ env: secret });
    req
}

fn assert_no_value(what: &str, body: &Value) {
    assert!(!body.to_string().contains(VALUE), "{what} shows the value: {body}");
}

#[tokio::test]
async fn secrets_are_set_listed_and_deleted_and_no_answer_shows_a_value() {
    let api = Api::new().await;
    let (status, body) = api.authed("PUT", "/v1/secrets/prod%2Fdb", Some(json!({ "value": VALUE }))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["created"].as_bool(), body["secret"]["name"].as_str()), (Some(true), Some("prod/db")));
    assert_no_value("set", &body);
    let (status, body) = api.authed("PUT", "/v1/secrets/prod%2Fdb", Some(json!({ "value": "v2" }))).await;
    assert_eq!((status, body["created"].as_bool()), (StatusCode::OK, Some(false)), "{body}");
    assert_eq!(body["secret"]["version"], 2);

    // A service refers to it by name, or by an ARN whose name is taken.
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db";
    let (status, body) = api.authed("POST", "/v1/services", Some(with_secret("DB", arn))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_no_value("create", &body);
    assert_eq!(body["service"]["source"]["image"]["secrets"], json!({"DB": "prod/db"}));
    let (_, described) = api.authed("GET", "/v1/services/web", None).await;
    assert_eq!(described["source"]["image"]["secrets"], json!({"DB": "prod/db"}));
    assert_no_value("describe", &described);
    let (_, revisions) = api.authed("GET", "/v1/services/web/revisions", None).await;
    assert_no_value("revisions", &revisions);

    let (status, list) = api.authed("GET", "/v1/secrets", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["secrets"][0]["name"], "prod/db");
    assert_eq!(list["secrets"][0]["services"], json!(["web"]));
    assert!(list["secrets"][0].get("value").is_none(), "{list}");

    // In use: kept, naming the service, unless forced.
    let (status, body) = api.authed("DELETE", "/v1/secrets/prod%2Fdb", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("used by web") && message.contains("force=true"), "{message}");
    let (status, _) = api.authed("DELETE", "/v1/secrets/prod%2Fdb?force=true", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.authed("DELETE", "/v1/secrets/prod%2Fdb", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn services_cannot_refer_to_secrets_that_do_not_exist() {
    let api = Api::new().await;
    let (status, body) = api.authed("POST", "/v1/services", Some(with_secret("DB", "missing"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "source.image.secrets.DB");
    assert!(body["error"]["message"].as_str().unwrap().contains("ferry secret set missing"), "{body}");

    let (status, _) = api.authed("POST", "/v1/services", Some(web())).await;
    assert_eq!(status, StatusCode::CREATED);
    let update = json!({"image": {"secrets": {"API_KEY": "nope"}}});
    let (status, body) = api.authed("PATCH", "/v1/services/web", Some(update)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "image.secrets.API_KEY");

    // A variable cannot be both plain and secret.
    api.authed("PUT", "/v1/secrets/key", Some(json!({ "value": VALUE }))).await;
    let update = json!({"image": {"env": {"API_KEY": "plain"}, "secrets": {"API_KEY": "key"}}});
    let (status, body) = api.authed("PATCH", "/v1/services/web", Some(update)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("API_KEY is both"), "{body}");
    let (status, body) = api
        .authed("PATCH", "/v1/services/web", Some(json!({"image": {"secrets": {"API_KEY": "key"}}})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api
        .authed("PATCH", "/v1/services/web", Some(json!({"image": {"secrets_remove": ["API_KEY"]}})))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    for (uri, value) in [("/v1/secrets/has%20space", json!("x")), ("/v1/secrets/ok", json!("nul\u{0}"))] {
        let (status, body) = api.authed("PUT", uri, Some(json!({ "value": value }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
    }
}
