//! mk-rds-users against the real MariaDB the project's harness starts: a
//! server that drifted, or was set up before, is brought to what the flags
//! say (rotate, revokes, character sets, existing users, mk-rds's outputs).
//! The tests share that server (scripts/test.sh) and run in parallel, so
//! each one names its databases and users with a random suffix of its own
//! (tests/support).

mod support;

use analytics_tests::{mode, run};
use mysql_async::prelude::Queryable;
use serde_json::Value;

use support::*;

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
