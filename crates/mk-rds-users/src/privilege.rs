//! What a grant is made of: a [`Privilege`] (with its columns), the
//! [`Scope`] it applies to, and the [`Role`]s a user may hold; how each is
//! written in SQL and described in the report.

use std::fmt;

use crate::quote::{Account, Dialect, pattern_database, quote_ident, quote_string};

/// One privilege, with its column list for column-level grants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Privilege {
    /// Uppercase words, single-spaced: `SELECT`, `ALL PRIVILEGES`,
    /// `GRANT OPTION`, `BACKUP_ADMIN`.
    pub name: String,
    pub columns: Vec<String>,
}

impl Privilege {
    pub fn new(name: &str) -> Self {
        let words: Vec<String> = name.split_whitespace().map(str::to_ascii_uppercase).collect();
        let name = if words == ["ALL"] { "ALL PRIVILEGES".to_owned() } else { words.join(" ") };
        Privilege { name, columns: Vec::new() }
    }

    pub fn is_all(&self) -> bool {
        self.name == "ALL PRIVILEGES" && self.columns.is_empty()
    }

    /// As SQL. The name is made of words the parser accepted (letters,
    /// digits, `_`); columns are quoted.
    pub fn sql(&self) -> String {
        if self.columns.is_empty() {
            self.name.clone()
        } else {
            let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(c)).collect();
            format!("{} ({})", self.name, cols.join(", "))
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.columns.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} ({})", self.name, self.columns.join(", "))
        }
    }
}

/// A role granted to a user: MariaDB roles have no host, MySQL's do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role {
    pub name: String,
    pub host: Option<String>,
}

impl Role {
    pub fn quoted(&self, d: Dialect) -> String {
        match &self.host {
            Some(h) => format!("{}@{}", quote_string(&self.name, d), quote_string(h, d)),
            None => quote_string(&self.name, d),
        }
    }
}

/// What a grant applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `*.*`
    Global,
    /// `` `pattern`.* ``, the pattern as the server stores it.
    Database(String),
    Table {
        db: String,
        table: String,
    },
    /// `PROCEDURE`, `FUNCTION`, `PACKAGE` or `PACKAGE BODY`.
    Routine {
        kind: String,
        db: String,
        name: String,
    },
    /// `GRANT PROXY ON user@host`.
    Proxy(Account),
    /// A role granted to the user (no privileges of its own here).
    Role(Role),
}

impl Scope {
    /// For reports: `dashboard.*`, `*.*`, `role r1`.
    pub fn describe(&self, d: Dialect) -> String {
        match self {
            Scope::Global => "*.*".to_owned(),
            Scope::Database(p) => format!("{}.*", pattern_database(p, d).unwrap_or_else(|| p.clone())),
            Scope::Table { db, table } => format!("{db}.{table}"),
            Scope::Routine { kind, db, name } => format!("{} {db}.{name}", kind.to_lowercase()),
            Scope::Proxy(a) => format!("proxy {a}"),
            Scope::Role(r) => match &r.host {
                Some(h) => format!("role {}@{h}", r.name),
                None => format!("role {}", r.name),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_names_are_normalised() {
        assert_eq!(Privilege::new("all"), Privilege::new("ALL PRIVILEGES"));
        assert_eq!(Privilege::new("create  temporary tables").name, "CREATE TEMPORARY TABLES");
        assert!(Privilege::new("ALL").is_all());
    }

    #[test]
    fn scopes_describe_themselves_for_people() {
        let d = Dialect::default();
        assert_eq!(Scope::Database("my\\_db".into()).describe(d), "my_db.*");
        assert_eq!(Scope::Global.describe(d), "*.*");
        assert_eq!(Scope::Role(Role { name: "r".into(), host: None }).describe(d), "role r");
    }
}
