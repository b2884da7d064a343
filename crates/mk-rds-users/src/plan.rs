//! Comparing what we want with what the server has: a `common::Plan` of
//! [`Op`]s (statements, and the password files written with them), by
//! pure code; the passwords come in already read or generated. The users'
//! steps are planned in [`crate::users`], their grants in
//! [`crate::grant_plan`]; the vocabulary is in [`crate::op`].
//!
//! The steps, in order (each group a phase): the databases; then per user
//! its account and password, then its grants.

use common::report::AttributeChange;
use common::secrets::Secret;
use common::{Action, Change, Finding, SecretsDir};

use crate::credentials::PasswordState;
use crate::desired::{DatabaseSpec, Desired};
use crate::grant_plan::{grant_steps, not_understood};
pub use crate::observed::Observed;
use crate::op::{DATABASES, KIND_DATABASE, account_phase, grants_phase, sql_ops};
pub use crate::op::{Plan, Step};
use crate::sql;
use crate::users::user_steps;

/// The plan, and each user's password once it is applied (in the desired
/// users' order; `None` when it is not known).
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub passwords: Vec<Option<Secret>>,
}

fn database_step(db: &DatabaseSpec, observed: &Observed, findings: &mut Vec<Finding>) -> Step {
    let change = |action| Change::new(KIND_DATABASE, &db.name, action);
    match observed.charsets.get(&db.name) {
        None => Step::new(change(Action::Create), sql_ops([sql::create_database(&db.name, db.charset)])),
        Some(cs) if cs.eq_ignore_ascii_case(db.charset) => Step::unchanged(change(Action::Unchanged)),
        Some(cs) => {
            // ALTER DATABASE sets the default for new tables; converting
            // existing tables rewrites them, which is the operator's call.
            findings.push(
                Finding::warning(format!(
                    "database {} had character set {cs}: its default becomes {}, but tables it already holds keep \
                     theirs (convert them with ALTER TABLE … CONVERT TO CHARACTER SET {} if needed)",
                    db.name, db.charset, db.charset
                ))
                .with_code("tables-keep-charset")
                .about(&db.name),
            );
            let mut c = change(Action::Update).with_details(vec![format!("character set {cs} -> {}", db.charset)]);
            c.diff.push(AttributeChange {
                attribute: "character set".into(),
                before: cs.as_str().into(),
                after: db.charset.into(),
            });
            Step::new(c, sql_ops([sql::alter_database_charset(&db.name, db.charset)]))
        }
    }
}

pub fn plan(
    desired: &Desired,
    observed: &Observed,
    passwords: &[PasswordState],
    rotate: bool,
    secrets: &SecretsDir,
) -> Planned {
    let d = observed.dialect;
    let mut plan = Plan::default();
    for db in &desired.databases {
        let step = database_step(db, observed, &mut plan.findings);
        plan.step(step.in_phase(DATABASES));
    }
    let mut known = Vec::new();
    for (i, (user, pw)) in desired.users.iter().zip(passwords).enumerate() {
        let exists = observed.accounts.contains(&user.account);
        let (steps, password) = user_steps(user, pw, exists, rotate, d, secrets, &mut plan.findings);
        steps.into_iter().for_each(|s| plan.step(s.in_phase(account_phase(i))));
        known.push(password);
        let have = observed.grants.get(&user.account);
        if let Some(f) = have.and_then(|g| not_understood(&user.account, g)) {
            plan.finding(f);
        }
        grant_steps(user, have.filter(|_| exists), d).into_iter().for_each(|s| plan.step(s.in_phase(grants_phase(i))));
    }
    Planned { plan, passwords: known }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use common::Severity;

    use super::*;
    use crate::desired::{Access, PasswordSource, UserRole, UserSpec};
    use crate::fixtures::{analytics, converged, fresh, known, readonly, secrets};
    use crate::grant_plan::grant_line_head;
    use crate::grants::{Grants, Privilege, Scope};
    use crate::op::{Op, PasswordFile};
    use crate::quote::Account;

    fn sqls(p: &Planned) -> Vec<String> {
        p.plan.steps.iter().flat_map(|s| s.ops.iter().map(|o| o.statement().shown().to_owned())).collect()
    }

    fn action(p: &Planned, kind: &str, name: &str) -> Action {
        step(p, |c| c.kind == kind && c.name == name).change().action
    }

    /// The first step whose change matches.
    fn step(p: &Planned, f: impl Fn(&Change) -> bool) -> &Step {
        p.plan.steps.iter().find(|s| f(s.change())).expect("a step")
    }

    /// The password file a step writes.
    fn file(s: &Step) -> Option<&PasswordFile> {
        s.ops.iter().find_map(Op::password_file)
    }

    fn sql_of(s: &Step) -> &str {
        s.ops[0].statement().sql()
    }

    fn secret(s: &str) -> Option<Secret> {
        Some(Secret::new(s))
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
        let create = step(&p, |c| c.kind == "mysql-user");
        assert!(sql_of(create).ends_with("'FRESH'"));
        let file = file(create).expect("the password is written before CREATE USER");
        assert!(matches!(&create.ops[..], [Op::SetPassword { .. }]), "with the statement that sets it");
        assert_eq!(
            (file.name.as_str(), file.value.expose(), file.previous.as_ref()),
            ("mysql-analytics.password", "FRESH", None)
        );
        assert_eq!(action(&p, "mysql-password", "analytics@%"), Action::Create);
        assert_eq!(
            step(&p, |c| c.kind == "mysql-password").change().id.as_deref(),
            Some("/s/mysql-analytics.password")
        );
        assert_eq!(action(&p, "mysql-grant", "analytics@% ON dashboard.*"), Action::Create);
        assert_eq!(p.passwords, [secret("FRESH")]);
        assert!(p.plan.findings.is_empty());
        let phases: Vec<u8> = p.plan.steps.iter().map(|s| s.phase).collect();
        assert!(phases.is_sorted(), "databases, then the user, then its grants: {phases:?}");
    }

    #[test]
    fn a_kept_password_file_is_reused_for_a_missing_user() {
        let p = plan(&analytics(), &Observed::default(), &[known()], false, &secrets());
        let create = step(&p, |c| c.kind == "mysql-user");
        assert!(sql_of(create).ends_with("'KNOWN'"));
        assert!(file(create).is_none());
        assert_eq!(p.passwords, [secret("KNOWN")]);
    }

    #[test]
    fn converged_server_is_unchanged() {
        let desired = analytics();
        let p = plan(&desired, &converged(&desired), &[known()], false, &secrets());
        assert!(sqls(&p).is_empty(), "{:?}", sqls(&p));
        assert!(p.plan.steps.iter().all(|s| s.change().action == Action::Unchanged && file(s).is_none()));
        assert_eq!(p.plan.steps.len(), 3 + 2 + 3);
        assert_eq!(p.passwords, [secret("KNOWN")]);
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
        let api = step(&p, |c| c.name == "analytics@% ON analytics-api.*");
        assert_eq!(api.change().details, ["-SELECT", "+ALL PRIVILEGES"]);
        assert_eq!(api.change().diff[0].before, serde_json::json!(["SELECT"]));
        assert_eq!(api.change().diff[0].after, serde_json::json!(["ALL PRIVILEGES"]));
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
        let s = step(&p, |c| c.name == "reports");
        assert_eq!(s.change().action, Action::Update);
        assert_eq!(s.change().details, ["character set latin1 -> utf8mb4"]);
        assert!(p.plan.findings[0].message.contains("keep"), "{}", p.plan.findings[0].message);
    }

    #[test]
    fn existing_user_without_password_file_is_left_alone_with_a_warning() {
        let desired = readonly();
        let p = plan(&desired, &converged(&desired), &[fresh()], false, &secrets());
        assert!(sqls(&p).is_empty());
        assert_eq!(p.passwords, [None]);
        assert_eq!(p.plan.findings[0].severity, Severity::Warning);
        assert!(p.plan.findings[0].message.contains("--rotate"));
        assert!(!p.plan.findings[0].message.contains("FRESH"));
    }

    #[test]
    fn rotate_sets_a_fresh_password_and_rewrites_the_file() {
        let desired = readonly();
        let p = plan(&desired, &converged(&desired), &[known()], true, &secrets());
        assert_eq!(sqls(&p), ["ALTER USER 'edxapp_ro'@'%' IDENTIFIED BY '<password>'"]);
        let s = step(&p, |c| c.kind == "mysql-password");
        assert_eq!(s.change().action, Action::Update);
        assert!(sql_of(s).ends_with("'FRESH'"));
        let f = file(s).unwrap();
        assert_eq!((f.value.expose(), f.previous.as_ref().map(Secret::expose)), ("FRESH", Some("KNOWN")));
        assert_eq!(p.passwords, [secret("FRESH")]);
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
        let given = PasswordState { known: Some(Secret::new("GIVEN")), fresh: None };
        let p = plan(&desired, &Observed::default(), &[fresh(), given.clone()], false, &secrets());
        let create = step(&p, |c| c.name == "edxapp001@%" && c.kind == "mysql-user");
        assert!(sql_of(create).ends_with("'GIVEN'"));
        assert!(file(create).is_none(), "the given file is never rewritten");
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
        assert!(sql_of(step(&p, |c| c.name == "edxapp001@%" && c.kind == "mysql-password")).ends_with("'GIVEN'"));
    }

    #[test]
    fn lines_not_understood_are_reported_without_what_follows_the_grantee() {
        let desired = readonly();
        let mut o = converged(&desired);
        o.grants.get_mut(&Account::new("edxapp_ro", "%")).unwrap().not_understood =
            vec!["REVOKE INSERT ON `mysql`.* FROM `edxapp_ro`@`%` IDENTIFIED BY PASSWORD '*HASH'".into()];
        let p = plan(&desired, &o, &[known()], false, &secrets());
        assert_eq!(p.plan.findings.len(), 1);
        assert!(p.plan.findings[0].message.contains("REVOKE INSERT"), "{}", p.plan.findings[0].message);
        assert!(!p.plan.findings[0].message.contains("HASH"), "{}", p.plan.findings[0].message);
        let o2 = Grants::parse(&["GRANT SELECT ON `x`.* TO `u`@`%` IDENTIFIED BY PASSWORD '*HASH'"]);
        assert!(o2.not_understood.is_empty());
        assert_eq!(grant_line_head("GRANT X TO `u`@`%` IDENTIFIED BY PASSWORD '*HASH'"), "GRANT X");
    }
}
