//! The web console in a real browser: Debian's `chromium`, driven headless through `chromedriver`
//! over the W3C WebDriver protocol (a minimal client below, on the harness's HTTP/1.1 helper). The
//! scenario signs in, creates a service from the test app image, watches it reach RUNNING, sees its
//! requests counted in the chart, changes its configuration, rolls back, pauses, and sees a bad
//! input's error in the API's words; on the way it checks the session cookie's attributes, the CSRF
//! rule, the Content-Security-Policy, and that an app-controlled string is shown as text. Screenshots
//! of the main pages go to `target/console-screenshots/`.
//!
//! Without chromium or chromedriver the test fails (it does not skip): `scripts/setup` installs both.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, http, poll, repo_root, testapp_image};

const XSS: &str = "<img src=x onerror=alert(1)>";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session through chromedriver, ended (and chromedriver killed) on drop.
struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
    shots: PathBuf,
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

impl Browser {
    fn start() -> Self {
        let chromium = find_binary(&["chromium", "chromium-browser"]).expect(
            "chromium is not installed: the console's browser test needs Debian's `chromium` and \
             `chromium-driver` (scripts/setup installs them: apt-get install chromium chromium-driver)",
        );
        let chromedriver = find_binary(&["chromedriver"])
            .expect("chromedriver is not installed: install Debian's `chromium-driver` (scripts/setup does)");
        // A port the kernel picked, released for chromedriver to take (it has no port-0 option).
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            _profile: tempfile::tempdir().expect("profile dir"),
            shots: repo_root().join("target/console-screenshots"),
        };
        poll("chromedriver to answer /status", Duration::from_secs(30), || {
            let (_, text) = driver_http(addr, "GET", "/status", "").ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        });
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        // Chromium's sandbox refuses to run as root; the tests run as root in CI containers.
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if uid.is_ok_and(|u| u == "0") {
            args.push("--no-sandbox".to_owned());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.to_string_lossy(), "args": args},
        }}});
        let created = browser.raw("POST", "/session", Some(caps));
        browser.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromium did not start under chromedriver: {created}"))
            .to_owned();
        std::fs::create_dir_all(&browser.shots).expect("create target/console-screenshots");
        browser
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = driver_http(self.addr, method, path, &body)
            .unwrap_or_else(|e| panic!("chromedriver did not answer {method} {path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("chromedriver said {status}: {text}"))
    }

    /// A command on the session; panics on a WebDriver error.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.raw(method, &format!("/session/{}{path}", self.session), body);
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("WebDriver {method} {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs a script in the page (WebDriver's script runs outside the page's CSP) and returns its value.
    fn eval(&self, script: &str) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    fn find(&self, css: &str) -> String {
        poll(&format!("an element matching {css:?}"), Duration::from_secs(20), || {
            let v = self.raw(
                "POST",
                &format!("/session/{}/element", self.session),
                Some(json!({"using": "css selector", "value": css})),
            );
            v["value"][ELEMENT].as_str().map(str::to_owned)
        })
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Clears the field and types `text`, as a user would.
    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.cmd("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the page's element `css` has text for which `ok` holds; returns it.
    fn wait_text(&self, css: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let script = format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            serde_json::to_string(css).unwrap()
        );
        let mut last = String::new();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            poll(&format!("{css} to show what the test waits for"), limit, || {
                last = self.eval(&script).as_str().unwrap_or_default().to_owned();
                ok(&last).then(|| last.clone())
            })
        }));
        found.unwrap_or_else(|_| {
            let shot = self.screenshot("failure");
            let alert = self.eval("return document.getElementById('alert').textContent");
            panic!(
                "timed out waiting on {css} (last text {last:?}; alert {alert}; screenshot {})",
                shot.display()
            )
        })
    }

    /// Saves the window (or one element) as a PNG; returns its path.
    fn screenshot_of(&self, name: &str, element: Option<&str>) -> PathBuf {
        let path = match element {
            Some(css) => format!("/element/{}/screenshot", self.find(css)),
            None => "/screenshot".to_owned(),
        };
        let b64 = self.cmd("GET", &path, None);
        let png = base64_decode(b64.as_str().expect("base64 PNG"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let file = self.shots.join(format!("{name}.png"));
        std::fs::write(&file, png).expect("write screenshot");
        println!("screenshot: {}", file.display());
        file
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        self.screenshot_of(name, None)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = driver_http(self.addr, "DELETE", &format!("/session/{}", self.session), "");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One request to chromedriver, whose answers carry a Content-Length but whose connections stay open
/// (it ignores `Connection: close`), so the body is read by its length rather than to the end.
fn driver_http(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut text = Vec::new();
    match length {
        Some(n) => {
            text.resize(n, 0);
            reader.read_exact(&mut text)?;
        }
        None => {
            reader.read_to_end(&mut text)?;
        }
    }
    Ok((status, String::from_utf8_lossy(&text).into_owned()))
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = s.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_what_webdriver_sends() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}

#[test]
fn the_console_in_a_real_browser() {
    let browser = Browser::start();
    let server = Server::start();
    let api = server.api;
    let host = api.to_string();
    let console = format!("http://{api}/");
    let create_body = |image: &str| {
        json!({"name": "bad", "source": {"image": {"identifier": image, "port": 8080, "env": {}}},
               "instance": {"cpu": "1 vCPU", "memory": "2 GB"}, "autoscaling": {"min_size": 1, "max_size": 1}})
    };

    // The page and its policy.
    let page = http(api, "GET", &host, "/console/", &[], b"");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a Content-Security-Policy");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));

    // Sign in: `/` redirects to the console, which asks for a token.
    browser.goto(&console);
    browser.find("#token");
    assert!(browser.eval("return location.pathname").as_str() == Some("/console/"));
    browser.screenshot("1-sign-in");
    browser.type_into("#token", "not-a-token");
    browser.click("#sign-in");
    browser.wait_text("#sign-in-error", Duration::from_secs(10), |t| t.contains("not valid"));
    browser.type_into("#token", &server.token);
    browser.click("#sign-in");
    browser.find("table#services");
    assert_eq!(browser.eval("return document.getElementById('token')"), Value::Null);

    // The cookie: HttpOnly and SameSite=Strict, unreadable by the page's script.
    let cookies = browser.cmd("GET", "/cookie", None);
    let cookie = cookies
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == "ferry_console"))
        .unwrap_or_else(|| panic!("no session cookie in {cookies}"))
        .clone();
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Strict", "{cookie}");
    assert_eq!(browser.eval("return document.cookie"), "", "the page's script cannot read the session");
    let session_cookie = format!("ferry_console={}", cookie["value"].as_str().expect("value"));
    assert!(!session_cookie.contains(&server.token));

    // Create a service from the test app image, with an app-controlled string in its environment.
    browser.click("a[href='#/new']");
    browser.type_into("#new-name", "web");
    browser.type_into("#new-image", &testapp_image());
    browser.type_into("#new-env", &format!("TESTAPP_MESSAGE=first\nSHOWN={XSS}"));
    browser.click("#new-cpu option[value='0.5 vCPU']");
    browser.click("#new-memory option[value='1 GB']");
    browser.screenshot("2-create");
    browser.click("#create");
    browser.wait_text("#svc-status", Duration::from_secs(180), |t| t == "RUNNING");
    browser.wait_text("#op-status", Duration::from_secs(30), |t| t == "SUCCEEDED");
    let log = browser.text("#op-log");
    assert!(!log.trim().is_empty(), "the deployment's log is shown");

    // The app-controlled string is text, not markup, and ran nothing.
    let config = browser.text("#config");
    assert!(config.contains(XSS), "{config}");
    assert_eq!(browser.eval("return document.querySelectorAll('main img').length"), 0);
    let alert = browser.raw("GET", &format!("/session/{}/alert/text", browser.session), None);
    assert_eq!(alert["value"]["error"], "no such alert", "{alert}");

    // Traffic through the router is counted in the chart.
    for _ in 0..12 {
        let r = server.get("web", "/");
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("message=first"), "{}", r.body);
    }
    let counted = poll("the requests chart to count the traffic", Duration::from_secs(90), || {
        let total = browser.eval(
            "const f = document.querySelector('figure[data-chart=requests]'); return f ? Number(f.dataset.total) : 0;",
        );
        total.as_f64().filter(|t| *t >= 12.0)
    });
    println!("the requests chart counted {counted}");
    browser.screenshot("3-service");
    browser.eval("document.getElementById('metrics').scrollIntoView()");
    browser.screenshot("4-charts");

    // A request with the cookie that changes something, without the CSRF header, is refused.
    let sneaky = http(api, "POST", &host, "/v1/services/web/pause", &[("Cookie", &session_cookie)], b"");
    assert_eq!(sneaky.status, 403, "{}", sneaky.body);
    assert!(sneaky.body.contains("X-CSRF-Token"), "{}", sneaky.body);
    assert_eq!(server.describe("web")["status"], "RUNNING", "nothing was paused");
    // With the header the same cookie is the admin token (a missing token: 404, not 401 or 403).
    let who = http(api, "GET", &host, "/console/session", &[("Cookie", &session_cookie)], b"");
    let csrf =
        serde_json::from_str::<Value>(&who.body).expect("session json")["csrf"].as_str().unwrap().to_owned();
    let revoke = http(
        api,
        "DELETE",
        &host,
        "/v1/tokens/no-such-token",
        &[("Cookie", &session_cookie), ("X-CSRF-Token", &csrf)],
        b"",
    );
    assert_eq!(revoke.status, 404, "{}", revoke.body);

    // The application log, live.
    browser.wait_text("#app-log", Duration::from_secs(30), |t| t.contains("testapp listening on"));

    // A configuration change (with request logs on) makes revision 2.
    browser.type_into("#edit-env", &format!("TESTAPP_MESSAGE=second\nSHOWN={XSS}"));
    browser.type_into("#edit-request-logs", "on");
    browser.click("#save");
    poll("revision 2 to serve", Duration::from_secs(180), || {
        let d = server.describe("web");
        (d["active_revision"] == 2 && d["status"] == "RUNNING").then_some(())
    });
    assert!(server.get("web", "/").body.contains("message=second"));
    browser.wait_text("#op-status", Duration::from_secs(30), |t| t == "SUCCEEDED");
    // The request log, live: the request just made, and one more.
    assert_eq!(server.get("web", "/live-request").status, 404, "the test app knows only a few paths");
    browser.wait_text("#request-log", Duration::from_secs(30), |t| t.contains("GET /live-request 404"));
    browser.eval("document.getElementById('logs').scrollIntoView()");
    browser.screenshot("5-logs");

    // Roll back to revision 1 from its button.
    browser.find("#rollback-1");
    browser.screenshot_of("6-revisions", Some("#revisions"));
    browser.click("#rollback-1");
    poll("the rollback to serve revision 1's configuration", Duration::from_secs(180), || {
        let d = server.describe("web");
        let body = server.get("web", "/").body;
        (d["status"] == "RUNNING" && body.contains("message=first")).then_some(())
    });
    browser.wait_text("#svc-status", Duration::from_secs(30), |t| t == "RUNNING");

    // Pause.
    browser.click("#pause");
    browser.wait_text("#svc-status", Duration::from_secs(120), |t| t == "PAUSED");
    browser.find("#resume");

    // A bad input's error, in the API's words.
    let bad_image = "Not A Valid Image!!";
    let bearer = format!("Bearer {}", server.token);
    let refused = http(
        api,
        "POST",
        &host,
        "/v1/services",
        &[("Authorization", &bearer), ("Content-Type", "application/json")],
        create_body(bad_image).to_string().as_bytes(),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    let message = serde_json::from_str::<Value>(&refused.body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.click("a[href='#/new']");
    browser.type_into("#new-name", "bad");
    browser.type_into("#new-image", bad_image);
    browser.click("#create");
    let shown = browser.wait_text("#create-error", Duration::from_secs(20), |t| !t.is_empty());
    assert!(shown.starts_with(&message), "the page shows {shown:?}, the API says {message:?}");
    assert!(browser.text("#alert").contains(&message));
    browser.screenshot("7-error");

    // The services list on a phone-sized window: one column, still usable.
    browser.cmd("POST", "/window/rect", Some(json!({"width": 390, "height": 844})));
    browser.click("a[href='#/']");
    browser.wait_text("table#services tbody", Duration::from_secs(20), |t| {
        t.contains("web") && t.contains("PAUSED")
    });
    browser.screenshot("8-services-phone");
    browser.click("a[href='#/s/web']");
    browser.wait_text("#svc-status", Duration::from_secs(20), |t| t == "PAUSED");
    browser.screenshot("9-service-phone");

    // Delete, after typing the name.
    browser.click("#delete");
    browser.type_into("#delete-name", "wrong");
    browser.click("#delete-confirm");
    browser.wait_text("#alert", Duration::from_secs(10), |t| t.contains("to confirm"));
    assert_eq!(server.describe("web")["status"], "PAUSED", "not deleted without the name");
    browser.type_into("#delete-name", "web");
    browser.click("#delete-confirm");
    browser.wait_text("h1", Duration::from_secs(20), |t| t == "Services");
    poll("the service to be deleted", Duration::from_secs(120), || {
        let out = server.ferry(&["service", "describe", "web", "-o", "json"]);
        let gone = !out.status.success()
            || serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|d| d["status"] == "DELETED");
        gone.then_some(())
    });

    // Signing out ends the session: the old cookie no longer works.
    browser.click("#sign-out");
    browser.find("#token");
    let after = http(api, "GET", &host, "/v1/services", &[("Cookie", &session_cookie)], b"");
    assert_eq!(after.status, 401, "{}", after.body);
}
