//! Which revisions' images leave the engine, to keep its disk from filling up.
//!
//! A service keeps the images of its newest `keep` revisions, of its active revision, and of any revision
//! an unfinished operation names; a deleted service keeps none. Only the references ferry itself put on
//! the engine are removed (`name@digest`, its own build tags: see `Revision::engine_references`), and
//! never one a kept revision also uses; a tag someone else made on the same image keeps the image.

use std::collections::{BTreeMap, HashSet};

use ferry_model::ServiceId;

/// A revision whose image is on the engine, and what may keep it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    pub service: ServiceId,
    pub revision: u32,
    /// The references ferry put on the engine for it.
    pub references: Vec<String>,
    pub active: bool,
    /// An unfinished operation names it.
    pub deploying: bool,
    pub service_deleted: bool,
}

/// A revision whose image references are to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prune {
    pub service: ServiceId,
    pub revision: u32,
    /// What to remove; none shared with a kept revision.
    pub references: Vec<String>,
}

/// The revisions to prune, and their references to remove, keeping `keep` newest revisions per service.
pub fn prunable(uses: &[ImageUse], keep: u32) -> Vec<Prune> {
    let mut by_service: BTreeMap<&ServiceId, Vec<&ImageUse>> = BTreeMap::new();
    for u in uses {
        by_service.entry(&u.service).or_default().push(u);
    }
    let mut kept_refs: HashSet<&str> = HashSet::new();
    let mut candidates: Vec<&ImageUse> = Vec::new();
    for revisions in by_service.values_mut() {
        revisions.sort_by_key(|u| std::cmp::Reverse(u.revision));
        for (rank, u) in revisions.iter().enumerate() {
            let kept = u.deploying || (!u.service_deleted && (u.active || rank < keep as usize));
            if kept {
                kept_refs.extend(u.references.iter().map(String::as_str));
            } else {
                candidates.push(u);
            }
        }
    }
    candidates.sort_by(|a, b| (&a.service, a.revision).cmp(&(&b.service, b.revision)));
    // A revision whose references are all a kept one's too has its image still in use: nothing of it goes,
    // and it is not pruned (a rollback to it needs no pull).
    candidates
        .into_iter()
        .map(|u| Prune {
            service: u.service.clone(),
            revision: u.revision,
            references: u.references.iter().filter(|r| !kept_refs.contains(r.as_str())).cloned().collect(),
        })
        .filter(|p| !p.references.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(n: u8) -> ServiceId {
        ServiceId::parse(&format!("{n:032x}")).expect("an id")
    }

    fn used(s: u8, revision: u32, reference: &str) -> ImageUse {
        ImageUse {
            service: service(s),
            revision,
            references: vec![reference.to_owned()],
            active: false,
            deploying: false,
            service_deleted: false,
        }
    }

    fn pruned(prunes: &[Prune]) -> Vec<(u32, Vec<String>)> {
        prunes.iter().map(|p| (p.revision, p.references.clone())).collect()
    }

    #[test]
    fn keeps_the_newest_the_active_the_deploying_and_shared_references() {
        let mut uses = vec![
            used(1, 1, "web@sha256:one"),
            used(1, 2, "web@sha256:two"),
            used(1, 3, "web@sha256:three"),
            used(1, 4, "web@sha256:one"), // the same image as revision 1
            used(1, 5, "web@sha256:five"),
            used(1, 6, "web@sha256:six"),
        ];
        uses[1].active = true;
        uses[5].deploying = true;
        // Keep the newest 2 (5, 6), the active one (2) and the deploying one (6): 1, 3 and 4 go.
        let got = pruned(&prunable(&uses, 2));
        assert_eq!(
            got,
            [
                (1, vec!["web@sha256:one".to_owned()]),
                (3, vec!["web@sha256:three".into()]),
                (4, vec!["web@sha256:one".into()])
            ]
        );
        // Keeping 3 keeps revision 4, and with it the reference revision 1 shares: 1's image stays, and 1 is
        // not pruned.
        let got = pruned(&prunable(&uses, 3));
        assert_eq!(got, [(3, vec!["web@sha256:three".to_owned()])]);
    }

    #[test]
    fn a_deleted_service_keeps_nothing_but_what_an_operation_still_names() {
        let mut uses = vec![used(1, 1, "a"), used(1, 2, "b"), used(2, 1, "c")];
        for u in &mut uses[..2] {
            u.service_deleted = true;
            u.active = true;
        }
        uses[1].deploying = true;
        assert_eq!(pruned(&prunable(&uses, 5)), [(1, vec!["a".to_owned()])]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Nothing a kept revision uses is ever removed, no kept revision is pruned, and a pruned one always
            /// has something to remove.
            #[test]
            fn kept_references_are_never_removed(
                revisions in proptest::collection::vec((0u8..3, 0u8..6, any::<bool>(), any::<bool>(), any::<bool>()), 0..30),
                keep in 1u32..4,
            ) {
                let mut uses: Vec<ImageUse> = Vec::new();
                for (i, (s, image, active, deploying, deleted)) in revisions.into_iter().enumerate() {
                    let mut u = used(s, i as u32 + 1, &format!("img@{image}"));
                    (u.active, u.deploying, u.service_deleted) = (active, deploying, deleted);
                    uses.push(u);
                }
                let prunes = prunable(&uses, keep);
                let pruned_revisions: HashSet<(ServiceId, u32)> =
                    prunes.iter().map(|p| (p.service.clone(), p.revision)).collect();
                let removed: HashSet<&String> = prunes.iter().flat_map(|p| &p.references).collect();
                prop_assert!(prunes.iter().all(|p| !p.references.is_empty()));
                let kept_of = |u: &ImageUse| {
                    let newer = uses.iter().filter(|o| o.service == u.service && o.revision > u.revision).count();
                    u.deploying || (!u.service_deleted && (u.active || newer < keep as usize))
                };
                let kept_refs: HashSet<&String> =
                    uses.iter().filter(|u| kept_of(u)).flat_map(|u| &u.references).collect();
                for u in &uses {
                    let kept = kept_of(u);
                    let key = (u.service.clone(), u.revision);
                    let own = u.references.iter().any(|r| !kept_refs.contains(r));
                    prop_assert_eq!(!kept && own, pruned_revisions.contains(&key), "{:?}", u);
                    if kept {
                        for r in &u.references {
                            prop_assert!(!removed.contains(r), "{} of a kept revision was removed", r);
                        }
                    }
                }
            }
        }
    }
}
