//! The fake engine's images, and the registries behind it.
//!
//! The engine side keeps references (tags `name:tag`, digests `name@digest`; a name with neither is
//! `name:latest`) pointing at image ids, as Docker's reference store does, and removes them by
//! Docker's rules ([`ImageStore::remove`]). It is an open world, as the fake has always been: an image
//! or reference the fake never made exists until it is removed, so a test need not pull what its
//! containers run. A reference the fake never made stands for the image a pull of it would give.
//!
//! The registry side remembers what was pushed (a tag and its digest, each to the image id), so a pull
//! of a pushed tag or digest gives the image that was pushed.

use std::collections::{BTreeMap, HashMap, HashSet};

use ferry_model::ImageRef;

use super::FakeRuntime;

#[derive(Debug, Default)]
pub(super) struct ImageStore {
    /// Reference (its key) → image id, for what pulls, builds and pushes made here.
    references: BTreeMap<String, String>,
    /// Ids and reference keys removed, and not made again since.
    removed: HashSet<String>,
    /// Pushed tags (their keys) → image id.
    pushed_tags: HashMap<String, String>,
    /// Pushed manifest digests → image id.
    pushed_digests: HashMap<String, String>,
}

/// A container, and the image it was created from.
pub(super) struct User<'a> {
    pub(super) container_id: &'a str,
    pub(super) image_id: &'a str,
    pub(super) running: bool,
}

/// What an image is asked for by.
enum Name {
    /// `sha256:…`.
    Id(String),
    Reference(Reference),
}

#[derive(Debug, Clone)]
struct Reference {
    /// `name:tag` or `name@digest`, the tag `latest` when none was written (the text as written if it
    /// is not a valid reference, so that it still names something).
    key: String,
    repository: String,
    digest: Option<String>,
}

fn name(text: &str) -> Name {
    if text.starts_with("sha256:") {
        return Name::Id(text.to_owned());
    }
    Name::Reference(match ImageRef::parse(text) {
        Ok(image) => match image.digest() {
            Some(digest) => Reference {
                key: format!("{}@{digest}", image.name()),
                repository: image.name(),
                digest: Some(digest.to_owned()),
            },
            None => Reference {
                key: format!("{}:{}", image.name(), image.tag().unwrap_or("latest")),
                repository: image.name(),
                digest: None,
            },
        },
        Err(_) => Reference { key: text.to_owned(), repository: text.to_owned(), digest: None },
    })
}

/// The engine's short form of an id: 12 hex digits, without the algorithm.
fn short(id: &str) -> &str {
    let hex = id.split_once(':').map_or(id, |(_, hex)| hex);
    hex.get(..12).unwrap_or(hex)
}

impl ImageStore {
    /// The image a pull of `text` (a reference) gives: what was pushed under its digest or tag, else
    /// [`FakeRuntime::image_id`] of it.
    pub(super) fn pulled_id(&self, text: &str) -> String {
        let pushed = match name(text) {
            Name::Id(id) => Some(id),
            Name::Reference(r) => match &r.digest {
                Some(digest) => self.pushed_digests.get(digest).cloned(),
                None => self.pushed_tags.get(&r.key).cloned(),
            },
        };
        pushed.unwrap_or_else(|| FakeRuntime::image_id(text))
    }

    /// The image `text` stands for: an id itself; a reference made here, its image; any other
    /// reference, the image a pull of it would give.
    pub(super) fn id_of(&self, text: &str) -> String {
        match name(text) {
            Name::Id(id) => id,
            Name::Reference(r) => {
                self.references.get(&r.key).cloned().unwrap_or_else(|| self.pulled_id(text))
            }
        }
    }

    /// `references` now name `id`, and all are here (again).
    pub(super) fn made(&mut self, id: &str, references: &[String]) {
        self.removed.remove(id);
        for text in references {
            if let Name::Reference(r) = name(text) {
                self.removed.remove(&r.key);
                self.references.insert(r.key, id.to_owned());
            }
        }
    }

    /// A push of `tag` that reported `digest`: its registry now holds the image the tag names, under
    /// both, and the engine knows that image as `name@digest` too (as Docker records after a push).
    pub(super) fn pushed(&mut self, tag: &str, digest: &str) {
        let id = self.id_of(tag);
        if let Name::Reference(r) = name(tag) {
            self.pushed_tags.insert(r.key, id.clone());
            self.pushed_digests.insert(digest.to_owned(), id.clone());
            self.made(&id, &[format!("{}@{digest}", r.repository)]);
        }
    }

    /// `text` (a reference) was made here, by a pull, a build or a push, and is still here.
    pub(super) fn holds(&self, text: &str) -> Option<String> {
        match name(text) {
            Name::Reference(r) if !self.removed.contains(&r.key) => {
                self.references.get(&r.key).filter(|id| !self.removed.contains(*id)).cloned()
            }
            _ => None,
        }
    }

    pub(super) fn exists(&self, text: &str) -> bool {
        match name(text) {
            Name::Id(id) => !self.removed.contains(&id),
            Name::Reference(r) => !self.removed.contains(&r.key) && !self.removed.contains(&self.id_of(text)),
        }
    }

    /// Removes an image or a reference as Docker does without `force`, given the containers there are;
    /// the engine's message when it refuses. Something already gone is removed.
    ///
    /// - By id: refused while a container was created from the image, or while references of more than
    ///   one repository name it; otherwise the image goes with all its references.
    /// - By reference: refused while a container was created from the image and the reference is the
    ///   image's only name (its tags and digests of one repository count as one name, with at most one
    ///   tag among them). Otherwise the reference goes; a tag that was its repository's last on the
    ///   image takes that repository's digest references with it; the image goes with its last name.
    pub(super) fn remove(&mut self, text: &str, users: &[User<'_>]) -> Result<(), String> {
        match name(text) {
            Name::Id(id) => {
                if self.removed.contains(&id) {
                    return Ok(());
                }
                let using = |running: bool| users.iter().find(|u| u.image_id == id && u.running == running);
                if let Some(user) = using(true).or_else(|| using(false)) {
                    let (force, state) = if user.running {
                        ("cannot be forced", "running")
                    } else {
                        ("must be forced", "stopped")
                    };
                    return Err(format!(
                        "conflict: unable to delete {} ({force}) - image is being used by {state} container {}",
                        short(&id),
                        short(user.container_id)
                    ));
                }
                let names = self.references_to(&id);
                if !single_reference(&names) {
                    return Err(format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple \
                         repositories",
                        short(&id)
                    ));
                }
                for r in names {
                    self.untag(&r.key);
                }
                self.removed.insert(id);
            }
            Name::Reference(reference) => {
                let id = self.id_of(text);
                if self.removed.contains(&reference.key) || self.removed.contains(&id) {
                    return Ok(());
                }
                let mut names = self.references_to(&id);
                if !names.iter().any(|r| r.key == reference.key) {
                    names.push(reference.clone()); // a reference the fake never made
                }
                if single_reference(&names)
                    && let Some(user) = users.iter().find(|u| u.image_id == id)
                {
                    return Err(format!(
                        "conflict: unable to remove repository reference \"{text}\" (must force) - container {} \
                         is using its referenced image {}",
                        short(user.container_id),
                        short(&id)
                    ));
                }
                self.untag(&reference.key);
                names.retain(|r| r.key != reference.key);
                let same_repository = |r: &Reference| r.repository == reference.repository;
                if reference.digest.is_none()
                    && !names.iter().any(|r| r.digest.is_none() && same_repository(r))
                {
                    for r in names.iter().filter(|r| same_repository(r)) {
                        self.untag(&r.key);
                    }
                    names.retain(|r| !same_repository(r));
                }
                if names.is_empty() {
                    self.removed.insert(id);
                }
            }
        }
        Ok(())
    }

    fn references_to(&self, id: &str) -> Vec<Reference> {
        self.references
            .iter()
            .filter(|(_, target)| *target == id)
            .filter_map(|(key, _)| match name(key) {
                Name::Reference(r) => Some(r),
                Name::Id(_) => None,
            })
            .collect()
    }

    fn untag(&mut self, key: &str) {
        self.references.remove(key);
        self.removed.insert(key.to_owned());
    }
}

/// Docker's `isSingleReference`: whether `names` are, for a removal, one name: exactly one, or one tag
/// and digests all of the tag's repository (or digests of one repository only).
fn single_reference(names: &[Reference]) -> bool {
    if names.len() <= 1 {
        return names.len() == 1;
    }
    let mut tag: Option<&Reference> = None;
    let mut digest_repositories = HashSet::new();
    for r in names {
        if r.digest.is_some() {
            digest_repositories.insert(r.repository.as_str());
        } else if tag.is_none() {
            tag = Some(r);
        } else {
            return false;
        }
    }
    let one = tag.unwrap_or(&names[0]);
    digest_repositories.len() == 1 && digest_repositories.contains(one.repository.as_str())
}
