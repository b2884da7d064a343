//! mk-rds-users against the real MariaDB the project's harness starts:
//! what each mode creates, and the dry run.
//! The tests share that server (scripts/test.sh) and run in parallel, so
//! each one names its databases and users with a random suffix of its own
//! (tests/support).

mod support;

use analytics_tests::{mode, run};
use mysql_async::prelude::Queryable;
use serde_json::Value;

use support::*;

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
