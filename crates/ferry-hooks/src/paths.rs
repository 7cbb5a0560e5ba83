//! Whether a push touched a service's source directory.

/// Whether every changed path lies outside `source_dir`, a repository-relative directory such as
/// `services/web` (leading and trailing `/` and a leading `./` are ignored). `services/web` holds
/// `services/web/app.py` and the path `services/web` itself, not `services/webapp/x`.
///
/// `false` whenever the answer is not a sure yes: an empty list (nothing to go by), or a `source_dir` that
/// is the whole repository (empty or `.`). Callers pass [`crate::Push::paths`] when it is `Some` and
/// deploy when it is `None`. Files outside the directory that still shape the build (a root
/// `apprunner.yaml`, say) are the caller's to add.
pub fn all_outside(paths: &[String], source_dir: &str) -> bool {
    let dir = normalise(source_dir);
    if dir.is_empty() || paths.is_empty() {
        return false;
    }
    paths.iter().all(|path| !inside(normalise(path), dir))
}

fn normalise(path: &str) -> &str {
    let path = path.trim_matches('/');
    let path = path.strip_prefix("./").unwrap_or(path);
    if path == "." { "" } else { path.trim_matches('/') }
}

fn inside(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn owned(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn paths_inside_outside_and_beside_the_directory() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["services/web/app.py"], "services/web", false),
            (&["services/web"], "services/web", false),
            (&["services/webapp/x"], "services/web", true),
            (&["services/api/main.go", "README.md"], "services/web", true),
            (&["README.md", "services/web/a/b/c"], "services/web", false),
            (&["services/web/app.py"], "/services/web/", false),
            (&["services/web/app.py"], "./services/web", false),
            (&["services/webapp/x"], "services/web/", true),
            (&["anything"], "", false),
            (&["anything"], ".", false),
            (&["anything"], "/", false),
            (&[], "services/web", false),
        ];
        for &(paths, dir, want) in cases {
            assert_eq!(all_outside(&owned(paths), dir), want, "{paths:?} in {dir:?}");
        }
    }

    proptest! {
        #[test]
        fn a_path_inside_means_not_all_outside(
            dir in "[a-z]{1,5}(/[a-z]{1,5}){0,2}",
            rest in "(/[a-z.]{1,5}){0,3}",
            others in prop::collection::vec("[a-z/.]{0,12}", 0..5),
        ) {
            let mut paths = others;
            paths.push(format!("{dir}{rest}"));
            prop_assert!(!all_outside(&paths, &dir));
        }

        #[test]
        fn paths_under_a_sibling_prefix_are_outside(
            dir in "[a-z]{1,5}(/[a-z]{1,5}){0,2}",
            suffix in "[a-z0-9_-]{1,4}(/[a-z]{1,5}){0,2}",
            n in 1usize..5,
        ) {
            let paths: Vec<String> = (0..n).map(|i| format!("{dir}{suffix}{i}")).collect();
            prop_assert!(all_outside(&paths, &dir));
        }

        #[test]
        fn empty_lists_and_the_whole_repository_are_never_outside(
            paths in prop::collection::vec(".{0,20}", 0..6),
            dir in ".{0,20}",
        ) {
            prop_assert!(!all_outside(&[], &dir));
            prop_assert!(!all_outside(&paths, ""));
            prop_assert!(!all_outside(&paths, "."));
        }

        #[test]
        fn order_does_not_matter(
            mut paths in prop::collection::vec("[ab]{1,2}(/[ab]{1,2}){0,2}", 1..6),
            dir in "[ab]{1,2}(/[ab]{1,2}){0,1}",
        ) {
            let before = all_outside(&paths, &dir);
            paths.reverse();
            prop_assert_eq!(all_outside(&paths, &dir), before);
        }
    }
}
