//! Which commands can run before the source is copied in, so the engine caches their layer.
//!
//! A generated Dockerfile copies the dependency manifests, runs the dependency installs, and only then
//! copies the rest of the source (`COPY . .`): a change to application code then reuses the cached
//! install layer. A command moves before the copy only when it provably reads nothing but the manifests
//! (or nothing from the source at all, like `pip3 install pipenv` or `yum install -y openssl`):
//!
//! - `pip`/`pip3`/`python3 -m pip install` with `-r FILE` (the file, and the files it includes, are
//!   copied too) and package names; not `-e`, `.` or a local path, nor a requirements file that
//!   names one;
//! - `pipenv install` (not with `path =` or editable packages in the `Pipfile`);
//! - `npm install`/`npm ci`/`yarn install`/`yarn` (not with install scripts — `preinstall`, `install`,
//!   `postinstall`, `prepare` — `workspaces`, or `file:`/`link:` dependencies in `package.json`);
//! - `bundle install` (not with `gemspec`, `path:` or `eval_gemfile` in the `Gemfile`);
//! - `composer install` (not with `scripts`, a `classmap` autoload or `path` repositories);
//! - `go mod download` (not with a `replace` pointing to a local directory);
//! - `gem install`, `yum`/`dnf`/`microdnf install`, `apt-get update`/`install`, `apk add` with names.
//!
//! Commands chained with `&&` qualify when every part does; any other shell syntax (pipes, `;`,
//! redirections, substitutions, quotes with specifiers like `"flask>=2"`) does not, and such a command
//! runs after the copy. A wrong "no" costs a cache miss; a wrong "yes" would break the build, so
//! every doubt answers no.

use crate::dockerfile::Recipe;
use crate::ignore::DockerIgnore;
use crate::repo::Repo;

/// The files each tool's install reads, copied before it runs (those that exist).
const PIPENV: &[&str] = &["Pipfile", "Pipfile.lock"];
const NODE: &[&str] =
    &["package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", ".npmrc", ".yarnrc"];
const BUNDLER: &[&str] = &["Gemfile", "Gemfile.lock"];
const COMPOSER: &[&str] = &["composer.json", "composer.lock"];
const GO: &[&str] = &["go.mod", "go.sum"];

/// Whether `command` needs nothing from the source but manifests; the files it reads are added to
/// `files`.
pub(crate) fn before_source(command: &str, repo: &Repo<'_>, files: &mut Vec<String>) -> bool {
    if command.contains(['|', ';', '<', '>', '`', '$', '(', ')', '\n', '\\', '"', '\'', '*', '?', '['])
        || command.replace("&&", "").contains('&')
    {
        return false;
    }
    let mut found = Vec::new();
    let existing = |names: &[&str]| -> Vec<String> {
        names.iter().filter(|n| repo.is_file(n)).map(|n| (*n).to_owned()).collect()
    };
    let ok = command.split("&&").all(|part| {
        let argv: Vec<&str> = part.split_whitespace().collect();
        match argv.as_slice() {
            ["pip" | "pip3", "install", rest @ ..]
            | ["python" | "python3", "-m", "pip", "install", rest @ ..] => {
                let mut named = Vec::new();
                let ok = pip_install(rest, repo, &mut named);
                found.extend(named);
                ok
            }
            ["pipenv", "install", rest @ ..] => {
                found.extend(existing(PIPENV));
                names_only(rest) && pipfile_ok(repo)
            }
            ["npm", "install" | "i" | "ci", rest @ ..] => {
                let global = rest.iter().any(|a| *a == "-g" || *a == "--global");
                if !global {
                    found.extend(existing(NODE));
                }
                names_only(rest) && (global || package_json_ok(repo))
            }
            ["yarn"] | ["yarn", "install", ..] => {
                found.extend(existing(NODE));
                names_only(&argv[1..]) && package_json_ok(repo)
            }
            ["bundle", "install", ..] => {
                found.extend(existing(BUNDLER));
                gemfile_ok(repo)
            }
            ["composer", "install", rest @ ..] => {
                found.extend(existing(COMPOSER));
                // Without scripts and autoloader, composer reads only its manifests.
                let bare = rest.contains(&"--no-scripts") && rest.contains(&"--no-autoloader");
                composer_ok(repo, bare)
            }
            ["go", "mod", "download", rest @ ..] => {
                found.extend(existing(GO));
                names_only(rest) && go_mod_ok(repo)
            }
            ["gem", "install", rest @ ..] | ["apk", "add", rest @ ..] => names_only(rest),
            ["yum" | "dnf" | "microdnf" | "apt-get" | "apt", "install", rest @ ..] => names_only(rest),
            ["apt-get" | "apt", "update", rest @ ..] => names_only(rest),
            _ => false,
        }
    });
    if ok {
        for f in found {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    ok
}

/// Adds `command` to `recipe`: before the copy (with the files it reads) while every command so far
/// went there and this one needs only manifests that reach the context; else after the copy.
pub(crate) fn place(recipe: &mut Recipe, command: &str, repo: &Repo<'_>, ignore: &DockerIgnore) {
    let mut files = Vec::new();
    if recipe.build.is_empty()
        && before_source(command, repo, &mut files)
        && files.iter().all(|f| !ignore.is_excluded(f))
    {
        files.retain(|f| !recipe.manifests.contains(f));
        recipe.manifests.extend(files);
        recipe.deps.push(command.to_owned());
    } else {
        recipe.build.push(command.to_owned());
    }
}

/// Flags and package names; nothing that names a local path or file.
fn names_only(args: &[&str]) -> bool {
    args.iter().all(|a| {
        a.starts_with('-') && !a.contains('/')
            || (!a.starts_with('-')
                && !a.starts_with(['.', '/', '~'])
                && !a.contains('/')
                && !a.ends_with(".whl")
                && !a.ends_with(".tar.gz")
                && !a.ends_with(".zip"))
    })
}

fn pip_install(args: &[&str], repo: &Repo<'_>, files: &mut Vec<String>) -> bool {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        match flag {
            "-r" | "--requirement" | "-c" | "--constraint" => {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v,
                            None => return false,
                        }
                    }
                };
                if !requirements_ok(value, repo, files, 0) {
                    return false;
                }
            }
            "-i" | "--index-url" | "--extra-index-url" | "--trusted-host" | "--timeout" | "--retries"
            | "--progress-bar" | "--upgrade-strategy" | "--only-binary" | "--no-binary"
                if inline.is_none() =>
            {
                // The option's value is the next word.
                i += 1;
            }
            "-i" | "--index-url" | "--extra-index-url" | "--trusted-host" | "--timeout" | "--retries"
            | "--progress-bar" | "--upgrade-strategy" | "--only-binary" | "--no-binary" => {}
            "-e" | "--editable" | "-f" | "--find-links" | "-t" | "--target" | "--prefix" | "--root"
            | "--src" => {
                return false;
            }
            _ if !names_only(&[arg]) => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

/// A requirements file that names only packages (and other such files, which are copied too).
fn requirements_ok(path: &str, repo: &Repo<'_>, files: &mut Vec<String>, depth: usize) -> bool {
    let clean = path.trim_start_matches("./");
    // Copied by name into the Dockerfile: plain names only.
    let plain = clean.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
    if depth > 4 || !plain || clean.starts_with('/') || clean.split('/').any(|p| p == ".." || p.is_empty()) {
        return false;
    }
    let Ok(Some(text)) = repo.read(clean) else { return false };
    if !files.iter().any(|f| f == clean) {
        files.push(clean.to_owned());
    }
    let base = clean.rsplit_once('/').map_or("", |(dir, _)| dir);
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .all(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["-r" | "--requirement" | "-c" | "--constraint", nested] => {
                    let nested =
                        if base.is_empty() { (*nested).to_owned() } else { format!("{base}/{nested}") };
                    requirements_ok(&nested, repo, files, depth + 1)
                }
                [flag, ..] if flag.starts_with("-e") || flag.starts_with("--editable") => false,
                [flag, ..] if flag.starts_with("-f") || flag.starts_with("--find-links") => false,
                [flag, ..] if flag.starts_with('-') => true,
                _ => !line.starts_with(['.', '/', '~']) && !line.contains("file:") && !line.contains(" @ ."),
            }
        })
}

fn pipfile_ok(repo: &Repo<'_>) -> bool {
    matches!(repo.read("Pipfile"), Ok(Some(t)) if !t.contains("path =") && !t.contains("path=") && !t.contains("editable"))
}

/// `package.json` without install-time scripts, workspaces or local dependencies.
fn package_json_ok(repo: &Repo<'_>) -> bool {
    let Ok(Some(text)) = repo.read("package.json") else { return false };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    let scripts_ok = ["preinstall", "install", "postinstall", "prepare", "prepublish"]
        .iter()
        .all(|s| json.get("scripts").and_then(|v| v.get(s)).is_none());
    let local = ["dependencies", "devDependencies", "optionalDependencies"].iter().any(|k| {
        json.get(k).and_then(|d| d.as_object()).is_some_and(|deps| {
            deps.values()
                .any(|v| v.as_str().is_some_and(|s| s.starts_with("file:") || s.starts_with("link:")))
        })
    });
    scripts_ok && !local && json.get("workspaces").is_none()
}

fn gemfile_ok(repo: &Repo<'_>) -> bool {
    matches!(repo.read("Gemfile"), Ok(Some(t))
        if !t.lines().any(|l| l.trim_start().starts_with("gemspec")) && !t.contains("path:") && !t.contains(":path")
            && !t.contains("eval_gemfile"))
}

/// `composer.json` whose install runs no scripts and scans no source directories (`bare`: the install
/// runs neither), and has no `path` repositories.
fn composer_ok(repo: &Repo<'_>, bare: bool) -> bool {
    let Ok(Some(text)) = repo.read("composer.json") else { return false };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    let classmap =
        ["autoload", "autoload-dev"].iter().any(|k| json.get(k).and_then(|a| a.get("classmap")).is_some());
    let path_repo = json
        .get("repositories")
        .and_then(|r| r.as_array())
        .is_some_and(|rs| rs.iter().any(|r| r.get("type").and_then(|t| t.as_str()) == Some("path")));
    (bare || json.get("scripts").is_none() && !classmap) && !path_repo
}

fn go_mod_ok(repo: &Repo<'_>) -> bool {
    matches!(repo.read("go.mod"), Ok(Some(t))
        if !t.lines().any(|l| l.contains("=>") && l.split("=>").nth(1).is_some_and(|to| to.trim_start().starts_with(['.', '/']))))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn check(files: &[(&str, &str)], command: &str) -> (bool, Vec<String>) {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = tmp.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let repo = Repo::open(tmp.path()).unwrap();
        let mut extra = Vec::new();
        let ok = before_source(command, &repo, &mut extra);
        (ok, extra)
    }

    #[test]
    fn installs_that_need_only_manifests_go_before_the_source() {
        let reqs = [
            ("requirements.txt", "flask==3.0\n-r requirements/base.txt\n"),
            ("requirements/base.txt", "gunicorn\n"),
        ];
        assert_eq!(
            check(&reqs, "pip install --no-cache-dir -r requirements.txt"),
            (true, vec!["requirements.txt".to_owned(), "requirements/base.txt".to_owned()])
        );
        assert!(check(&reqs, "python3 -m pip install -r requirements.txt && pip3 install gunicorn").0);
        assert!(check(&[], "pip3 install pipenv").0);
        assert!(
            check(
                &[],
                "pip install --index-url=https://pypi.example.com/simple -i https://x/simple gunicorn"
            )
            .0
        );
        assert!(check(&[("Pipfile", "[packages]\nflask = \"*\"\n")], "pipenv install --deploy").0);
        assert!(check(&[("package.json", r#"{"dependencies":{"express":"^4"}}"#)], "npm ci").0);
        assert!(
            check(&[("package.json", r#"{"scripts":{"start":"node ."}}"#)], "yarn install --frozen-lockfile")
                .0
        );
        assert!(check(&[("Gemfile", "source 'https://rubygems.org'\ngem 'sinatra'\n")], "bundle install").0);
        assert!(check(&[("composer.json", r#"{"require":{"slim/slim":"^4"}}"#)], "composer install").0);
        assert!(check(&[("go.mod", "module x\n\ngo 1.22\n")], "go mod download").0);
        assert!(check(&[], "yum install -y openssl").0);
    }

    #[test]
    fn anything_that_may_read_the_source_goes_after_it() {
        let pkg_script = [("package.json", r#"{"scripts":{"postinstall":"node scripts/x.js"}}"#)];
        let cases: Vec<(&[(&str, &str)], &str)> = vec![
            (&[("requirements.txt", "-e .\n")], "pip install -r requirements.txt"),
            (&[("requirements.txt", "./libs/x\n")], "pip install -r requirements.txt"),
            (&[], "pip install -r requirements.txt"),
            (&[], "pip install ."),
            (&[], "pip install -e ."),
            (&[], "pip install \"flask>=2\""),
            (&pkg_script, "npm install"),
            (&[("package.json", r#"{"dependencies":{"a":"file:../a"}}"#)], "npm ci"),
            (&[("Gemfile", "gemspec\n")], "bundle install"),
            (&[("composer.json", r#"{"scripts":{"post-install-cmd":"x"}}"#)], "composer install"),
            (&[("go.mod", "module x\nreplace y => ./y\n")], "go mod download"),
            (&[], "./scripts/setup.sh"),
            (&[], "wget -c https://example.com/x.tar.gz -O - | tar -xz"),
            (&[], "npm install; rm -rf /"),
            (&[], "make deps"),
        ];
        for (files, command) in cases {
            assert!(!check(files, command).0, "{command} with {files:?}");
        }
    }
}
