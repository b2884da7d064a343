//! mk-rds-users through an SSH tunnel via the director stand-in the harness
//! starts (a throwaway sshd on loopback, scripts/emulators.sh): the SQL goes
//! through the tunnel (sshd logs the forwarded channel to MariaDB's port),
//! the host key is pinned on first use, a changed one is refused before any
//! SQL, and no ssh outlives the run, even a killed one. Names are unique
//! per test: the server and the sshd are shared with parallel tests.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use analytics_tests::{SshEnv, ToolRun, mysql_env, run, ssh_env};
use mysql_async::prelude::Queryable;
use rand::Rng;

const BIN: &str = env!("CARGO_BIN_EXE_mk-rds-users");

/// One test's world: the server, the director stand-in, unique names and a
/// temporary directory (whose path is in every ssh command line it causes).
struct World {
    ssh: SshEnv,
    db_port: u16,
    admin_user: String,
    admin_password_file: PathBuf,
    suffix: String,
    tmp: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let (host, port, admin_user, admin_password_file) = mysql_env();
        assert_eq!(host, "127.0.0.1", "sshd may forward to loopback only");
        let mut rng = rand::rng();
        let suffix: String = (0..8).map(|_| (b'a' + rng.random_range(0..26)) as char).collect();
        World {
            ssh: ssh_env(),
            db_port: port.parse().expect("ANALYTICS_TEST_MYSQL_PORT"),
            admin_user,
            admin_password_file,
            suffix,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn secrets(&self) -> PathBuf {
        self.tmp.path().join("secrets")
    }

    fn names(&self) -> Vec<String> {
        let s = &self.suffix;
        [
            ("--dashboard-db", format!("tt_{s}_dash")),
            ("--analytics-api-db", format!("tt-{s}-api")),
            ("--reports-db", format!("tt_{s}_rep")),
            ("--analytics-user", format!("tan_{s}")),
            ("--readonly-user", format!("tro_{s}")),
        ]
        .into_iter()
        .flat_map(|(f, v)| [f.to_owned(), v])
        .collect()
    }

    /// The tool as admin of the server at `port`, through the director with
    /// its user and port; `--via-key` is the caller's.
    fn cmd(&self, mode: &str, port: u16) -> Command {
        let mut cmd = Command::new(BIN);
        for v in ["MYSQL_PWD", "ANALYTICS_CLIENT", "ANALYTICS_SECRETS_DIR", "ANALYTICS_STATE_DIR"] {
            cmd.env_remove(v);
        }
        cmd.args([mode, "--host", "127.0.0.1", "--port", &port.to_string(), "--admin-user", &self.admin_user])
            .arg("--admin-password-file")
            .arg(&self.admin_password_file)
            .arg("--secrets-dir")
            .arg(self.secrets())
            .args(self.names())
            .args(["--via", &self.ssh.host, "--via-port", &self.ssh.port.to_string(), "--via-user", &self.ssh.user]);
        cmd
    }

    fn with_key(&self, mode: &str) -> Command {
        let mut cmd = self.cmd(mode, self.db_port);
        cmd.arg("--via-key").arg(&self.ssh.key);
        cmd
    }

    fn log_len(&self) -> usize {
        std::fs::metadata(&self.ssh.log).map_or(0, |m| usize::try_from(m.len()).unwrap())
    }

    /// What sshd logged since `start`.
    fn log_since(&self, start: usize) -> String {
        let log = std::fs::read(&self.ssh.log).unwrap_or_else(|e| panic!("{}: {e}", self.ssh.log.display()));
        String::from_utf8_lossy(&log[start.min(log.len())..]).into_owned()
    }

    /// Forwarded channels to MariaDB's port in `log`.
    fn channels_to_db(&self, log: &str) -> usize {
        let target = format!(", target 127.0.0.1 port {}", self.db_port);
        log.lines().filter(|l| l.contains("server_request_direct_tcpip: originator") && l.ends_with(&target)).count()
    }

    async fn admin(&self) -> mysql_async::Conn {
        let pw = std::fs::read_to_string(&self.admin_password_file).unwrap();
        login(self.db_port, &self.admin_user, pw.trim_end()).await.expect("admin login")
    }
}

async fn login(port: u16, user: &str, password: &str) -> Result<mysql_async::Conn, mysql_async::Error> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false);
    mysql_async::Conn::new(opts).await
}

/// Live (not zombie) ssh processes whose command line holds `marker`.
fn ssh_processes(marker: &Path) -> Vec<u32> {
    let marker = marker.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        if comm.trim_end() == "ssh"
            && !matches!(state, Some('Z' | 'X') | None)
            && String::from_utf8_lossy(&cmdline).contains(&marker)
        {
            found.push(pid);
        }
    }
    found
}

fn one_error_line(r: &ToolRun) -> String {
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected in:\n{}", r.stderr);
    errors[0].to_owned()
}

#[tokio::test]
async fn the_sql_goes_through_the_tunnel_and_the_host_key_is_pinned() {
    let w = World::new();
    let s = &w.suffix;
    let start = w.log_len();
    let r = run(&mut w.with_key("--analytics")).ok();
    assert_eq!(r.json["api_calls"]["mutating"], 7, "3 databases, 1 user, 3 grants: {}", r.json["api_calls"]);
    let log = w.log_since(start);
    assert!(w.channels_to_db(&log) >= 1, "no forwarded channel to MariaDB's port {} in:\n{log}", w.db_port);
    assert!(r.stderr.contains("pinned the director's host key"), "{}", r.stderr);
    assert!(ssh_processes(w.tmp.path()).is_empty(), "ssh outlived the run");

    // The host key, pinned on first use in the secrets directory.
    let known_hosts = w.secrets().join("known_hosts");
    let pinned = std::fs::read_to_string(&known_hosts).expect("known_hosts in the secrets directory");
    assert_eq!(pinned, format!("[{}]:{} {}\n", w.ssh.host, w.ssh.port, w.ssh.host_key_pub));
    let via = &r.json["outputs"]["server"]["via"];
    assert_eq!(via["port"], w.ssh.port);
    assert_eq!(via["known_hosts"], known_hosts.display().to_string());

    // What it made is there, and the credentials name the server as the
    // director reaches it, not the tunnel's local end.
    let mut admin = w.admin().await;
    let dbs: Vec<String> = admin
        .exec("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?", (format!("%{s}%"),))
        .await
        .unwrap();
    assert_eq!(dbs.len(), 3, "{dbs:?}");
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.secrets().join("edxanalytics_creds")).unwrap()).unwrap();
    assert_eq!((creds["host"].as_str(), creds["port"].as_str()), (Some("127.0.0.1"), Some(&*w.db_port.to_string())));
    login(w.db_port, &format!("tan_{s}"), creds["password"].as_str().unwrap()).await.expect("analytics logs in");

    // A re-run: nothing to change, the pin as it was.
    let start = w.log_len();
    run(&mut w.with_key("--analytics")).ok().all_unchanged();
    assert!(w.channels_to_db(&w.log_since(start)) >= 1);
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), pinned);
    assert!(ssh_processes(w.tmp.path()).is_empty());
}

#[tokio::test]
async fn edxapp_readonly_through_the_tunnel_with_the_directors_default_key() {
    let w = World::new();
    // mk-ec2's file: <secrets>/<client>-director.pem, 0600.
    std::fs::create_dir_all(w.secrets()).unwrap();
    let key = w.secrets().join("acme-director.pem");
    std::fs::copy(&w.ssh.key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let start = w.log_len();
    let r = run(w.cmd("--edxapp-readonly", w.db_port).args(["--client", "acme"])).ok();
    assert_eq!(r.action("mysql-grant", &format!("tro_{}@% ON *.*", w.suffix)), "created");
    assert_eq!(r.json["outputs"]["server"]["via"]["key"], key.display().to_string());
    assert!(w.channels_to_db(&w.log_since(start)) >= 1);
    let mut admin = w.admin().await;
    let users: Vec<String> =
        admin.exec("SELECT User FROM mysql.user WHERE User = ?", (format!("tro_{}", w.suffix),)).await.unwrap();
    assert_eq!(users.len(), 1);
    assert!(ssh_processes(w.tmp.path()).is_empty());
}

#[tokio::test]
async fn a_changed_host_key_is_refused_before_any_sql() {
    let w = World::new();
    let (known_hosts, pin) = w.ssh.pin_another_host_key(w.tmp.path());

    let r = run(w.with_key("--analytics").arg("--known-hosts").arg(&known_hosts));
    assert_eq!(r.status, 1, "{}", r.stderr);
    let line = one_error_line(&r);
    assert!(line.contains("host key") && line.contains("ssh-keygen -R"), "{line}");
    assert!(line.contains(&known_hosts.display().to_string()), "{line}");
    assert_eq!(r.total(), 0, "no statement was sent");
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), pin, "the pin is left as it was");
    assert!(!w.secrets().join("edxanalytics_creds").exists());
    let mut admin = w.admin().await;
    let dbs: Vec<String> = admin
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (format!("%{}%", w.suffix),),
        )
        .await
        .unwrap();
    assert!(dbs.is_empty(), "{dbs:?}");
    assert!(ssh_processes(w.tmp.path()).is_empty());
}

#[test]
fn bad_tunnel_input_exits_2_before_anything() {
    let w = World::new();
    let loose = w.tmp.path().join("loose.pem");
    std::fs::copy(&w.ssh.key, &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let missing = w.tmp.path().join("nonexistent.pem");
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec!["--via-key".into(), missing.display().to_string()], missing.display().to_string()),
        (vec!["--via-key".into(), loose.display().to_string()], "chmod 600".into()),
        (vec![], "--via-key".into()),
        (vec!["--client".into(), "acme".into()], "acme-director.pem".into()),
    ];
    for (extra, needle) in cases {
        let r = run(w.cmd("--analytics", w.db_port).args(&extra)).bad_input(&needle);
        if !r.stdout.trim().is_empty() {
            assert_eq!(r.total(), 0, "{extra:?}");
        }
    }
    let r = run(w.with_key("--analytics").arg("--via-user=-oProxyCommand=x"));
    r.bad_input("--via-user");
    let mut cmd = Command::new(BIN);
    cmd.args(["--analytics", "--host", "h", "--admin-user", "u", "--via-user", "x"]);
    run(&mut cmd).bad_input("--via");
    assert!(!w.secrets().exists(), "nothing written");
    assert!(ssh_processes(w.tmp.path()).is_empty());
}

/// A server that accepts and never answers, so the run waits (up to its
/// --connect-timeout) with the tunnel open; the run is then killed outright.
#[test]
fn ssh_dies_with_a_killed_run() {
    if !Path::new("/usr/bin/setpriv").exists() && !Path::new("/bin/setpriv").exists() {
        eprintln!("no setpriv (util-linux) here: ssh cannot be tied to the run's life; not checked");
        return;
    }
    let w = World::new();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = silent.accept() {
            let _ = tx.send(());
            let _ = conn.read(&mut [0; 1]);
        }
    });
    let mut child = w
        .cmd("--analytics", port)
        .arg("--via-key")
        .arg(&w.ssh.key)
        .args(["--connect-timeout", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running mk-rds-users");
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("nothing came through the tunnel:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let ssh = ssh_processes(w.tmp.path());
    assert_eq!(ssh.len(), 1, "the run's ssh: {ssh:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ssh_processes(w.tmp.path()).is_empty() {
        if Instant::now() > deadline {
            // Not left behind by a failing test either.
            let _ = Command::new("kill").args(ssh.iter().map(u32::to_string)).status();
            panic!("ssh {ssh:?} outlived the killed run");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
