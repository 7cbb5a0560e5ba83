//! Builds for detected languages: one template each, all single-stage on the language's image.
//!
//! Every template copies its manifests and installs dependencies before `COPY . .` when the install
//! needs nothing else (see `deps.rs`), and otherwise after it. The start command comes from, in order:
//! the service's start command, a `Procfile` `web:` line, then the language's convention below.
//!
//! - **Python** (`python311` image): `pip install --no-cache-dir -r requirements.txt` when it lists a
//!   requirement; else with a `Pipfile`, `pip install pipenv && pipenv install --system` (`--deploy`
//!   with a lock); after the copy, `pip install --no-cache-dir .` for a `setup.py` or a
//!   `pyproject.toml` with `[project]`/`[build-system]`. Start: `python3 app.py`, `main.py` or
//!   `server.py`, the first that exists.
//! - **Node.js** (`nodejs22`): `npm ci` with `package-lock.json`/`npm-shrinkwrap.json`, `yarn install
//!   --frozen-lockfile` with `yarn.lock`, else `npm install`, only when `package.json` declares
//!   dependencies; `npm run build` after the copy when there is a `build` script. `node_modules/.bin` is
//!   put on `PATH`, and the `start` script runs directly (not through npm, which a replaced image may
//!   lack); else `node` with `main`, `index.js` or `server.js`.
//! - **Go** (`go1`): `go mod download`, then `go build -o /app/.ferry-server .`; start the binary.
//! - **Rust** (`rust`): `cargo fetch` against a stub `src/main.rs` for a plain package (no workspace,
//!   no explicit targets, no path dependencies) so downloads are cached, then `cargo build --release`;
//!   start `/app/target/release/<the first [[bin]] name, else the package name>`.
//! - **Ruby** (`ruby31`): `bundle install`; start only from a `Procfile`.
//! - **PHP** (`php81`): when `composer.json` requires packages or defines an autoloader, composer is
//!   copied from the `composer:2` image (and `unzip` installed if missing), `composer install --no-dev
//!   --no-scripts --no-autoloader` runs before the copy and `composer dump-autoload --optimize` after
//!   it. Start: `php -S 0.0.0.0:$PORT -t public` (or `-t .` without `public/`).
//! - **Static** (`static`): `python3 -m http.server "$PORT" --bind 0.0.0.0 --directory /app`.

use crate::deps::place;
use crate::detect::Language;
use crate::dockerfile::Recipe;
use crate::ignore::DockerIgnore;
use crate::repo::Repo;
use crate::{BuildError, RuntimeImages};

pub(crate) struct Ctx<'a> {
    pub repo: &'a Repo<'a>,
    pub ignore: &'a DockerIgnore,
    pub images: &'a RuntimeImages,
    /// The service's own start command, which wins.
    pub start: Option<&'a str>,
}

impl Ctx<'_> {
    fn install(&self, recipe: &mut Recipe, command: &str) {
        place(recipe, command, self.repo, self.ignore);
    }
}

/// The `RuntimeImages` key a detected language builds on.
pub(crate) fn image_key(language: Language) -> &'static str {
    match language {
        Language::Python => "python311",
        Language::Nodejs => "nodejs22",
        Language::Go => "go1",
        Language::Rust => "rust",
        Language::Ruby => "ruby31",
        Language::Php => "php81",
        Language::Static => "static",
    }
}

pub(crate) fn recipe(ctx: &Ctx<'_>, language: Language, description: &str) -> Result<Recipe, BuildError> {
    let repo = ctx.repo;
    let key = image_key(language);
    let mut r = Recipe {
        header: description.to_owned(),
        image: ctx.images.for_key(key).to_owned(),
        ..Recipe::default()
    };
    let mut conventional: Option<String> = None;
    let mut looked_for: Vec<String> = Vec::new();
    match language {
        Language::Python => {
            let requirements = repo.read("requirements.txt")?.unwrap_or_default();
            if requirements.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with('#')) {
                ctx.install(&mut r, "pip install --no-cache-dir -r requirements.txt");
            } else if repo.is_file("Pipfile") {
                let lock = if repo.is_file("Pipfile.lock") { "--deploy" } else { "--skip-lock" };
                ctx.install(
                    &mut r,
                    &format!("pip install --no-cache-dir pipenv && pipenv install --system {lock}"),
                );
            }
            let pyproject = repo.read("pyproject.toml")?.unwrap_or_default();
            let package = pyproject.lines().any(|l| matches!(l.trim(), "[project]" | "[build-system]"));
            if repo.is_file("setup.py") || package {
                r.build.push("pip install --no-cache-dir .".to_owned());
            }
            conventional = first_existing(repo, &mut looked_for, &["app.py", "main.py", "server.py"], &|f| {
                format!("python3 {f}")
            });
        }
        Language::Nodejs => {
            let text = repo.read("package.json")?.unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                BuildError::config(
                    "package.json",
                    Some(e.line()),
                    format!("it is not valid JSON: {e}; fix it"),
                )
            })?;
            let declares = |k: &str| json.get(k).and_then(|d| d.as_object()).is_some_and(|d| !d.is_empty());
            if declares("dependencies") || declares("devDependencies") {
                let install = if repo.is_file("package-lock.json") || repo.is_file("npm-shrinkwrap.json") {
                    "npm ci"
                } else if repo.is_file("yarn.lock") {
                    "yarn install --frozen-lockfile"
                } else {
                    "npm install"
                };
                ctx.install(&mut r, install);
            }
            let script = |name: &str| json.get("scripts").and_then(|s| s.get(name)).and_then(|s| s.as_str());
            if script("build").is_some() {
                r.build.push("npm run build".to_owned());
            }
            r.env.push(("PATH".to_owned(), "/app/node_modules/.bin:$PATH".to_owned()));
            looked_for.push("package.json scripts.start".to_owned());
            conventional = match script("start") {
                Some(start) => Some(start.to_owned()),
                None => {
                    let main = json.get("main").and_then(|m| m.as_str()).filter(|m| repo.is_file(m));
                    match main {
                        Some(main) => Some(format!("node {main}")),
                        None => first_existing(repo, &mut looked_for, &["index.js", "server.js"], &|f| {
                            format!("node {f}")
                        }),
                    }
                }
            };
        }
        Language::Go => {
            ctx.install(&mut r, "go mod download");
            r.build.push("go build -o /app/.ferry-server .".to_owned());
            conventional = Some("/app/.ferry-server".to_owned());
        }
        Language::Rust => {
            let manifest = repo.read("Cargo.toml")?.unwrap_or_default();
            let cargo = CargoToml::read(&manifest);
            if cargo.plain && !ctx.ignore.is_excluded("Cargo.toml") {
                r.manifests.push("Cargo.toml".to_owned());
                if repo.is_file("Cargo.lock") && !ctx.ignore.is_excluded("Cargo.lock") {
                    r.manifests.push("Cargo.lock".to_owned());
                }
                r.deps.push(
                    "mkdir -p src && echo 'fn main() {}' > src/main.rs && cargo fetch && rm -rf src"
                        .to_owned(),
                );
            }
            r.build.push("cargo build --release".to_owned());
            looked_for.push("a package or [[bin]] name in Cargo.toml".to_owned());
            conventional = cargo.binary.map(|b| format!("/app/target/release/{b}"));
        }
        Language::Ruby => ctx.install(&mut r, "bundle install"),
        Language::Php => {
            let text = repo.read("composer.json")?.unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                BuildError::config(
                    "composer.json",
                    Some(e.line()),
                    format!("it is not valid JSON: {e}; fix it"),
                )
            })?;
            let requires = json.get("require").and_then(|d| d.as_object()).is_some_and(|d| {
                d.keys().any(|k| k != "php" && !k.starts_with("ext-") && !k.starts_with("lib-"))
            });
            if requires || json.get("autoload").is_some() {
                r.setup.push("COPY --from=composer:2 /usr/bin/composer /usr/bin/composer".to_owned());
                r.setup.push(
                    "RUN command -v unzip >/dev/null || (apt-get update && apt-get install -y --no-install-recommends \
                     unzip && rm -rf /var/lib/apt/lists/*)"
                        .to_owned(),
                );
                ctx.install(
                    &mut r,
                    "composer install --no-dev --no-interaction --no-scripts --no-autoloader",
                );
                r.build.push("composer dump-autoload --no-dev --optimize".to_owned());
            }
            let root = if repo.is_dir("public") { "public" } else { "." };
            conventional = Some(format!("php -S 0.0.0.0:$PORT -t {root}"));
        }
        Language::Static => {
            conventional =
                Some("python3 -m http.server \"$PORT\" --bind 0.0.0.0 --directory /app".to_owned());
        }
    }
    r.start = match (ctx.start, repo.procfile_web()?, conventional) {
        (Some(start), _, _) => start.to_owned(),
        (None, Some(web), _) => web,
        (None, None, Some(conventional)) => conventional,
        (None, None, None) => {
            let mut tried = vec!["a Procfile with a web: line".to_owned()];
            tried.extend(looked_for);
            return Err(BuildError::NothingToBuild(format!(
                "{description}, but found no way to start it: looked for {}; add a Procfile (web: <command>) or \
                 give the service a start command (--start-command)",
                tried.join(", ")
            )));
        }
    };
    Ok(r)
}

/// The command for the first of `names` that exists.
fn first_existing(
    repo: &Repo<'_>,
    looked_for: &mut Vec<String>,
    names: &[&str],
    command: &dyn Fn(&str) -> String,
) -> Option<String> {
    looked_for.extend(names.iter().map(|n| (*n).to_owned()));
    names.iter().find(|n| repo.is_file(n)).map(|n| command(n))
}

/// What the Rust template needs from `Cargo.toml`, read line by line (a full TOML parser is more than
/// these three facts need).
struct CargoToml {
    binary: Option<String>,
    /// A single package whose manifest parses without its sources: no workspace, no explicit targets,
    /// no build script path, no path dependencies, no inherited fields.
    plain: bool,
}

impl CargoToml {
    fn read(text: &str) -> Self {
        let mut section = "";
        let (mut package, mut first_bin) = (None, None);
        let mut plain = true;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line;
                plain &= !line.starts_with("[[") && line != "[lib]" && !line.starts_with("[workspace");
                continue;
            }
            plain &= !line.starts_with("build") && !line.contains("path") && !line.contains("workspace");
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match (section, key.trim()) {
                ("[package]", "name") => package = package.or(Some(value.to_owned())),
                ("[[bin]]", "name") => first_bin = first_bin.or(Some(value.to_owned())),
                _ => {}
            }
        }
        plain &= package.is_some();
        let valid =
            |n: &String| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        Self { binary: first_bin.or(package).filter(valid), plain }
    }
}

#[cfg(test)]
mod tests;
