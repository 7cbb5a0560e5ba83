//! The YAML parser's errors in the words of `apprunner.yaml`: a wrong shape says what was found and
//! what shape the key takes, never the parser's internal type names (`struct RawCommands`).

use super::{FILE, missing};
use crate::BuildError;
use crate::yaml_lines::KeyLines;

/// What each key takes, for "expected …" in a wrong-shape error. `[]` stands for any list index.
const SHAPES: &[(&str, &str)] = &[
    ("", "a mapping with version, runtime, build and run"),
    ("build", "a mapping with `commands:` (and optionally `env:`)"),
    (
        "build.commands",
        "a mapping with `pre-build:`, `build:` and `post-build:`, each a list of commands (`- command`)",
    ),
    ("build.commands.pre-build", "a list of commands, one `- command` per line"),
    ("build.commands.build", "a list of commands, one `- command` per line"),
    ("build.commands.post-build", "a list of commands, one `- command` per line"),
    ("build.env", "a list of variables, each `- name: NAME` with `value: VALUE` under it"),
    ("build.env[]", "a variable: `- name: NAME` with `value: VALUE` under it"),
    ("run", "a mapping with `command:` (and optionally runtime-version, pre-run, network, env, secrets)"),
    ("run.command", "a single command (a string; join several with &&)"),
    ("run.pre-run", "a list of commands, one `- command` per line"),
    ("run.network", "a mapping with `port:` and optionally `env:`"),
    ("run.env", "a list of variables, each `- name: NAME` with `value: VALUE` under it"),
    ("run.env[]", "a variable: `- name: NAME` with `value: VALUE` under it"),
    ("run.secrets", "a list of secrets, each `- name: NAME` with `value-from: SECRET_NAME` under it"),
    ("run.secrets[]", "a secret: `- name: NAME` with `value-from: SECRET_NAME` under it"),
];

/// `build.env[2]` → `build.env[]`.
fn generic(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

/// The shape `path` takes: a listed one, a command list's item, else a single value.
fn expected(path: &str) -> &'static str {
    let path = generic(path);
    if let Some((_, shape)) = SHAPES.iter().find(|(p, _)| *p == path) {
        return shape;
    }
    if path.ends_with("[]") {
        return "a single command (a string)";
    }
    "a single value (a string or a number)"
}

/// The parser's `invalid type: sequence` as people say it.
fn found(message: &str) -> &'static str {
    let what = message.strip_prefix("invalid type: ").unwrap_or(message);
    if what.starts_with("sequence") {
        "a list"
    } else if what.starts_with("map") {
        "a mapping"
    } else if what.starts_with("unit") {
        "empty"
    } else if ["string", "boolean", "integer", "floating"].iter().any(|t| what.starts_with(t)) {
        "a single value"
    } else {
        "something else"
    }
}

/// The parser's error, reworded: `unknown field` is a typo to name, `missing field` a required key,
/// a wrong type the shape expected; the position moves to the key that owns the problem when the
/// parser points inside it.
pub(super) fn yaml_error(e: &serde_norway::Error, lines: &KeyLines) -> BuildError {
    let line = e.location().map(|l| l.line());
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let (path, message) = match text.split_once(": ") {
        Some((p, m)) if !p.contains(' ') => (p, m),
        _ => ("", text),
    };
    let path = if path == "." { "" } else { path };
    let field = |m: &str| m.split('`').nth(1).unwrap_or("").to_owned();
    let full = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    if message.starts_with("unknown field") {
        let key = field(message);
        let expected = message.split_once("expected ").map(|(_, x)| x.replace('`', "")).unwrap_or_default();
        let place = if path.is_empty() { "at the top level".to_owned() } else { format!("in {path}") };
        return BuildError::config(
            FILE,
            line,
            format!("unknown key {key:?} {place}; expected {expected} (check the spelling)"),
        );
    }
    if message.starts_with("missing field") {
        let key = full(&field(message));
        // A top-level key has no line; a nested one is reported at its parent's key.
        let line = if path.is_empty() { None } else { lines.line_of(path).or(line) };
        return BuildError::config(FILE, line, missing(&key));
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let name = if path.is_empty() { "the file" } else { path };
        let line = line.or_else(|| lines.line_of(&generic(path).replace("[]", "")));
        return BuildError::config(
            FILE,
            line,
            format!("{name} is {}; it takes {}", found(message), expected(path)),
        );
    }
    if path.is_empty() {
        // The parser's own complaint: the text is not YAML as written.
        return BuildError::config(
            FILE,
            line,
            format!("{message}; check the YAML syntax and indentation there"),
        );
    }
    // Anything else the parser says: keep its words, never a type name of ours.
    let message = message.split(", expected struct").next().unwrap_or(message);
    BuildError::config(FILE, line, format!("{path}: {message}; it takes {}", expected(path)))
}
