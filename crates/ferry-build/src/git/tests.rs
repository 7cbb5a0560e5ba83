use std::process::Command as StdCommand;
use std::sync::Mutex;

use ferry_model::{Builder, CodeConfiguration, ImageConfiguration};

use super::*;
use crate::{PlanRequest, RuntimeImages, context_tar, plan, source_dir};

/// A repository to fetch from, made with the git CLI (identity in its own config only).
struct Upstream {
    dir: tempfile::TempDir,
}

impl Upstream {
    fn new() -> Self {
        let up = Upstream { dir: tempfile::tempdir().unwrap() };
        up.git(&["init", "--quiet", "--initial-branch=main"]);
        up.git(&["config", "user.name", "Ferry Test"]);
        up.git(&["config", "user.email", "test@ferry.invalid"]);
        up
    }

    fn git(&self, args: &[&str]) -> String {
        let out = StdCommand::new("git").args(args).current_dir(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Writes the files and commits them; returns the commit id.
    fn commit(&self, files: &[(&str, &str)], subject: &str) -> String {
        for (name, text) in files {
            let path = self.dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "-m", subject]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn path(&self) -> String {
        self.dir.path().display().to_string()
    }
}

fn request<'a>(repository: &'a str, branch: &'a str, workdir: &'a Path) -> FetchRequest<'a> {
    FetchRequest {
        repository,
        branch,
        commit: None,
        credentials: None,
        workdir,
        timeout: Duration::from_secs(60),
    }
}

/// Collects the log lines.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn sink(&self) -> impl Fn(&str) + Send + Sync + '_ {
        |line: &str| self.0.lock().unwrap().push(line.to_owned())
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_branch_is_fetched_then_updated_incrementally_in_the_same_workdir() {
    let up = Upstream::new();
    let first = up.commit(&[("app.py", "v1"), ("old.txt", "x")], "first version");
    let work = tempfile::tempdir().unwrap();
    let log = Log::default();
    let repo = up.path();

    let checkout = fetch(&request(&repo, "main", work.path()), &log.sink()).await.unwrap();
    assert_eq!(checkout.commit, first);
    assert_eq!(fs::read_to_string(checkout.dir.join("app.py")).unwrap(), "v1");
    assert_eq!(
        log.lines(),
        [
            format!("starting a new repository in {}", work.path().display()),
            format!("fetching branch main of {repo}"),
            format!("checked out {} (first version)", &first[..7]),
        ]
    );

    fs::write(checkout.dir.join("untracked.txt"), "left over").unwrap();
    fs::write(checkout.dir.join("app.py"), "edited in place").unwrap();
    fs::remove_file(up.dir.path().join("old.txt")).unwrap();
    let second = up.commit(&[("app.py", "v2")], "second version");
    let again = fetch(&request(&repo, "main", work.path()), &log.sink()).await.unwrap();
    assert_eq!((again.commit.as_str(), again.dir.as_path()), (second.as_str(), checkout.dir.as_path()));
    assert_eq!(fs::read_to_string(again.dir.join("app.py")).unwrap(), "v2");
    assert!(!again.dir.join("old.txt").exists() && !again.dir.join("untracked.txt").exists());
    // The kept repository was reused: it still has the first fetch's commit, and said nothing about starting.
    let kept =
        StdCommand::new("git").args(["cat-file", "-e", &first]).current_dir(&again.dir).status().unwrap();
    assert!(kept.success());
    assert_eq!(log.lines().iter().filter(|l| l.starts_with("starting")).count(), 1);
}

#[tokio::test]
async fn a_pinned_commit_and_a_file_url_work() {
    let up = Upstream::new();
    let first = up.commit(&[("v", "1")], "one");
    up.commit(&[("v", "2")], "two");
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", up.path());
    let req = FetchRequest { commit: Some(&first), ..request(&url, "main", work.path()) };
    let log = Log::default();
    let checkout = fetch(&req, &log.sink()).await.unwrap();
    assert_eq!(checkout.commit, first);
    assert_eq!(fs::read_to_string(checkout.dir.join("v")).unwrap(), "1");
    assert_eq!(log.lines()[1], format!("fetching commit {} of {url}", &first[..7]));

    let latest = fetch(&request(&url, "main", work.path()), &log.sink()).await.unwrap();
    assert_eq!(fs::read_to_string(latest.dir.join("v")).unwrap(), "2");
}

#[tokio::test]
async fn fetch_errors_say_what_to_fix() {
    let up = Upstream::new();
    up.commit(&[("a", "")], "one");
    let work = tempfile::tempdir().unwrap();
    let repo = up.path();
    let quiet = |_: &str| {};

    let e = fetch(&request(&repo, "dev", work.path()), &quiet).await.unwrap_err();
    assert!(matches!(e, BuildError::Fetch(_)));
    assert_eq!(
        e.to_string(),
        format!(
            "branch \"dev\" does not exist in {repo}; push it, or set the service's branch to one that exists"
        )
    );

    let missing = format!("{repo}/nope");
    let e = fetch(&request(&missing, "main", work.path()), &quiet).await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("cannot reach repository {missing}: ")), "{e}");
    assert!(e.contains("does not appear to be a git repository") && e.ends_with("can reach the host"), "{e}");

    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let req = FetchRequest { commit: Some(unknown), ..request(&repo, "main", work.path()) };
    let e = fetch(&req, &quiet).await.unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("commit 0123456 is not in {repo}, or the host does not serve commits by id")),
        "{e}"
    );

    let req = FetchRequest { commit: Some("0123abc"), ..request(&repo, "main", work.path()) };
    let e = fetch(&req, &quiet).await.unwrap_err().to_string();
    assert_eq!(e, "\"0123abc\" is not a full commit id; give all 40 hex digits");

    let req = FetchRequest { timeout: Duration::ZERO, ..request(&repo, "main", work.path()) };
    let e = fetch(&req, &quiet).await.unwrap_err().to_string();
    assert!(e.starts_with(&format!("fetching {repo} took longer than 0 s")), "{e}");
}

#[tokio::test]
async fn a_monorepo_builds_its_source_directory_only() {
    let up = Upstream::new();
    up.commit(
        &[
            ("services/api/requirements.txt", "flask\n"),
            ("services/api/app.py", ""),
            ("services/web/package.json", "{}"),
            ("README.md", ""),
        ],
        "monorepo",
    );
    let work = tempfile::tempdir().unwrap();
    let repo = up.path();
    let checkout = fetch(&request(&repo, "main", work.path()), &|_| {}).await.unwrap();
    let dir = source_dir(&checkout, Some("/services/api")).unwrap();
    let configuration = CodeConfiguration::Repository { builder: Builder::Auto };
    let images = RuntimeImages::defaults();
    let defaults = ImageConfiguration::default();
    let plan = plan(&PlanRequest {
        source_dir: &dir,
        configuration: &configuration,
        defaults: &defaults,
        images: &images,
    })
    .unwrap();
    assert_eq!(plan.description, "detected python (requirements.txt)");
    let tar = context_tar(&dir, &plan, 1 << 20).unwrap();
    let mut names: Vec<String> = tar::Archive::new(tar.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, [".ferry/", ".ferry/Dockerfile", "app.py", "requirements.txt"]);

    let e = source_dir(&checkout, Some("services/worker")).unwrap_err().to_string();
    assert!(e.starts_with(&format!(
        "source directory services/worker does not exist in the repository at {}",
        &checkout.commit[..7]
    )));
}

#[tokio::test]
async fn credentials_go_through_private_files_that_are_removed_afterwards() {
    let work = tempfile::tempdir().unwrap();
    let basic =
        GitCredentials::Basic { username: "deploy".to_owned(), password: "s3cr3t 'quoted'".to_owned() };
    let auth = Auth::new(Some(&basic), work.path()).unwrap();
    let env: std::collections::HashMap<_, _> = auth.env.iter().cloned().collect();
    let script = PathBuf::from(&env["GIT_ASKPASS"]);
    assert_eq!(fs::metadata(&script).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(fs::metadata(script.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    let ask = |prompt: &str| {
        let out = StdCommand::new(&script).arg(prompt).env_clear().envs(&env).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(ask("Username for 'https://git.example.com': "), "deploy\n");
    assert_eq!(ask("Password for 'https://deploy@git.example.com': "), "s3cr3t 'quoted'\n");
    drop(auth);
    assert!(!script.exists() && !script.parent().unwrap().exists());

    let ssh = GitCredentials::SshKey {
        private_key: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----".to_owned(),
    };
    let auth = Auth::new(Some(&ssh), work.path()).unwrap();
    let command = &auth.env.iter().find(|(k, _)| k == "GIT_SSH_COMMAND").unwrap().1;
    let argv = shell_words::split(command).unwrap();
    let key = PathBuf::from(&argv[2]);
    assert_eq!(argv[..2], ["ssh", "-i"]);
    assert!(command.contains("-o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new"), "{command}");
    assert!(
        argv.contains(&format!("UserKnownHostsFile={}", work.path().join("known_hosts").display())),
        "{argv:?}"
    );
    assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(fs::read_to_string(&key).unwrap().ends_with("KEY-----\n"));
    drop(auth);
    assert!(!key.exists());

    // Credentials do not get in the way of a host that does not ask for them.
    let up = Upstream::new();
    up.commit(&[("a", "")], "one");
    let repo = up.path();
    let req = FetchRequest { credentials: Some(&basic), ..request(&repo, "main", work.path()) };
    assert!(fetch(&req, &|_| {}).await.is_ok());
}

#[test]
fn passwords_in_urls_and_git_output_are_hidden() {
    assert_eq!(redact("https://bot:ghp_abc@github.com/o/r.git"), "https://bot:***@github.com/o/r.git");
    assert_eq!(redact("https://github.com/o/r.git"), "https://github.com/o/r.git");
    assert_eq!(redact("git@github.com:o/r.git"), "git@github.com:o/r.git");
    assert_eq!(
        condense("hint: x\nfatal: unable to access 'https://h/': The requested URL returned error: 403\n"),
        "unable to access 'https://h/': The requested URL returned error: 403"
    );
}

#[tokio::test]
async fn a_damaged_kept_repository_is_started_afresh() {
    let up = Upstream::new();
    let commit = up.commit(&[("a", "1")], "one");
    // The workdir sits inside someone else's checkout, whose untracked files git clean must not touch.
    let outer = Upstream::new();
    fs::write(outer.dir.path().join("precious.txt"), "keep me").unwrap();
    let workdir = outer.dir.path().join("data/checkouts/svc");
    let work = workdir.as_path();
    let repo = up.path();
    let checkout = fetch(&request(&repo, "main", work), &|_| {}).await.unwrap();

    // A lock left by a git killed at the timeout.
    fs::write(checkout.dir.join(".git/index.lock"), "").unwrap();
    assert_eq!(fetch(&request(&repo, "main", work), &|_| {}).await.unwrap().commit, commit);

    fs::write(checkout.dir.join(".git/HEAD"), "garbage").unwrap();
    let log = Log::default();
    assert_eq!(fetch(&request(&repo, "main", work), &log.sink()).await.unwrap().commit, commit);
    let lines = log.lines();
    assert!(
        lines.iter().any(|l| l.contains("could not be used") && l.ends_with("starting it afresh")),
        "{lines:?}"
    );
    assert_eq!(fs::read_to_string(outer.dir.path().join("precious.txt")).unwrap(), "keep me");
}

#[tokio::test]
async fn a_branch_head_is_read_without_fetching_and_a_missing_branch_is_named() {
    let up = Upstream::new();
    let first = up.commit(&[("app.py", "v1")], "first");
    let work = tempfile::tempdir().unwrap();
    let repo = up.path();
    assert_eq!(branch_head(&request(&repo, "main", work.path())).await.unwrap(), first);
    let second = up.commit(&[("app.py", "v2")], "second");
    assert_eq!(branch_head(&request(&repo, "main", work.path())).await.unwrap(), second);
    // Nothing was fetched: the workdir holds no repository.
    assert!(!work.path().join("repo").exists());

    let err = branch_head(&request(&repo, "nope", work.path())).await.unwrap_err().to_string();
    assert!(err.contains("branch \"nope\" does not exist"), "{err}");
    let missing = work.path().join("no-such-repo").display().to_string();
    let err = branch_head(&request(&missing, "main", work.path())).await.unwrap_err().to_string();
    assert!(err.contains("cannot reach repository"), "{err}");
}

/// Serves `root`'s files over HTTP/1.1, one request per connection: what git's dumb HTTP protocol fetches
/// from (a bare repository after `git update-server-info`), as a plain web server would.
async fn static_files(root: PathBuf) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").trim_start_matches('/');
                let answer = match fs::read(root.join(path)) {
                    Ok(body) if !path.contains("..") => {
                        let mut answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        answer.extend(body);
                        answer
                    }
                    _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&answer).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_host_serving_git_over_dumb_http_is_fetched_whole() {
    let up = Upstream::new();
    up.commit(&[("v", "1")], "one");
    let second = up.commit(&[("v", "2")], "two");
    let served = tempfile::tempdir().unwrap();
    let bare = served.path().join("app.git");
    let bare_path = bare.display().to_string();
    up.git(&["clone", "--quiet", "--bare", &up.path(), &bare_path]);
    up.git(&["-C", &bare_path, "update-server-info"]);
    let url = format!("http://{}/app.git", static_files(served.path().to_owned()).await);

    let work = tempfile::tempdir().unwrap();
    let log = Log::default();
    let checkout = fetch(&request(&url, "main", work.path()), &log.sink()).await.unwrap();
    assert_eq!(checkout.commit, second);
    assert_eq!(fs::read_to_string(checkout.dir.join("v")).unwrap(), "2");
    let lines = log.lines();
    assert!(lines.iter().any(|l| l.contains("dumb HTTP protocol")), "{lines:?}");
}
