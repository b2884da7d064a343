//! The statements this tool sends, built from quoted parts
//! ([`crate::quote`]).
//!
//! `CREATE USER`, `ALTER USER` and `GRANT` take no placeholders for
//! accounts or passwords in either server, so they are built here; the
//! reads with values use placeholders. A statement that carries a password
//! keeps a redacted copy for logs and errors.

use std::fmt;

use common::secrets::Secret;

use crate::privilege::{Privilege, Role, Scope};
pub use crate::quote::{Account, Dialect, grant_pattern, pattern_database, quote_ident, quote_string};

/// The privileges as SQL: `SELECT, INSERT (`a`)`.
fn privileges_sql<'a>(privs: impl IntoIterator<Item = &'a Privilege>) -> String {
    privs.into_iter().map(Privilege::sql).collect::<Vec<_>>().join(", ")
}

/// The `ON` target of a grant as SQL.
pub fn scope_sql(scope: &Scope, d: Dialect) -> String {
    match scope {
        Scope::Global => "*.*".to_owned(),
        Scope::Database(pattern) => format!("{}.*", quote_ident(pattern)),
        Scope::Table { db, table } => format!("{}.{}", quote_ident(db), quote_ident(table)),
        Scope::Routine { kind, db, name } => format!("{kind} {}.{}", quote_ident(db), quote_ident(name)),
        Scope::Proxy(account) => account.quoted(d),
        // Never the target of an `ON`; see [`revoke_role`].
        Scope::Role(role) => role.quoted(d),
    }
}

/// One SQL statement, with what the counter and the logs need to know.
#[derive(Clone)]
pub struct Statement {
    /// Counted under this name in `api_calls.by_operation`.
    pub label: &'static str,
    pub mutating: bool,
    sql: String,
    /// The text for logs and errors: the password replaced.
    shown: String,
    secret: Option<Secret>,
    /// Values bound to `?` placeholders (reads only).
    pub params: Vec<String>,
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement").field("label", &self.label).field("sql", &self.shown).finish()
    }
}

/// Stands for a password in logs and errors.
pub const REDACTED: &str = "<password>";

impl Statement {
    fn new(label: &'static str, mutating: bool, sql: String) -> Self {
        Statement { label, mutating, shown: sql.clone(), sql, secret: None, params: Vec::new() }
    }

    fn read_with(label: &'static str, sql: String, params: Vec<String>) -> Self {
        Statement { params, ..Statement::new(label, false, sql) }
    }

    /// A statement holding `password` (quoted for `d`) where the marker
    /// `{pw}` is in `template`.
    fn with_password(label: &'static str, template: &str, password: &str, d: Dialect) -> Self {
        Statement {
            label,
            mutating: true,
            sql: template.replace("{pw}", &quote_string(password, d)),
            shown: template.replace("{pw}", &format!("'{REDACTED}'")),
            secret: Some(Secret::new(password)),
            params: Vec::new(),
        }
    }

    /// The text to send. Never log it: use [`Statement::shown`].
    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// `text` with this statement's password taken out (raw and quoted, as
    /// a server error may echo either).
    pub fn redact(&self, text: &str) -> String {
        let Some(secret) = self.secret.as_ref().map(Secret::expose).filter(|s| !s.is_empty()) else {
            return text.to_owned();
        };
        let mut out = text.to_owned();
        for d in [Dialect::default(), Dialect { backslash_escapes: false, db_wildcards: true }] {
            let q = quote_string(secret, d);
            out = out.replace(&q[1..q.len() - 1], REDACTED);
        }
        out.replace(secret, REDACTED)
    }
}

/// The settings that decide the [`Dialect`] and the version, in one read.
pub fn server_settings() -> Statement {
    Statement::new(
        "SHOW VARIABLES",
        false,
        "SHOW VARIABLES WHERE Variable_name IN ('sql_mode', 'partial_revokes', 'version')".to_owned(),
    )
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Databases and their character sets.
pub fn select_schemata(names: &[String]) -> Statement {
    Statement::read_with(
        "SELECT information_schema.SCHEMATA",
        format!(
            "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({})",
            placeholders(names.len())
        ),
        names.to_vec(),
    )
}

/// The accounts that exist under these user names.
pub fn select_users(names: &[String]) -> Statement {
    Statement::read_with(
        "SELECT mysql.user",
        format!("SELECT User, Host FROM mysql.user WHERE User IN ({})", placeholders(names.len())),
        names.to_vec(),
    )
}

pub fn show_grants(a: &Account, d: Dialect) -> Statement {
    Statement::new("SHOW GRANTS", false, format!("SHOW GRANTS FOR {}", a.quoted(d)))
}

pub fn create_database(name: &str, charset: &str) -> Statement {
    Statement::new("CREATE DATABASE", true, format!("CREATE DATABASE {} CHARACTER SET {charset}", quote_ident(name)))
}

pub fn alter_database_charset(name: &str, charset: &str) -> Statement {
    Statement::new("ALTER DATABASE", true, format!("ALTER DATABASE {} CHARACTER SET {charset}", quote_ident(name)))
}

pub fn create_user(a: &Account, password: &str, d: Dialect) -> Statement {
    Statement::with_password("CREATE USER", &format!("CREATE USER {} IDENTIFIED BY {{pw}}", a.quoted(d)), password, d)
}

pub fn set_password(a: &Account, password: &str, d: Dialect) -> Statement {
    Statement::with_password("ALTER USER", &format!("ALTER USER {} IDENTIFIED BY {{pw}}", a.quoted(d)), password, d)
}

pub fn grant<'a>(privs: impl IntoIterator<Item = &'a Privilege>, scope: &Scope, a: &Account, d: Dialect) -> Statement {
    Statement::new(
        "GRANT",
        true,
        format!("GRANT {} ON {} TO {}", privileges_sql(privs), scope_sql(scope, d), a.quoted(d)),
    )
}

/// Revokes privileges on one scope. `ALL PRIVILEGES` goes in a statement
/// of its own: MariaDB refuses it beside `GRANT OPTION`, and does not take
/// the grant option away with it.
pub fn revoke<'a>(
    privs: impl IntoIterator<Item = &'a Privilege>,
    scope: &Scope,
    a: &Account,
    d: Dialect,
) -> Vec<Statement> {
    let (all, rest): (Vec<&Privilege>, Vec<&Privilege>) = privs.into_iter().partition(|p| p.is_all());
    [all, rest]
        .into_iter()
        .filter(|group| !group.is_empty())
        .map(|group| {
            Statement::new(
                "REVOKE",
                true,
                format!("REVOKE {} ON {} FROM {}", privileges_sql(group), scope_sql(scope, d), a.quoted(d)),
            )
        })
        .collect()
}

pub fn revoke_role(role: &Role, a: &Account, d: Dialect) -> Statement {
    Statement::new("REVOKE", true, format!("REVOKE {} FROM {}", role.quoted(d), a.quoted(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a'b\"c\\d`e;f--g%h";
    const NO_BACKSLASH: Dialect = Dialect { backslash_escapes: false, db_wildcards: true };

    #[test]
    fn password_statements_are_redacted_for_display() {
        let d = Dialect::default();
        let a = Account::new("o'brien", "%");
        let s = create_user(&a, HOSTILE, d);
        assert_eq!(s.sql(), "CREATE USER 'o''brien'@'%' IDENTIFIED BY 'a''b\"c\\\\d`e;f--g%h'");
        assert_eq!(s.shown(), "CREATE USER 'o''brien'@'%' IDENTIFIED BY '<password>'");
        assert!(!format!("{s:?}").contains("e;f--g"), "{s:?}");
        let err = format!("You have an error near '{}' at line 1", &s.sql()[40..]);
        let red = s.redact(&err);
        assert!(!red.contains("e;f--g"), "{red}");
        assert!(red.contains(REDACTED), "{red}");
        assert_eq!(s.redact(&format!("x {HOSTILE} y")), "x <password> y");
        let alter = set_password(&Account::new("u", "%"), "pw", NO_BACKSLASH);
        assert_eq!(alter.sql(), "ALTER USER 'u'@'%' IDENTIFIED BY 'pw'");
        assert!(alter.mutating);
    }

    #[test]
    fn database_statements_quote_names() {
        assert_eq!(
            create_database("analytics-api", "utf8mb4").sql(),
            "CREATE DATABASE `analytics-api` CHARACTER SET utf8mb4"
        );
        assert_eq!(alter_database_charset("a`b", "utf8mb3").sql(), "ALTER DATABASE `a``b` CHARACTER SET utf8mb3");
    }

    #[test]
    fn grants_and_revokes() {
        let d = Dialect::default();
        let a = Account::new("analytics", "%");
        let all = Privilege::new("ALL PRIVILEGES");
        let s = grant([&all], &Scope::Database(grant_pattern("my_db", d)), &a, d);
        assert_eq!(s.sql(), "GRANT ALL PRIVILEGES ON `my\\_db`.* TO 'analytics'@'%'");
        let opt = Privilege::new("GRANT OPTION");
        let sel = Privilege::new("SELECT");
        let r = revoke([&all, &opt, &sel], &Scope::Global, &a, d);
        let sqls: Vec<&str> = r.iter().map(super::Statement::sql).collect();
        assert_eq!(
            sqls,
            [
                "REVOKE ALL PRIVILEGES ON *.* FROM 'analytics'@'%'",
                "REVOKE GRANT OPTION, SELECT ON *.* FROM 'analytics'@'%'"
            ]
        );
        let col = Privilege { name: "SELECT".into(), columns: vec!["i`d".into()] };
        let t = Scope::Table { db: "d".into(), table: "t".into() };
        assert_eq!(revoke([&col], &t, &a, d)[0].sql(), "REVOKE SELECT (`i``d`) ON `d`.`t` FROM 'analytics'@'%'");
        let p = Scope::Proxy(Account::new("", ""));
        assert_eq!(
            revoke([&Privilege::new("PROXY")], &p, &a, d)[0].sql(),
            "REVOKE PROXY ON ''@'' FROM 'analytics'@'%'"
        );
    }

    #[test]
    fn reads_use_placeholders() {
        let s = select_users(&["a'b".into(), "c".into()]);
        assert_eq!(s.sql(), "SELECT User, Host FROM mysql.user WHERE User IN (?, ?)");
        assert_eq!(s.params, ["a'b", "c"]);
        assert!(!s.mutating);
        assert_eq!(show_grants(&Account::new("a'b", "%"), Dialect::default()).sql(), "SHOW GRANTS FOR 'a''b'@'%'");
    }
}
