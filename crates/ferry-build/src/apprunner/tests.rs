use super::*;

/// The developer guide's full example (§2.1), without `run.secrets` (see [`run_secrets_name_secrets`]).
const FULL: &str = r#"version: 1.0
runtime: python311
build:
  commands:
    pre-build:
      - wget -c https://s3.amazonaws.com/amzn-s3-demo-bucket/test-lib.tar.gz -O - | tar -xz
    build:
      - pip3 install pipenv
      - pipenv install
    post-build:
      - python3 manage.py test
  env:
    - name: DJANGO_SETTINGS_MODULE
      value: "django_apprunner.settings"
run:
  runtime-version: 3.11
  pre-run:
    - pip3 install pipenv
    - pipenv install
    - python3 copy-global-files.py
  command: pipenv run gunicorn django_apprunner.wsgi --log-file -
  network:
    port: 8000
    env: MY_APP_PORT
  env:
    - name: MY_VAR_EXAMPLE
      value: "example"
"#;

const MINIMAL: &str = "version: 1.0
runtime: python3
build:
  commands:
    build:
      - pip install pipenv
      - pipenv install
run:
  command: python app.py
";

#[test]
fn the_guides_full_example_parses_into_every_field() {
    let c = AppRunnerConfig::parse(FULL).unwrap();
    assert_eq!(c.runtime, CodeRuntime::Python311);
    assert_eq!(c.pre_build.len(), 1);
    assert_eq!(c.build, ["pip3 install pipenv", "pipenv install"]);
    assert_eq!(c.post_build, ["python3 manage.py test"]);
    assert_eq!(c.build_env, [("DJANGO_SETTINGS_MODULE".to_owned(), "django_apprunner.settings".to_owned())]);
    assert_eq!(c.runtime_version.as_deref(), Some("3.11"));
    assert_eq!(c.pre_run.len(), 3);
    assert_eq!(c.command, "pipenv run gunicorn django_apprunner.wsgi --log-file -");
    assert_eq!(c.port, Some(8000));
    assert_eq!(c.port_env.as_deref(), Some("MY_APP_PORT"));
    let env: Vec<_> = c.env.iter().collect();
    assert_eq!(env, [("MY_APP_PORT", "8000"), ("MY_VAR_EXAMPLE", "example")]);
}

#[test]
fn the_minimal_example_takes_the_defaults() {
    let c = AppRunnerConfig::parse(MINIMAL).unwrap();
    assert_eq!(c.runtime, CodeRuntime::Python3);
    assert!(c.pre_build.is_empty() && c.post_build.is_empty() && c.pre_run.is_empty());
    assert_eq!(c.command, "python app.py");
    assert_eq!((c.port, c.port_env.as_deref(), c.env.len()), (None, None, 0));
}

#[test]
fn scalars_keep_the_digits_written() {
    let text = MINIMAL.replace("version: 1.0", "version: \"1.0\"")
        + "  runtime-version: 3.10\n  network:\n    port: \"9000\"\n";
    let c = AppRunnerConfig::parse(&text).unwrap();
    assert_eq!(c.runtime_version.as_deref(), Some("3.10"));
    assert_eq!(c.port, Some(9000));
}

/// (what is wrong, the file, the line the error names, words the message must contain)
#[test]
fn every_error_names_its_line_and_what_to_do() {
    let secrets = |entries: &str| format!("{FULL}  secrets:\n{entries}");
    let cases: Vec<(&str, String, Option<usize>, &[&str])> = vec![
        (
            "unknown runtime",
            MINIMAL.replace("python3", "python2"),
            Some(2),
            &["\"python2\" is not an App Runner runtime", "python3, python311, nodejs12"],
        ),
        ("version 2", MINIMAL.replace("1.0", "2.0"), Some(1), &["version \"2.0\" is not supported", "1.0"]),
        (
            "no version",
            MINIMAL.replace("version: 1.0\n", ""),
            None,
            &["version is missing", "add `version: 1.0`"],
        ),
        ("no runtime", MINIMAL.replace("runtime: python3\n", ""), None, &["runtime is missing"]),
        (
            "no run.command",
            MINIMAL.replace("  command: python app.py\n", "  network:\n    port: 80\n"),
            Some(8),
            &["run.command is missing"],
        ),
        (
            "empty run.command",
            MINIMAL.replace("command: python app.py", "command:"),
            Some(9),
            &["run.command is missing"],
        ),
        (
            "no build commands",
            MINIMAL.replace(
                "    build:\n      - pip install pipenv\n      - pipenv install\n",
                "    pre-build: [ls]\n",
            ),
            Some(4),
            &["build.commands.build is missing"],
        ),
        (
            "no build section",
            "version: 1.0\nruntime: python3\nrun:\n  command: x\n".to_owned(),
            None,
            &["build is missing"],
        ),
        (
            "typo in run",
            MINIMAL.replace("command:", "comand:"),
            Some(9),
            &["unknown key \"comand\" in run", "command", "spelling"],
        ),
        (
            "typo at the top",
            MINIMAL.to_owned() + "servce: x\n",
            Some(10),
            &["unknown key \"servce\" at the top level"],
        ),
        (
            "typo in an env entry",
            MINIMAL.to_owned() + "  env:\n    - name: A\n      valeu: b\n",
            Some(12),
            &["unknown key \"valeu\" in run.env[0]"],
        ),
        (
            "build commands not a list",
            MINIMAL.replace(
                "    build:\n      - pip install pipenv\n      - pipenv install\n",
                "    build: pip install x\n",
            ),
            Some(5),
            &["build.commands.build is a single value; it takes a list of commands"],
        ),
        (
            "syntax error",
            "version: 1.0\n  runtime: python3\n".to_owned(),
            Some(2),
            &["mapping values are not allowed", "indentation"],
        ),
        (
            "pre-run on an original runtime",
            MINIMAL.to_owned() + "  pre-run:\n    - echo hi\n",
            Some(10),
            &[
                "run.pre-run only works with the revised-build runtimes",
                "not python3",
                "build.commands.build",
            ],
        ),
        (
            "PORT in run.env",
            MINIMAL.to_owned()
                + "  env:\n    - name: A\n      value: b\n    - name: PORT\n      value: \"1\"\n",
            Some(13),
            &["PORT is reserved", "run.network.port"],
        ),
        (
            "a bad port",
            MINIMAL.to_owned() + "  network:\n    port: http\n",
            Some(11),
            &["port \"http\" is not a port number"],
        ),
        (
            "a bad runtime-version",
            MINIMAL.to_owned() + "  runtime-version: latest\n",
            Some(10),
            &["runtime-version \"latest\" is not a version"],
        ),
        (
            "a secret without value-from",
            secrets("    - name: DB\n"),
            Some(29),
            &["run.secrets: DB has no value-from", "value-from: SECRET_NAME"],
        ),
        (
            "a secret without a name",
            secrets("    - value-from: db\n"),
            Some(28),
            &["run.secrets: an entry has no name"],
        ),
        (
            "a secret name that is not one",
            secrets("    - name: DB\n      value-from: \"has space\"\n"),
            Some(29),
            &["run.secrets: DB:", "not a valid secret name"],
        ),
        (
            "a secret's JSON key",
            secrets(
                "    - name: DB\n      value-from: \"arn:aws:secretsmanager:r:1:secret:db-AbCdEf:user::\"\n",
            ),
            Some(29),
            &["picks a JSON key or a version", "refer to \"db-AbCdEf\""],
        ),
        (
            "a secret that is also a variable",
            secrets("    - name: MY_VAR_EXAMPLE\n      value-from: db\n"),
            Some(29),
            &["MY_VAR_EXAMPLE is also in run.env"],
        ),
        (
            "a secret as PORT",
            secrets("    - name: PORT\n      value-from: db\n"),
            Some(29),
            &["run.secrets:", "PORT is reserved"],
        ),
        (
            "a secret twice",
            secrets("    - name: A\n      value-from: x\n    - name: A\n      value-from: y\n"),
            Some(29),
            &["run.secrets: A is given twice"],
        ),
        (
            "a bad build.env name",
            MINIMAL.replace(
                "build:\n  commands:",
                "build:\n  env:\n    - name: A-B\n      value: x\n  commands:",
            ),
            Some(5),
            &["build.env: \"A-B\" is not a variable name"],
        ),
        (
            "a multi-line build variable",
            MINIMAL.replace(
                "build:\n  commands:",
                "build:\n  env:\n    - name: A\n      value: |\n        x\n        y\n  commands:",
            ),
            Some(5),
            &["the value of A has a line break"],
        ),
    ];
    let mut wrong = Vec::new();
    for (what, text, line, words) in cases {
        let e = AppRunnerConfig::parse(&text).expect_err(what);
        let BuildError::Config { file, line: got, message } = &e else { panic!("{what}: {e:?}") };
        assert_eq!(file, "apprunner.yaml", "{what}");
        if *got != line || !words.iter().all(|w| message.contains(w)) {
            wrong.push(format!("{what}: line {got:?}, want {line:?}: {message}"));
        }
        let shown = e.to_string();
        let prefix = line.map_or("apprunner.yaml: ".to_owned(), |l| format!("apprunner.yaml line {l}: "));
        assert!(shown.starts_with(&prefix) && !shown.ends_with('.'), "{shown}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn run_secrets_name_secrets() {
    let text = format!(
        "{FULL}  secrets:\n    - name: DB_PASSWORD\n      value-from: db-password\n    - name: API_KEY\n      \
         value-from: \"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/api-key\"\n    - name: TOKEN\n      \
         value-from: \"arn:aws:ssm:us-east-1:123456789012:parameter/app/token\"\n"
    );
    let c = AppRunnerConfig::parse(&text).unwrap();
    let refs: Vec<(&str, &str)> = c.secrets.iter().map(|(k, v)| (k, v.as_str())).collect();
    assert_eq!(refs, [("API_KEY", "prod/api-key"), ("DB_PASSWORD", "db-password"), ("TOKEN", "app/token")]);
    assert!(c.env.get("DB_PASSWORD").is_none(), "a secret is not a plain variable");
    assert!(AppRunnerConfig::parse(FULL).unwrap().secrets.is_empty());
}

/// AWS's guide and the corpus: keys written in the wrong shape. (what, text, line, words)
#[test]
fn a_wrong_shape_says_what_the_key_takes_and_where() {
    let cases: Vec<(&str, String, Option<usize>, &[&str])> = vec![
        (
            "build.commands as a list",
            MINIMAL.replace("    build:\n      - pip", "    - pip").replace("      - pipenv", "    - pipenv"),
            Some(5),
            &["build.commands is a list", "it takes a mapping with `pre-build:`, `build:` and `post-build:`"],
        ),
        (
            "a command list as a string",
            MINIMAL.replace(
                "    build:\n      - pip install pipenv\n      - pipenv install\n",
                "    build: make\n",
            ),
            Some(5),
            &["build.commands.build is a single value", "a list of commands, one `- command` per line"],
        ),
        (
            "run.command as a list",
            MINIMAL.replace("  command: python app.py\n", "  command:\n    - python app.py\n"),
            Some(10),
            &["run.command is a list", "a single command (a string"],
        ),
        (
            "build.env as a mapping",
            MINIMAL.replace("build:\n  commands:", "build:\n  env:\n    A: b\n  commands:"),
            Some(5),
            &["build.env is a mapping", "a list of variables, each `- name: NAME`"],
        ),
        (
            "a run.env entry as NAME=VALUE",
            MINIMAL.to_owned() + "  env:\n    - A=b\n",
            Some(11),
            &["run.env[0] is a single value", "a variable: `- name: NAME` with `value: VALUE`"],
        ),
        (
            "run as a string",
            "version: 1.0\nruntime: python3\nbuild:\n  commands:\n    build: []\nrun: python app.py\n"
                .to_owned(),
            Some(6),
            &["run is a single value", "a mapping with `command:`"],
        ),
        (
            "run.network as a port",
            MINIMAL.to_owned() + "  network: 8080\n",
            Some(10),
            &["run.network is a single value", "a mapping with `port:`"],
        ),
        (
            "a secrets entry as a string",
            MINIMAL.to_owned() + "  secrets:\n    - DB\n",
            Some(11),
            &["run.secrets[0] is a single value", "`value-from: SECRET_NAME`"],
        ),
        (
            "the whole file a list",
            "- version: 1.0\n".to_owned(),
            Some(1),
            &["the file is a list", "a mapping with version, runtime, build and run"],
        ),
    ];
    let mut wrong = Vec::new();
    for (what, text, line, words) in cases {
        let e = AppRunnerConfig::parse(&text).expect_err(what);
        let BuildError::Config { line: got, message, .. } = &e else { panic!("{what}: {e:?}") };
        let internal = ["Raw", "struct", "invalid type", "sequence"].iter().any(|w| message.contains(w));
        if *got != line || !words.iter().all(|w| message.contains(w)) || internal {
            wrong.push(format!("{what}: line {got:?}, want {line:?}: {message}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn network_env_may_name_port_and_a_clash_with_run_env_is_a_warning() {
    let c = AppRunnerConfig::parse(&(MINIMAL.to_owned() + "  network:\n    port: 8000\n    env: PORT\n"))
        .unwrap();
    assert_eq!((c.port, c.port_env.as_deref(), c.env.len()), (Some(8000), None, 0));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    let text = MINIMAL.to_owned()
        + "  network:\n    port: 8000\n    env: APP_PORT\n  env:\n    - name: APP_PORT\n      value: \"3000\"\n";
    let c = AppRunnerConfig::parse(&text).unwrap();
    assert_eq!(c.env.get("APP_PORT"), Some("8000"), "the port wins");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("run.env sets APP_PORT=\"3000\"")
            && c.warnings[0].contains("gets the port (8000)")
    );

    // Setting it to the port itself says nothing.
    let c = AppRunnerConfig::parse(&text.replace("\"3000\"", "\"8000\"")).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn corretto_runtime_versions_in_amazons_form_parse() {
    for (runtime, version) in [("corretto11", "11.0.13.08.1"), ("corretto8", "8.312.07.1")] {
        let text = MINIMAL.replace("python3", runtime) + &format!("  runtime-version: {version}\n");
        let c = AppRunnerConfig::parse(&text).unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(c.runtime_version.as_deref(), Some(version));
    }
    let text = MINIMAL.replace("python3", "corretto11") + "  runtime-version: 17.0.9.8.1\n";
    let e = AppRunnerConfig::parse(&text).unwrap_err().to_string();
    assert!(e.starts_with("apprunner.yaml line 10: ") && e.contains("is Corretto 17"), "{e}");
}
