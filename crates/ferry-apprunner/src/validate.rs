//! Every call's input checked against App Runner's own model before its operation runs: required members,
//! types, lengths, patterns, enums, ranges, list and map sizes, all the way down, as AWS's front end does.
//! Every violation is named by its member's path in one `InvalidRequestException`
//! (`SourceConfiguration.ImageRepository.ImageIdentifier: is required`, `Tags[1].Key: "aws:x" must not
//! start with "aws:"`, `….RuntimeEnvironmentVariables.PORT: must be a string`). A sensitive value (a
//! command, an environment value) is never repeated in the answer, nor so in the log.
//!
//! `model.json` is botocore's App Runner model cut down by `scripts/gen-apprunner-model` (its top says how
//! to regenerate it). Where ferry deliberately differs from App Runner, or a pattern needs what the regex
//! crate lacks, [`OVERRIDES`] says so, each with its reason; no pattern is ever skipped silently.
//!
//! Patterns are matched whole, bytewise and ASCII-only (`\w` is `[0-9A-Za-z_]`), as App Runner's Java
//! patterns are. One known difference: `.` refuses only a line feed here, where Java's also refuses `\r`
//! and the Unicode line separators.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::Value;

use crate::error::AwsError;

/// A change to one shape of the model (shapes are shared: it applies wherever the shape is used).
enum Change {
    /// The model's pattern is not checked here: the handler checks the value its own way.
    SkipPattern,
    /// The pattern, checked by hand: `expected` completes "… must …" in the error.
    Pattern { check: fn(&str) -> bool, expected: &'static str },
    /// Another least value (the model's most stays).
    Min(i64),
}

/// ferry's deliberate differences from App Runner's model, and the patterns the regex crate cannot run.
///
/// Every pattern in the model was looked at; the ones not here are checked as App Runner checks them:
/// `AppRunnerResourceArn` admits ferry's own ARNs (any region of up to 63 of `[a-z0-9-]`, which
/// ferry's `--region` allows, and a 12-digit account, which `--account` requires); `Cpu` and `Memory`
/// keep App Runner's spellings (ferry's own API also takes `1vcpu`); the names, `DomainName`, `RoleArn`,
/// `KmsKeyArn`, `SourceDirectory`, the one-line commands and the `.*` strings are App Runner's rules.
const OVERRIDES: &[(&str, Change)] = &[
    // App Runner's pattern admits only ECR images (`<account>.dkr.ecr.<region>.amazonaws.com/…` and
    // `public.ecr.aws/…`); ferry runs images from any registry. `ImageRef::parse` (configure.rs) checks
    // the reference instead.
    ("ImageIdentifier", Change::SkipPattern),
    // `^(?!aws:).+`: a look-ahead, which the regex crate lacks. The same rule by hand.
    (
        "TagKey",
        Change::Pattern {
            check: tag_key,
            expected: "not start with \"aws:\" (nor be empty or hold a line feed)",
        },
    ),
    // CreateAutoScalingConfiguration's MinSize: App Runner's least is 1; ferry scales a service to zero.
    ("ASConfigMinSize", Change::Min(0)),
];

fn tag_key(key: &str) -> bool {
    !key.is_empty() && !key.starts_with("aws:") && !key.contains('\n')
}

/// Patterns in words: an error says what is wanted, then the pattern itself.
const IN_WORDS: &[(&str, &str)] = &[
    ("ServiceName", "4 to 40 letters, digits, '-' or '_', starting with a letter or digit"),
    ("AutoScalingConfigurationName", "4 to 32 letters, digits, '-' or '_', starting with a letter or digit"),
    ("ConnectionName", "4 to 32 letters, digits, '-' or '_', starting with a letter or digit"),
    (
        "ObservabilityConfigurationName",
        "4 to 32 letters, digits, '-' or '_', starting with a letter or digit",
    ),
    ("VpcConnectorName", "4 to 40 letters, digits, '-' or '_', starting with a letter or digit"),
    ("VpcIngressConnectionName", "4 to 40 letters, digits, '-' or '_', starting with a letter or digit"),
    ("Cpu", "one of 256, 512, 1024, 2048, 4096 or 0.25, 0.5, 1, 2, 4 vCPU"),
    (
        "Memory",
        "one of 512, 1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288 or 0.5, 1, 2, 3, 4, 6, 8, 10, 12 GB",
    ),
    ("AppRunnerResourceArn", "an App Runner ARN, arn:aws:apprunner:<region>:<12-digit account>:<resource>/…"),
    ("RoleArn", "an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>"),
    ("KmsKeyArn", "a KMS key ARN, arn:aws:kms:<region>:<12-digit account>:key/<uuid>"),
    ("DomainName", "a domain name: letters, digits, '.', '-' and '*'"),
    ("StartCommand", "one line"),
    ("BuildCommand", "one line"),
    ("SourceDirectory", "a path without NUL characters"),
    ("String", "one line"),
    ("NextToken", "one line"),
    ("TagValue", "one line"),
    ("RuntimeEnvironmentVariablesKey", "one line"),
    ("RuntimeEnvironmentVariablesValue", "one line"),
];

/// Checks `input` (a JSON object) against `operation`'s input shape. An operation the model does not
/// know passes: dispatch refuses it by name. Members the model does not know are ignored, as AWS does.
pub(crate) fn input(operation: &str, input: &Value) -> Result<(), AwsError> {
    let model = match &*MODEL {
        Ok(model) => model,
        Err(e) => {
            tracing::error!(error = %e, "App Runner's embedded model does not load; no input can be checked");
            return Err(AwsError::internal("an internal error occurred; the server's log has the details"));
        }
    };
    match model.operations.get(operation) {
        Some(Some(shape)) => {
            let mut problems = Problems::default();
            model.check(shape, input, "", &mut problems)?;
            problems.into_result()
        }
        _ => Ok(()),
    }
}

static MODEL: LazyLock<Result<Model, String>> = LazyLock::new(|| {
    let model = Model::load(include_str!("model.json"))?;
    tracing::debug!(source = %model.source, api_version = %model.api_version, "App Runner input model loaded");
    Ok(model)
});

/// model.json as `scripts/gen-apprunner-model` writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    source: String,
    api_version: String,
    operations: BTreeMap<String, Option<String>>,
    shapes: BTreeMap<String, RawShape>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawShape {
    Structure {
        members: BTreeMap<String, String>,
        #[serde(default)]
        required: Vec<String>,
    },
    List {
        member: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    Map {
        key: String,
        value: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    String {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<String>,
        #[serde(default, rename = "enum")]
        values: Vec<String>,
        #[serde(default)]
        sensitive: bool,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Long {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    Timestamp,
    #[serde(alias = "float")]
    Double,
    Blob,
}

/// A string's pattern, ready to match.
enum Pattern {
    Regex { source: String, regex: Regex },
    Hand { check: fn(&str) -> bool, expected: &'static str },
}

struct Text {
    min: Option<u64>,
    max: Option<u64>,
    pattern: Option<Pattern>,
    values: Vec<String>,
    /// A value that is never repeated in an error (nor, so, in the log).
    sensitive: bool,
    /// The pattern in words, from [`IN_WORDS`].
    words: Option<&'static str>,
}

enum Shape {
    Structure { members: BTreeMap<String, String>, required: Vec<String> },
    List { member: String, min: Option<u64>, max: Option<u64> },
    Map { key: String, value: String, min: Option<u64>, max: Option<u64> },
    String(Text),
    Integer { min: i64, max: i64 },
    Boolean,
    Timestamp,
    Double,
    Blob,
}

struct Model {
    /// The botocore the model came from, e.g. `botocore 1.44.18`.
    source: String,
    api_version: String,
    operations: BTreeMap<String, Option<String>>,
    shapes: BTreeMap<String, Shape>,
}

impl Model {
    /// The model with its patterns compiled and [`OVERRIDES`] applied. An error when a pattern neither
    /// compiles nor has an override, or an override or shape reference names no shape: never a silent skip.
    fn load(json: &str) -> Result<Self, String> {
        let raw: RawModel = serde_json::from_str(json).map_err(|e| format!("model.json: {e}"))?;
        let named = OVERRIDES.iter().map(|(n, _)| *n).chain(IN_WORDS.iter().map(|(n, _)| *n));
        for name in named {
            match raw.shapes.get(name) {
                None => {
                    return Err(format!(
                        "validate.rs names the shape {name}, which model.json does not have"
                    ));
                }
                Some(RawShape::String { pattern: None, .. }) if IN_WORDS.iter().any(|(n, _)| *n == name) => {
                    return Err(format!("validate.rs puts the pattern of {name} in words, but it has none"));
                }
                Some(_) => {}
            }
        }
        let mut shapes = BTreeMap::new();
        for (name, shape) in raw.shapes {
            let change = OVERRIDES.iter().find(|(n, _)| *n == name).map(|(_, c)| c);
            shapes.insert(name.clone(), compile(&name, shape, change)?);
        }
        let model =
            Model { source: raw.source, api_version: raw.api_version, operations: raw.operations, shapes };
        model.check_references()?;
        Ok(model)
    }

    fn check_references(&self) -> Result<(), String> {
        let known = |name: &String| {
            self.shapes
                .contains_key(name)
                .then_some(())
                .ok_or_else(|| format!("model.json lacks the shape {name}"))
        };
        self.operations.values().flatten().try_for_each(known)?;
        for shape in self.shapes.values() {
            match shape {
                Shape::Structure { members, required } => {
                    members.values().try_for_each(known)?;
                    if let Some(lost) = required.iter().find(|r| !members.contains_key(*r)) {
                        return Err(format!("model.json requires the member {lost}, which is not a member"));
                    }
                }
                Shape::List { member, .. } => known(member)?,
                Shape::Map { key, value, .. } => [key, value].into_iter().try_for_each(known)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn shape(&self, name: &str) -> Result<&Shape, AwsError> {
        // `check_references` proved every reference resolves when the model loaded.
        self.shapes.get(name).ok_or_else(|| AwsError::internal(format!("the model lacks the shape {name}")))
    }

    /// `value` at `path` against the shape `name`: each violation onto `problems`, so one answer names
    /// them all (as AWS's "N validation errors detected" does). An `Err` only for a broken model.
    fn check(&self, name: &str, value: &Value, path: &str, problems: &mut Problems) -> Result<(), AwsError> {
        let type_is = |ok: bool, what: &str, problems: &mut Problems| {
            if !ok {
                problems.add(path, format!("must be {what}"));
            }
        };
        match self.shape(name)? {
            Shape::Structure { members, required } => {
                let Value::Object(map) = value else {
                    type_is(false, "a structure (a JSON object)", problems);
                    return Ok(());
                };
                for (member, shape) in members {
                    match map.get(member) {
                        None | Some(Value::Null) if required.contains(member) => {
                            problems.add(&join(path, member), "is required".to_owned());
                        }
                        None | Some(Value::Null) => {}
                        Some(v) => self.check(shape, v, &join(path, member), problems)?,
                    }
                }
            }
            Shape::List { member, min, max } => {
                let Value::Array(items) = value else {
                    type_is(false, "a list", problems);
                    return Ok(());
                };
                problems.count(path, items.len(), (*min, *max), "items");
                for (i, item) in items.iter().enumerate() {
                    self.check(member, item, &format!("{path}[{i}]"), problems)?;
                }
            }
            Shape::Map { key, value: shape, min, max } => {
                let Value::Object(map) = value else {
                    type_is(false, "a map (a JSON object)", problems);
                    return Ok(());
                };
                problems.count(path, map.len(), (*min, *max), "entries");
                let Shape::String(keys) = self.shape(key)? else {
                    return Err(AwsError::internal(format!("the model's map key {key} is not a string")));
                };
                // A key names its value in the path even when the model marks keys sensitive (environment
                // variables' names): names are not secrets, and without them a problem cannot be found.
                for (k, v) in map {
                    keys.check(k, path, Subject::Key, problems);
                    self.check(shape, v, &join(path, k), problems)?;
                }
            }
            Shape::String(text) => match value {
                Value::String(s) => text.check(s, path, Subject::Value, problems),
                _ => type_is(false, "a string", problems),
            },
            Shape::Integer { min, max } => match value.as_i64() {
                Some(n) if (*min..=*max).contains(&n) => {}
                Some(n) => problems.add(path, format!("{n} must be an integer from {min} to {max}")),
                None => type_is(false, &format!("an integer from {min} to {max}"), problems),
            },
            Shape::Boolean => type_is(value.is_boolean(), "a boolean (true or false)", problems),
            Shape::Timestamp | Shape::Double => type_is(value.is_number(), "a number", problems),
            Shape::Blob => type_is(value.is_string(), "a base64 string", problems),
        }
        Ok(())
    }
}

/// The violations found in one input, each `<path>: <why>`.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// At most this many are spelled out; a client fixing them learns of the rest next time.
    const SHOWN: usize = 10;

    fn add(&mut self, path: &str, why: String) {
        self.0.push(format!("{path}: {why}"));
    }

    /// A list's or map's size against its bounds.
    fn count(&mut self, path: &str, n: usize, (min, max): (Option<u64>, Option<u64>), unit: &str) {
        let n = n as u64;
        if min.is_some_and(|min| n < min) || max.is_some_and(|max| n > max) {
            let range = match (min, max) {
                (Some(min), Some(max)) => format!("{min} to {max}"),
                (Some(min), None) => format!("at least {min}"),
                (None, max) => format!("at most {}", max.unwrap_or(u64::MAX)),
            };
            self.add(path, format!("has {n} {unit}; it must have {range}"));
        }
    }

    /// One problem is the message; several are counted and joined with "; ".
    fn into_result(self) -> Result<(), AwsError> {
        match self.0.as_slice() {
            [] => Ok(()),
            [one] => Err(AwsError::invalid(one.clone())),
            all => {
                let mut message =
                    format!("{} problems: {}", all.len(), all[..all.len().min(Self::SHOWN)].join("; "));
                if all.len() > Self::SHOWN {
                    message.push_str(&format!("; and {} more", all.len() - Self::SHOWN));
                }
                Err(AwsError::invalid(message))
            }
        }
    }
}

fn compile(name: &str, shape: RawShape, change: Option<&Change>) -> Result<Shape, String> {
    let unused = || Err(format!("validate.rs's override of {name} does not apply to its type"));
    Ok(match shape {
        RawShape::Structure { members, required } => Shape::Structure { members, required },
        RawShape::List { member, min, max } => Shape::List { member, min, max },
        RawShape::Map { key, value, min, max } => Shape::Map { key, value, min, max },
        RawShape::String { min, max, pattern, values, sensitive } => {
            let pattern = match (change, pattern) {
                (None, None) => None,
                (None, Some(source)) => Some(Pattern::Regex {
                    regex: regex(&source).map_err(|e| {
                        format!(
                            "the pattern of {name} does not compile ({e}); give it an override in validate.rs"
                        )
                    })?,
                    source,
                }),
                (Some(Change::SkipPattern), Some(_)) => None,
                (Some(Change::Pattern { check, expected }), Some(_)) => {
                    Some(Pattern::Hand { check: *check, expected })
                }
                (Some(_), _) => return unused(),
            };
            let words = IN_WORDS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w);
            Shape::String(Text { min, max, pattern, values, sensitive, words })
        }
        RawShape::Integer { min, max } | RawShape::Long { min, max } => {
            let long = matches!(shape, RawShape::Long { .. });
            let (least, most) = if long { (i64::MIN, i64::MAX) } else { (i32::MIN.into(), i32::MAX.into()) };
            let min = match change {
                None => min.unwrap_or(least),
                Some(Change::Min(n)) => *n,
                Some(_) => return unused(),
            };
            Shape::Integer { min, max: max.unwrap_or(most) }
        }
        _ if change.is_some() => return unused(),
        RawShape::Boolean => Shape::Boolean,
        RawShape::Timestamp => Shape::Timestamp,
        RawShape::Double => Shape::Double,
        RawShape::Blob => Shape::Blob,
    })
}

/// A model pattern as a whole-value, ASCII-only matcher.
fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{pattern})$")).unicode(false).build()
}

/// Whether a string is a map's key or a value: errors name them differently.
#[derive(Clone, Copy)]
enum Subject {
    Key,
    Value,
}

impl Text {
    fn check(&self, s: &str, path: &str, subject: Subject, problems: &mut Problems) {
        let what = match (subject, self.sensitive) {
            (Subject::Key, true) => "a key".to_owned(),
            (Subject::Key, false) => format!("key {}", quote(s)),
            (Subject::Value, true) => "the value".to_owned(),
            (Subject::Value, false) => quote(s),
        };
        let mut fail = |why: String| problems.add(path, format!("{what} {why}"));
        if !self.values.is_empty() && !self.values.iter().any(|v| v == s) {
            return fail(format!("is not one of {}", self.values.join(", ")));
        }
        let len = s.chars().count() as u64;
        if self.min.is_some_and(|min| len < min) || self.max.is_some_and(|max| len > max) {
            return fail(match (self.min, self.max) {
                (Some(min), Some(max)) => format!("must be {min} to {max} characters"),
                (Some(1), None) => "must not be empty".to_owned(),
                (Some(min), None) => format!("must be at least {min} characters"),
                (None, max) => format!("must be at most {} characters", max.unwrap_or(u64::MAX)),
            });
        }
        match &self.pattern {
            Some(Pattern::Regex { source, regex }) if !regex.is_match(s.as_bytes()) => match self.words {
                Some(words) => fail(format!("must be {words} (pattern {source})")),
                None => fail(format!("must match {source}")),
            },
            Some(Pattern::Hand { check, expected }) if !check(s) => fail(format!("must {expected}")),
            _ => {}
        }
    }
}

/// A value as an error repeats it: quoted, and cut short past 64 characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((end, _)) => format!("{:?}…", &s[..end]),
        None => format!("{s:?}"),
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_owned() } else { format!("{path}.{member}") }
}

#[cfg(test)]
mod tests;
