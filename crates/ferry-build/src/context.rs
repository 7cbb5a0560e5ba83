//! The build context: the source directory as a tar, as the engine's build API takes it.
//!
//! The tar is deterministic: entries sorted by path, times zeroed, owner root, modes kept (an
//! executable script stays executable), so an unchanged tree gives the same bytes. Symbolic links are
//! stored as links and never followed, so nothing outside the source directory gets in. `.git` (at any
//! depth) is never sent; `.dockerignore` at the root is honoured (see `ignore.rs`). A generated
//! Dockerfile is added at `plan.dockerfile`, replacing a file of that name in the repository.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::ignore::DockerIgnore;
use crate::{BuildError, Plan};

/// Every entry's header and padding are counted too, so `max_bytes` bounds the tar's real size.
const BLOCK: u64 = 512;

enum Kind {
    Dir,
    File {
        size: u64,
        mode: u32,
    },
    Link(PathBuf),
    /// The generated Dockerfile.
    Generated(Vec<u8>),
}

/// The build context as a tar: the source dir's files (honouring `.dockerignore`, never `.git`), plus
/// the generated Dockerfile at `plan.dockerfile`. Refuses a context over `max_bytes`.
pub fn context_tar(source_dir: &Path, plan: &Plan, max_bytes: u64) -> Result<Vec<u8>, BuildError> {
    if !source_dir.is_dir() {
        return Err(BuildError::Source(format!(
            "source directory {} does not exist; check the service's source directory",
            source_dir.display()
        )));
    }
    let ignore = match read_text(&source_dir.join(".dockerignore"))? {
        Some(text) => DockerIgnore::parse(&text)?,
        None => DockerIgnore::none(),
    };
    let mut entries = BTreeMap::new();
    walk(source_dir, "", &ignore, &mut entries)?;
    if let Some(text) = &plan.generated {
        let path = plan.dockerfile.trim_start_matches('/').to_owned();
        add_parents(&path, &mut entries);
        entries.insert(path, Kind::Generated(text.clone().into_bytes()));
    } else if !entries.contains_key(&plan.dockerfile)
        && let Ok(meta) = fs::symlink_metadata(source_dir.join(&plan.dockerfile))
        && meta.is_file()
    {
        // The engine needs the Dockerfile even when `.dockerignore` leaves it out (as the Docker CLI does).
        add_parents(&plan.dockerfile, &mut entries);
        entries.insert(
            plan.dockerfile.clone(),
            Kind::File { size: meta.len(), mode: meta.permissions().mode() },
        );
    }
    check_size(&entries, max_bytes)?;

    let mut tar = tar::Builder::new(Vec::new());
    for (path, kind) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let append = match kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty())
            }
            Kind::File { mode, .. } => {
                let data = fs::read(source_dir.join(path)).map_err(|e| unreadable(path, &e))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())
            }
            Kind::Generated(data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())
            }
            Kind::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
            }
        };
        append.map_err(|e| BuildError::Source(format!("cannot pack {path} into the build context: {e}")))?;
    }
    let bytes =
        tar.into_inner().map_err(|e| BuildError::Source(format!("cannot finish the build context: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        // Files grew while being packed.
        return Err(too_big(bytes.len() as u64, max_bytes, &[]));
    }
    Ok(bytes)
}

/// Sorted walk; `rel` is the directory's path in the context ("" for the root).
fn walk(
    dir: &Path,
    rel: &str,
    ignore: &DockerIgnore,
    out: &mut BTreeMap<String, Kind>,
) -> Result<(), BuildError> {
    let shown = if rel.is_empty() { "." } else { rel };
    let read = fs::read_dir(dir).map_err(|e| unreadable(shown, &e))?;
    let mut children = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| unreadable(shown, &e))?;
        children.push(entry.file_name());
    }
    children.sort();
    for name in children {
        if name == ".git" {
            continue;
        }
        let name_str = name.to_str().ok_or_else(|| {
            BuildError::Source(format!(
                "{shown}/{} has a name that is not UTF-8; rename it or add it to .dockerignore",
                name.to_string_lossy()
            ))
        })?;
        let path = if rel.is_empty() { name_str.to_owned() } else { format!("{rel}/{name_str}") };
        let full = dir.join(&name);
        let meta = fs::symlink_metadata(&full).map_err(|e| unreadable(&path, &e))?;
        let excluded = ignore.is_excluded(&path);
        let kind = meta.file_type();
        if kind.is_dir() {
            if excluded && !ignore.has_exceptions() {
                continue;
            }
            if !excluded {
                out.insert(path.clone(), Kind::Dir);
            }
            walk(&full, &path, ignore, out)?;
            continue;
        }
        if excluded {
            continue;
        }
        let entry = if kind.is_symlink() {
            Kind::Link(fs::read_link(&full).map_err(|e| unreadable(&path, &e))?)
        } else if kind.is_file() {
            Kind::File { size: meta.len(), mode: meta.permissions().mode() }
        } else {
            // Sockets, pipes and devices have no place in an image's source.
            continue;
        };
        add_parents(&path, out);
        out.insert(path, entry);
    }
    Ok(())
}

/// Directories above an entry that an exception re-included from an excluded directory.
fn add_parents(path: &str, out: &mut BTreeMap<String, Kind>) {
    let mut at = 0;
    while let Some(i) = path[at..].find('/') {
        out.entry(path[..at + i].to_owned()).or_insert(Kind::Dir);
        at += i + 1;
    }
}

fn check_size(entries: &BTreeMap<String, Kind>, max_bytes: u64) -> Result<(), BuildError> {
    let mut total = 2 * BLOCK;
    let mut by_top: BTreeMap<&str, u64> = BTreeMap::new();
    for (path, kind) in entries {
        let size = match kind {
            Kind::File { size, .. } => *size,
            Kind::Generated(data) => data.len() as u64,
            Kind::Dir | Kind::Link(_) => 0,
        };
        // A header (two for long names), then the data padded to a block.
        let bytes = BLOCK * if path.len() > 99 { 3 } else { 1 } + size.div_ceil(BLOCK) * BLOCK;
        total += bytes;
        *by_top.entry(path.split('/').next().unwrap_or(path)).or_default() += bytes;
    }
    if total <= max_bytes {
        return Ok(());
    }
    let mut largest: Vec<(&str, u64)> = by_top.into_iter().collect();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    largest.truncate(3);
    Err(too_big(total, max_bytes, &largest))
}

fn too_big(total: u64, max: u64, largest: &[(&str, u64)]) -> BuildError {
    let parts: Vec<String> = largest.iter().map(|(p, s)| format!("{p} ({})", human(*s))).collect();
    let parts = if parts.is_empty() { String::new() } else { format!(" (largest: {})", parts.join(", ")) };
    BuildError::Source(format!(
        "the build context is {}, over the limit of {}{parts}; leave out what the image does not need \
         (dependencies, build output, data) with a .dockerignore",
        human(total),
        human(max)
    ))
}

fn human(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    match bytes {
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} bytes"),
    }
}

fn read_text(path: &Path) -> Result<Option<String>, BuildError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {
            fs::read_to_string(path).map(Some).map_err(|e| unreadable(".dockerignore", &e))
        }
        _ => Ok(None),
    }
}

fn unreadable(path: &str, e: &std::io::Error) -> BuildError {
    BuildError::Source(format!("cannot read {path} in the source directory: {e}"))
}

#[cfg(test)]
mod tests;
