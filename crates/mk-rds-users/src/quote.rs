//! Quoting for MySQL and MariaDB: what the session's settings change in
//! how text must be written ([`Dialect`]), identifiers, string literals,
//! database names in grants, and accounts.
//!
//! Nothing from input reaches SQL unquoted: identifiers go between
//! backticks (a backtick inside is doubled), strings between single quotes
//! (a quote inside is doubled, and a backslash is escaped unless the
//! session's `sql_mode` has `NO_BACKSLASH_ESCAPES`).

use std::fmt;

/// What the server's settings change in how statements must be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// A backslash escapes in string literals (false under the
    /// `NO_BACKSLASH_ESCAPES` sql_mode).
    pub backslash_escapes: bool,
    /// `_` and `%` in a database-level grant are wildcards and must be
    /// escaped to mean themselves (false under MySQL 8's `partial_revokes`,
    /// which reads them literally).
    pub db_wildcards: bool,
}

impl Default for Dialect {
    /// Both servers' defaults.
    fn default() -> Self {
        Dialect { backslash_escapes: true, db_wildcards: true }
    }
}

impl Dialect {
    /// From the session's `sql_mode` and the `partial_revokes` variable
    /// (absent on MariaDB).
    pub fn from_settings(sql_mode: &str, partial_revokes: Option<&str>) -> Self {
        let no_backslash = sql_mode.split(',').any(|m| m.trim().eq_ignore_ascii_case("NO_BACKSLASH_ESCAPES"));
        let partial = partial_revokes.is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1");
        Dialect { backslash_escapes: !no_backslash, db_wildcards: !partial }
    }
}

/// An identifier between backticks: `` `a``b` `` for a`b.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A string literal between single quotes, correct for the dialect.
pub fn quote_string(s: &str, d: Dialect) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if d.backslash_escapes => out.push_str("\\\\"),
            '\0' if d.backslash_escapes => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A database name as a database-level grant must spell it: `_` and `%`
/// escaped where they are wildcards.
pub fn grant_pattern(db: &str, d: Dialect) -> String {
    if !d.db_wildcards {
        return db.to_owned();
    }
    let mut out = String::with_capacity(db.len());
    for c in db.chars() {
        if c == '_' || c == '%' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The database name a grant pattern stands for (the inverse of
/// [`grant_pattern`]); `None` when the pattern has a live wildcard.
pub fn pattern_database(pattern: &str, d: Dialect) -> Option<String> {
    if !d.db_wildcards {
        return Some(pattern.to_owned());
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().unwrap_or('\\')),
            '_' | '%' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// A MySQL account: `'name'@'host'`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub name: String,
    pub host: String,
}

impl Account {
    pub fn new(name: impl Into<String>, host: impl Into<String>) -> Self {
        Account { name: name.into(), host: host.into() }
    }

    pub fn quoted(&self, d: Dialect) -> String {
        format!("{}@{}", quote_string(&self.name, d), quote_string(&self.host, d))
    }
}

impl fmt::Display for Account {
    /// `analytics@%`, as people write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a'b\"c\\d`e;f--g%h";
    const NO_BACKSLASH: Dialect = Dialect { backslash_escapes: false, db_wildcards: true };

    #[test]
    fn identifiers_double_backticks() {
        assert_eq!(quote_ident("dashboard"), "`dashboard`");
        assert_eq!(quote_ident("analytics-api"), "`analytics-api`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("x`; DROP DATABASE y; --"), "`x``; DROP DATABASE y; --`");
        assert_eq!(quote_ident(HOSTILE), "`a'b\"c\\d``e;f--g%h`");
    }

    #[test]
    fn strings_double_quotes_and_escape_backslashes() {
        let d = Dialect::default();
        assert_eq!(quote_string("plain", d), "'plain'");
        assert_eq!(quote_string("it's", d), "'it''s'");
        assert_eq!(quote_string("a\\b", d), "'a\\\\b'");
        assert_eq!(quote_string("\\'", d), "'\\\\'''", "an escaped quote cannot end the literal");
        assert_eq!(quote_string(HOSTILE, d), "'a''b\"c\\\\d`e;f--g%h'");
        assert_eq!(quote_string("nul\0", d), "'nul\\0'");
    }

    #[test]
    fn strings_under_no_backslash_escapes_keep_backslashes() {
        assert_eq!(quote_string("a\\b", NO_BACKSLASH), "'a\\b'");
        assert_eq!(quote_string("\\'", NO_BACKSLASH), "'\\'''");
        assert_eq!(quote_string(HOSTILE, NO_BACKSLASH), "'a''b\"c\\d`e;f--g%h'");
    }

    /// Reads a single-quoted literal back the way the server does, and
    /// checks that nothing follows it.
    fn unquote(lit: &str, d: Dialect) -> String {
        let mut chars = lit.chars();
        assert_eq!(chars.next(), Some('\''));
        let mut out = String::new();
        loop {
            match chars.next().expect("unterminated literal") {
                '\'' => match chars.clone().next() {
                    Some('\'') => {
                        chars.next();
                        out.push('\'');
                    }
                    rest => {
                        assert_eq!(rest, None, "text after the literal: {lit}");
                        return out;
                    }
                },
                '\\' if d.backslash_escapes => match chars.next().unwrap() {
                    '0' => out.push('\0'),
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
    }

    #[test]
    fn quoting_round_trips_hostile_input_in_both_modes() {
        for d in [Dialect::default(), NO_BACKSLASH] {
            for s in [HOSTILE, "'", "''", "\\", "\\'", "'; DROP USER root; --", "%_", "\"`", "end\\"] {
                assert_eq!(unquote(&quote_string(s, d), d), s, "{s:?} in {d:?}");
            }
        }
    }

    #[test]
    fn dialect_from_settings() {
        assert_eq!(Dialect::from_settings("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION", None), Dialect::default());
        let d = Dialect::from_settings("ANSI_QUOTES,NO_BACKSLASH_ESCAPES", Some("OFF"));
        assert!(!d.backslash_escapes && d.db_wildcards);
        assert!(!Dialect::from_settings("", Some("ON")).db_wildcards);
    }

    #[test]
    fn grant_patterns_escape_wildcards() {
        let d = Dialect::default();
        assert_eq!(grant_pattern("analytics-api", d), "analytics-api");
        assert_eq!(grant_pattern("my_db", d), "my\\_db");
        assert_eq!(pattern_database("my\\_db", d).as_deref(), Some("my_db"));
        assert_eq!(pattern_database("my_db", d), None, "a live wildcard is not one database");
        assert_eq!(pattern_database("a%", d), None);
        let literal = Dialect { backslash_escapes: true, db_wildcards: false };
        assert_eq!(grant_pattern("my_db", literal), "my_db");
        assert_eq!(pattern_database("my_db", literal).as_deref(), Some("my_db"));
    }
}
