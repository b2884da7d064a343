//! Test support for the analytics tools, and (under `tests/`) the
//! end-to-end tests that chain the real binaries as a runbook does.
//!
//! Integration tests run against the real emulators that
//! `scripts/with-emulators.sh` starts (moto server, MariaDB). They do not
//! share state: each test works in an AWS account of its own, made by
//! assuming a role in a fresh random account id (moto keeps accounts
//! apart: IAM, EC2 with its default VPC, RDS, EMR, OpenSearch), and uses a
//! client name of its own (S3 bucket names are global, as on AWS).

pub mod sim;
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

    /// Asserts a failure that is a fact of the world, not a typo: exit 1,
    /// one `error:` line naming each of `needles`, no mutating call.
    #[track_caller]
    pub fn refused(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.status, 1, "expected exit 1; stderr:\n{}\nstdout:\n{}", self.stderr, self.stdout);
        let errors: Vec<&str> = self.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "one error line expected in:\n{}", self.stderr);
        for n in needles {
            assert!(errors[0].contains(n), "error line {:?} should name {n:?}", errors[0]);
        }
        assert_eq!(self.mutating(), 0, "nothing changed before the refusal: {}", self.json["api_calls"]);
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

/// The repository's root (scripts live under it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_path_buf()
}

/// A deployment driven through the runbooks (scripts/deploy.sh,
/// scripts/destroy.sh), in its own account, with its own state and secrets
/// directories, the local MariaDB standing in for the RDS endpoint and for
/// edxapp's database.
pub struct Runbook {
    pub account: Account,
    pub client: String,
    pub state: PathBuf,
    pub secrets: PathBuf,
    pub migration_user: String,
    dir: tempfile::TempDir,
    /// Held while the deployment lives: the runbooks use the fixed database
    /// and user names of the runbook (`dashboard`, `analytics`...) on the one
    /// local MariaDB, so runbook tests take turns (nextest runs each test in
    /// its own process, hence a file lock rather than a mutex).
    _turn: std::fs::File,
}

/// The local MariaDB the harness started: host, port, admin user, admin
/// password file.
pub fn mysql_env() -> (String, String, String, PathBuf) {
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the tests with scripts/test.sh"));
    (
        var("ANALYTICS_TEST_MYSQL_HOST"),
        var("ANALYTICS_TEST_MYSQL_PORT"),
        var("ANALYTICS_TEST_MYSQL_ADMIN_USER"),
        PathBuf::from(var("ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE")),
    )
}

/// The runbook's fixed MySQL names (SPEC section 8: users `analytics` and
/// `edxapp_ro`, the three databases) plus this runbook's migration user, on
/// the one local MariaDB all runbook tests share. Nothing else drops them
/// (destroy.sh deletes the RDS instance, not this stand-in), and a
/// deployment that finds them without their password files cannot write its
/// credentials: dropped when a [`Runbook`] is made and again when it goes
/// (also when its test fails), while it holds the runbook lock.
async fn forget_runbook_names(migration_user: &str) {
    let (host, port, admin, password_file) = mysql_env();
    let password = std::fs::read_to_string(password_file).expect("admin password file");
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse().expect("port"))
        .user(Some(admin))
        .pass(Some(password.trim_end().to_owned()));
    let mut conn = mysql_async::Conn::new(opts).await.expect("admin connection to the test MariaDB");
    use mysql_async::prelude::Queryable;
    for user in ["analytics", "edxapp_ro", migration_user] {
        let stmt = format!("DROP USER IF EXISTS '{user}'@'%'");
        conn.query_drop(&stmt).await.expect(&stmt);
    }
    for db in ["dashboard", "analytics-api", "reports"] {
        let stmt = format!("DROP DATABASE IF EXISTS `{db}`");
        conn.query_drop(&stmt).await.expect(&stmt);
    }
    conn.disconnect().await.expect("disconnecting");
}

impl Drop for Runbook {
    fn drop(&mut self) {
        let user = self.migration_user.clone();
        // A runtime of its own: this runs inside the test's runtime.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(forget_runbook_names(&user));
        })
        .join();
    }
}

impl Runbook {
    pub async fn new(prefix: &str) -> Runbook {
        let lock_dir = std::env::var_os("ANALYTICS_EMULATOR_RUN").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let turn = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_dir.join("runbook-tests.lock"))
            .expect("runbook lock file");
        turn.lock().expect("waiting for the runbook lock");
        let dir = tempfile::tempdir().expect("temporary directory");
        let client = unique_client(prefix);
        let migration_user = format!("m{}", &client[client.len() - 6..]);
        forget_runbook_names(&migration_user).await;
        std::fs::write(dir.path().join("migrate-password"), format!("Migr8-{client}-pw")).unwrap();
        Runbook {
            account: Account::fresh().await,
            state: dir.path().join("state"),
            secrets: dir.path().join("secrets"),
            client,
            migration_user,
            dir,
            _turn: turn,
        }
    }

    /// `bash scripts/<script>` with the deployment's settings.
    pub fn command(&self, script: &str) -> Command {
        let (host, port, admin, password_file) = mysql_env();
        let password = std::fs::read_to_string(&password_file).expect("admin password file");
        let bin_dir = bin("mk-iam").parent().unwrap().to_path_buf();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut cmd = self.account.command("bash");
        cmd.arg(repo_root().join("scripts").join(script))
            .env("PATH", path)
            .env("ANALYTICS_CLIENT", &self.client)
            .env("ANALYTICS_STATE_DIR", &self.state)
            .env("ANALYTICS_SECRETS_DIR", &self.secrets)
            .env("ANALYTICS_REPORTS", "1")
            .env("ANALYTICS_FORCE", "1")
            .env("ANALYTICS_UBUNTU_RELEASE", "16.04")
            .env("ANALYTICS_POLL_INITIAL_MS", "50")
            .env("ANALYTICS_DB_HOST", &host)
            .env("ANALYTICS_DB_PORT", &port)
            .env("ANALYTICS_DB_ADMIN_USER", &admin)
            .env("MYSQL_PWD", password.trim_end())
            .env("EDXAPP_DB_HOST", &host)
            .env("EDXAPP_DB_PORT", &port)
            .env("EDXAPP_DB_ADMIN_USER", &admin)
            .env("EDXAPP_DB_ADMIN_PASSWORD_FILE", &password_file)
            .env("EDXAPP_MIGRATION_USER", &self.migration_user)
            .env("EDXAPP_MIGRATION_PASSWORD_FILE", self.dir.path().join("migrate-password"));
        cmd
    }

    /// Runs a runbook script; returns (exit status, stdout, stderr).
    pub fn run(&self, script: &str) -> (i32, String, String) {
        let out = self.command(script).output().expect("running bash");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A tool's saved JSON document.
    pub fn doc(&self, name: &str) -> Value {
        let p = self.state.join(format!("{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    pub fn migration_password(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("migrate-password")).unwrap()
    }
}

/// An S3 client for the emulator: path-style addressing (moto serves
/// buckets on its own host, not as subdomains).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// The throwaway sshd the harness started on loopback, standing in for the
/// director host the database is reached through (scripts/emulators.sh).
#[derive(Debug, Clone)]
pub struct SshEnv {
    /// `127.0.0.1`.
    pub host: String,
    pub port: u16,
    /// The only user it lets in: the one running the tests.
    pub user: String,
    /// The private key it takes (ed25519, 0600).
    pub key: PathBuf,
    /// Its log (LogLevel DEBUG1): each forwarded channel is a line
    /// `server_request_direct_tcpip: originator ... target 127.0.0.1 port N`.
    pub log: PathBuf,
    /// Its host key as a known_hosts line holds it: `ssh-ed25519 AAAA...`.
    pub host_key_pub: String,
}

impl SshEnv {
    /// Writes `dir/known_hosts` pinning a freshly made key (not the
    /// sshd's) for this sshd's address and port, as if the host had been
    /// replaced; returns the file and its contents.
    pub fn pin_another_host_key(&self, dir: &Path) -> (PathBuf, String) {
        let other = dir.join("other_host_key");
        let made = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
            .arg(&other)
            .stdin(std::process::Stdio::null())
            .status()
            .expect("running ssh-keygen");
        assert!(made.success(), "ssh-keygen failed");
        let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
        let other_pub = other_pub.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_ne!(other_pub, self.host_key_pub);
        let known_hosts = dir.join("known_hosts");
        let pin = format!("[{}]:{} {other_pub}\n", self.host, self.port);
        std::fs::write(&known_hosts, &pin).unwrap();
        (known_hosts, pin)
    }
}

/// The director stand-in the harness started, or a panic telling how to run
/// the tests. It forwards local ports to loopback only.
pub fn ssh_env() -> SshEnv {
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the tests with scripts/test.sh"));
    let port = var("ANALYTICS_TEST_SSH_PORT");
    SshEnv {
        host: var("ANALYTICS_TEST_SSH_HOST"),
        port: port.parse().unwrap_or_else(|e| panic!("ANALYTICS_TEST_SSH_PORT={port:?}: {e}")),
        user: var("ANALYTICS_TEST_SSH_USER"),
        key: PathBuf::from(var("ANALYTICS_TEST_SSH_KEY")),
        log: PathBuf::from(var("ANALYTICS_TEST_SSH_LOG")),
        host_key_pub: var("ANALYTICS_TEST_SSH_HOST_KEY_PUB"),
    }
}

/// Stops a helper process that ends when its stdin closes (the proxies'
/// `--stop-on-stdin-eof`): closes the pipe, waits up to 5 s, then kills it.
pub fn stop_on_stdin_eof(child: &mut std::process::Child, stdin: Option<std::process::ChildStdin>) {
    drop(stdin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
