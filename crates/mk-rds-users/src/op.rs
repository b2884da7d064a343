//! The plan's vocabulary: the kinds of what the report lists, the phases,
//! and the operations ([`Op`]): SQL statements, and the password file
//! written with the statement that sets the password.

use common::secrets::Secret;

use crate::sql::Statement;

pub const KIND_DATABASE: &str = "mysql-database";
pub const KIND_USER: &str = "mysql-user";
pub const KIND_PASSWORD: &str = "mysql-password";
pub const KIND_GRANT: &str = "mysql-grant";

/// First, the databases (the grants are on them).
pub const DATABASES: u8 = 0;

/// Then each user in turn (in the desired order, `index`): its account and
/// password; the grants need the account.
pub fn account_phase(index: usize) -> u8 {
    u8::try_from(1 + 2 * index).unwrap_or(u8::MAX - 1)
}

/// Then that user's grants, before the next user.
pub fn grants_phase(index: usize) -> u8 {
    account_phase(index).saturating_add(1)
}

/// A password file to write right before the statement that sets the
/// password, so a password set on the server is never lost; `previous` is
/// what the file held, put back if the statement fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFile {
    pub name: String,
    pub value: Secret,
    pub previous: Option<Secret>,
}

/// One operation on the server (and the secrets directory).
#[derive(Debug, Clone)]
pub enum Op {
    /// A statement that sets no password: `CREATE DATABASE`, `ALTER
    /// DATABASE`, `GRANT`, `REVOKE`.
    Sql(Statement),
    /// The statement that sets a user's password (`CREATE USER`, `ALTER
    /// USER`) and, for a generated password, its file: written first, put
    /// back if the statement fails.
    SetPassword { statement: Statement, file: Option<PasswordFile> },
}

impl Op {
    pub fn statement(&self) -> &Statement {
        match self {
            Op::Sql(s) | Op::SetPassword { statement: s, .. } => s,
        }
    }

    /// The password file it writes, if any.
    pub fn password_file(&self) -> Option<&PasswordFile> {
        match self {
            Op::SetPassword { file, .. } => file.as_ref(),
            Op::Sql(_) => None,
        }
    }
}

/// Statements that set no password, as ops.
pub fn sql_ops(statements: impl IntoIterator<Item = Statement>) -> Vec<Op> {
    statements.into_iter().map(Op::Sql).collect()
}

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;
