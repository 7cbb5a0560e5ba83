//! Fetching a repository with the `git` CLI into a directory ferry keeps per service.
//!
//! The directory holds a plain repository (`<workdir>/repo`) that is fetched into, shallowly
//! (`--depth 1`), then checked out detached and cleaned: the second build of a service fetches only
//! the objects that changed, and the worktree is exactly the commit. A host that speaks only git's dumb
//! HTTP protocol (static files, no shallow fetches) is fetched whole instead. One fetch per workdir at a time:
//! the caller builds a service's revisions one after another.
//!
//! Safety: the URL and branch are validated upstream and still never sit where git reads options
//! (the URL follows `--`; the branch is inside `refs/heads/…`). Credentials never reach the command
//! line or ferry's own environment: a user name and password are handed over through `GIT_ASKPASS`, a
//! script in a private temporary directory that prints environment variables set on the git child
//! only; an SSH key is written to a 0600 file in that directory for `GIT_SSH_COMMAND`. The directory
//! is removed when the fetch ends, however it ends. `GIT_TERMINAL_PROMPT=0` and a null stdin make git
//! fail instead of waiting for a person; `LC_ALL=C` keeps its messages in the English ferry reads.
//!
//! A pinned `commit` is fetched by id (`git fetch <url> <sha>`). Local paths, `file://` and the big
//! hosts (GitHub, GitLab) allow this; a self-hosted server may refuse ids it does not advertise
//! (`uploadpack.allowReachableSHA1InWant`), and the error then says so.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ferry_model::GitCredentials;
use tokio::process::Command;

use crate::BuildError;

pub struct FetchRequest<'a> {
    pub repository: &'a str,
    pub branch: &'a str,
    /// Check out this commit instead of the branch's latest (rebuilding an old revision). A full
    /// 40-hex id.
    pub commit: Option<&'a str>,
    pub credentials: Option<&'a GitCredentials>,
    /// A directory ferry keeps for this service's checkout (created if missing; reused between builds
    /// so fetches are incremental).
    pub workdir: &'a Path,
    pub timeout: Duration,
}

/// A clean worktree at one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub dir: PathBuf,
    /// 40 hex digits.
    pub commit: String,
}

/// Fetches the branch (or `commit`) and checks it out clean, logging one line per step.
pub async fn fetch(
    req: &FetchRequest<'_>,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<Checkout, BuildError> {
    let shown = redact(req.repository);
    if let Some(c) = req.commit
        && !(c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(BuildError::Fetch(format!("{c:?} is not a full commit id; give all 40 hex digits")));
    }
    match tokio::time::timeout(req.timeout, fetch_in_time(req, &shown, log)).await {
        Ok(result) => result,
        Err(_) => Err(BuildError::Fetch(format!(
            "fetching {shown} took longer than {} s; check that the host is reachable and answers, or raise the \
             build timeout",
            req.timeout.as_secs()
        ))),
    }
}

async fn fetch_in_time(
    req: &FetchRequest<'_>,
    shown: &str,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<Checkout, BuildError> {
    let repo = req.workdir.join("repo");
    let auth = Auth::new(req.credentials, req.workdir)?;
    let git = Git { repo: &repo, auth: &auth, secret: secret(req.credentials) };
    let kept = repo.join(".git").is_dir();
    if kept {
        remove_stale_locks(&repo);
    } else {
        start(&git, req, shown, log).await?;
    }
    match sync(&git, req, shown, log).await {
        // A kept repository that git cannot use (damaged by a kill mid-write, a disk problem): the
        // checkout is only a cache, so start it afresh once rather than fail every build from now on.
        Err(Step::Other(e)) if kept => {
            log(&format!("the kept repository could not be used ({e}); starting it afresh"));
            start(&git, req, shown, log).await?;
            sync(&git, req, shown, log).await.map_err(Step::into_error)
        }
        result => result.map_err(Step::into_error),
    }
}

/// A failed step: the user's to fix (branch, access, commit), or anything else.
enum Step {
    User(BuildError),
    Other(BuildError),
}

impl Step {
    fn into_error(self) -> BuildError {
        match self {
            Step::User(e) | Step::Other(e) => e,
        }
    }
}

/// The commit at the head of `req.branch` in `req.repository` now (`git ls-remote`), without fetching
/// anything: what a poller asks. `req.commit` is ignored; `req.workdir` is created if missing and holds
/// nothing but the SSH known-hosts file.
pub async fn branch_head(req: &FetchRequest<'_>) -> Result<String, BuildError> {
    let shown = redact(req.repository);
    let ask = async {
        fs::create_dir_all(req.workdir)
            .map_err(|e| BuildError::Fetch(format!("cannot prepare {}: {e}", req.workdir.display())))?;
        let auth = Auth::new(req.credentials, req.workdir)?;
        let git = Git { repo: req.workdir, auth: &auth, secret: secret(req.credentials) };
        let wanted = format!("refs/heads/{}", req.branch);
        let args = ["ls-remote", "--heads", "--", req.repository, wanted.as_str()];
        let out = git.run("ls-remote", &args).await.map_err(|f| explain(f, req, &shown).into_error())?;
        let head = out.lines().find_map(|line| {
            let (commit, name) = line.split_once('\t')?;
            (name == wanted && commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| commit.to_ascii_lowercase())
        });
        head.ok_or_else(|| {
            BuildError::Fetch(format!(
                "branch {:?} does not exist in {shown}; push it, or set the service's branch to one that exists",
                req.branch
            ))
        })
    };
    match tokio::time::timeout(req.timeout, ask).await {
        Ok(result) => result,
        Err(_) => Err(BuildError::Fetch(format!(
            "asking {shown} for branch {:?} took longer than {} s; check that the host is reachable",
            req.branch,
            req.timeout.as_secs()
        ))),
    }
}

/// A new, empty repository (replacing a half-made one).
async fn start(
    git: &Git<'_>,
    req: &FetchRequest<'_>,
    shown: &str,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), BuildError> {
    log(&format!("starting a new repository in {}", req.workdir.display()));
    let io = |e: std::io::Error| BuildError::Fetch(format!("cannot prepare {}: {e}", git.repo.display()));
    if git.repo.exists() {
        fs::remove_dir_all(git.repo).map_err(io)?;
    }
    fs::create_dir_all(git.repo).map_err(io)?;
    git.run("init", &["-c", "init.defaultBranch=ferry", "init", "--quiet"])
        .await
        .map_err(|f| f.into_error(shown))?;
    Ok(())
}

/// Fetch, check out clean, and read the commit.
async fn sync(
    git: &Git<'_>,
    req: &FetchRequest<'_>,
    shown: &str,
    log: &(dyn Fn(&str) + Send + Sync),
) -> Result<Checkout, Step> {
    let target = match req.commit {
        Some(commit) => {
            log(&format!("fetching commit {} of {shown}", &commit[..7]));
            commit.to_ascii_lowercase()
        }
        None => {
            log(&format!("fetching branch {} of {shown}", req.branch));
            format!("refs/heads/{}", req.branch)
        }
    };
    let fetch_args = ["fetch", "--quiet", "--depth", "1", "--no-tags", "--", req.repository, target.as_str()];
    match git.run("fetch", &fetch_args).await {
        // A host serving git's "dumb" HTTP protocol (static files) cannot hand out one commit alone.
        Err(f) if f.stderr.contains("does not support shallow") => {
            log(&format!(
                "{shown} is served over git's dumb HTTP protocol, which cannot fetch shallowly: \
                 fetching the whole history"
            ));
            let full = ["fetch", "--quiet", "--no-tags", "--", req.repository, target.as_str()];
            git.run("fetch", &full).await.map_err(|f| explain(f, req, shown))?;
        }
        fetched => {
            fetched.map_err(|f| explain(f, req, shown))?;
        }
    }
    let other = |f: Failure| Step::Other(f.into_error(shown));
    let checkout =
        ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", "--detach", "FETCH_HEAD"];
    git.run("checkout", &checkout).await.map_err(other)?;
    git.run("clean", &["clean", "-ffdxq"]).await.map_err(other)?;
    let commit = git.run("rev-parse", &["rev-parse", "HEAD"]).await.map_err(other)?.trim().to_owned();
    let subject = git.run("log", &["log", "-1", "--format=%s", "HEAD"]).await.map_err(other)?;
    log(&format!("checked out {} ({})", &commit[..commit.len().min(7)], subject.trim()));
    Ok(Checkout { dir: git.repo.to_owned(), commit })
}

/// Lock files a git killed by the timeout leaves behind. Only one fetch uses a workdir at a time, so a
/// lock present before it starts is stale.
fn remove_stale_locks(repo: &Path) {
    for name in
        ["index.lock", "shallow.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "FETCH_HEAD.lock"]
    {
        let _ = fs::remove_file(repo.join(".git").join(name));
    }
}

struct Git<'a> {
    repo: &'a Path,
    auth: &'a Auth,
    /// Removed from anything git prints.
    secret: Option<&'a str>,
}

/// What a failed git step printed, condensed.
struct Failure {
    step: &'static str,
    stderr: String,
}

impl Failure {
    fn into_error(self, shown: &str) -> BuildError {
        BuildError::Fetch(format!("git {} failed for {shown}: {}", self.step, self.stderr))
    }
}

impl Git<'_> {
    fn ceiling(&self) -> PathBuf {
        let repo = std::path::absolute(self.repo).unwrap_or_else(|_| self.repo.to_owned());
        repo.parent().map(Path::to_owned).unwrap_or(repo)
    }

    async fn run(&self, step: &'static str, args: &[&str]) -> Result<String, Failure> {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(self.repo)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            // Never discover a repository above ours (a data directory inside someone's checkout): if
            // ours is damaged, git must fail rather than work on the enclosing one.
            .env("GIT_CEILING_DIRECTORIES", self.ceiling())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &self.auth.env {
            cmd.env(k, v);
        }
        let out = cmd.output().await.map_err(|e| Failure {
            step,
            stderr: format!("cannot run git ({e}); install git on the ferry server"),
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut stderr = condense(&String::from_utf8_lossy(&out.stderr));
        if let Some(secret) = self.secret.filter(|s| !s.is_empty()) {
            stderr = stderr.replace(secret, "***");
        }
        if stderr.is_empty() {
            stderr = format!("git exited with {}", out.status);
        }
        Err(Failure { step, stderr })
    }
}

/// git's stderr on one line: no hints, no `fatal:` prefixes, at most 400 characters.
fn condense(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
        .map(|l| l.trim_start_matches("fatal: ").trim_start_matches("error: "))
        .collect();
    let mut text = lines.join("; ");
    if text.len() > 400 {
        let mut end = 400;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The fetch's failure in words that say what to fix.
fn explain(failure: Failure, req: &FetchRequest<'_>, shown: &str) -> Step {
    let e = &failure.stderr;
    let has = |needles: &[&str]| needles.iter().any(|n| e.contains(n));
    let message = if let Some(commit) =
        req.commit.filter(|_| has(&["not our ref", "remote ref", "no such remote"]))
    {
        format!(
            "commit {} is not in {shown}, or the host does not serve commits by id; check the commit, or deploy \
             the branch's latest ({e})",
            &commit[..7]
        )
    } else if has(&["couldn't find remote ref"]) {
        format!(
            "branch {:?} does not exist in {shown}; push it, or set the service's branch to one that exists",
            req.branch
        )
    } else if has(&[
        "Authentication failed",
        "could not read Username",
        "could not read Password",
        "terminal prompts disabled",
        "Permission denied (publickey",
        "Access denied",
        "returned error: 401",
        "returned error: 403",
        "Invalid username or password",
    ]) {
        format!(
            "authentication failed for {shown}: check the credentials (user name and token, or SSH key) and that \
             they may read the repository ({e})"
        )
    } else if has(&[
        "does not appear to be a git repository",
        "Could not resolve host",
        "Connection refused",
        "Connection timed out",
        "unable to access",
        "not found",
        "Could not read from remote repository",
        "Host key verification failed",
    ]) {
        format!("cannot reach repository {shown}: {e}; check the URL and that this server can reach the host")
    } else {
        return Step::Other(failure.into_error(shown));
    };
    Step::User(BuildError::Fetch(message))
}

/// `https://user:token@host/x` → `https://user:***@host/x`, for logs and errors.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

fn secret(credentials: Option<&GitCredentials>) -> Option<&str> {
    match credentials {
        Some(GitCredentials::Basic { password, .. }) => Some(password),
        _ => None,
    }
}

/// Environment for git children that carries credentials, and the private directory behind it.
struct Auth {
    env: Vec<(String, String)>,
    /// Removed on drop, with the script or key inside.
    _dir: Option<tempfile::TempDir>,
}

/// Prints the user name or the password git asks for, from variables set on the git child only.
const ASKPASS: &str = "#!/bin/sh\ncase \"$1\" in\n  Username*) printf '%s\\n' \"$FERRY_GIT_USERNAME\" ;;\n  *) printf '%s\\n' \"$FERRY_GIT_PASSWORD\" ;;\nesac\n";

impl Auth {
    fn new(credentials: Option<&GitCredentials>, workdir: &Path) -> Result<Self, BuildError> {
        let Some(credentials) = credentials else { return Ok(Self { env: Vec::new(), _dir: None }) };
        let io = |e: std::io::Error| BuildError::Fetch(format!("cannot prepare the git credentials: {e}"));
        fs::create_dir_all(workdir).map_err(io)?;
        let dir = tempfile::Builder::new().prefix("ferry-git-").tempdir().map_err(io)?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).map_err(io)?;
        let env = match credentials {
            GitCredentials::Basic { username, password } => {
                let script = dir.path().join("askpass");
                write_private(&script, ASKPASS, 0o700).map_err(io)?;
                vec![
                    ("GIT_ASKPASS".to_owned(), script.display().to_string()),
                    ("FERRY_GIT_USERNAME".to_owned(), username.clone()),
                    ("FERRY_GIT_PASSWORD".to_owned(), password.clone()),
                ]
            }
            GitCredentials::SshKey { private_key } => {
                let key = dir.path().join("key");
                let mut text = private_key.replace("\r\n", "\n");
                if !text.ends_with('\n') {
                    // OpenSSH refuses a key without its final newline.
                    text.push('\n');
                }
                write_private(&key, &text, 0o600).map_err(io)?;
                let known_hosts = workdir.join("known_hosts");
                let quote = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
                let command = format!(
                    "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} \
                     -o BatchMode=yes",
                    quote(&key),
                    quote(&known_hosts)
                );
                vec![("GIT_SSH_COMMAND".to_owned(), command)]
            }
        };
        Ok(Self { env, _dir: Some(dir) })
    }
}

fn write_private(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests;
