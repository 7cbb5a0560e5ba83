//! `.dockerignore`, matched the way the Docker CLI matches it.
//!
//! Supported, as Docker documents it: one pattern per line; lines starting with `#` are comments;
//! surrounding white space is trimmed; a leading `/` and a trailing `/` are dropped and the pattern
//! cleaned (`./a/../b` is `b`), since every pattern is relative to the context root; `*` matches
//! within one path component, `?` one character, `[a-z]` a class, `\` escapes; `**` matches any
//! number of directories (including none); `!` re-includes what an earlier pattern excluded. A pattern
//! excludes a path when it matches the path or any of its parent directories, and the last pattern
//! that matches decides. Patterns do not float: `*.log` excludes `x.log` at the root, not `a/x.log`
//! (write `**/*.log`).

use globset::{GlobBuilder, GlobMatcher};

use crate::BuildError;

pub(crate) struct DockerIgnore {
    /// (pattern, whether it is a `!` exception)
    patterns: Vec<(GlobMatcher, bool)>,
}

impl DockerIgnore {
    pub(crate) fn none() -> Self {
        Self { patterns: Vec::new() }
    }

    pub(crate) fn parse(text: &str) -> Result<Self, BuildError> {
        let mut patterns = Vec::new();
        for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            let exception = pattern.starts_with('!');
            if exception {
                pattern = pattern[1..].trim();
            }
            let Some(pattern) = clean(pattern) else { continue };
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .empty_alternates(true)
                .build()
                .map_err(|e| {
                    BuildError::config(
                        ".dockerignore",
                        Some(i + 1),
                        format!("{:?} is not a pattern: {}; fix or remove the line", line.trim(), e.kind()),
                    )
                })?;
            patterns.push((glob.compile_matcher(), exception));
        }
        Ok(Self { patterns })
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out of the context.
    pub(crate) fn is_excluded(&self, path: &str) -> bool {
        let mut parents = Vec::new();
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            parents.push(&path[..at + i]);
            at += i + 1;
        }
        let mut excluded = false;
        for (glob, exception) in &self.patterns {
            if excluded != *exception {
                // This pattern could only confirm the current verdict.
                continue;
            }
            if glob.is_match(path) || parents.iter().any(|p| glob.is_match(p)) {
                excluded = !*exception;
            }
        }
        excluded
    }

    /// Whether anything below an excluded directory could be re-included by an exception, so the walk
    /// must look inside it.
    pub(crate) fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|(_, exception)| *exception)
    }
}

/// Go's `filepath.Clean` as Docker applies it, then without the leading `/`. `None`: matches nothing
/// useful (empty, the root itself, or outside the context).
fn clean(pattern: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_docker_matches_them() {
        let ignore = DockerIgnore::parse(
            "# comment\n\n  node_modules/  \n/build\n*.log\n**/*.tmp\ndocs/**\n!docs/keep.md\nsecret?.txt\n[ab].bin\n",
        )
        .unwrap();
        for excluded in [
            "node_modules",
            "node_modules/x/index.js",
            "build/out.js",
            "x.log",
            "a/b/c.tmp",
            "c.tmp",
            "docs/a.md",
            "docs/sub/b.md",
            "secret1.txt",
            "a.bin",
        ] {
            assert!(ignore.is_excluded(excluded), "{excluded}");
        }
        for included in
            ["src/x.log", "docs/keep.md", "secret12.txt", "c.bin", "app.py", "src/build/x", "docs"]
        {
            assert!(!ignore.is_excluded(included), "{included}");
        }
        assert!(ignore.has_exceptions());
    }

    #[test]
    fn the_last_matching_pattern_decides() {
        let ignore = DockerIgnore::parse("*.md\n!README*.md\nREADME-secret.md\n").unwrap();
        assert!(ignore.is_excluded("CHANGES.md"));
        assert!(!ignore.is_excluded("README.md"));
        assert!(ignore.is_excluded("README-secret.md"));
        // An exception does not reach into a directory excluded by a later pattern.
        let ignore = DockerIgnore::parse("!keep\nkeep\n").unwrap();
        assert!(ignore.is_excluded("keep/a"));
    }

    #[test]
    fn a_bad_pattern_names_its_line() {
        let e = DockerIgnore::parse("ok\n[z-a\n").err().unwrap().to_string();
        assert!(e.starts_with(".dockerignore line 2: \"[z-a\" is not a pattern"), "{e}");
    }
}
