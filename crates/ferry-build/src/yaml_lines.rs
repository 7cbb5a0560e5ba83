//! Finds the line of a key in a YAML text, for errors found after parsing.
//!
//! The YAML parser reports lines for syntax and type errors, but checks that need the whole file
//! (`pre-run` with an original-build runtime, `PORT` in `run.env`) happen on the parsed value, which
//! has no positions. This index reads the block structure by indentation: every `key: value` line gets
//! the dotted path of the keys above it (sequence items do not add to the path). It understands what
//! `apprunner.yaml` files are written with (block mappings and sequences, comments, quoted keys); keys
//! inside flow collections (`{name: A}`) are not indexed, and a lookup then falls back to the nearest
//! enclosing key that is.

/// One `key: value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// 1-based.
    line: usize,
    /// `run.network.port`.
    path: String,
    /// The raw scalar after the colon, without quotes or a trailing comment; empty for a nested block.
    value: String,
}

#[derive(Debug, Default)]
pub(crate) struct KeyLines {
    entries: Vec<Entry>,
}

impl KeyLines {
    pub(crate) fn index(text: &str) -> Self {
        let mut entries = Vec::new();
        // (column of the key, key)
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty()
                || trimmed.starts_with('#')
                || raw.starts_with("---")
                || raw.starts_with("...")
            {
                continue;
            }
            let mut column = raw.len() - trimmed.len();
            let mut rest = trimmed;
            // `- key: value` and `- - key: value`: the key sits after the dashes.
            while let Some(after) = rest.strip_prefix("- ").or_else(|| (rest == "-").then_some("")) {
                let skipped = rest.len() - after.len();
                let after_trimmed = after.trim_start();
                column += skipped + (after.len() - after_trimmed.len());
                rest = after_trimmed;
            }
            let Some((key, value)) = split_key(rest) else { continue };
            while stack.last().is_some_and(|(c, _)| *c >= column) {
                stack.pop();
            }
            let mut path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            path.push(&key);
            entries.push(Entry { line: i + 1, path: path.join("."), value: clean_value(value) });
            stack.push((column, key));
        }
        Self { entries }
    }

    /// The line of the first key at `path`, else of its nearest indexed parent.
    pub(crate) fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return Some(e.line);
            }
            path = &path[..path.rfind('.')?];
        }
    }

    /// The line of `path` whose value is `value` (`run.env.name` = `PORT`), else the line of `path`'s
    /// parent.
    pub(crate) fn line_of_value(&self, path: &str, value: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|e| e.path == path && e.value == value)
            .map(|e| e.line)
            .or_else(|| self.line_of(path.rsplit_once('.').map_or(path, |(parent, _)| parent)))
    }
}

/// `key: value` → (`key`, `value`); `"quoted key": v` too. Not a key: a plain list item, a scalar.
fn split_key(s: &str) -> Option<(String, &str)> {
    if let Some(quote) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(quote)? + 1;
        let after = s[end + 1..].strip_prefix(':')?;
        return (after.is_empty() || after.starts_with(' ')).then(|| (s[1..end].to_owned(), after));
    }
    if s.starts_with(['{', '[', '|', '>', '&', '*', '!']) {
        return None;
    }
    let colon = s.match_indices(':').find(|(i, _)| s[i + 1..].is_empty() || s[i + 1..].starts_with(' '))?.0;
    let key = s[..colon].trim_end();
    (!key.is_empty() && !key.contains(" #")).then(|| (key.to_owned(), &s[colon + 1..]))
}

fn clean_value(v: &str) -> String {
    let v = v.trim();
    if let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'')
        && let Some(end) = v[1..].find(q)
    {
        return v[1..end + 1].to_owned();
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_owned(),
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
version: 1.0   # the only one
runtime: python311
build:
  commands:
    build:
      - pip install -r requirements.txt
  env:
    - name: A
      value: \"x: y\"
run:
  command: python app.py
  network:
    port: 8000
  env:
  - name: PORT
    value: '1'
  - {name: B, value: c}
  \"pre-run\":
    - echo hi
";

    #[test]
    fn keys_get_their_dotted_path_and_line() {
        let lines = KeyLines::index(TEXT);
        assert_eq!(lines.line_of("version"), Some(1));
        assert_eq!(lines.line_of("build.commands.build"), Some(5));
        assert_eq!(lines.line_of("build.env.value"), Some(9));
        assert_eq!(lines.line_of("run.network.port"), Some(13));
        assert_eq!(lines.line_of("run.pre-run"), Some(18));
        // Not indexed (a flow mapping): the nearest parent.
        assert_eq!(lines.line_of("run.secrets"), Some(10));
        assert_eq!(lines.line_of_value("run.env.name", "PORT"), Some(15));
        assert_eq!(lines.line_of_value("run.env.name", "B"), Some(14));
        assert_eq!(lines.line_of("nothing"), None);
    }
}
