//! Reading `SHOW GRANTS` output into privileges per scope. Pure.
//!
//! MariaDB and MySQL 8 print grants differently: MariaDB appends
//! `IDENTIFIED BY PASSWORD '*…'` to the global line and prints roles
//! without a host (`GRANT `r` TO …`); MySQL 8 prints roles as `` `r`@`%` ``
//! (several on one line), lists dynamic privileges comma-separated without
//! spaces, and with `partial_revokes` adds `REVOKE …` lines. Both print
//! `ALL PRIVILEGES`, `USAGE` for "no privilege", `WITH GRANT OPTION`, and
//! database-level grants as patterns (`` `my\_db`.* ``). Older servers and
//! `ANSI_QUOTES` quote with `'` or `"`. All of it becomes a
//! [`Grants`]: a set of privileges per [`Scope`], `USAGE` dropped, the grant
//! option as the privilege `GRANT OPTION`.

use std::collections::{BTreeMap, BTreeSet};

use crate::grant_syntax::{Cursor, Tok, tokenize};
pub use crate::privilege::{Privilege, Role, Scope};
use crate::quote::Account;

/// A user's grants: privileges per scope, and the lines not understood.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    pub scopes: BTreeMap<Scope, BTreeSet<Privilege>>,
    /// Lines neither parsed nor known to be harmless, for a finding.
    pub not_understood: Vec<String>,
}

impl Grants {
    /// From the lines `SHOW GRANTS` returned.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Grants {
        let mut g = Grants::default();
        for line in lines {
            let line = line.as_ref();
            match parse_line(line) {
                Ok(Parsed::Grant(scope, privs)) => {
                    let entry = g.scopes.entry(scope.clone()).or_default();
                    entry.extend(privs);
                    if entry.is_empty() && !matches!(scope, Scope::Role(_)) {
                        g.scopes.remove(&scope);
                    }
                }
                Ok(Parsed::Roles(roles)) => {
                    for r in roles {
                        g.scopes.entry(Scope::Role(r)).or_default();
                    }
                }
                Ok(Parsed::Ignored) => {}
                Err(()) => g.not_understood.push(line.to_owned()),
            }
        }
        g
    }
}

enum Parsed {
    Grant(Scope, BTreeSet<Privilege>),
    Roles(Vec<Role>),
    Ignored,
}

/// Whether a `GRANT` line grants privileges (`ON` outside parentheses
/// before `TO`) rather than roles (only `TO`).
fn grants_privileges(toks: &[Tok]) -> bool {
    let mut depth = 0i32;
    for t in toks {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            t if depth == 0 && t.is_word("ON") => return true,
            t if depth == 0 && t.is_word("TO") => return false,
            _ => {}
        }
    }
    false
}

/// `GRANT r1, r2@h TO …`, after `GRANT`.
fn roles(c: &mut Cursor) -> Result<Parsed, ()> {
    let mut roles = Vec::new();
    loop {
        let (name, host) = c.account()?;
        roles.push(Role { name, host });
        if !c.eat_punct(',') {
            break;
        }
    }
    if !c.eat_word("TO") {
        return Err(());
    }
    Ok(Parsed::Roles(roles))
}

/// The privilege list up to and including `ON`: `SELECT (`a`), INSERT ON`.
fn privileges(c: &mut Cursor) -> Result<BTreeSet<Privilege>, ()> {
    let mut privs = BTreeSet::new();
    loop {
        let mut words = Vec::new();
        while let Some(Tok::Word(w)) = c.peek() {
            if w.eq_ignore_ascii_case("ON") {
                break;
            }
            words.push(w.clone());
            c.i += 1;
        }
        if words.is_empty() {
            return Err(());
        }
        let mut p = Privilege::new(&words.join(" "));
        if c.eat_punct('(') {
            loop {
                p.columns.push(c.quoted()?);
                if c.eat_punct(')') {
                    break;
                }
                if !c.eat_punct(',') {
                    return Err(());
                }
            }
        }
        if p.name != "USAGE" {
            privs.insert(p);
        }
        if c.eat_word("ON") {
            return Ok(privs);
        }
        if !c.eat_punct(',') {
            return Err(());
        }
    }
}

/// What follows `ON`: `*.*`, `db.*`, `db.t`, `PROCEDURE db.p`, or the
/// account of a `PROXY` grant.
fn scope(c: &mut Cursor, privs: &BTreeSet<Privilege>) -> Result<Scope, ()> {
    let kind = if c.eat_word("PROCEDURE") {
        Some("PROCEDURE")
    } else if c.eat_word("FUNCTION") {
        Some("FUNCTION")
    } else if c.eat_word("PACKAGE") {
        Some(if c.eat_word("BODY") { "PACKAGE BODY" } else { "PACKAGE" })
    } else {
        None
    };
    let is_proxy = privs.len() == 1 && privs.iter().next().is_some_and(|p| p.name == "PROXY");
    if is_proxy && kind.is_none() {
        let (name, host) = c.account()?;
        return Ok(Scope::Proxy(Account::new(name, host.unwrap_or_default())));
    }
    let db = c.name_or_star()?;
    if !c.eat_punct('.') {
        // `ON *` or `ON tbl`: relative to a current database, which
        // SHOW GRANTS never prints.
        return Err(());
    }
    let object = c.name_or_star()?;
    match (kind, db, object) {
        (None, None, None) => Ok(Scope::Global),
        (None, Some(db), None) => Ok(Scope::Database(db)),
        (None, Some(db), Some(table)) => Ok(Scope::Table { db, table }),
        (Some(kind), Some(db), Some(name)) => Ok(Scope::Routine { kind: kind.to_owned(), db, name }),
        _ => Err(()),
    }
}

fn parse_line(line: &str) -> Result<Parsed, ()> {
    let toks = tokenize(line)?;
    let first = toks.first().ok_or(())?;
    // MariaDB prints `SET DEFAULT ROLE … FOR …`: not a privilege.
    if first.is_word("SET") && toks.get(1).is_some_and(|t| t.is_word("DEFAULT")) {
        return Ok(Parsed::Ignored);
    }
    if !first.is_word("GRANT") {
        return Err(());
    }
    let privileged = grants_privileges(&toks[1..]);
    let mut c = Cursor { toks, i: 1 };
    if !privileged {
        return roles(&mut c);
    }
    let mut privs = privileges(&mut c)?;
    let scope = scope(&mut c, &privs)?;
    if !c.eat_word("TO") {
        return Err(());
    }
    c.account()?;
    // The rest: `IDENTIFIED BY PASSWORD '…'`, `REQUIRE …`, `WITH GRANT
    // OPTION`, resource limits, in any order.
    let rest = &c.toks[c.i..];
    if rest.windows(2).any(|w| w[0].is_word("GRANT") && w[1].is_word("OPTION")) {
        privs.insert(Privilege::new("GRANT OPTION"));
    }
    Ok(Parsed::Grant(scope, privs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(names: &[&str]) -> BTreeSet<Privilege> {
        names.iter().map(|n| Privilege::new(n)).collect()
    }

    fn db(name: &str) -> Scope {
        Scope::Database(name.into())
    }

    #[test]
    fn mariadb_output() {
        let g = Grants::parse(&[
            "GRANT USAGE ON *.* TO `analytics`@`%` IDENTIFIED BY PASSWORD '*7B9EBEED26AA52ED10C0F549FA863F13C39E0209'",
            "GRANT ALL PRIVILEGES ON `dashboard`.* TO `analytics`@`%`",
            "GRANT ALL PRIVILEGES ON `analytics-api`.* TO `analytics`@`%`",
            "GRANT SELECT, INSERT ON `c``d`.* TO `analytics`@`%`",
            "GRANT SELECT ON `a\\_b`.* TO `analytics`@`%` WITH GRANT OPTION",
            "GRANT SELECT (`id`, `x``y`), UPDATE ON `dashboard`.`t2` TO `analytics`@`%`",
            "GRANT `r1` TO `analytics`@`%`",
            "GRANT PROXY ON `y`@`%` TO `analytics`@`%`",
            "SET DEFAULT ROLE `r1` FOR `analytics`@`%`",
        ]);
        assert!(g.not_understood.is_empty(), "{:?}", g.not_understood);
        let want: BTreeMap<Scope, BTreeSet<Privilege>> = [
            (db("dashboard"), p(&["ALL PRIVILEGES"])),
            (db("analytics-api"), p(&["ALL PRIVILEGES"])),
            (db("c`d"), p(&["SELECT", "INSERT"])),
            (db("a\\_b"), p(&["SELECT", "GRANT OPTION"])),
            (
                Scope::Table { db: "dashboard".into(), table: "t2".into() },
                [
                    Privilege { name: "SELECT".into(), columns: vec!["id".into(), "x`y".into()] },
                    Privilege::new("UPDATE"),
                ]
                .into(),
            ),
            (Scope::Role(Role { name: "r1".into(), host: None }), BTreeSet::new()),
            (Scope::Proxy(Account::new("y", "%")), p(&["PROXY"])),
        ]
        .into();
        assert_eq!(g.scopes, want);
    }

    #[test]
    fn mariadb_global_all_with_grant_option_and_usage_with_option() {
        let g = Grants::parse(&[
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` IDENTIFIED BY PASSWORD '*F25C' WITH GRANT OPTION",
            "GRANT USAGE ON `x`.* TO `root`@`localhost` WITH GRANT OPTION",
        ]);
        assert_eq!(g.scopes[&Scope::Global], p(&["ALL PRIVILEGES", "GRANT OPTION"]));
        assert_eq!(g.scopes[&db("x")], p(&["GRANT OPTION"]));
    }

    #[test]
    fn mysql8_output() {
        let g = Grants::parse(&[
            "GRANT USAGE ON *.* TO `edxapp_ro`@`%`",
            "GRANT SELECT ON *.* TO `edxapp_ro`@`%`",
            "GRANT BACKUP_ADMIN,XA_RECOVER_ADMIN ON *.* TO `edxapp_ro`@`%`",
            "GRANT ALL PRIVILEGES ON `reports`.* TO `edxapp_ro`@`%` WITH GRANT OPTION",
            "GRANT EXECUTE ON PROCEDURE `reports`.`p` TO `edxapp_ro`@`%`",
            "GRANT PROXY ON ``@`` TO `edxapp_ro`@`%`",
            "GRANT `app_read`@`%`,`app_write`@`localhost` TO `edxapp_ro`@`%`",
        ]);
        assert!(g.not_understood.is_empty(), "{:?}", g.not_understood);
        assert_eq!(g.scopes[&Scope::Global], p(&["SELECT", "BACKUP_ADMIN", "XA_RECOVER_ADMIN"]));
        assert_eq!(g.scopes[&db("reports")], p(&["ALL PRIVILEGES", "GRANT OPTION"]));
        let proc = Scope::Routine { kind: "PROCEDURE".into(), db: "reports".into(), name: "p".into() };
        assert_eq!(g.scopes[&proc], p(&["EXECUTE"]));
        assert_eq!(g.scopes[&Scope::Proxy(Account::new("", ""))], p(&["PROXY"]));
        for (name, host) in [("app_read", "%"), ("app_write", "localhost")] {
            assert!(g.scopes.contains_key(&Scope::Role(Role { name: name.into(), host: Some(host.into()) })));
        }
    }

    #[test]
    fn a_fresh_user_has_nothing() {
        let g = Grants::parse(&["GRANT USAGE ON *.* TO `analytics`@`%`"]);
        assert!(g.scopes.is_empty() && g.not_understood.is_empty());
        let g = Grants::parse(&["GRANT USAGE ON *.* TO 'analytics'@'%' IDENTIFIED BY PASSWORD '*AB'"]);
        assert!(g.scopes.is_empty() && g.not_understood.is_empty());
    }

    #[test]
    fn older_quoting_and_lowercase() {
        let g = Grants::parse(&[
            "GRANT ALL ON 'dashboard'.* TO 'analytics'@'%'",
            "grant select on \"a\"\"b\".* to \"analytics\"@\"%\"",
            "GRANT SELECT ON `o'k`.* TO 'it\\'s'@'%'",
        ]);
        assert!(g.not_understood.is_empty(), "{:?}", g.not_understood);
        assert_eq!(g.scopes[&db("dashboard")], p(&["ALL PRIVILEGES"]));
        assert_eq!(g.scopes[&db("a\"b")], p(&["SELECT"]));
        assert_eq!(g.scopes[&db("o'k")], p(&["SELECT"]));
    }

    #[test]
    fn unknown_lines_are_kept_aside() {
        let g = Grants::parse(&[
            "REVOKE INSERT ON `mysql`.* FROM `edxapp_ro`@`%`",
            "GRANT SELECT ON * TO `u`@`%`",
            "GRANT SELECT ON `unterminated TO `u`@`%`",
            "GRANT SELECT ON `ok`.* TO `u`@`%`",
        ]);
        assert_eq!(g.not_understood.len(), 3);
        assert_eq!(g.scopes.len(), 1);
    }
}
