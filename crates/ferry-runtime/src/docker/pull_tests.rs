use bollard::models::ProgressDetail;

use super::*;

fn msg(id: Option<&str>, status: &str, progress: Option<(i64, i64)>) -> CreateImageInfo {
    CreateImageInfo {
        id: id.map(str::to_owned),
        status: Some(status.to_owned()),
        progress_detail: progress
            .map(|(current, total)| ProgressDetail { current: Some(current), total: Some(total) }),
        ..Default::default()
    }
}

#[test]
fn layer_progress_folds_into_one_line() {
    let mut p = PullProgress::new("127.0.0.1:5000/web:v1".to_owned());
    assert!(!p.update(&msg(Some("v1"), "Pulling from web", None)), "the tag is not a layer");
    assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1");
    assert!(p.update(&msg(Some("aaa"), "Already exists", None)));
    assert!(p.update(&msg(Some("bbb"), "Pulling fs layer", None)));
    assert!(p.update(&msg(Some("ccc"), "Waiting", None)));
    p.update(&msg(Some("bbb"), "Downloading", Some((12_100_000, 30_000_000))));
    p.update(&msg(Some("ccc"), "Downloading", Some((0, 10_300_000))));
    assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1: 1 of 3 layers, 12.1 MB of 40.3 MB");
    p.update(&msg(Some("bbb"), "Download complete", None));
    p.update(&msg(Some("bbb"), "Extracting", Some((5, 30_000_000))));
    p.update(&msg(Some("bbb"), "Pull complete", None));
    assert_eq!(p.line(), "pulling 127.0.0.1:5000/web:v1: 2 of 3 layers, 30.0 MB of 40.3 MB");
    assert!(!p.update(&msg(None, "Digest: sha256:abc", None)));
    p.update(&msg(Some("ccc"), "Pull complete", None));
    assert_eq!(p.final_line(), "pulled 127.0.0.1:5000/web:v1: 3 layers, 40.3 MB downloaded");
}

#[test]
fn an_image_already_here_says_so() {
    let p = PullProgress::new("web:v1".to_owned());
    assert_eq!(p.final_line(), "pulled web:v1: already up to date");
}

#[test]
fn bytes_read_like_the_docker_cli() {
    let cases = [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (12_149_999, "12.1 MB"), (999_960, "1.0 MB")];
    for (n, want) in cases {
        assert_eq!(human_bytes(n), want, "{n}");
    }
    assert_eq!(human_bytes(3_200_000_000_000_000), "3200.0 TB");
}
