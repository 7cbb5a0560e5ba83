//! Which base image stands in for each App Runner managed runtime.
//!
//! App Runner's own runtime images are not published (roadmap #89), so ferry maps each runtime to a
//! public image with the same language version. The server's configuration may replace any of them
//! (a mirror, an image with more tools); `rust` and `static` are ferry's own, for detected languages.

use std::collections::BTreeMap;

use ferry_model::{CodeRuntime, ImageRef, ValidationError};

/// Runtime name → base image. Keys: every `CodeRuntime::name()` plus `rust` and `static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeImages {
    images: BTreeMap<&'static str, String>,
}

impl RuntimeImages {
    /// Every key, in the order people read them: the App Runner runtimes, then ferry's own.
    pub const KEYS: &'static [&'static str] = &[
        "python3",
        "python311",
        "nodejs12",
        "nodejs14",
        "nodejs16",
        "nodejs18",
        "nodejs22",
        "corretto8",
        "corretto11",
        "dotnet6",
        "php81",
        "ruby31",
        "go1",
        "rust",
        "static",
    ];

    /// Public images with the runtime's language version. `static` serves files with Python's
    /// `http.server`, so it needs only a Python image.
    pub fn defaults() -> Self {
        let pairs = [
            ("python3", "python:3.8-slim"),
            ("python311", "python:3.11-slim"),
            ("nodejs12", "node:12-slim"),
            ("nodejs14", "node:14-slim"),
            ("nodejs16", "node:16-slim"),
            ("nodejs18", "node:18-slim"),
            ("nodejs22", "node:22-slim"),
            ("corretto8", "amazoncorretto:8"),
            ("corretto11", "amazoncorretto:11"),
            ("dotnet6", "mcr.microsoft.com/dotnet/sdk:6.0"),
            ("php81", "php:8.1-cli"),
            ("ruby31", "ruby:3.1-slim"),
            ("go1", "golang:1"),
            ("rust", "rust:1-slim"),
            ("static", "python:3.11-slim"),
        ];
        Self { images: pairs.into_iter().map(|(k, v)| (k, v.to_owned())).collect() }
    }

    /// Replaces the image for `key`. The image must be a valid reference (`python:3.11-slim`,
    /// `registry.example.com/base/python@sha256:…`).
    pub fn set(&mut self, key: &str, image: &str) -> Result<(), ValidationError> {
        let field = format!("runtime_images.{key}");
        let Some(known) = Self::KEYS.iter().find(|k| **k == key) else {
            return Err(ValidationError::new(
                field,
                format!("{key:?} is not a runtime; use one of {}", Self::KEYS.join(", ")),
            ));
        };
        // Kept as the user wrote it: the engine resolves short names (`python:3.11`) itself.
        ImageRef::parse(image).map_err(|e| ValidationError::new(field, e.message))?;
        self.images.insert(known, image.to_owned());
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.images.get(key).map(String::as_str)
    }

    /// The image for an App Runner runtime (always present: `defaults` fills every key).
    pub(crate) fn for_runtime(&self, runtime: CodeRuntime) -> &str {
        self.get(runtime.name()).unwrap_or(FALLBACK)
    }

    /// The image for a key of ferry's own (`rust`, `static`) or a runtime name.
    pub(crate) fn for_key(&self, key: &str) -> &str {
        self.get(key).unwrap_or(FALLBACK)
    }

    /// Every key with its image, in `KEYS` order.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        Self::KEYS.iter().map(|k| (*k, self.get(k).unwrap_or(FALLBACK).to_owned())).collect()
    }
}

impl Default for RuntimeImages {
    fn default() -> Self {
        Self::defaults()
    }
}

/// Never used: every key is filled by `defaults` and `set` only replaces. It keeps lookups total
/// without a panic path.
const FALLBACK: &str = "debian:stable-slim";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_valid_default_image_and_runtimes_match_the_model() {
        let images = RuntimeImages::defaults();
        for runtime in CodeRuntime::ALL {
            assert!(RuntimeImages::KEYS.contains(&runtime.name()), "{runtime}");
        }
        assert_eq!(RuntimeImages::KEYS.len(), CodeRuntime::ALL.len() + 2);
        for (key, image) in images.entries() {
            assert!(ImageRef::parse(&image).is_ok(), "{key}: {image}");
        }
        assert_eq!(images.get("python311"), Some("python:3.11-slim"));
        assert_eq!(images.get("dotnet6"), Some("mcr.microsoft.com/dotnet/sdk:6.0"));
        assert_eq!(images.get("nodejs22"), Some("node:22-slim"));
        assert_eq!(images.get("static"), Some("python:3.11-slim"));
        assert_eq!(images.get("cobol"), None);
    }

    #[test]
    fn set_replaces_known_keys_and_refuses_the_rest() {
        let mut images = RuntimeImages::defaults();
        images.set("python311", "registry.example.com/base/python:3.11").unwrap();
        assert_eq!(images.for_runtime(CodeRuntime::Python311), "registry.example.com/base/python:3.11");

        let e = images.set("python2", "python:2").unwrap_err();
        assert_eq!(e.field, "runtime_images.python2");
        assert!(e.message.contains("python3, python311") && e.message.contains("rust, static"), "{e}");

        let e = images.set("go1", "Not An Image").unwrap_err();
        assert_eq!(e.field, "runtime_images.go1");
        assert_eq!(images.get("go1"), Some("golang:1"));
    }
}
