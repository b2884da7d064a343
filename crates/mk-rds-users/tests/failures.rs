//! mk-rds-users against the real MariaDB the project's harness starts:
//! failures (wrong credentials, no server, bad input) and hostile quoting.
//! The tests share that server (scripts/test.sh) and run in parallel, so
//! each one names its databases and users with a random suffix of its own
//! (tests/support).

mod support;

use std::process::Command;

use analytics_tests::run;
use mysql_async::prelude::Queryable;

use support::*;

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
