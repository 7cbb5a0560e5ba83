//! The app itself: which path answers what.

use crate::request::Request;
use crate::response::Response;

/// What the page shows about the instance that served it.
pub struct Instance {
    pub hostname: String,
    pub message: Option<String>,
}

/// Routes a request. `served` counts the requests this instance has answered, this one included.
pub fn route(req: &Request, instance: &Instance, served: u64) -> Response {
    let known = matches!(req.path(), "/" | "/healthz");
    if known && !matches!(req.method.as_str(), "GET" | "HEAD") {
        let mut res = Response::text(405, "method not allowed\n");
        res.extra_headers.push(("Allow", "GET, HEAD"));
        return res;
    }
    match req.path() {
        "/" => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: home(instance, served),
            extra_headers: vec![("Cache-Control", "no-store")],
        },
        "/healthz" => Response::text(200, "ok"),
        _ => Response::text(404, "not found\n"),
    }
}

fn home(instance: &Instance, served: u64) -> String {
    let message = match &instance.message {
        Some(m) => format!("    <p class=\"message\">{}</p>\n", escape(m)),
        None => String::new(),
    };
    let plural = if served == 1 { "" } else { "s" };
    format!(
        r#"<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Hello from ferry</title>
    <style>
      body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;
             color: #1f2937; line-height: 1.5; }}
      h1 {{ color: #0e7490; }}
      .message {{ font-size: 1.25rem; padding: .75rem 1rem; background: #ecfeff; border-radius: .5rem; }}
      code {{ background: #f1f5f9; padding: .1rem .3rem; border-radius: .25rem; }}
    </style>
  </head>
  <body>
    <h1>Hello from ferry</h1>
{message}    <p>This page was served by instance <code>{host}</code>,
       which has answered {served} request{plural} since it started.</p>
    <p>Set the <code>MESSAGE</code> environment variable on the service to change what it says.</p>
  </body>
</html>
"#,
        host = escape(&instance.hostname),
    )
}

/// Escapes text for use in HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::read_request;

    fn request(raw: &str) -> Request {
        read_request(&mut raw.as_bytes()).unwrap().unwrap()
    }

    fn instance(message: Option<&str>) -> Instance {
        Instance { hostname: "web-1".to_owned(), message: message.map(str::to_owned) }
    }

    #[test]
    fn home_page_says_hello_with_host_count_and_escaped_message() {
        let res = route(&request("GET / HTTP/1.1\r\n\r\n"), &instance(Some("<b>hi</b> & bye")), 3);
        assert_eq!(res.status, 200);
        assert!(res.content_type.starts_with("text/html"));
        assert!(res.body.contains("Hello from ferry"));
        assert!(res.body.contains("<code>web-1</code>"));
        assert!(res.body.contains("answered 3 requests"));
        assert!(res.body.contains("&lt;b&gt;hi&lt;/b&gt; &amp; bye"));
    }

    #[test]
    fn home_page_without_message_has_no_message_paragraph() {
        let res = route(&request("GET /?x=1 HTTP/1.1\r\n\r\n"), &instance(None), 1);
        assert!(!res.body.contains("class=\"message\""));
        assert!(res.body.contains("answered 1 request since"));
    }

    #[test]
    fn health_other_paths_and_methods() {
        let inst = instance(None);
        let healthz = route(&request("GET /healthz HTTP/1.1\r\n\r\n"), &inst, 1);
        assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok"));
        assert_eq!(route(&request("HEAD /healthz HTTP/1.1\r\n\r\n"), &inst, 1).status, 200);
        assert_eq!(route(&request("GET /nope HTTP/1.1\r\n\r\n"), &inst, 1).status, 404);
        assert_eq!(route(&request("POST / HTTP/1.1\r\n\r\n"), &inst, 1).status, 405);
        assert_eq!(route(&request("POST /elsewhere HTTP/1.1\r\n\r\n"), &inst, 1).status, 404);
    }
}
