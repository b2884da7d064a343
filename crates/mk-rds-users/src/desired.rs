//! The databases, users and grants we want, from the flags (SPEC section
//! 8). Pure: no I/O.

use std::path::PathBuf;

use common::error::bad_input;
use common::{Finding, Severity};

use crate::args::{Args, Charset};
use crate::quote::Account;

/// Which server this run sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The analytics server: three databases, `analytics` and the migration user.
    Analytics,
    /// The edxapp server: the read-only `edxapp_ro` user.
    EdxappReadonly,
}

/// What a database is for; also its key under `outputs.databases`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbRole {
    /// Insights
    Dashboard,
    /// The Analytics API
    AnalyticsApi,
    /// The pipeline's output
    Reports,
}

impl DbRole {
    pub fn key(self) -> &'static str {
        match self {
            DbRole::Dashboard => "dashboard",
            DbRole::AnalyticsApi => "analytics_api",
            DbRole::Reports => "reports",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    pub role: DbRole,
    pub name: String,
    /// As the server reports it: `utf8mb4` or `utf8mb3`.
    pub charset: &'static str,
}

/// What a user is for; also its key under `outputs.users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    /// Read-write on the analytics databases (Insights, the API, the pipeline).
    Analytics,
    /// The migration tooling's user: edxapp's name and password.
    Migration,
    /// Read-only on the edxapp server, for the pipeline's imports.
    Readonly,
}

impl UserRole {
    pub fn key(self) -> &'static str {
        match self {
            UserRole::Analytics => "analytics",
            UserRole::Migration => "migration",
            UserRole::Readonly => "readonly",
        }
    }
}

/// The privileges a user should hold, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// ALL PRIVILEGES on each of these databases.
    AllOn(Vec<String>),
    /// SELECT on `*.*`.
    SelectEverywhere,
}

/// Where a user's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Generated on creation (or `--rotate`) and kept in this file of the
    /// secrets directory.
    Generated { file: String },
    /// Given in a file (the migration user: edxapp's password).
    Given { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub role: UserRole,
    pub account: Account,
    pub access: Access,
    pub password: PasswordSource,
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub mode: Mode,
    pub databases: Vec<DatabaseSpec>,
    /// The first one is the user of the credentials file.
    pub users: Vec<UserSpec>,
    /// `edxanalytics_creds` or `edxapp_creds`.
    pub creds_file: &'static str,
    pub findings: Vec<Finding>,
}

/// MySQL's limit (64) and a character set that is safe in a grant, a
/// file name and a config file alike. `%` is refused (a grant wildcard);
/// `_` is allowed and escaped in grants.
pub fn validate_database_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.len() > 64 {
        return Err(bad_input(format!("invalid database name {name:?}: it must be 1 to 64 characters")));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')) {
        return Err(bad_input(format!(
            "invalid database name {name:?}: it may hold only letters, digits, '_', '-' and '$'"
        )));
    }
    Ok(())
}

/// 32 characters (MySQL's limit; MariaDB allows 80), no control
/// characters. A user whose password is generated names a file too, so it
/// is kept to letters, digits, `_`, `-` and `.`.
pub fn validate_user_name(name: &str, names_a_file: bool) -> anyhow::Result<()> {
    if name.is_empty() || name.chars().count() > 32 {
        return Err(bad_input(format!("invalid user name {name:?}: it must be 1 to 32 characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(bad_input(format!("invalid user name {name:?}: it holds a control character")));
    }
    if names_a_file
        && (name.starts_with('.') || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(bad_input(format!(
            "invalid user name {name:?}: it may hold only letters, digits, '_', '-' and '.' (its password file is named after it)"
        )));
    }
    Ok(())
}

/// The host part of the accounts: `%`, an address, a pattern; 255
/// characters at most.
pub fn validate_user_host(host: &str) -> anyhow::Result<()> {
    if host.is_empty() || host.len() > 255 || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad_input(format!(
            "invalid --user-host {host:?}: it must be 1 to 255 characters without spaces or control characters"
        )));
    }
    Ok(())
}

/// The password file of a generated password.
pub fn password_file_name(user: &str) -> String {
    format!("mysql-{user}.password")
}

pub fn from_args(args: &Args) -> anyhow::Result<Desired> {
    validate_user_host(&args.user_host)?;
    let account = |name: &str| Account::new(name, &args.user_host);
    let mut findings = Vec::new();
    let desired = if args.analytics {
        let charset = args.charset.server_name();
        if args.charset == Charset::Utf8 {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    "--charset utf8 is utf8mb3, a deprecated 3-byte encoding that cannot store every character \
                     (emoji, some CJK); utf8mb4 is the default",
                )
                .with_code("deprecated-charset"),
            );
        }
        let databases: Vec<DatabaseSpec> = [
            (DbRole::Dashboard, &args.dashboard_db),
            (DbRole::AnalyticsApi, &args.analytics_api_db),
            (DbRole::Reports, &args.reports_db),
        ]
        .into_iter()
        .map(|(role, name)| DatabaseSpec { role, name: name.clone(), charset })
        .collect();
        for db in &databases {
            validate_database_name(&db.name)?;
        }
        let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
        if let Some(dup) = names.iter().enumerate().find_map(|(i, n)| names[..i].contains(n).then_some(n)) {
            return Err(bad_input(format!("database {dup:?} is named for two purposes")));
        }
        validate_user_name(&args.analytics_user, true)?;
        let mut users = vec![UserSpec {
            role: UserRole::Analytics,
            account: account(&args.analytics_user),
            access: Access::AllOn(names.clone()),
            password: PasswordSource::Generated { file: password_file_name(&args.analytics_user) },
        }];
        match (&args.migration_user, &args.migration_password_file) {
            (Some(name), Some(path)) => {
                validate_user_name(name, false)?;
                if *name == args.analytics_user {
                    return Err(bad_input(format!(
                        "--migration-user {name:?} is the analytics user: they must be two users"
                    )));
                }
                users.push(UserSpec {
                    role: UserRole::Migration,
                    account: account(name),
                    access: Access::AllOn(names),
                    password: PasswordSource::Given { path: path.clone() },
                });
            }
            (None, None) => {}
            _ => return Err(bad_input("--migration-user and --migration-password-file go together")),
        }
        Desired { mode: Mode::Analytics, databases, users, creds_file: "edxanalytics_creds", findings }
    } else {
        validate_user_name(&args.readonly_user, true)?;
        let users = vec![UserSpec {
            role: UserRole::Readonly,
            account: account(&args.readonly_user),
            access: Access::SelectEverywhere,
            password: PasswordSource::Generated { file: password_file_name(&args.readonly_user) },
        }];
        Desired { mode: Mode::EdxappReadonly, databases: vec![], users, creds_file: "edxapp_creds", findings }
    };
    Ok(desired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["mk-rds-users", "--host", "db", "--admin-user", "root"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn analytics_defaults() {
        let d = from_args(&args(&["--analytics"])).unwrap();
        assert_eq!(d.mode, Mode::Analytics);
        let names: Vec<&str> = d.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["dashboard", "analytics-api", "reports"]);
        assert!(d.databases.iter().all(|d| d.charset == "utf8mb4"));
        assert_eq!(d.users.len(), 1);
        assert_eq!(d.users[0].account, Account::new("analytics", "%"));
        assert_eq!(
            d.users[0].access,
            Access::AllOn(vec!["dashboard".into(), "analytics-api".into(), "reports".into()])
        );
        assert_eq!(d.users[0].password, PasswordSource::Generated { file: "mysql-analytics.password".into() });
        assert_eq!(d.creds_file, "edxanalytics_creds");
        assert!(d.findings.is_empty());
    }

    #[test]
    fn migration_user_and_utf8() {
        let d = from_args(&args(&[
            "--analytics",
            "--charset",
            "utf8",
            "--migration-user",
            "edxapp001",
            "--migration-password-file",
            "/x",
        ]))
        .unwrap();
        assert!(d.databases.iter().all(|d| d.charset == "utf8mb3"));
        assert_eq!(d.findings[0].severity, Severity::Warning);
        assert_eq!(d.users[1].role, UserRole::Migration);
        assert_eq!(d.users[1].access, d.users[0].access);
        assert_eq!(d.users[1].password, PasswordSource::Given { path: "/x".into() });
    }

    #[test]
    fn readonly() {
        let d = from_args(&args(&["--edxapp-readonly", "--readonly-user", "ro", "--user-host", "10.0.%"])).unwrap();
        assert!(d.databases.is_empty());
        assert_eq!(d.users[0].account, Account::new("ro", "10.0.%"));
        assert_eq!(d.users[0].access, Access::SelectEverywhere);
        assert_eq!(d.creds_file, "edxapp_creds");
    }

    #[test]
    fn bad_names() {
        for (flag, value, needle) in [
            ("--dashboard-db", "a%b", "invalid database name"),
            ("--dashboard-db", "a.b", "invalid database name"),
            ("--dashboard-db", &"d".repeat(65), "invalid database name"),
            ("--dashboard-db", "reports", "two purposes"),
            ("--analytics-user", &"u".repeat(33), "invalid user name"),
            ("--analytics-user", "a/b", "invalid user name"),
            ("--analytics-user", "", "invalid user name"),
            ("--user-host", "a b", "invalid --user-host"),
        ] {
            let e = from_args(&args(&["--analytics", flag, value])).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{flag} {value}");
            assert!(e.to_string().contains(needle), "{flag} {value}: {e}");
        }
        let e = from_args(&args(&["--analytics", "--migration-user", "analytics", "--migration-password-file", "/x"]))
            .unwrap_err();
        assert!(e.to_string().contains("two users"), "{e}");
        validate_database_name(&"d".repeat(64)).unwrap();
        validate_database_name("my_db$1-x").unwrap();
        validate_user_name(&"u".repeat(32), true).unwrap();
        validate_user_name("o'brien;--", false).unwrap();
        assert!(validate_user_name("a\nb", false).is_err());
        assert!(validate_user_name(".hidden", true).is_err());
    }

    #[test]
    fn clap_rules() {
        let parse = |v: &[&str]| Args::try_parse_from([&["mk-rds-users"], v].concat());
        let base = ["--host", "h", "--admin-user", "u"];
        assert!(parse(&base).is_err(), "a mode is required");
        assert!(parse(&[&base[..], &["--analytics", "--edxapp-readonly"]].concat()).is_err());
        assert!(parse(&[&base[..], &["--analytics", "--port", "0"]].concat()).is_err());
        assert!(parse(&[&base[..], &["--analytics", "--port", "65536"]].concat()).is_err());
        assert!(parse(&[&base[..], &["--analytics", "--port", "65535"]].concat()).is_ok());
        assert!(parse(&[&base[..], &["--analytics", "--migration-user", "m"]].concat()).is_err());
        assert!(parse(&[&base[..], &["--analytics", "--migration-password-file", "f"]].concat()).is_err());
        assert!(
            parse(
                &[&base[..], &["--edxapp-readonly", "--migration-user", "m", "--migration-password-file", "f"]]
                    .concat()
            )
            .is_err()
        );
        assert!(parse(&[&base[..], &["--edxapp-readonly", "--charset", "utf8"]].concat()).is_err());
        assert!(parse(&["--analytics"]).is_err(), "--host and --admin-user are needed without --admin-from-rds");
        assert!(parse(&["--analytics", "--admin-from-rds"]).is_ok());
        assert!(parse(&["--analytics", "--admin-from-rds", "--host", "h"]).is_err());
    }
}
