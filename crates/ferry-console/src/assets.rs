//! The console's files, built into the binary.

use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use ferry_api::{ApiError, ErrorKind};

const INDEX: &str = include_str!("../assets/index.html");

/// Every file but the page itself: name, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    ("console.js", "text/javascript; charset=utf-8", include_str!("../assets/console.js")),
    ("service.js", "text/javascript; charset=utf-8", include_str!("../assets/service.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_str!("../assets/charts.js")),
    ("console.css", "text/css; charset=utf-8", include_str!("../assets/console.css")),
    ("favicon.svg", "image/svg+xml", include_str!("../assets/favicon.svg")),
];

fn serve(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated each time: a new server version's files are picked up at once.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

pub(crate) async fn index() -> Response {
    serve("text/html; charset=utf-8", INDEX)
}

pub(crate) async fn file(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => serve(content_type, body),
        None => {
            ApiError::new(ErrorKind::NotFound, format!("the console has no file {name:?}")).into_response()
        }
    }
}
