//! What the MariaDB tests of mk-rds-users share: the server from the
//! harness's environment (scripts/test.sh), names no other test uses, a
//! secrets directory, and helpers that look at the server. Each test binary
//! uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use analytics_tests::{ToolRun, run};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use rand::Rng;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_mk-rds-users");

/// The server from the harness's environment.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub admin_user: String,
    pub admin_password_file: PathBuf,
    pub admin_password: String,
}

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("integration tests need the local MariaDB: run them with scripts/test.sh ({name} is not set)")
    })
}

pub fn server() -> Server {
    let admin_password_file = PathBuf::from(env("ANALYTICS_TEST_MYSQL_ADMIN_PASSWORD_FILE"));
    let admin_password = std::fs::read_to_string(&admin_password_file)
        .unwrap_or_else(|e| panic!("{}: {e}", admin_password_file.display()))
        .trim_end_matches(['\n', '\r'])
        .to_owned();
    Server {
        host: env("ANALYTICS_TEST_MYSQL_HOST"),
        port: env("ANALYTICS_TEST_MYSQL_PORT").parse().expect("ANALYTICS_TEST_MYSQL_PORT is a port"),
        admin_user: env("ANALYTICS_TEST_MYSQL_ADMIN_USER"),
        admin_password_file,
        admin_password,
    }
}

/// Names no other test uses.
pub struct Names {
    pub dashboard: String,
    pub api: String,
    pub reports: String,
    pub analytics: String,
    pub readonly: String,
    pub migration: String,
}

impl Names {
    pub fn new() -> Names {
        let mut rng = rand::rng();
        let s: String = (0..8).map(|_| (b'a' + rng.random_range(0..26)) as char).collect();
        Names {
            // `_` is a wildcard in database grants: these names check that
            // it is escaped.
            dashboard: format!("t_{s}_dash"),
            api: format!("t-{s}-api"),
            reports: format!("t_{s}_rep"),
            analytics: format!("an_{s}"),
            readonly: format!("ro_{s}"),
            migration: format!("mig_{s}"),
        }
    }

    pub fn dbs(&self) -> [&str; 3] {
        [&self.dashboard, &self.api, &self.reports]
    }

    pub fn flags(&self) -> Vec<String> {
        [
            ("--dashboard-db", &self.dashboard),
            ("--analytics-api-db", &self.api),
            ("--reports-db", &self.reports),
            ("--analytics-user", &self.analytics),
            ("--readonly-user", &self.readonly),
        ]
        .into_iter()
        .flat_map(|(f, v)| [f.to_owned(), v.clone()])
        .collect()
    }
}

/// One test's world: the server, its names and a secrets directory.
pub struct World {
    pub server: Server,
    pub names: Names,
    pub _tmp: tempfile::TempDir,
    pub secrets: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let secrets = tmp.path().join("secrets");
        World { server: server(), names: Names::new(), _tmp: tmp, secrets }
    }

    pub fn tmp(&self) -> &Path {
        self._tmp.path()
    }

    /// The tool with nothing of the caller's environment that it reads.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for v in ["MYSQL_PWD", "ANALYTICS_CLIENT", "ANALYTICS_SECRETS_DIR", "ANALYTICS_STATE_DIR"] {
            cmd.env_remove(v);
        }
        cmd
    }

    /// The tool pointed at the server as admin.
    pub fn as_admin(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.args(args)
            .args(["--host", &self.server.host, "--port", &self.server.port.to_string()])
            .args(["--admin-user", &self.server.admin_user])
            .arg("--admin-password-file")
            .arg(&self.server.admin_password_file)
            .arg("--secrets-dir")
            .arg(&self.secrets);
        cmd
    }

    /// The tool pointed at the server as admin, with this test's names.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.as_admin(args);
        cmd.args(self.names.flags());
        cmd
    }

    pub fn mk(&self, args: &[&str]) -> ToolRun {
        let r = run(&mut self.cmd(args));
        self.assert_no_secret_shown(&r);
        r
    }

    /// No password we know of is on stdout or stderr.
    pub fn assert_no_secret_shown(&self, r: &ToolRun) {
        let mut secrets = vec![self.server.admin_password.clone()];
        if let Ok(dir) = std::fs::read_dir(&self.secrets) {
            for f in dir.flatten() {
                let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) => secrets.extend(v["password"].as_str().map(str::to_owned)),
                    Err(_) => secrets.push(text.trim_end().to_owned()),
                }
            }
        }
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(!r.stdout.contains(s.as_str()), "a password is on stdout:\n{}", r.stdout);
            assert!(!r.stderr.contains(s.as_str()), "a password is on stderr:\n{}", r.stderr);
        }
    }

    pub fn secret(&self, name: &str) -> String {
        std::fs::read_to_string(self.secrets.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    pub fn creds(&self, name: &str) -> Value {
        serde_json::from_str(&self.secret(name)).unwrap()
    }

    pub async fn admin(&self) -> Conn {
        connect(&self.server, &self.server.admin_user, &self.server.admin_password).await.expect("admin login")
    }

    pub async fn login(&self, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
        connect(&self.server, user, password).await
    }
}

pub async fn connect(s: &Server, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(s.host.clone())
        .tcp_port(s.port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false);
    Conn::new(opts).await
}

/// The MySQL error code of a failed statement or login.
pub fn code<T: std::fmt::Debug>(r: Result<T, mysql_async::Error>) -> u16 {
    match r {
        Err(mysql_async::Error::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

pub fn q(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

pub async fn charset(conn: &mut Conn, db: &str) -> Option<String> {
    conn.exec_first("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (db,))
        .await
        .unwrap()
}

pub async fn grants(conn: &mut Conn, user: &str) -> Vec<String> {
    assert!(user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{user}");
    let mut g: Vec<String> = conn
        .query(format!("SHOW GRANTS FOR '{user}'@'%'"))
        .await
        .unwrap_or_else(|e| panic!("SHOW GRANTS FOR {user}: {e}"));
    g.sort();
    g
}

/// Can `conn` create, fill and read a table in `db`?
pub async fn can_write(conn: &mut Conn, db: &str) -> Result<(), mysql_async::Error> {
    let t = format!("{}.`t_probe`", q(db));
    conn.query_drop(format!("CREATE TABLE IF NOT EXISTS {t} (id INT PRIMARY KEY, s VARCHAR(10))")).await?;
    conn.query_drop(format!("REPLACE INTO {t} VALUES (1, '✓ 😀')")).await?;
    let back: Option<String> = conn.query_first(format!("SELECT s FROM {t} WHERE id = 1")).await?;
    assert_eq!(back.as_deref(), Some("✓ 😀"), "utf8mb4 round trip in {db}");
    Ok(())
}
