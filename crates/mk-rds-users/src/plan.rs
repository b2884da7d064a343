//! Comparing what we want with what the server has, into statements.
//! Pure: the passwords come in already read or generated.

use std::collections::{BTreeMap, BTreeSet};

use common::{Action, Change, Finding, SecretsDir, Severity};

use crate::credentials::PasswordState;
use crate::desired::{Access, DatabaseSpec, Desired, PasswordSource, UserSpec};
use crate::grants::{Grants, Privilege, Scope};
use crate::sql::{self, Account, Dialect, Statement};

/// What the server has.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub dialect: Dialect,
    /// The server's `version` variable, for the report.
    pub version: String,
    /// Existing databases among ours, and their character set.
    pub charsets: BTreeMap<String, String>,
    /// Existing accounts among ours.
    pub accounts: BTreeSet<Account>,
    /// The grants of each existing account.
    pub grants: BTreeMap<Account, Grants>,
}

/// A password file to write before the step's statements run, so a
/// password set on the server is never lost; `previous` is put back if the
/// statements fail.
#[derive(Clone)]
pub struct PasswordFile {
    pub name: String,
    pub value: String,
    pub previous: Option<String>,
}

impl std::fmt::Debug for PasswordFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordFile").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One resource's change and the statements that make it.
#[derive(Debug, Clone)]
pub struct Step {
    pub change: Change,
    pub statements: Vec<Statement>,
    pub password_file: Option<PasswordFile>,
}

impl Step {
    fn new(change: Change, statements: Vec<Statement>) -> Self {
        Step { change, statements, password_file: None }
    }
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// Each user's password once the plan is applied (same order as the
    /// desired users); `None` when it is not known.
    pub passwords: Vec<Option<String>>,
}

type PrivilegeMap = BTreeMap<Scope, BTreeSet<Privilege>>;

/// The grants a user should hold, as the server would print them.
pub fn desired_grants(access: &Access, d: Dialect) -> PrivilegeMap {
    match access {
        Access::AllOn(dbs) => dbs
            .iter()
            .map(|db| (Scope::Database(sql::grant_pattern(db, d)), [Privilege::new("ALL PRIVILEGES")].into()))
            .collect(),
        Access::SelectEverywhere => [(Scope::Global, [Privilege::new("SELECT")].into())].into(),
    }
}

fn database_step(db: &DatabaseSpec, observed: &Observed, findings: &mut Vec<Finding>) -> Step {
    let change = |action| Change::new("mysql-database", &db.name, action);
    match observed.charsets.get(&db.name) {
        None => Step::new(change(Action::Create), vec![sql::create_database(&db.name, db.charset)]),
        Some(cs) if cs.eq_ignore_ascii_case(db.charset) => Step::new(change(Action::Unchanged), vec![]),
        Some(cs) => {
            // ALTER DATABASE sets the default for new tables; converting
            // existing tables rewrites them, which is the operator's call.
            findings.push(Finding::new(
                Severity::Warning,
                format!(
                    "database {} had character set {cs}: its default becomes {}, but tables it already holds keep \
                     theirs (convert them with ALTER TABLE … CONVERT TO CHARACTER SET {} if needed)",
                    db.name, db.charset, db.charset
                ),
            ));
            Step::new(
                change(Action::Update).with_details(vec![format!("character set {cs} -> {}", db.charset)]),
                vec![sql::alter_database_charset(&db.name, db.charset)],
            )
        }
    }
}

/// Where a user's password lives, for the report (`id` of its change).
fn password_location(user: &UserSpec, secrets: &SecretsDir) -> String {
    match &user.password {
        PasswordSource::Generated { file } => secrets.file(file).display().to_string(),
        PasswordSource::Given { path } => path.display().to_string(),
    }
}

/// The user and its password: steps, and the password it ends with.
fn user_steps(
    user: &UserSpec,
    pw: &PasswordState,
    exists: bool,
    rotate: bool,
    observed: &Observed,
    secrets: &SecretsDir,
    findings: &mut Vec<Finding>,
) -> (Vec<Step>, Option<String>) {
    let d = observed.dialect;
    let a = &user.account;
    let name = a.to_string();
    let location = password_location(user, secrets);
    let pw_change = |action| Change::new("mysql-password", &name, action).with_id(&location);
    let file_write = |value: &str| match &user.password {
        PasswordSource::Generated { file } => {
            Some(PasswordFile { name: file.clone(), value: value.to_owned(), previous: pw.known.clone() })
        }
        PasswordSource::Given { .. } => None,
    };
    // A generated user gets a new password only when it has none we know,
    // or on --rotate; the migration user always has the given one.
    let new_password = match (&user.password, rotate) {
        (PasswordSource::Generated { .. }, true) => pw.fresh.clone(),
        _ => pw.known.clone().or_else(|| pw.fresh.clone()),
    };

    if !exists {
        let Some(password) = new_password else {
            unreachable!("a generated user always has a fresh password, a given one a known one")
        };
        let write = if pw.known.as_deref() == Some(password.as_str()) { None } else { file_write(&password) };
        let create = Step {
            change: Change::new("mysql-user", &name, Action::Create),
            statements: vec![sql::create_user(a, &password, d)],
            password_file: write,
        };
        return (vec![create, Step::new(pw_change(Action::Create), vec![])], Some(password));
    }

    let user_step = Step::new(Change::new("mysql-user", &name, Action::Unchanged), vec![]);
    if rotate {
        let password = new_password.expect("a password to rotate to");
        let detail = match &user.password {
            PasswordSource::Generated { .. } => "rotated".to_owned(),
            PasswordSource::Given { path } => format!("set from {}", path.display()),
        };
        let step = Step {
            change: pw_change(Action::Update).with_details(vec![detail]),
            statements: vec![sql::set_password(a, &password, d)],
            password_file: file_write(&password),
        };
        return (vec![user_step, step], Some(password));
    }
    if pw.known.is_none() {
        findings.push(Finding::new(
            Severity::Warning,
            format!(
                "user {name} exists but its password file {location} does not: its password is left as it is and \
                 no credentials file is written for it; re-run with --rotate to set a new one"
            ),
        ));
    }
    (vec![user_step, Step::new(pw_change(Action::Unchanged), vec![])], pw.known.clone())
}

fn grant_name(a: &Account, scope: &Scope, d: Dialect) -> String {
    match scope {
        Scope::Role(_) => format!("{a} {}", scope.describe(d)),
        _ => format!("{a} ON {}", scope.describe(d)),
    }
}

/// Brings a user's grants to exactly the desired ones: grants what is
/// missing, revokes what is extra (other scopes, roles, the grant option).
fn grant_steps(user: &UserSpec, have: Option<&Grants>, d: Dialect) -> Vec<Step> {
    let a = &user.account;
    let want = desired_grants(&user.access, d);
    let empty = PrivilegeMap::new();
    let have = have.map(|g| &g.scopes).unwrap_or(&empty);
    let mut steps = Vec::new();
    for (scope, wanted) in &want {
        let held = have.get(scope).cloned().unwrap_or_default();
        let extra: Vec<&Privilege> = held.difference(wanted).collect();
        // Revoking ALL PRIVILEGES also takes what we want: grant it again.
        let missing: Vec<&Privilege> =
            if extra.iter().any(|p| p.is_all()) { wanted.iter().collect() } else { wanted.difference(&held).collect() };
        let mut statements = Vec::new();
        if !extra.is_empty() {
            statements.extend(sql::revoke(extra.iter().copied(), scope, a, d));
        }
        if !missing.is_empty() {
            statements.push(sql::grant(missing.iter().copied(), scope, a, d));
        }
        let action = if held.is_empty() {
            Action::Create
        } else if statements.is_empty() {
            Action::Unchanged
        } else {
            Action::Update
        };
        let mut details: Vec<String> = Vec::new();
        if action == Action::Update {
            details.extend(extra.iter().map(|p| format!("-{p}")));
            details.extend(missing.iter().filter(|p| !held.contains(p)).map(|p| format!("+{p}")));
        }
        steps.push(Step::new(
            Change::new("mysql-grant", grant_name(a, scope, d), action).with_details(details),
            statements,
        ));
    }
    for (scope, held) in have {
        if want.contains_key(scope) {
            continue;
        }
        let statements = match scope {
            Scope::Role(role) => vec![sql::revoke_role(role, a, d)],
            _ => sql::revoke(held, scope, a, d),
        };
        let details = held.iter().map(|p| format!("-{p}")).collect();
        steps.push(Step::new(
            Change::new("mysql-grant", grant_name(a, scope, d), Action::Delete).with_details(details),
            statements,
        ));
    }
    steps
}

/// The text of a grant line up to its grantee: what a finding may show
/// (the rest can hold a password hash).
fn grant_line_head(line: &str) -> &str {
    let end = [" TO ", " FROM ", " to ", " from "].iter().filter_map(|w| line.find(w)).min();
    end.map(|i| &line[..i]).unwrap_or(line)
}

pub fn plan(
    desired: &Desired,
    observed: &Observed,
    passwords: &[PasswordState],
    rotate: bool,
    secrets: &SecretsDir,
) -> Plan {
    let d = observed.dialect;
    let mut plan = Plan::default();
    for db in &desired.databases {
        let step = database_step(db, observed, &mut plan.findings);
        plan.steps.push(step);
    }
    for (user, pw) in desired.users.iter().zip(passwords) {
        let exists = observed.accounts.contains(&user.account);
        let (steps, password) = user_steps(user, pw, exists, rotate, observed, secrets, &mut plan.findings);
        plan.steps.extend(steps);
        plan.passwords.push(password);
        let have = observed.grants.get(&user.account);
        if let Some(g) = have.filter(|g| !g.not_understood.is_empty()) {
            let heads: Vec<&str> = g.not_understood.iter().map(|l| grant_line_head(l)).collect();
            plan.findings.push(Finding::new(
                Severity::Warning,
                format!(
                    "SHOW GRANTS for {} printed lines this tool does not understand, left as they are: {}",
                    user.account,
                    heads.join("; ")
                ),
            ));
        }
        plan.steps.extend(grant_steps(user, if exists { have } else { None }, d));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{DbRole, Mode, UserRole};

    const DBS: [&str; 3] = ["dashboard", "analytics-api", "reports"];

    fn analytics_user() -> UserSpec {
        UserSpec {
            role: UserRole::Analytics,
            account: Account::new("analytics", "%"),
            access: Access::AllOn(DBS.iter().map(std::string::ToString::to_string).collect()),
            password: PasswordSource::Generated { file: "mysql-analytics.password".into() },
        }
    }

    fn readonly_user() -> UserSpec {
        UserSpec {
            role: UserRole::Readonly,
            account: Account::new("edxapp_ro", "%"),
            access: Access::SelectEverywhere,
            password: PasswordSource::Generated { file: "mysql-edxapp_ro.password".into() },
        }
    }

    fn analytics() -> Desired {
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

    fn readonly() -> Desired {
        Desired {
            mode: Mode::EdxappReadonly,
            databases: vec![],
            users: vec![readonly_user()],
            creds_file: "edxapp_creds",
            findings: vec![],
        }
    }

    fn secrets() -> SecretsDir {
        SecretsDir::new("/s")
    }

    fn fresh() -> PasswordState {
        PasswordState { known: None, fresh: Some("FRESH".into()) }
    }

    fn known() -> PasswordState {
        PasswordState { known: Some("KNOWN".into()), fresh: Some("FRESH".into()) }
    }

    /// A server that already matches `desired`, as observed.
    fn converged(desired: &Desired) -> Observed {
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

    fn sqls(p: &Plan) -> Vec<String> {
        p.steps.iter().flat_map(|s| s.statements.iter().map(|s| s.shown().to_owned())).collect()
    }

    fn action(p: &Plan, kind: &str, name: &str) -> Action {
        p.steps.iter().find(|s| s.change.kind == kind && s.change.name == name).expect(name).change.action
    }

    #[test]
    fn empty_server_gets_everything_in_order() {
        let p = plan(&analytics(), &Observed::default(), &[fresh()], false, &secrets());
        assert_eq!(
            sqls(&p),
            [
                "CREATE DATABASE `dashboard` CHARACTER SET utf8mb4",
                "CREATE DATABASE `analytics-api` CHARACTER SET utf8mb4",
                "CREATE DATABASE `reports` CHARACTER SET utf8mb4",
                "CREATE USER 'analytics'@'%' IDENTIFIED BY '<password>'",
                "GRANT ALL PRIVILEGES ON `analytics-api`.* TO 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `dashboard`.* TO 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `reports`.* TO 'analytics'@'%'",
            ]
        );
        let create = p.steps.iter().find(|s| s.change.kind == "mysql-user").unwrap();
        assert!(create.statements[0].sql().ends_with("'FRESH'"));
        let file = create.password_file.as_ref().expect("the password is written before CREATE USER");
        assert_eq!(
            (file.name.as_str(), file.value.as_str(), file.previous.as_deref()),
            ("mysql-analytics.password", "FRESH", None)
        );
        assert_eq!(action(&p, "mysql-password", "analytics@%"), Action::Create);
        assert_eq!(
            p.steps.iter().find(|s| s.change.kind == "mysql-password").unwrap().change.id.as_deref(),
            Some("/s/mysql-analytics.password")
        );
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON dashboard.*"), Action::Create);
        assert_eq!(p.passwords, [Some("FRESH".to_owned())]);
        assert!(p.findings.is_empty());
    }

    #[test]
    fn a_kept_password_file_is_reused_for_a_missing_user() {
        let p = plan(&analytics(), &Observed::default(), &[known()], false, &secrets());
        let create = p.steps.iter().find(|s| s.change.kind == "mysql-user").unwrap();
        assert!(create.statements[0].sql().ends_with("'KNOWN'"));
        assert!(create.password_file.is_none());
        assert_eq!(p.passwords, [Some("KNOWN".to_owned())]);
    }

    #[test]
    fn converged_server_is_unchanged() {
        let desired = analytics();
        let p = plan(&desired, &converged(&desired), &[known()], false, &secrets());
        assert!(sqls(&p).is_empty(), "{:?}", sqls(&p));
        assert!(p.steps.iter().all(|s| s.change.action == Action::Unchanged && s.password_file.is_none()));
        assert_eq!(p.steps.len(), 3 + 2 + 3);
        assert_eq!(p.passwords, [Some("KNOWN".to_owned())]);
        let desired = readonly();
        let p = plan(&desired, &converged(&desired), &[known()], false, &secrets());
        assert!(sqls(&p).is_empty());
        assert_eq!(action(&p, "mysql-grant", "edxapp_ro@% ON *.*"), Action::Unchanged);
    }

    #[test]
    fn extra_and_missing_privileges_are_brought_to_the_table() {
        let desired = analytics();
        let mut o = converged(&desired);
        let a = Account::new("analytics", "%");
        let g = o.grants.get_mut(&a).unwrap();
        // Missing on one database, partial on another, with the grant
        // option on a third, plus global and other-database extras.
        g.scopes.remove(&Scope::Database("dashboard".into()));
        g.scopes.insert(Scope::Database("analytics-api".into()), [Privilege::new("SELECT")].into());
        g.scopes.get_mut(&Scope::Database("reports".into())).unwrap().insert(Privilege::new("GRANT OPTION"));
        g.scopes.insert(Scope::Global, [Privilege::new("SELECT"), Privilege::new("PROCESS")].into());
        g.scopes.insert(Scope::Database("mysql".into()), [Privilege::new("ALL")].into());
        g.scopes.insert(Scope::Role(crate::grants::Role { name: "dba".into(), host: None }), BTreeSet::new());
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(
            sqls(&p),
            [
                "REVOKE SELECT ON `analytics-api`.* FROM 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `analytics-api`.* TO 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `dashboard`.* TO 'analytics'@'%'",
                "REVOKE GRANT OPTION ON `reports`.* FROM 'analytics'@'%'",
                "REVOKE PROCESS, SELECT ON *.* FROM 'analytics'@'%'",
                "REVOKE ALL PRIVILEGES ON `mysql`.* FROM 'analytics'@'%'",
                "REVOKE 'dba' FROM 'analytics'@'%'",
            ]
        );
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON analytics-api.*"), Action::Update);
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON dashboard.*"), Action::Create);
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON reports.*"), Action::Update);
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON *.*"), Action::Delete);
        assert_eq!(action(&p, "mysql-grant", "analytics@% role dba"), Action::Delete);
        let api = p.steps.iter().find(|s| s.change.name == "analytics@% ON analytics-api.*").unwrap();
        assert_eq!(api.change.details, ["-SELECT", "+ALL PRIVILEGES"]);
    }

    #[test]
    fn all_privileges_where_select_is_wanted_is_revoked_then_select_granted() {
        let desired = readonly();
        let mut o = converged(&desired);
        o.grants
            .get_mut(&Account::new("edxapp_ro", "%"))
            .unwrap()
            .scopes
            .insert(Scope::Global, [Privilege::new("ALL PRIVILEGES"), Privilege::new("GRANT OPTION")].into());
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(
            sqls(&p),
            [
                "REVOKE ALL PRIVILEGES ON *.* FROM 'edxapp_ro'@'%'",
                "REVOKE GRANT OPTION ON *.* FROM 'edxapp_ro'@'%'",
                "GRANT SELECT ON *.* TO 'edxapp_ro'@'%'",
            ]
        );
    }

    #[test]
    fn wildcards_in_database_names_are_escaped_in_grants() {
        let mut desired = analytics();
        desired.databases[0].name = "my_dash".into();
        desired.users[0].access = Access::AllOn(vec!["my_dash".into()]);
        let mut o = converged(&desired);
        // A grant on the unescaped pattern would reach `myXdash` too: it is
        // not ours, so it goes.
        o.grants
            .get_mut(&Account::new("analytics", "%"))
            .unwrap()
            .scopes
            .insert(Scope::Database("my_dash".into()), [Privilege::new("ALL")].into());
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(sqls(&p), ["REVOKE ALL PRIVILEGES ON `my_dash`.* FROM 'analytics'@'%'"]);
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON my_dash.*"), Action::Unchanged);
    }

    #[test]
    fn other_charset_is_altered_with_a_warning() {
        let desired = analytics();
        let mut o = converged(&desired);
        o.charsets.insert("reports".into(), "latin1".into());
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(sqls(&p), ["ALTER DATABASE `reports` CHARACTER SET utf8mb4"]);
        let s = p.steps.iter().find(|s| s.change.name == "reports").unwrap();
        assert_eq!(s.change.action, Action::Update);
        assert_eq!(s.change.details, ["character set latin1 -> utf8mb4"]);
        assert!(p.findings[0].message.contains("keep"), "{}", p.findings[0].message);
    }

    #[test]
    fn existing_user_without_password_file_is_left_alone_with_a_warning() {
        let desired = readonly();
        let p = plan(&desired, &converged(&desired), &[fresh()], false, &secrets());
        assert!(sqls(&p).is_empty());
        assert_eq!(p.passwords, [None]);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert!(p.findings[0].message.contains("--rotate"));
        assert!(!p.findings[0].message.contains("FRESH"));
    }

    #[test]
    fn rotate_sets_a_fresh_password_and_rewrites_the_file() {
        let desired = readonly();
        let p = plan(&desired, &converged(&desired), &[known()], true, &secrets());
        assert_eq!(sqls(&p), ["ALTER USER 'edxapp_ro'@'%' IDENTIFIED BY '<password>'"]);
        let s = p.steps.iter().find(|s| s.change.kind == "mysql-password").unwrap();
        assert_eq!(s.change.action, Action::Update);
        assert!(s.statements[0].sql().ends_with("'FRESH'"));
        let f = s.password_file.as_ref().unwrap();
        assert_eq!((f.value.as_str(), f.previous.as_deref()), ("FRESH", Some("KNOWN")));
        assert_eq!(p.passwords, [Some("FRESH".to_owned())]);
    }

    #[test]
    fn migration_user_uses_the_given_password() {
        let mut desired = analytics();
        desired.users.push(UserSpec {
            role: UserRole::Migration,
            account: Account::new("edxapp001", "%"),
            access: desired.users[0].access.clone(),
            password: PasswordSource::Given { path: "/given".into() },
        });
        let given = PasswordState { known: Some("GIVEN".into()), fresh: None };
        let p = plan(&desired, &Observed::default(), &[fresh(), given.clone()], false, &secrets());
        let create = p.steps.iter().find(|s| s.change.name == "edxapp001@%" && s.change.kind == "mysql-user").unwrap();
        assert!(create.statements[0].sql().ends_with("'GIVEN'"));
        assert!(create.password_file.is_none(), "the given file is never rewritten");
        assert_eq!(action(&p, "mysql-grant", "edxapp001@% ON reports.*"), Action::Create);
        let mut o = converged(&desired);
        let p = plan(&desired, &o, &[known(), given.clone()], false, &secrets());
        assert!(sqls(&p).is_empty());
        o.accounts.remove(&Account::new("analytics", "%"));
        o.grants.remove(&Account::new("analytics", "%"));
        let p = plan(&desired, &o, &[known(), given], true, &secrets());
        assert_eq!(
            sqls(&p)[1..],
            [
                "GRANT ALL PRIVILEGES ON `analytics-api`.* TO 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `dashboard`.* TO 'analytics'@'%'",
                "GRANT ALL PRIVILEGES ON `reports`.* TO 'analytics'@'%'",
                "ALTER USER 'edxapp001'@'%' IDENTIFIED BY '<password>'",
            ]
        );
        assert!(
            p.steps
                .iter()
                .find(|s| s.change.name == "edxapp001@%" && s.change.kind == "mysql-password")
                .unwrap()
                .statements[0]
                .sql()
                .ends_with("'GIVEN'")
        );
    }

    #[test]
    fn lines_not_understood_are_reported_without_what_follows_the_grantee() {
        let desired = readonly();
        let mut o = converged(&desired);
        o.grants.get_mut(&Account::new("edxapp_ro", "%")).unwrap().not_understood =
            vec!["REVOKE INSERT ON `mysql`.* FROM `edxapp_ro`@`%` IDENTIFIED BY PASSWORD '*HASH'".into()];
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0].message.contains("REVOKE INSERT"), "{}", p.findings[0].message);
        assert!(!p.findings[0].message.contains("HASH"), "{}", p.findings[0].message);
        let o2 = Grants::parse(&["GRANT SELECT ON `x`.* TO `u`@`%` IDENTIFIED BY PASSWORD '*HASH'"]);
        assert!(o2.not_understood.is_empty());
        assert_eq!(grant_line_head("GRANT X TO `u`@`%` IDENTIFIED BY PASSWORD '*HASH'"), "GRANT X");
    }
}
