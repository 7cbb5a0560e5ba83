//! The console's routes through `oneshot`: sign-in, the cookie's attributes, the CSRF rule in front
//! of `/v1`, sign-out, and the security headers.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;

const TOKEN: &str = "ferry_test_admin_token";

/// The console in front of a stand-in `/v1` route that says whether the console vouched for it.
async fn app(secure: bool) -> Router {
    let store = Store::in_memory().expect("store");
    let hash = ferry_api::hash_token(TOKEN);
    store
        .call(move |db| db.insert_token("t1", "admin", &hash, Timestamp::now()))
        .await
        .expect("insert the token");
    async fn echo(req: Request<Body>) -> String {
        match req.extensions().get::<ConsoleSession>() {
            Some(s) => format!("vouched {}", s.token_hash),
            None => "not vouched".to_owned(),
        }
    }
    let api = Router::new().route("/v1/echo", get(echo).post(echo));
    mount(api, store, ConsoleConfig { secure })
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&body).into_owned())
}

fn sign_in_request(token: &str) -> Request<Body> {
    Request::post("/console/session")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::json!({ "token": token }).to_string()))
        .expect("request")
}

/// Signs in; returns the `Cookie` header to send and the CSRF token.
async fn signed_in(app: &Router) -> (String, String) {
    let (status, headers, body) = send(app, sign_in_request(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers.get(SET_COOKIE).expect("a cookie").to_str().expect("ascii").to_owned();
    let pair = cookie.split(';').next().expect("name=value").to_owned();
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    (pair, json["csrf"].as_str().expect("csrf").to_owned())
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_never_echoes_the_token() {
    let app = app(false).await;
    let (status, headers, body) = send(&app, sign_in_request(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers.get(SET_COOKIE).expect("a cookie").to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains(TOKEN) && !body.contains(TOKEN), "{cookie} {body}");
    let id = cookie.split(';').next().unwrap().strip_prefix("ferry_console=").unwrap();
    assert_eq!(id.len(), 64, "256 bits in hex");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["token_name"], "admin");
    assert_eq!(json["scope"], "admin");

    let secure = app_secure_cookie().await;
    assert!(secure.contains("; Secure"), "{secure}");

    let (status, _, body) = send(&app, sign_in_request("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not valid") && body.contains("\"field\":\"token\""), "{body}");
}

async fn app_secure_cookie() -> String {
    let app = app(true).await;
    let (_, headers, _) = send(&app, sign_in_request(TOKEN)).await;
    headers.get(SET_COOKIE).unwrap().to_str().unwrap().to_owned()
}

#[tokio::test]
async fn cookie_requests_that_change_things_need_the_csrf_header() {
    let app = app(false).await;
    let (cookie, csrf) = signed_in(&app).await;
    let req = |method: &str, csrf: Option<&str>| {
        let mut b = Request::builder().method(method).uri("/v1/echo").header("cookie", &cookie);
        if let Some(csrf) = csrf {
            b = b.header("x-csrf-token", csrf);
        }
        b.body(Body::empty()).unwrap()
    };
    let (status, _, body) = send(&app, req("GET", None)).await;
    assert_eq!((status, body.starts_with("vouched")), (StatusCode::OK, true), "reads need no CSRF: {body}");
    let (status, _, body) = send(&app, req("POST", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("X-CSRF-Token"), "{body}");
    let (status, _, _) = send(&app, req("POST", Some("0".repeat(64).as_str()))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let (status, _, body) = send(&app, req("POST", Some(&csrf))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!("vouched {}", ferry_api::hash_token(TOKEN)));

    // A bearer client is untouched, cookie or not; an unknown cookie vouches for nothing.
    let bearer = Request::post("/v1/echo")
        .header("cookie", &cookie)
        .header("authorization", "Bearer x")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, bearer).await.2, "not vouched");
    let stranger =
        Request::post("/v1/echo").header("cookie", "ferry_console=abc").body(Body::empty()).unwrap();
    assert_eq!(send(&app, stranger).await.2, "not vouched");
    // Another site's page cannot use the session even with the token.
    let cross = Request::post("/v1/echo")
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("host", "127.0.0.1:7700")
        .header("origin", "http://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, cross).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = app(false).await;
    let (cookie, csrf) = signed_in(&app).await;
    let whoami = || Request::get("/console/session").header("cookie", &cookie).body(Body::empty()).unwrap();
    let (status, headers, body) = send(&app, whoami()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&csrf));
    assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store");
    let out = |csrf: &str| {
        Request::delete("/console/session")
            .header("cookie", &cookie)
            .header("x-csrf-token", csrf)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, out("nope")).await.0, StatusCode::FORBIDDEN, "no signing out from elsewhere");
    let (status, headers, _) = send(&app, out(&csrf)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.get(SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(send(&app, whoami()).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_form_signs_in_too_but_not_from_another_site() {
    let app = app(false).await;
    let form = |origin: Option<&str>| {
        let mut b = Request::post("/console/session")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "127.0.0.1:7700");
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(Body::from(format!("token={}", TOKEN.replace('_', "%5F")))).unwrap()
    };
    let (status, headers, _) = send(&app, form(Some("http://127.0.0.1:7700"))).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers.get(LOCATION).unwrap(), "/console/");
    assert!(headers.get(SET_COOKIE).is_some());
    let (status, headers, _) = send(&app, form(Some("http://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_no_inline_code() {
    let app = app(false).await;
    for path in [
        "/console/",
        "/console/console.js",
        "/console/service.js",
        "/console/charts.js",
        "/console/console.css",
    ] {
        let (status, headers, body) = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers.get("content-security-policy").unwrap(), CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(headers.get(X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert_eq!(headers.get(REFERRER_POLICY).unwrap(), "no-referrer");
        if path.ends_with(".js") {
            assert!(!body.contains(".innerHTML") && !body.contains("insertAdjacentHTML"), "{path}");
        }
        if path == "/console/" {
            assert!(!body.contains("<script>") && !body.contains("style="), "no inline code: {body}");
        }
    }
    let (status, headers, _) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers.get(LOCATION).unwrap(), "/console/");
    let (status, _, _) = send(&app, Request::get("/console/nope.js").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
