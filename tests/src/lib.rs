//! Test support for the analytics tools, and (under `tests/`) the
//! end-to-end tests that chain the real binaries as a runbook does.
//!
//! Integration tests run against the real emulators that
//! `scripts/with-emulators.sh` starts (moto server, MariaDB). They do not
//! share state: each test works in an AWS account of its own, made by
//! assuming a role in a fresh random account id (moto keeps accounts
//! apart: IAM, EC2 with its default VPC, RDS, EMR, OpenSearch), and uses a
//! client name of its own (S3 bucket names are global, as on AWS).

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use rand::Rng;
use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// The emulator's URL, or a panic telling how to run the tests.
pub fn moto_url() -> String {
    std::env::var("ANALYTICS_MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "integration tests need the local emulators: run them with scripts/test.sh (ANALYTICS_MOTO_URL is not set)"
        )
    })
}

/// A client name no other test uses: `t<prefix><6 random chars>`.
pub fn unique_client(prefix: &str) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..6).map(|_| (b'a' + rng.random_range(0..26)) as char).collect();
    format!("t{prefix}-{tail}")
}

/// An isolated AWS account on the emulator.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    key: String,
    secret: String,
    token: String,
    endpoint: String,
}

impl Account {
    /// Assumes a role in a fresh random account id.
    pub async fn fresh() -> Account {
        let endpoint = moto_url();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        let id = format!("{:012}", rand::rng().random_range(100_000_000_000u64..999_999_999_999));
        let out = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/analytics-test"))
            .role_session_name("analytics-test")
            .send()
            .await
            .expect("AssumeRole on the emulator");
        let c = out.credentials().expect("credentials");
        Account {
            id,
            key: c.access_key_id().to_owned(),
            secret: c.secret_access_key().to_owned(),
            token: c.session_token().to_owned(),
            endpoint,
        }
    }

    /// An SDK configuration in this account, for reading resources back.
    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(&self.key, &self.secret, Some(self.token.clone()), None, "test"))
            .load()
            .await
    }

    /// A command for one of the tools, with this account's credentials and
    /// nothing of the caller's AWS settings.
    pub fn command(&self, bin: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(bin.as_ref());
        cmd.env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_SESSION_TOKEN", &self.token)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .env_remove("ANALYTICS_CLIENT")
            .env_remove("ANALYTICS_SECRETS_DIR");
        cmd
    }
}

/// What a tool run gave: exit status, the JSON document, stderr.
#[derive(Debug)]
pub struct ToolRun {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
}

impl ToolRun {
    /// `api_calls.mutating` of the document.
    pub fn mutating(&self) -> u64 {
        self.json["api_calls"]["mutating"].as_u64().expect("api_calls.mutating")
    }

    pub fn total(&self) -> u64 {
        self.json["api_calls"]["total"].as_u64().expect("api_calls.total")
    }

    /// The action of the change of `kind` and `name`.
    pub fn action(&self, kind: &str, name: &str) -> String {
        self.json["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["kind"] == kind && c["name"] == name)
            .unwrap_or_else(|| panic!("no change {kind} {name} in {}", self.stdout))["action"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Every change's action, as `kind name action` lines (for messages).
    pub fn actions(&self) -> Vec<String> {
        self.json["changes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        format!(
                            "{} {} {}",
                            c["kind"].as_str().unwrap_or(""),
                            c["name"].as_str().unwrap_or(""),
                            c["action"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts success and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.status, 0, "expected success; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        self
    }

    /// Asserts a bad-input failure: exit 2, one `error:` line naming `needle`.
    #[track_caller]
    pub fn bad_input(self, needle: &str) -> Self {
        assert_eq!(self.status, 2, "expected exit 2; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        let errors: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "one error line expected in:\n{}", self.stderr);
        assert!(errors[0].contains(needle), "error line {:?} should name {needle:?}", errors[0]);
        if !self.stdout.trim().is_empty() {
            assert_eq!(self.mutating(), 0, "bad input must send no mutating call");
        }
        self
    }

    /// Every change has action `unchanged`.
    #[track_caller]
    pub fn all_unchanged(self) -> Self {
        let changed: Vec<_> = self.actions().into_iter().filter(|a| !a.ends_with(" unchanged")).collect();
        assert!(changed.is_empty(), "expected every resource unchanged, got {changed:?}");
        assert_eq!(self.mutating(), 0, "a converged re-run sends no mutating call: {}", self.json["api_calls"]);
        self
    }
}

/// Runs a prepared command to completion.
pub fn run(cmd: &mut Command) -> ToolRun {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{stderr}"))
    };
    ToolRun { status: out.status.code().unwrap_or(-1), stdout, stderr, json }
}

/// A built binary of the workspace, for tests that chain several tools.
pub fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("ANALYTICS_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is not built: run `cargo build --workspace --bins` (scripts/test.sh does)", p.display());
    p
}

/// Mode bits of a file (e.g. 0o600).
pub fn mode(path: impl AsRef<Path>) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display())).permissions().mode()
        & 0o777
}
