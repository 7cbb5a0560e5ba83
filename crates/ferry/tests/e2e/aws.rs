//! The real AWS CLI (Debian's `awscli`) and boto3 pointed at a test server with `--endpoint-url` only,
//! signing with a key from `ferry access-key create`: what every App Runner API test drives ferry with.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, testapp_image};

pub const REGION: &str = "eu-west-1";
pub const RUNNING: Duration = Duration::from_secs(120);

/// Debian's packages when installed (`scripts/setup`), else whatever is on PATH.
pub fn program(debian: &str, fallback: &str) -> String {
    if Path::new(debian).exists() { debian.to_owned() } else { fallback.to_owned() }
}

/// A process with AWS credentials in its environment and nothing else of AWS: no user config leaks in.
pub fn aws_env(command: &mut Command, home: &Path, key: &str, secret: &str) {
    for var in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"] {
        command.env_remove(var);
    }
    command
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "");
}

pub struct Aws<'a> {
    pub server: &'a Server,
    pub home: tempfile::TempDir,
    pub key: String,
    pub secret: String,
}

impl Aws<'_> {
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(program("/usr/bin/aws", "aws"));
        aws_env(&mut command, self.home.path(), &self.key, &self.secret);
        command
            .args(["--endpoint-url", &format!("http://{}", self.server.api), "--region", REGION])
            .args(["--output", "json", "apprunner"])
            .args(args)
            .output()
            .expect("run aws")
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// An operation this botocore does not know, signed by botocore's SigV4 signer and sent by urllib;
    /// the answer must be a success.
    pub fn raw(&self, operation: &str, body: &str) -> Value {
        let (status, answer) = self.raw_call(operation, body);
        assert_eq!(status, 200, "{operation} failed: {answer}");
        answer
    }

    /// As [`Aws::raw`], for any answer: its HTTP status and JSON body (an error's `__type` and `Message`).
    /// For inputs the CLI itself refuses before sending, and operations it does not know.
    pub fn raw_call(&self, operation: &str, body: &str) -> (u16, Value) {
        const SCRIPT: &str = "import sys, urllib.request, urllib.error, botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
url, region, target, body = sys.argv[1:5]
creds = botocore.session.get_session().get_credentials()
headers = {'X-Amz-Target': 'AppRunner.' + target, 'Content-Type': 'application/x-amz-json-1.0'}
req = AWSRequest(method='POST', url=url, data=body.encode(), headers=headers)
SigV4Auth(creds, 'apprunner', region).add_auth(req)
sent = urllib.request.Request(url, data=req.body, headers=dict(req.headers), method='POST')
try:
    answer = urllib.request.urlopen(sent)
    status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as e:
    status, text = e.code, e.read().decode()
sys.stdout.write(str(status) + '\\n' + text)
";
        let out = Command::new(program("/usr/bin/python3", "python3"))
            .args(["-c", SCRIPT, &format!("http://{}/", self.server.api), REGION, operation, body])
            .tap_env(self)
            .output()
            .expect("run python3");
        assert!(out.status.success(), "{operation} failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (status, body) = text.split_once('\n').expect("a status line");
        (status.parse().expect("a status"), serde_json::from_str(body).expect("a JSON answer"))
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "aws {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// An access key from `ferry access-key create`, and the `aws` CLI signing with it.
pub fn aws_for(server: &Server) -> Aws<'_> {
    let made: Value =
        serde_json::from_str(&server.ferry_ok(&["access-key", "create", "--name", "ci", "-o", "json"]))
            .unwrap();
    Aws {
        server,
        home: tempfile::tempdir().unwrap(),
        key: made["AccessKeyId"].as_str().unwrap().to_owned(),
        secret: made["SecretAccessKey"].as_str().unwrap().to_owned(),
    }
}

/// The test app saying `message`, listening only `delay_ms` after it starts.
pub fn image_source(message: &str, delay_ms: u32) -> String {
    let env =
        serde_json::json!({ "TESTAPP_MESSAGE": message, "TESTAPP_START_DELAY_MS": delay_ms.to_string() });
    serde_json::json!({
        "ImageRepository": {
            "ImageIdentifier": testapp_image(),
            "ImageRepositoryType": "ECR_PUBLIC",
            "ImageConfiguration": { "Port": "8080", "RuntimeEnvironmentVariables": env },
        },
        "AutoDeploymentsEnabled": false,
    })
    .to_string()
}

pub trait TapEnv {
    fn tap_env(&mut self, aws: &Aws<'_>) -> &mut Self;
}

impl TapEnv for Command {
    fn tap_env(&mut self, aws: &Aws<'_>) -> &mut Self {
        aws_env(self, aws.home.path(), &aws.key, &aws.secret);
        self
    }
}
