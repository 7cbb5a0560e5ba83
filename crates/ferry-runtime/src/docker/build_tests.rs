use super::*;

#[test]
fn failed_commands_are_read_from_the_builders_messages() {
    #[rustfmt::skip]
    let cases: &[(&str, Option<&str>, Option<i64>)] = &[
        // The classic builder, a RUN in shell form.
        ("The command '/bin/sh -c false' returned a non-zero code: 1", Some("false"), Some(1)),
        (
            "The command '/bin/sh -c pip install -r requirements.txt' returned a non-zero code: 2",
            Some("pip install -r requirements.txt"), Some(2),
        ),
        ("The command '/bin/sh -c echo 'a b' && exit 3' returned a non-zero code: 3", Some("echo 'a b' && exit 3"), Some(3)),
        // A RUN in exec (JSON) form: no shell.
        ("The command 'false' returned a non-zero code: 1", Some("false"), Some(1)),
        ("The command 'npm ci --production' returned a non-zero code: 127", Some("npm ci --production"), Some(127)),
        // Older engines print the command as a Go list, or as JSON.
        ("The command '[/bin/sh -c make all]' returned a non-zero code: 2", Some("make all"), Some(2)),
        (r#"The command '["/bin/sh","-c","npm ci"]' returned a non-zero code: 1"#, Some("npm ci"), Some(1)),
        (r#"The command '["node", "build.js", "a \"b\""]' returned a non-zero code: 1"#, Some(r#"node build.js a "b""#), Some(1)),
        // Another SHELL, with options before -c.
        (
            "The command '/bin/bash -o pipefail -c curl -s x | sh' returned a non-zero code: 6",
            Some("curl -s x | sh"), Some(6),
        ),
        ("The command '/bin/bash -e -c make' returned a non-zero code: 2", Some("make"), Some(2)),
        // Not a shell: left alone.
        ("The command '/usr/bin/python3 -c print(1)' returned a non-zero code: 1", Some("/usr/bin/python3 -c print(1)"), Some(1)),
        ("The command '/bin/sh' returned a non-zero code: 1", Some("/bin/sh"), Some(1)),
        // A message after the code.
        ("The command '/bin/sh -c x' returned a non-zero code: 137: oom", Some("x"), Some(137)),
        ("The command '/bin/sh -c x' returned a non-zero code: many", Some("x"), None),
        // BuildKit.
        (
            r#"process "/bin/sh -c echo \"hi\" && false" did not complete successfully: exit code: 1"#,
            Some(r#"echo "hi" && false"#), Some(1),
        ),
        // Failures that are not a command's.
        ("Cannot locate specified Dockerfile: Dockerfile", None, None),
        ("COPY failed: file not found in build context or excluded by .dockerignore: stat app: file does not exist", None, None),
        ("dockerfile parse error line 2: unknown instruction: RUNN", None, None),
        ("The command '/bin/sh -c false", None, None),
        ("", None, None),
    ];
    for (message, command, exit_code) in cases {
        let parsed = failed_command(message);
        assert_eq!(parsed, (command.map(str::to_owned), *exit_code), "{message}");
    }
}

#[test]
fn stream_errors_become_build_errors_with_the_command() {
    let err = BollardError::DockerStreamError {
        error: "The command '/bin/sh -c false' returned a non-zero code: 1".to_owned(),
    };
    match failure(err) {
        RuntimeError::Build { message, command, exit_code } => {
            assert_eq!(message, "The command '/bin/sh -c false' returned a non-zero code: 1");
            assert_eq!((command.as_deref(), exit_code), (Some("false"), Some(1)));
        }
        other => panic!("expected a build error, got {other:?}"),
    }
    let refused = BollardError::DockerResponseServerError {
        status_code: 500,
        message: "Cannot locate specified Dockerfile: Nope".to_owned(),
    };
    let err = failure(refused);
    assert!(matches!(&err, RuntimeError::Build { command: None, exit_code: None, .. }), "{err:?}");
    assert_eq!(err.to_string(), "the build failed: Cannot locate specified Dockerfile: Nope");
    let gone = BollardError::SocketNotFoundError("/var/run/docker.sock".to_owned());
    assert!(matches!(failure(gone), RuntimeError::Unavailable(_)));
}

fn split(pieces: &[&str]) -> Vec<String> {
    let mut lines = Lines::default();
    let mut out = Vec::new();
    for piece in pieces {
        lines.feed(piece, &mut |line| out.push(line.to_owned()));
    }
    lines.finish(&mut |line| out.push(line.to_owned()));
    out
}

#[test]
fn builder_text_is_cut_into_lines() {
    #[rustfmt::skip]
    let cases: &[(&[&str], &[&str])] = &[
        // A step's title and its newline come apart, as the classic builder sends them.
        (&["Step 1/2 : FROM scratch", "\n", " ---> \n"], &["Step 1/2 : FROM scratch", " ---> "]),
        // Several lines in one message; the empty one after the last newline is no line.
        (&["a\nb\n"], &["a", "b"]),
        // A command's output cut mid-line.
        (&["Collect", "ing flask\nDown", "loading\n"], &["Collecting flask", "Downloading"]),
        // CRLF, and a progress bar redrawn with \r: as last drawn.
        (&["one\r\n", "10%\r50%\r100%\r\n"], &["one", "100%"]),
        // Blank lines a command printed stay.
        (&["a\n\nb\n"], &["a", "", "b"]),
        // The last line without a newline comes out at the end; an empty rest does not.
        (&["done"], &["done"]),
        (&["x\n", ""], &["x"]),
        (&["\r"], &[]),
        (&[], &[]),
    ];
    for (pieces, want) in cases {
        assert_eq!(split(pieces), *want, "{pieces:?}");
    }
}

#[test]
fn endless_lines_come_out_in_pieces() {
    let long = "x".repeat(MAX_LINE + 1);
    let lines = split(&[&long, "y\n"]);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), MAX_LINE + 1);
    assert_eq!(lines[1], "y");
}
