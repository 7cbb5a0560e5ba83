use std::io::Read;
use std::os::unix::fs::symlink;

use ferry_model::ImageConfiguration;

use super::*;
use crate::test_support::tree;

fn generated_plan() -> Plan {
    Plan {
        dockerfile: ".ferry/Dockerfile".to_owned(),
        generated: Some("FROM scratch\nCOPY . .\n".to_owned()),
        run: ImageConfiguration::default(),
        description: "test".to_owned(),
        ..Plan::default()
    }
}

/// (path, kind, mode, content or link target)
fn entries(tar_bytes: &[u8]) -> Vec<(String, char, u32, String)> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        assert_eq!((header.mtime().unwrap(), header.uid().unwrap(), header.gid().unwrap()), (0, 0, 0));
        let path = entry.path().unwrap().display().to_string();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            _ => 'f',
        };
        let mut text = String::new();
        if kind == 'l' {
            text = entry.link_name().unwrap().unwrap().display().to_string();
        } else {
            entry.read_to_string(&mut text).unwrap();
        }
        out.push((path, kind, header.mode().unwrap(), text));
    }
    out
}

fn paths(tar_bytes: &[u8]) -> Vec<String> {
    entries(tar_bytes).into_iter().map(|e| e.0).collect()
}

#[test]
fn dockerignore_is_honoured_with_exceptions_and_git_is_never_sent() {
    let tmp = tree(&[
        (".dockerignore", "# build output\nnode_modules\n*.log\n/docs/\n!docs/README.md\n**/*.tmp\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        ("vendor/lib/.git", "gitdir: ../../.git/modules/lib\n"),
        ("vendor/lib/a.rb", "a"),
        ("node_modules/x/index.js", "x"),
        ("app.js", "console.log(1)"),
        ("debug.log", "noise"),
        ("src/keep.log", "kept: patterns do not float"),
        ("src/a.tmp", "t"),
        ("docs/guide.md", "g"),
        ("docs/README.md", "r"),
    ]);
    let tar = context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap();
    assert_eq!(
        paths(&tar),
        [
            ".dockerignore",
            ".ferry/",
            ".ferry/Dockerfile",
            "app.js",
            "docs/",
            "docs/README.md",
            "src/",
            "src/keep.log",
            "vendor/",
            "vendor/lib/",
            "vendor/lib/a.rb",
        ]
    );
}

#[test]
fn the_same_tree_gives_the_same_bytes() {
    let tmp = tree(&[("b.txt", "b"), ("a/c.txt", "c"), ("a/b.txt", "b")]);
    let first = context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap();
    // Touching a file changes its mtime, not the context.
    let file = fs::File::options().write(true).open(tmp.path().join("b.txt")).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)).unwrap();
    let second = context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap();
    assert!(first == second, "the context changed with an mtime");
    fs::write(tmp.path().join("b.txt"), "B").unwrap();
    assert_ne!(first, context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap());
}

#[test]
fn links_stay_links_modes_are_kept_and_the_generated_dockerfile_wins() {
    let tmp = tree(&[("run.sh", "#!/bin/sh\n"), ("data.txt", "d"), (".ferry/Dockerfile", "FROM evil\n")]);
    fs::set_permissions(tmp.path().join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    symlink("/etc/passwd", tmp.path().join("outside")).unwrap();
    symlink("data.txt", tmp.path().join("inside")).unwrap();
    let tar = context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap();
    let all = entries(&tar);
    let find = |p: &str| all.iter().find(|e| e.0 == p).unwrap_or_else(|| panic!("{p} in {all:?}")).clone();
    assert_eq!(find("run.sh").2, 0o755);
    assert_eq!(find("data.txt").2, 0o644);
    assert_eq!((find("outside").1, find("outside").3), ('l', "/etc/passwd".to_owned()));
    assert_eq!((find("inside").1, find("inside").3), ('l', "data.txt".to_owned()));
    assert_eq!(find(".ferry/Dockerfile").3, "FROM scratch\nCOPY . .\n");
    assert_eq!(all.iter().filter(|e| e.0 == ".ferry/Dockerfile").count(), 1);
}

#[test]
fn the_repositorys_dockerfile_is_sent_even_when_ignored() {
    let tmp = tree(&[(".dockerignore", "Dockerfile\n"), ("Dockerfile", "FROM scratch\n"), ("a", "")]);
    let plan = Plan { dockerfile: "Dockerfile".to_owned(), generated: None, ..generated_plan() };
    assert_eq!(
        paths(&context_tar(tmp.path(), &plan, 1 << 20).unwrap()),
        [".dockerignore", "Dockerfile", "a"]
    );
}

#[test]
fn a_context_over_the_limit_is_refused_with_its_size_and_largest_parts() {
    let big = "x".repeat(300 << 10);
    let tmp =
        tree(&[("data/a.bin", &big), ("data/b.bin", &big), ("app.py", "print(1)"), ("public/c.bin", &big)]);
    let e = context_tar(tmp.path(), &generated_plan(), 512 << 10).unwrap_err();
    assert!(matches!(e, BuildError::Source(_)), "{e:?}");
    expect_test::expect!["the build context is 906.0 KiB, over the limit of 512.0 KiB (largest: data (601.5 KiB), public (301.0 KiB), .ferry (1.5 KiB)); leave out what the image does not need (dependencies, build output, data) with a .dockerignore"]
        .assert_eq(&e.to_string());
    fs::write(tmp.path().join(".dockerignore"), "data\n").unwrap();
    assert!(context_tar(tmp.path(), &generated_plan(), 512 << 10).is_ok());
}

#[test]
fn a_missing_source_directory_or_a_bad_pattern_is_an_error() {
    let tmp = tree(&[(".dockerignore", "ok\n[z-a\n")]);
    let e = context_tar(&tmp.path().join("nope"), &generated_plan(), 1 << 20).unwrap_err().to_string();
    assert!(e.starts_with("source directory") && e.contains("does not exist"), "{e}");
    let e = context_tar(tmp.path(), &generated_plan(), 1 << 20).unwrap_err().to_string();
    assert!(e.starts_with(".dockerignore line 2:"), "{e}");
}
