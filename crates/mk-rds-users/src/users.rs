//! Planning a user's account and password: created with a known or fresh
//! password, left as it is, or (`--rotate`) given a new one. A generated
//! password's file is written with the statement that sets it. Pure.

use common::secrets::Secret;
use common::{Action, Change, Finding, SecretsDir};

use crate::credentials::PasswordState;
use crate::desired::{PasswordSource, UserSpec};
use crate::op::{KIND_PASSWORD, KIND_USER, Op, PasswordFile, Step};
use crate::sql;

/// Where a user's password lives, for the report (`id` of its change).
fn password_location(user: &UserSpec, secrets: &SecretsDir) -> String {
    match &user.password {
        PasswordSource::Generated { file } => secrets.file(file).display().to_string(),
        PasswordSource::Given { path } => path.display().to_string(),
    }
}

/// The user's two steps (its account, its password), and the password it
/// ends with (`None` when it is not known).
pub fn user_steps(
    user: &UserSpec,
    pw: &PasswordState,
    exists: bool,
    rotate: bool,
    d: sql::Dialect,
    secrets: &SecretsDir,
    findings: &mut Vec<Finding>,
) -> (Vec<Step>, Option<Secret>) {
    let a = &user.account;
    let name = a.to_string();
    let location = password_location(user, secrets);
    let pw_change = |action| Change::new(KIND_PASSWORD, &name, action).with_id(&location);
    let file_write = |value: &Secret| match &user.password {
        PasswordSource::Generated { file } => {
            Some(PasswordFile { name: file.clone(), value: value.clone(), previous: pw.known.clone() })
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
        let file = if pw.known.as_ref() == Some(&password) { None } else { file_write(&password) };
        let statement = sql::create_user(a, password.expose(), d);
        let create =
            Step::new(Change::new(KIND_USER, &name, Action::Create), vec![Op::SetPassword { statement, file }]);
        // Set by the CREATE USER of the step before.
        return (vec![create, Step::new(pw_change(Action::Create), vec![])], Some(password));
    }

    let user_step = Step::unchanged(Change::new(KIND_USER, &name, Action::Unchanged));
    if rotate {
        let password = new_password.expect("a password to rotate to");
        let detail = match &user.password {
            PasswordSource::Generated { .. } => "rotated".to_owned(),
            PasswordSource::Given { path } => format!("set from {}", path.display()),
        };
        let statement = sql::set_password(a, password.expose(), d);
        let step = Step::new(
            pw_change(Action::Update).with_details(vec![detail]),
            vec![Op::SetPassword { statement, file: file_write(&password) }],
        );
        return (vec![user_step, step], Some(password));
    }
    if pw.known.is_none() {
        findings.push(
            Finding::warning(format!(
                "user {name} exists but its password file {location} does not: its password is left as it is and \
                 no credentials file is written for it; re-run with --rotate to set a new one"
            ))
            .with_code("password-unknown")
            .about(&name),
        );
    }
    (vec![user_step, Step::unchanged(pw_change(Action::Unchanged))], pw.known.clone())
}
