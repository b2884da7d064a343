//! Planning a user's grants: exactly the desired ones, granting what is
//! missing and revoking what is extra (other scopes, roles, the grant
//! option), one step per scope. Pure.

use std::collections::{BTreeMap, BTreeSet};

use common::report::AttributeChange;
use common::{Action, Change, Finding};
use serde_json::Value;

use crate::desired::{Access, UserSpec};
use crate::grants::{Grants, Privilege, Scope};
use crate::op::{KIND_GRANT, Step, sql_ops};
use crate::quote::{Account, Dialect, grant_pattern};
use crate::sql;

pub type PrivilegeMap = BTreeMap<Scope, BTreeSet<Privilege>>;

/// The grants a user should hold, as the server would print them.
pub fn desired_grants(access: &Access, d: Dialect) -> PrivilegeMap {
    match access {
        Access::AllOn(dbs) => dbs
            .iter()
            .map(|db| (Scope::Database(grant_pattern(db, d)), [Privilege::new("ALL PRIVILEGES")].into()))
            .collect(),
        Access::SelectEverywhere => [(Scope::Global, [Privilege::new("SELECT")].into())].into(),
    }
}

fn grant_name(a: &Account, scope: &Scope, d: Dialect) -> String {
    match scope {
        Scope::Role(_) => format!("{a} {}", scope.describe(d)),
        _ => format!("{a} ON {}", scope.describe(d)),
    }
}

fn names<'a>(privs: impl IntoIterator<Item = &'a Privilege>) -> Value {
    privs.into_iter().map(ToString::to_string).collect::<Vec<_>>().into()
}

/// The step that brings one desired scope to exactly `wanted`.
fn wanted_scope_step(
    a: &Account,
    scope: &Scope,
    wanted: &BTreeSet<Privilege>,
    held: &BTreeSet<Privilege>,
    d: Dialect,
) -> Step {
    let extra: Vec<&Privilege> = held.difference(wanted).collect();
    // Revoking ALL PRIVILEGES also takes what we want: grant it again.
    let missing: Vec<&Privilege> =
        if extra.iter().any(|p| p.is_all()) { wanted.iter().collect() } else { wanted.difference(held).collect() };
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
    let mut change = Change::new(KIND_GRANT, grant_name(a, scope, d), action);
    if action == Action::Update {
        change.details.extend(extra.iter().map(|p| format!("-{p}")));
        change.details.extend(missing.iter().filter(|p| !held.contains(p)).map(|p| format!("+{p}")));
        // Details say what goes and comes; the diff, what it was and will be.
        change.diff.push(AttributeChange { attribute: "privileges".into(), before: names(held), after: names(wanted) });
    }
    Step::new(change, sql_ops(statements))
}

/// Brings a user's grants to exactly the desired ones (`have`: what it
/// holds, `None` for a new user).
pub fn grant_steps(user: &UserSpec, have: Option<&Grants>, d: Dialect) -> Vec<Step> {
    let a = &user.account;
    let want = desired_grants(&user.access, d);
    let empty = PrivilegeMap::new();
    let have = have.map_or(&empty, |g| &g.scopes);
    let mut steps = Vec::new();
    for (scope, wanted) in &want {
        let held = have.get(scope).cloned().unwrap_or_default();
        steps.push(wanted_scope_step(a, scope, wanted, &held, d));
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
        let change = Change::new(KIND_GRANT, grant_name(a, scope, d), Action::Delete).with_details(details);
        steps.push(Step::new(change, sql_ops(statements)));
    }
    steps
}

/// The text of a grant line up to its grantee: what a finding may show
/// (the rest can hold a password hash).
pub fn grant_line_head(line: &str) -> &str {
    let end = [" TO ", " FROM ", " to ", " from "].iter().filter_map(|w| line.find(w)).min();
    end.map_or(line, |i| &line[..i])
}

/// The finding for `SHOW GRANTS` lines this tool does not understand.
pub fn not_understood(a: &Account, g: &Grants) -> Option<Finding> {
    if g.not_understood.is_empty() {
        return None;
    }
    let heads: Vec<&str> = g.not_understood.iter().map(|l| grant_line_head(l)).collect();
    Some(
        Finding::warning(format!(
            "SHOW GRANTS for {a} printed lines this tool does not understand, left as they are: {}",
            heads.join("; ")
        ))
        .with_code("grants-not-understood")
        .about(a.to_string()),
    )
}
