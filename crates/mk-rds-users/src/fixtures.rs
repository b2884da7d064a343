//! Hand-made desired and observed states for the plan's unit tests.

use common::SecretsDir;
use common::secrets::Secret;

use crate::credentials::PasswordState;
use crate::desired::{Access, DatabaseSpec, DbRole, Desired, Mode, PasswordSource, UserRole, UserSpec};
use crate::grant_plan::desired_grants;
use crate::grants::Grants;
use crate::observed::Observed;
use crate::quote::{Account, Dialect};

pub const DBS: [&str; 3] = ["dashboard", "analytics-api", "reports"];

pub fn analytics_user() -> UserSpec {
    UserSpec {
        role: UserRole::Analytics,
        account: Account::new("analytics", "%"),
        access: Access::AllOn(DBS.iter().map(std::string::ToString::to_string).collect()),
        password: PasswordSource::Generated { file: "mysql-analytics.password".into() },
    }
}

pub fn readonly_user() -> UserSpec {
    UserSpec {
        role: UserRole::Readonly,
        account: Account::new("edxapp_ro", "%"),
        access: Access::SelectEverywhere,
        password: PasswordSource::Generated { file: "mysql-edxapp_ro.password".into() },
    }
}

pub fn analytics() -> Desired {
    let roles = [DbRole::Dashboard, DbRole::AnalyticsApi, DbRole::Reports];
    Desired {
        mode: Mode::Analytics,
        databases: DBS
            .iter()
            .zip(roles)
            .map(|(n, role)| DatabaseSpec { role, name: n.to_string(), charset: "utf8mb4" })
            .collect(),
        users: vec![analytics_user()],
        creds_file: "edxanalytics_creds",
        findings: vec![],
    }
}

pub fn readonly() -> Desired {
    Desired {
        mode: Mode::EdxappReadonly,
        databases: vec![],
        users: vec![readonly_user()],
        creds_file: "edxapp_creds",
        findings: vec![],
    }
}

pub fn secrets() -> SecretsDir {
    SecretsDir::new("/s")
}

pub fn fresh() -> PasswordState {
    PasswordState { known: None, fresh: Some(Secret::new("FRESH")) }
}

pub fn known() -> PasswordState {
    PasswordState { known: Some(Secret::new("KNOWN")), fresh: Some(Secret::new("FRESH")) }
}

/// A server that already matches `desired`, as observed.
pub fn converged(desired: &Desired) -> Observed {
    let d = Dialect::default();
    let mut o = Observed { dialect: d, ..Default::default() };
    for db in &desired.databases {
        o.charsets.insert(db.name.clone(), db.charset.into());
    }
    for u in &desired.users {
        o.accounts.insert(u.account.clone());
        o.grants.insert(u.account.clone(), Grants { scopes: desired_grants(&u.access, d), not_understood: vec![] });
    }
    o
}
