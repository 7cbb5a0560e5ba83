//! Which kind of build a source directory gets, in the fixed order documented in `lib.rs`.

use ferry_model::Builder;

use crate::BuildError;
use crate::repo::Repo;

/// A language ferry can build without a Dockerfile or an `apprunner.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    Python,
    Nodejs,
    Go,
    Rust,
    Ruby,
    Php,
    Static,
}

impl Language {
    /// In detection order.
    pub(crate) const ALL: [Language; 7] = [
        Language::Python,
        Language::Nodejs,
        Language::Go,
        Language::Rust,
        Language::Ruby,
        Language::Php,
        Language::Static,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Nodejs => "nodejs",
            Language::Go => "go",
            Language::Rust => "rust",
            Language::Ruby => "ruby",
            Language::Php => "php",
            Language::Static => "static",
        }
    }

    /// The files that mark it, in the order they are looked for.
    pub(crate) fn markers(self) -> &'static [&'static str] {
        match self {
            Language::Python => &["requirements.txt", "pyproject.toml", "Pipfile", "setup.py"],
            Language::Nodejs => &["package.json"],
            Language::Go => &["go.mod"],
            Language::Rust => &["Cargo.toml"],
            Language::Ruby => &["Gemfile"],
            Language::Php => &["composer.json"],
            Language::Static => &["index.html"],
        }
    }

    fn of(builder: Builder) -> Option<Self> {
        Some(match builder {
            Builder::Python => Language::Python,
            Builder::Nodejs => Language::Nodejs,
            Builder::Go => Language::Go,
            Builder::Rust => Language::Rust,
            Builder::Ruby => Language::Ruby,
            Builder::Php => Language::Php,
            Builder::Static => Language::Static,
            Builder::Auto | Builder::AppRunner | Builder::Dockerfile => return None,
        })
    }
}

/// What the source directory is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AppRunner,
    Dockerfile,
    /// The language and the marker file found.
    Language {
        language: Language,
        marker: &'static str,
        forced: bool,
    },
}

pub(crate) const APPRUNNER_FILE: &str = "apprunner.yaml";
pub(crate) const DOCKERFILE: &str = "Dockerfile";

/// The kind of build for `builder`: `Auto` looks in order; any other builder forces its kind and needs
/// its file.
pub(crate) fn choose(repo: &Repo<'_>, builder: Builder) -> Result<Kind, BuildError> {
    let needs = |what: &str| {
        BuildError::NothingToBuild(format!(
            "builder {builder} needs {what} in the source directory and there is none; add it, check the \
             source directory, or let ferry choose with --builder auto"
        ))
    };
    match builder {
        Builder::AppRunner => {
            return if repo.is_file(APPRUNNER_FILE) {
                Ok(Kind::AppRunner)
            } else {
                Err(needs(APPRUNNER_FILE))
            };
        }
        Builder::Dockerfile => {
            return if repo.is_file(DOCKERFILE) { Ok(Kind::Dockerfile) } else { Err(needs(DOCKERFILE)) };
        }
        Builder::Auto => {}
        forced => {
            let Some(language) = Language::of(forced) else { return Err(needs("its files")) };
            let marker = language.markers().iter().find(|m| repo.is_file(m));
            return match marker {
                Some(marker) => Ok(Kind::Language { language, marker, forced: true }),
                None => Err(needs(&format!("one of {}", language.markers().join(", ")))),
            };
        }
    }
    if repo.is_file(APPRUNNER_FILE) {
        return Ok(Kind::AppRunner);
    }
    if repo.is_file("apprunner.yml") {
        return Err(BuildError::config(
            "apprunner.yml",
            None,
            "App Runner reads only apprunner.yaml; rename the file to apprunner.yaml",
        ));
    }
    if repo.is_file(DOCKERFILE) {
        return Ok(Kind::Dockerfile);
    }
    for language in Language::ALL {
        if let Some(marker) = language.markers().iter().find(|m| repo.is_file(m)) {
            return Ok(Kind::Language { language, marker, forced: false });
        }
    }
    Err(BuildError::NothingToBuild(format!(
        "nothing to build: looked for {}, in that order, and found none; add an apprunner.yaml or a \
         Dockerfile, check the source directory, or choose how to build with --builder",
        looked_for().join(", ")
    )))
}

/// Everything `Auto` looks for, in order.
pub(crate) fn looked_for() -> Vec<&'static str> {
    let mut all = vec![APPRUNNER_FILE, DOCKERFILE];
    Language::ALL.iter().for_each(|l| all.extend(l.markers()));
    all
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn kind(files: &[&str], builder: Builder) -> Result<Kind, BuildError> {
        let tmp = tempfile::tempdir().unwrap();
        for f in files {
            fs::write(tmp.path().join(f), "").unwrap();
        }
        choose(&Repo::open(tmp.path()).unwrap(), builder)
    }

    fn detected(language: Language, marker: &'static str) -> Kind {
        Kind::Language { language, marker, forced: false }
    }

    #[test]
    fn the_first_found_in_the_documented_order_wins() {
        let cases: &[(&[&str], Kind)] = &[
            (&["apprunner.yaml", "Dockerfile", "requirements.txt"], Kind::AppRunner),
            (&["Dockerfile", "package.json"], Kind::Dockerfile),
            (&["package.json", "setup.py", "index.html"], detected(Language::Python, "setup.py")),
            (&["Pipfile", "pyproject.toml"], detected(Language::Python, "pyproject.toml")),
            (&["go.mod", "package.json"], detected(Language::Nodejs, "package.json")),
            (&["Cargo.toml", "go.mod"], detected(Language::Go, "go.mod")),
            (&["Gemfile", "Cargo.toml"], detected(Language::Rust, "Cargo.toml")),
            (&["composer.json", "Gemfile"], detected(Language::Ruby, "Gemfile")),
            (&["index.html", "composer.json"], detected(Language::Php, "composer.json")),
            (&["index.html", "README.md"], detected(Language::Static, "index.html")),
        ];
        for (files, want) in cases {
            assert_eq!(kind(files, Builder::Auto).unwrap(), *want, "{files:?}");
        }
    }

    #[test]
    fn a_builder_forces_its_kind_and_needs_its_file() {
        let files = ["apprunner.yaml", "Dockerfile", "package.json", "index.html"];
        assert_eq!(kind(&files, Builder::Dockerfile).unwrap(), Kind::Dockerfile);
        assert_eq!(
            kind(&files, Builder::Static).unwrap(),
            Kind::Language { language: Language::Static, marker: "index.html", forced: true }
        );
        let e = kind(&files, Builder::Python).unwrap_err().to_string();
        assert_eq!(
            e,
            "builder python needs one of requirements.txt, pyproject.toml, Pipfile, setup.py in the source \
             directory and there is none; add it, check the source directory, or let ferry choose with --builder auto"
        );
        assert!(matches!(kind(&["Dockerfile"], Builder::AppRunner), Err(BuildError::NothingToBuild(_))));
    }

    #[test]
    fn nothing_found_lists_everything_looked_for_in_order() {
        let e = kind(&["README.md", "main.c"], Builder::Auto).unwrap_err();
        assert!(matches!(e, BuildError::NothingToBuild(_)));
        expect_test::expect![[r#"nothing to build: looked for apprunner.yaml, Dockerfile, requirements.txt, pyproject.toml, Pipfile, setup.py, package.json, go.mod, Cargo.toml, Gemfile, composer.json, index.html, in that order, and found none; add an apprunner.yaml or a Dockerfile, check the source directory, or choose how to build with --builder"#]]
        .assert_eq(&e.to_string());
    }

    #[test]
    fn an_apprunner_yml_is_named_not_skipped() {
        let e = kind(&["apprunner.yml", "Dockerfile"], Builder::Auto).unwrap_err().to_string();
        assert_eq!(
            e,
            "apprunner.yml: App Runner reads only apprunner.yaml; rename the file to apprunner.yaml"
        );
    }
}
