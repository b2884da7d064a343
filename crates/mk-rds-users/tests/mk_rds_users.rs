//! mk-rds-users against the real MariaDB the project's harness starts
//! (scripts/test.sh). The tests share that server and run in parallel, so
//! each one names its databases and users with a random suffix of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use analytics_tests::{ToolRun, mode, run};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use rand::Rng;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mk-rds-users");

/// The server from the harness's environment.
struct Server {
    host: String,
    port: u16,
    admin_user: String,
    admin_password_file: PathBuf,
    admin_password: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("integration tests need the local MariaDB: run them with scripts/test.sh ({name} is not set)")
    })
}

fn server() -> Server {
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
struct Names {
    dashboard: String,
    api: String,
    reports: String,
    analytics: String,
    readonly: String,
    migration: String,
}

impl Names {
    fn new() -> Names {
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

    fn dbs(&self) -> [&str; 3] {
        [&self.dashboard, &self.api, &self.reports]
    }

    fn flags(&self) -> Vec<String> {
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
struct World {
    server: Server,
    names: Names,
    _tmp: tempfile::TempDir,
    secrets: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let secrets = tmp.path().join("secrets");
        World { server: server(), names: Names::new(), _tmp: tmp, secrets }
    }

    fn tmp(&self) -> &Path {
        self._tmp.path()
    }

    /// The tool with nothing of the caller's environment that it reads.
    fn bare(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for v in ["MYSQL_PWD", "ANALYTICS_CLIENT", "ANALYTICS_SECRETS_DIR", "ANALYTICS_STATE_DIR"] {
            cmd.env_remove(v);
        }
        cmd
    }

    /// The tool pointed at the server as admin.
    fn as_admin(&self, args: &[&str]) -> Command {
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
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.as_admin(args);
        cmd.args(self.names.flags());
        cmd
    }

    fn mk(&self, args: &[&str]) -> ToolRun {
        let r = run(&mut self.cmd(args));
        self.assert_no_secret_shown(&r);
        r
    }

    /// No password we know of is on stdout or stderr.
    fn assert_no_secret_shown(&self, r: &ToolRun) {
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

    fn secret(&self, name: &str) -> String {
        std::fs::read_to_string(self.secrets.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn creds(&self, name: &str) -> Value {
        serde_json::from_str(&self.secret(name)).unwrap()
    }

    async fn admin(&self) -> Conn {
        connect(&self.server, &self.server.admin_user, &self.server.admin_password).await.expect("admin login")
    }

    async fn login(&self, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
        connect(&self.server, user, password).await
    }
}

async fn connect(s: &Server, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(s.host.clone())
        .tcp_port(s.port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false);
    Conn::new(opts).await
}

/// The MySQL error code of a failed statement or login.
fn code<T: std::fmt::Debug>(r: Result<T, mysql_async::Error>) -> u16 {
    match r {
        Err(mysql_async::Error::Server(e)) => e.code,
        other => panic!("expected a server error, got {other:?}"),
    }
}

fn q(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

async fn charset(conn: &mut Conn, db: &str) -> Option<String> {
    conn.exec_first("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (db,))
        .await
        .unwrap()
}

async fn grants(conn: &mut Conn, user: &str) -> Vec<String> {
    assert!(user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{user}");
    let mut g: Vec<String> = conn
        .query(format!("SHOW GRANTS FOR '{user}'@'%'"))
        .await
        .unwrap_or_else(|e| panic!("SHOW GRANTS FOR {user}: {e}"));
    g.sort();
    g
}

/// Can `conn` create, fill and read a table in `db`?
async fn can_write(conn: &mut Conn, db: &str) -> Result<(), mysql_async::Error> {
    let t = format!("{}.`t_probe`", q(db));
    conn.query_drop(format!("CREATE TABLE IF NOT EXISTS {t} (id INT PRIMARY KEY, s VARCHAR(10))")).await?;
    conn.query_drop(format!("REPLACE INTO {t} VALUES (1, '✓ 😀')")).await?;
    let back: Option<String> = conn.query_first(format!("SELECT s FROM {t} WHERE id = 1")).await?;
    assert_eq!(back.as_deref(), Some("✓ 😀"), "utf8mb4 round trip in {db}");
    Ok(())
}

#[tokio::test]
async fn analytics_creates_databases_user_and_grants_then_reruns_unchanged() {
    let w = World::new();
    let n = &w.names;
    let r = w.mk(&["--analytics", "-v"]).ok();
    for db in n.dbs() {
        assert_eq!(r.action("mysql-database", db), "created");
    }
    let who = format!("{}@%", n.analytics);
    assert_eq!(r.action("mysql-user", &who), "created");
    assert_eq!(r.action("mysql-password", &who), "created");
    assert_eq!(r.action("mysql-grant", &format!("{who} ON {}.*", n.dashboard)), "created");
    assert_eq!(r.json["api_calls"]["mutating"], 7, "3 databases, 1 user, 3 grants: {}", r.json["api_calls"]);
    assert_eq!(r.json["api_calls"]["total"], 10, "{}", r.json["api_calls"]);
    eprintln!("first run api_calls: {}", r.json["api_calls"]);

    // Outputs name files and users, never values.
    let o = &r.json["outputs"];
    assert_eq!(o["databases"]["dashboard"], n.dashboard.as_str());
    assert_eq!(o["databases"]["analytics_api"], n.api.as_str());
    assert_eq!(o["databases"]["reports"], n.reports.as_str());
    assert_eq!(o["users"]["analytics"], n.analytics.as_str());
    let creds_path = w.secrets.join("edxanalytics_creds");
    assert_eq!(o["credentials_file"], creds_path.display().to_string());
    let pw_path = w.secrets.join(format!("mysql-{}.password", n.analytics));
    assert_eq!(o["password_files"]["analytics"], pw_path.display().to_string());

    // The files: 0600 in a 0700 directory; the port is a string.
    assert_eq!(mode(&w.secrets), 0o700);
    assert_eq!(mode(&creds_path), 0o600);
    assert_eq!(mode(&pw_path), 0o600);
    let creds = w.creds("edxanalytics_creds");
    assert_eq!(creds["host"], w.server.host.as_str());
    assert_eq!(creds["port"], Value::String(w.server.port.to_string()));
    assert_eq!(creds["username"], n.analytics.as_str());
    let password = w.secret(&format!("mysql-{}.password", n.analytics));
    assert_eq!(creds["password"], password.as_str());
    assert!(password.len() >= 24, "{} characters", password.len());

    let mut admin = w.admin().await;
    for db in n.dbs() {
        assert_eq!(charset(&mut admin, db).await.as_deref(), Some("utf8mb4"), "{db}");
    }
    let want: Vec<String> = {
        let mut g: Vec<String> = n
            .dbs()
            .iter()
            .map(|db| format!("GRANT ALL PRIVILEGES ON {}.* TO `{}`@`%`", q(db).replace('_', "\\_"), n.analytics))
            .collect();
        g.sort();
        g
    };
    let have: Vec<String> =
        grants(&mut admin, &n.analytics).await.into_iter().filter(|g| !g.starts_with("GRANT USAGE")).collect();
    assert_eq!(have, want);

    // The user logs in with the written password and can do exactly that.
    let mut an = w.login(&n.analytics, &password).await.expect("analytics logs in with the written password");
    for db in n.dbs() {
        can_write(&mut an, db).await.unwrap_or_else(|e| panic!("analytics in {db}: {e}"));
    }
    // A database its grant patterns would reach if `_` were a wildcard.
    let lookalike = n.dashboard.replacen('_', "X", 1);
    admin.query_drop(format!("CREATE DATABASE {}", q(&lookalike))).await.unwrap();
    assert!(matches!(code(can_write(&mut an, &lookalike).await), 1044 | 1142));
    assert_eq!(code(an.query_drop("CREATE DATABASE `t_not_allowed`").await), 1044);
    assert_eq!(code(an.query_drop("SELECT * FROM mysql.user").await), 1142);
    drop(an);

    let again = w.mk(&["--analytics"]).ok().all_unchanged();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 3 + 2 + 3);
    assert_eq!(again.total(), 4, "settings, schemata, users, one SHOW GRANTS: {}", again.json["api_calls"]);
    eprintln!("re-run api_calls: {}", again.json["api_calls"]);
    assert_eq!(w.secret(&format!("mysql-{}.password", n.analytics)), password, "the password is reused");
    let dry = w.mk(&["--analytics", "--dry-run"]).ok().all_unchanged();
    assert_eq!(dry.json["dry_run"], true);
}

#[tokio::test]
async fn dry_run_on_a_fresh_server_changes_nothing() {
    let w = World::new();
    let n = &w.names;
    let r = w.mk(&["--analytics", "--dry-run", "-v"]).ok();
    assert_eq!(r.mutating(), 0);
    for db in n.dbs() {
        assert_eq!(r.action("mysql-database", db), "would-create");
    }
    assert_eq!(r.action("mysql-user", &format!("{}@%", n.analytics)), "would-create");
    assert!(!w.secrets.exists(), "dry-run writes no file");
    let mut admin = w.admin().await;
    for db in n.dbs() {
        assert_eq!(charset(&mut admin, db).await, None, "{db} was created");
    }
    let users: Vec<String> = admin.exec("SELECT User FROM mysql.user WHERE User = ?", (&n.analytics,)).await.unwrap();
    assert!(users.is_empty());
    let r = w.mk(&["--edxapp-readonly", "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.action("mysql-grant", &format!("{}@% ON *.*", n.readonly)), "would-create");
}

#[tokio::test]
async fn edxapp_readonly_can_select_everywhere_and_write_nowhere() {
    let w = World::new();
    let n = &w.names;
    let mut admin = w.admin().await;
    let db = format!("edxapp_{}", n.readonly);
    admin.query_drop(format!("CREATE DATABASE {}", q(&db))).await.unwrap();
    admin.query_drop(format!("CREATE TABLE {}.auth_user (id INT, username VARCHAR(30))", q(&db))).await.unwrap();
    admin.query_drop(format!("INSERT INTO {}.auth_user VALUES (1, 'staff')", q(&db))).await.unwrap();

    // The admin password from MYSQL_PWD this time.
    let mut cmd = w.bare();
    cmd.args(["--edxapp-readonly", "--host", &w.server.host, "--port", &w.server.port.to_string()])
        .args(["--admin-user", &w.server.admin_user, "--readonly-user", &n.readonly])
        .arg("--secrets-dir")
        .arg(&w.secrets)
        .env("MYSQL_PWD", &w.server.admin_password);
    let r = run(&mut cmd).ok();
    w.assert_no_secret_shown(&r);
    let who = format!("{}@%", n.readonly);
    assert_eq!(r.action("mysql-user", &who), "created");
    assert_eq!(r.action("mysql-grant", &format!("{who} ON *.*")), "created");
    assert_eq!(r.json["outputs"]["users"]["readonly"], n.readonly.as_str());
    assert!(r.json["outputs"].get("databases").is_none());

    let creds_path = w.secrets.join("edxapp_creds");
    assert_eq!(r.json["outputs"]["credentials_file"], creds_path.display().to_string());
    assert_eq!(mode(&creds_path), 0o600);
    let creds = w.creds("edxapp_creds");
    assert_eq!(creds["username"], n.readonly.as_str());
    assert_eq!(creds["port"], Value::String(w.server.port.to_string()));
    let password = creds["password"].as_str().unwrap().to_owned();
    assert_eq!(w.secret(&format!("mysql-{}.password", n.readonly)), password);

    let have: Vec<String> =
        grants(&mut admin, &n.readonly).await.into_iter().filter(|g| !g.starts_with("GRANT USAGE")).collect();
    assert_eq!(have.len(), 1, "{have:?}");
    assert!(have[0].starts_with(&format!("GRANT SELECT ON *.* TO `{}`@`%`", n.readonly)), "{have:?}");

    let mut ro = w.login(&n.readonly, &password).await.expect("edxapp_ro logs in with the written password");
    let name: Option<String> = ro.query_first(format!("SELECT username FROM {}.auth_user", q(&db))).await.unwrap();
    assert_eq!(name.as_deref(), Some("staff"));
    assert_eq!(code(ro.query_drop(format!("INSERT INTO {}.auth_user VALUES (2, 'x')", q(&db))).await), 1142);
    assert_eq!(code(ro.query_drop(format!("DROP TABLE {}.auth_user", q(&db))).await), 1142);
    assert_eq!(code(ro.query_drop("CREATE DATABASE `t_ro_nope`").await), 1044);

    w.mk(&["--edxapp-readonly"]).ok().all_unchanged();
}

#[tokio::test]
async fn migration_user_with_a_hostile_password_and_name() {
    let w = World::new();
    let n = &w.names;
    let hostile = format!("p'q\"r\\s`t;u--v%w {}", n.migration);
    let pw_file = w.tmp().join("edxapp-mysql.password");
    std::fs::write(&pw_file, format!("{hostile}\n")).unwrap();
    // The user name is hostile too: quotes, a backtick, `;`, `--`, `%`.
    let user = format!("m'\"`;--%{}", &n.migration[4..]);
    let r = w
        .mk(&["--analytics", "-v", "--migration-user", &user, "--migration-password-file", pw_file.to_str().unwrap()])
        .ok();
    assert!(!r.stdout.contains(&hostile) && !r.stderr.contains(&hostile));
    let who = format!("{user}@%");
    assert_eq!(r.action("mysql-user", &who), "created");
    assert_eq!(r.action("mysql-password", &who), "created");
    assert_eq!(r.json["outputs"]["users"]["migration"], user.as_str());
    for db in n.dbs() {
        assert_eq!(r.action("mysql-grant", &format!("{who} ON {db}.*")), "created");
    }
    assert_eq!(std::fs::read_to_string(&pw_file).unwrap(), format!("{hostile}\n"), "the given file is left alone");

    let mut mig = w.login(&user, &hostile).await.expect("the migration user logs in with the hostile password");
    for db in n.dbs() {
        can_write(&mut mig, db).await.unwrap_or_else(|e| panic!("migration user in {db}: {e}"));
    }
    assert_eq!(code(mig.query_drop("SELECT * FROM mysql.user").await), 1142);
    drop(mig);
    // The analytics user is unaffected.
    let pw = w.secret(&format!("mysql-{}.password", n.analytics));
    w.login(&n.analytics, &pw).await.expect("analytics logs in");

    let again = w
        .mk(&["--analytics", "--migration-user", &user, "--migration-password-file", pw_file.to_str().unwrap()])
        .ok()
        .all_unchanged();
    assert!(!again.stdout.contains(&hostile));
}

#[tokio::test]
async fn rotate_sets_a_new_password_and_rewrites_the_files() {
    let w = World::new();
    let n = &w.names;
    w.mk(&["--analytics"]).ok();
    let file = format!("mysql-{}.password", n.analytics);
    let old = w.secret(&file);

    let r = w.mk(&["--analytics", "--rotate"]).ok();
    let who = format!("{}@%", n.analytics);
    assert_eq!(r.action("mysql-password", &who), "updated");
    assert_eq!(r.action("mysql-user", &who), "unchanged");
    assert_eq!(r.mutating(), 1, "one ALTER USER: {}", r.json["api_calls"]);
    let new = w.secret(&file);
    assert_ne!(new, old);
    assert_eq!(w.creds("edxanalytics_creds")["password"], new.as_str());
    assert_eq!(mode(w.secrets.join(&file)), 0o600);
    assert_eq!(code(w.login(&n.analytics, &old).await), 1045, "the old password no longer works");
    w.login(&n.analytics, &new).await.expect("the new password works");

    w.mk(&["--analytics"]).ok().all_unchanged();
    assert_eq!(w.secret(&file), new);
}

#[tokio::test]
async fn extra_privileges_granted_by_hand_are_revoked() {
    let w = World::new();
    let n = &w.names;
    w.mk(&["--analytics"]).ok();
    let mut admin = w.admin().await;
    let other = format!("t_{}_other", n.analytics);
    admin.query_drop(format!("CREATE DATABASE {}", q(&other))).await.unwrap();
    let who = format!("'{}'@'%'", n.analytics);
    for g in [
        format!("GRANT SELECT ON *.* TO {who}"),
        format!("GRANT ALL PRIVILEGES ON {}.* TO {who}", q(&other)),
        format!("GRANT SELECT ON {}.* TO {who} WITH GRANT OPTION", q(&n.api)),
    ] {
        admin.query_drop(g).await.unwrap();
    }

    let dry = w.mk(&["--analytics", "--dry-run"]).ok();
    assert_eq!(dry.mutating(), 0);
    let name = |scope: &str| format!("{}@% ON {scope}", n.analytics);
    assert_eq!(dry.action("mysql-grant", &name("*.*")), "would-delete");

    let r = w.mk(&["--analytics", "-v"]).ok();
    assert_eq!(r.action("mysql-grant", &name("*.*")), "deleted");
    assert_eq!(r.action("mysql-grant", &name(&format!("{other}.*"))), "deleted");
    assert_eq!(r.action("mysql-grant", &name(&format!("{}.*", n.api))), "updated");
    assert_eq!(r.action("mysql-grant", &name(&format!("{}.*", n.dashboard))), "unchanged");
    let have: Vec<String> =
        grants(&mut admin, &n.analytics).await.into_iter().filter(|g| !g.starts_with("GRANT USAGE")).collect();
    assert_eq!(have.len(), 3, "{have:?}");
    assert!(
        have.iter().all(|g| g.starts_with("GRANT ALL PRIVILEGES ON `t") && !g.contains("GRANT OPTION")),
        "{have:?}"
    );
    assert!(!have.iter().any(|g| g.contains("other")), "{have:?}");

    let pw = w.secret(&format!("mysql-{}.password", n.analytics));
    let mut an = w.login(&n.analytics, &pw).await.unwrap();
    assert!(matches!(code(can_write(&mut an, &other).await), 1044 | 1142));

    w.mk(&["--analytics"]).ok().all_unchanged();
}

#[tokio::test]
async fn a_database_with_another_charset_is_altered_and_utf8_means_utf8mb3() {
    let w = World::new();
    let n = &w.names;
    let mut admin = w.admin().await;
    admin.query_drop(format!("CREATE DATABASE {} CHARACTER SET latin1", q(&n.reports))).await.unwrap();
    let r = w.mk(&["--analytics"]).ok();
    assert_eq!(r.action("mysql-database", &n.reports), "updated");
    assert_eq!(r.action("mysql-database", &n.dashboard), "created");
    assert!(
        r.json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning" && f["message"].as_str().unwrap().contains(&n.reports))
    );
    assert_eq!(charset(&mut admin, &n.reports).await.as_deref(), Some("utf8mb4"));
    w.mk(&["--analytics"]).ok().all_unchanged();

    let w2 = World::new();
    let r = w2.mk(&["--analytics", "--charset", "utf8"]).ok();
    assert!(r.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains("utf8mb3")));
    for db in w2.names.dbs() {
        assert_eq!(charset(&mut admin, db).await.as_deref(), Some("utf8mb3"), "{db}");
    }
    w2.mk(&["--analytics", "--charset", "utf8"]).ok().all_unchanged();
}

#[tokio::test]
async fn an_existing_user_without_password_file_is_left_alone_until_rotate() {
    let w = World::new();
    let n = &w.names;
    let mut admin = w.admin().await;
    admin.query_drop(format!("CREATE USER '{}'@'%' IDENTIFIED BY 'Set-By-Hand-1'", n.readonly)).await.unwrap();
    let r = w.mk(&["--edxapp-readonly"]).ok();
    let who = format!("{}@%", n.readonly);
    assert_eq!(r.action("mysql-user", &who), "unchanged");
    assert_eq!(r.action("mysql-password", &who), "unchanged");
    assert_eq!(r.action("mysql-grant", &format!("{who} ON *.*")), "created");
    assert_eq!(r.mutating(), 1);
    assert!(r.json["findings"].as_array().unwrap().iter().any(|f| f["message"].as_str().unwrap().contains("--rotate")));
    assert_eq!(r.json["outputs"]["credentials_file"], Value::Null);
    assert!(!w.secrets.join("edxapp_creds").exists());
    w.login(&n.readonly, "Set-By-Hand-1").await.expect("the password is left as it is");

    let r = w.mk(&["--edxapp-readonly", "--rotate"]).ok();
    assert_eq!(r.action("mysql-password", &who), "updated");
    let creds = w.creds("edxapp_creds");
    w.login(&n.readonly, creds["password"].as_str().unwrap()).await.expect("the rotated password works");
    w.mk(&["--edxapp-readonly"]).ok().all_unchanged();
}

#[tokio::test]
async fn admin_from_rds_reads_mk_rds_outputs() {
    let w = World::new();
    let state = w.tmp().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let doc = serde_json::json!({"tool": "mk-rds", "dry_run": false, "outputs": {
        "endpoint": {"address": w.server.host, "port": w.server.port},
        "master_username": w.server.admin_user,
        "master_password_file": w.server.admin_password_file}});
    std::fs::write(state.join("mk-rds.json"), doc.to_string()).unwrap();
    let mut cmd = w.bare();
    cmd.args(["--edxapp-readonly", "--admin-from-rds", "--readonly-user", &w.names.readonly])
        .arg("--secrets-dir")
        .arg(&w.secrets)
        .env("ANALYTICS_STATE_DIR", &state);
    let r = run(&mut cmd).ok();
    w.assert_no_secret_shown(&r);
    assert_eq!(r.json["outputs"]["server"]["port"], w.server.port);
    assert_eq!(w.creds("edxapp_creds")["host"], w.server.host.as_str());
    let mut cmd = w.bare();
    cmd.args(["--edxapp-readonly", "--admin-from-rds", "--readonly-user", &w.names.readonly])
        .arg("--rds-state")
        .arg(state.join("mk-rds.json"))
        .arg("--secrets-dir")
        .arg(&w.secrets);
    run(&mut cmd).ok().all_unchanged();
}

#[tokio::test]
async fn wrong_admin_credentials_or_no_server_fail_on_one_line() {
    let w = World::new();
    let wrong = w.tmp().join("wrong.password");
    std::fs::write(&wrong, "not-the-password-xyz\n").unwrap();
    let mut cmd = w.bare();
    cmd.args(["--analytics", "--host", &w.server.host, "--port", &w.server.port.to_string()])
        .args(["--admin-user", &w.server.admin_user, "--admin-password-file"])
        .arg(&wrong)
        .arg("--secrets-dir")
        .arg(&w.secrets)
        .args(w.names.flags());
    let r = run(&mut cmd);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains("1045"), "{}", errors[0]);
    assert!(!r.stderr.contains("not-the-password-xyz") && !r.stdout.contains("not-the-password-xyz"));
    assert_eq!(r.total(), 0, "no statement was sent");
    assert!(!w.secrets.exists());

    // A closed port: nothing listens on port 1.
    let mut cmd = w.bare();
    cmd.args(["--analytics", "--host", "127.0.0.1", "--port", "1", "--admin-user", "root"])
        .arg("--secrets-dir")
        .arg(&w.secrets)
        .env("MYSQL_PWD", "whatever-pw-123");
    let r = run(&mut cmd);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains("127.0.0.1:1"), "{}", errors[0]);
    assert!(!r.stderr.contains("whatever-pw-123"));
}

#[tokio::test]
async fn bad_input_exits_2_before_any_statement() {
    let w = World::new();
    let pw = w.tmp().join("pw");
    std::fs::write(&pw, "x").unwrap();
    let pw = pw.to_str().unwrap();
    let long_db = "d".repeat(65);
    let long_user = "u".repeat(33);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--analytics", "--edxapp-readonly"], "cannot be used with"),
        (vec![], "--analytics"),
        (vec!["--analytics", "--port", "0"], "--port"),
        (vec!["--analytics", "--port", "70000"], "--port"),
        (vec!["--analytics", "--dashboard-db", &long_db], "invalid database name"),
        (vec!["--analytics", "--dashboard-db", "a%b"], "invalid database name"),
        (vec!["--analytics", "--analytics-user", &long_user], "invalid user name"),
        (vec!["--edxapp-readonly", "--readonly-user", "a/b"], "invalid user name"),
        (vec!["--analytics", "--migration-user", "m"], "--migration-password-file"),
        (vec!["--analytics", "--migration-user", &long_user, "--migration-password-file", pw], "invalid user name"),
        (
            vec!["--analytics", "--migration-user", "m", "--migration-password-file", "/nonexistent/pw"],
            "/nonexistent/pw",
        ),
        (vec!["--analytics", "--charset", "latin1"], "--charset"),
        (vec!["--analytics", "--client", "Bad_Client"], "invalid client name"),
    ];
    for (args, needle) in cases {
        let r = run(&mut w.as_admin(&args)).bad_input(needle);
        if !r.stdout.trim().is_empty() {
            assert_eq!(r.total(), 0, "{args:?}: no statement before bad input is found");
        }
    }

    let base = |cmd: &mut Command| {
        cmd.args(["--analytics", "--host", "127.0.0.1", "--admin-user", "root"]);
    };
    // No admin password at all.
    let mut cmd = w.bare();
    base(&mut cmd);
    cmd.arg("--secrets-dir").arg(&w.secrets);
    run(&mut cmd).bad_input("no admin password");
    // An unreadable admin password file.
    let mut cmd = w.bare();
    base(&mut cmd);
    cmd.args(["--admin-password-file", "/nonexistent/admin.pw"]).arg("--secrets-dir").arg(&w.secrets);
    run(&mut cmd).bad_input("/nonexistent/admin.pw");
    // Nowhere to put the passwords.
    let mut cmd = w.bare();
    base(&mut cmd);
    cmd.env("MYSQL_PWD", "x");
    run(&mut cmd).bad_input("--secrets-dir");
    // No mk-rds document.
    let mut cmd = w.bare();
    cmd.args(["--analytics", "--admin-from-rds", "--rds-state", "/nonexistent/mk-rds.json"])
        .arg("--secrets-dir")
        .arg(&w.secrets);
    run(&mut cmd).bad_input("/nonexistent/mk-rds.json");
    // A password on the command line is not a thing.
    let mut cmd = w.bare();
    base(&mut cmd);
    cmd.args(["--admin-password", "x"]);
    run(&mut cmd).bad_input("--admin-password");
    assert!(!w.secrets.exists());
}

/// The quoting against the real server, in both of its string modes: a
/// session with `NO_BACKSLASH_ESCAPES` reads backslashes literally, and the
/// tool reads the mode before it quotes.
#[tokio::test]
async fn hostile_passwords_survive_both_sql_modes() {
    use mk_rds_users::sql::{self, Account, Dialect};
    let w = World::new();
    let mut admin = w.admin().await;
    for (i, sql_mode) in ["STRICT_TRANS_TABLES", "STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES"].into_iter().enumerate() {
        admin.query_drop(format!("SET SESSION sql_mode = '{sql_mode}'")).await.unwrap();
        let vars: Vec<(String, String)> = admin.query(sql::server_settings().sql()).await.unwrap();
        let var = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let d = Dialect::from_settings(var("sql_mode").unwrap(), var("partial_revokes"));
        assert_eq!(d.backslash_escapes, i == 0, "{vars:?}");
        for (j, pw) in ["a'b\"c\\d`e;f--g%h", "\\", "x\\'; DROP USER root; --", "''\\\\''"].into_iter().enumerate() {
            let user = Account::new(format!("{}'{i}{j}", w.names.migration), "%");
            admin.query_drop(sql::create_user(&user, pw, d).sql()).await.unwrap_or_else(|e| panic!("{pw:?}: {e}"));
            w.login(&user.name, pw).await.unwrap_or_else(|e| panic!("{sql_mode}, {pw:?}: {e}"));
            let other = format!("{pw}x");
            admin.query_drop(sql::set_password(&user, &other, d).sql()).await.unwrap();
            w.login(&user.name, &other).await.unwrap_or_else(|e| panic!("{sql_mode}, {other:?}: {e}"));
            let grants: Vec<String> = admin.query(sql::show_grants(&user, d).sql()).await.unwrap();
            assert!(!grants.is_empty());
        }
    }
}
