//! `run.runtime-version`: which forms are versions, and for Corretto which Java they name.
//!
//! App Runner documents Corretto versions in Amazon's own form, with more parts than a semantic
//! version: `11.0.13.08.1` (Java 11.0.13, Corretto build 8.1) and `8.312.07.1` (Java 8 update 312).
//! Their first part is the Java major version, except in the old `1.8.0_312` style, where it is the
//! second. Other runtimes take `major[.minor[.patch]]` (`3.11`, `18.19.0`).

use ferry_model::CodeRuntime;

/// Checks `version` for `runtime`; Err is the message (without the file and line).
pub(super) fn check(runtime: CodeRuntime, version: &str) -> Result<(), String> {
    let version = version.trim();
    let parts: Vec<&str> = version.split(['.', '_']).collect();
    let numeric =
        !version.is_empty() && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let Some(java) = corretto_major(runtime) else {
        if numeric && parts.len() <= 3 && !version.contains('_') {
            return Ok(());
        }
        return Err(format!(
            "runtime-version {version:?} is not a version; write major[.minor[.patch]], e.g. 3.11"
        ));
    };
    if !numeric || parts.len() > 6 {
        return Err(format!(
            "runtime-version {version:?} is not a Corretto version; write it as AWS documents it, e.g. \
             {java}{} (or leave runtime-version out)",
            if java == 8 { ".312.07.1" } else { ".0.13.08.1" }
        ));
    }
    let major = major_of(&parts);
    if major != Some(java) {
        let asked = major.map_or_else(|| parts[0].to_owned(), |m| m.to_string());
        return Err(format!(
            "runtime-version {version:?} is Corretto {asked}, but runtime {runtime} is Corretto {java}; \
             use a {java}.x version or leave runtime-version out"
        ));
    }
    Ok(())
}

/// The Java major version the Corretto runtime runs.
fn corretto_major(runtime: CodeRuntime) -> Option<u32> {
    match runtime {
        CodeRuntime::Corretto8 => Some(8),
        CodeRuntime::Corretto11 => Some(11),
        _ => None,
    }
}

/// `11.0.13.08.1` → 11, `8.312.07.1` → 8, `1.8.0_312` → 8.
fn major_of(parts: &[&str]) -> Option<u32> {
    let first: u32 = parts.first()?.parse().ok()?;
    if first == 1 {
        return parts.get(1)?.parse().ok();
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (runtime, runtime-version, accepted)
    #[test]
    fn corretto_versions_take_amazons_form_and_must_match_the_runtime() {
        use CodeRuntime::*;
        let cases = [
            (Corretto11, "11.0.13.08.1", Ok(())),
            (Corretto11, "11", Ok(())),
            (Corretto11, "11.0.20", Ok(())),
            (Corretto8, "8.312.07.1", Ok(())),
            (Corretto8, "8", Ok(())),
            (Corretto8, "1.8.0_312", Ok(())),
            (Corretto11, "17.0.9.8.1", Err("is Corretto 17, but runtime corretto11 is Corretto 11")),
            (Corretto8, "11.0.13.08.1", Err("is Corretto 11, but runtime corretto8 is Corretto 8")),
            (Corretto11, "11.0.x", Err("not a Corretto version")),
            (Corretto11, "latest", Err("e.g. 11.0.13.08.1")),
            (Python311, "3.11", Ok(())),
            (Nodejs18, "18.19.0", Ok(())),
            (Python311, "3.11.7.1", Err("not a version")),
            (Python311, "3.x", Err("not a version")),
        ];
        let mut wrong = Vec::new();
        for (runtime, version, want) in cases {
            let got = check(runtime, version);
            let ok = match (&got, want) {
                (Ok(()), Ok(())) => true,
                (Err(message), Err(words)) => message.contains(words),
                _ => false,
            };
            if !ok {
                wrong.push(format!("{runtime} {version}: {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
