use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Api;

const PASSWORD: &str = "gh-token-never-shown";

fn assert_no_secret(what: &str, body: &Value) {
    assert!(!body.to_string().contains(PASSWORD), "{what} shows the password: {body}");
}

fn code_service(name: &str, connection: &str) -> Value {
    json!({"name": name, "source": {"code_repository": {
        "repository_url": "https://git.example.com/o/r.git", "connection": connection}}})
}

/// A token of `scope`, made by the admin.
async fn token(api: &Api, scope: &str) -> String {
    let (status, body) =
        api.authed("POST", "/v1/tokens", Some(json!({"name": format!("t-{scope}"), "scope": scope}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn connections_are_made_pending_given_credentials_and_never_show_them() {
    let api = Api::new().await;
    let (status, body) = api.authed("POST", "/v1/connections", Some(json!({"name": "gh-main"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["provider"].as_str(), body["status"].as_str()),
        (Some("GIT"), Some("PENDING_HANDSHAKE"))
    );
    let (status, body) =
        api.authed("POST", "/v1/connections", Some(json!({"name": "bb-1", "provider": "BitBucket"}))).await;
    assert_eq!((status, body["provider"].as_str()), (StatusCode::CREATED, Some("BITBUCKET")), "{body}");
    let (status, body) = api.authed("POST", "/v1/connections", Some(json!({"name": "gh-main"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for (bad, field) in [
        (json!({"name": "ab"}), "name"),
        (json!({"name": "-abc"}), "name"),
        (json!({"name": "abcd", "provider": "gitlab"}), "provider"),
    ] {
        let (status, body) = api.authed("POST", "/v1/connections", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }

    let basic = json!({"username": "bot", "password": PASSWORD});
    let (status, body) = api.authed("PUT", "/v1/connections/gh-main/credentials", Some(basic.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["status"].as_str(), body["credentials"].as_str()), (Some("AVAILABLE"), Some("basic")));
    assert_no_secret("credentials", &body);
    let (status, _) = api.authed("PUT", "/v1/connections/nope-1/credentials", Some(basic)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) =
        api.authed("PUT", "/v1/connections/gh-main/credentials", Some(json!({"username": "bot"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "half credentials are refused: {body}");

    let (status, list) = api.authed("GET", "/v1/connections", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = list["connections"].as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, [json!("bb-1"), json!("gh-main")]);
    assert_eq!(list["connections"][1]["status"], "AVAILABLE");
    assert_no_secret("list", &list);
    let (_, doc) = api.authed("GET", "/v1/openapi.json", None).await;
    assert!(doc["paths"]["/v1/connections/{name}/credentials"]["put"].is_object());
}

#[tokio::test]
async fn services_name_existing_connections_and_keep_them_from_deletion() {
    let api = Api::new().await;
    let (status, body) = api.authed("POST", "/v1/services", Some(code_service("shop", "gh-main"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "source.code_repository.connection");
    assert!(body["error"]["message"].as_str().unwrap().contains("ferry connection create gh-main"), "{body}");

    api.authed("POST", "/v1/connections", Some(json!({"name": "gh-main"}))).await;
    api.authed("POST", "/v1/connections", Some(json!({"name": "gh-other"}))).await;
    let creds = json!({"username": "bot", "password": PASSWORD});
    api.authed("PUT", "/v1/connections/gh-main/credentials", Some(creds)).await;
    // Pending connections are taken too: the build says what to do.
    let (status, body) = api.authed("POST", "/v1/services", Some(code_service("shop", "gh-main"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["service"]["source"]["code_repository"]["connection"], "gh-main");
    assert!(body["service"]["source"]["code_repository"].get("credentials").is_none(), "{body}");
    assert_no_secret("create", &body);
    let (_, described) = api.authed("GET", "/v1/services/shop", None).await;
    assert_no_secret("describe", &described);

    // A connection and credentials together: which to drop.
    let mut both = code_service("both", "gh-main");
    both["source"]["code_repository"]["credentials"] = json!({"username": "u", "password": "p"});
    let (status, body) = api.authed("POST", "/v1/services", Some(both)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("drop the credentials"), "{body}");

    let (_, list) = api.authed("GET", "/v1/connections", None).await;
    assert_eq!(list["connections"][0]["services"], json!(["shop"]));
    let (status, body) = api.authed("DELETE", "/v1/connections/gh-main", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("used by shop") && message.contains("force=true"), "{message}");

    // Updates: another connection, one that does not exist, none.
    let (status, body) =
        api.authed("PATCH", "/v1/services/shop", Some(json!({"code": {"connection": "gh-none"}}))).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("code.connection")));
    let (status, body) =
        api.authed("PATCH", "/v1/services/shop", Some(json!({"code": {"connection": "gh-other"}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["service"]["source"]["code_repository"]["connection"], "gh-other");
    let both = json!({"code": {"connection": "gh-main", "credentials": {"username": "u", "password": "p"}}});
    let (status, body) = api.authed("PATCH", "/v1/services/shop", Some(both)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a connection and credentials in one update: {body}");
    let (status, body) =
        api.authed("PATCH", "/v1/services/shop", Some(json!({"code": {"connection": ""}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(
        body["service"]["source"]["code_repository"].get("connection").is_none(),
        "\"\" drops it: {body}"
    );
    let (status, body) = api
        .authed(
            "PATCH",
            "/v1/services/shop",
            Some(json!({"code": {"credentials": {"username": "u", "password": "p"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let code = &body["service"]["source"]["code_repository"];
    assert_eq!((code.get("connection"), code["credentials"].as_str()), (None, Some("basic")), "{body}");

    let (status, _) = api.authed("DELETE", "/v1/connections/gh-other?force=true", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.authed("DELETE", "/v1/connections/gh-other", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_make_connections_and_give_them_credentials() {
    let api = Api::new().await;
    let deploy = token(&api, "deploy").await;
    let read = token(&api, "read-only").await;
    let made = Some(json!({"name": "gh-main"}));
    for refused in [&read, &deploy] {
        let (status, _) = api.call("POST", "/v1/connections", made.clone(), Some(refused)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = api.authed("POST", "/v1/connections", made).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let creds = Some(json!({"username": "bot", "password": PASSWORD}));
    let (status, body) = api.call("PUT", "/v1/connections/gh-main/credentials", creds, Some(&deploy)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("admin"), "{body}");
    let (status, list) = api.call("GET", "/v1/connections", None, Some(&read)).await;
    assert_eq!(
        (status, list["connections"][0]["status"].as_str()),
        (StatusCode::OK, Some("PENDING_HANDSHAKE"))
    );
    let (status, _) = api.call("DELETE", "/v1/connections/gh-main", None, Some(&deploy)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.authed("DELETE", "/v1/connections/gh-main", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
