//! Talking to the server: connect, observe, send one planned operation.
//! Thin: the decisions are in [`crate::plan`]. Every statement goes
//! through [`Session::run`], which counts it (refusing a mutating one
//! under `--dry-run`), logs its redacted text at debug level, and turns a
//! failure into one line with the MySQL error code and no password.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use common::{ApiCounter, SecretsDir};
use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, OptsBuilder, Params, SslOpts};

use crate::admin::Admin;
use crate::credentials::write_generated;
use crate::desired::Desired;
use crate::grants::Grants;
use crate::observed::Observed;
use crate::op::Op;
use crate::sql::{self, Dialect, Statement};

/// A failure from the server or the connection, on one line.
#[derive(Debug)]
pub struct MysqlError {
    pub what: String,
    pub code: Option<u16>,
    /// The SQLSTATE that comes with a code.
    pub state: Option<String>,
    pub detail: String,
}

impl fmt::Display for MysqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, &self.state) {
            (Some(code), Some(state)) => write!(f, "{}: MySQL error {code} ({state}): {}", self.what, self.detail)?,
            (Some(code), None) => write!(f, "{}: MySQL error {code}: {}", self.what, self.detail)?,
            _ => write!(f, "{}: {}", self.what, self.detail)?,
        }
        if let Some(hint) = hint(self.code, &self.detail) {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for MysqlError {}

fn hint(code: Option<u16>, detail: &str) -> Option<&'static str> {
    match code {
        Some(1045) => Some(
            "check --admin-user and the admin password (--admin-password-file, MYSQL_PWD, or mk-rds's master password file)",
        ),
        Some(1130) => Some("the server does not accept the admin user from this machine's address"),
        Some(1044 | 1142 | 1227 | 1410) => Some("the admin user lacks a privilege this needs; use the RDS master user"),
        Some(3159) => Some("the server requires TLS: pass --ssl-ca with its CA bundle (for RDS, global-bundle.pem)"),
        Some(1396) => Some("the account changed while this ran; re-run, the tool is safe to re-run"),
        None if ["refused", "no answer", "lookup", "unreachable", "timed out"].iter().any(|w| detail.contains(w)) => {
            Some("check --host and --port, and that this machine may reach the server (for RDS, its security groups)")
        }
        _ => None,
    }
}

/// One line from a driver error, with the statement's password taken out.
/// A syntax error's `near '…'` excerpt is dropped from a statement that
/// holds a password, as it may hold part of it.
fn mysql_error(what: String, err: mysql_async::Error, stmt: Option<&Statement>) -> anyhow::Error {
    let (code, state, mut detail) = match &err {
        mysql_async::Error::Server(se) => (Some(se.code), Some(se.state.clone()), se.message.clone()),
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => (None, None, io.to_string()),
        other => (None, None, other.to_string()),
    };
    if let Some(s) = stmt.filter(|s| s.has_secret()) {
        if let Some(i) = detail.find(" near '") {
            detail.truncate(i);
            detail.push_str(" (statement excerpt withheld: it holds a password)");
        }
        detail = s.redact(&detail);
    }
    anyhow::Error::new(MysqlError { what, code, state, detail: common::error::one_line(&detail) })
}

/// An open admin connection and the counter its statements go to.
pub struct Session {
    conn: Conn,
    calls: ApiCounter,
}

/// Where the TCP connection goes when it is not the server itself: the
/// local end of an SSH tunnel to it.
#[derive(Debug, Clone, Copy)]
pub struct Through<'a> {
    pub local_port: u16,
    /// `the SSH tunnel via ubuntu@203.0.113.7:22`
    pub described: &'a str,
}

/// Connects as the admin over TCP (to the server, or through a tunnel to
/// it), with TLS when a CA is given: the certificate is checked against the
/// server's name either way.
pub async fn connect(
    admin: &Admin,
    through: Option<Through<'_>>,
    ssl_ca: Option<&Path>,
    timeout: Duration,
    calls: ApiCounter,
) -> anyhow::Result<Session> {
    let (host, port) = match through {
        Some(t) => ("127.0.0.1".to_owned(), t.local_port),
        None => (admin.host.clone(), admin.port),
    };
    let mut opts = OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(admin.user.clone()))
        .pass(Some(admin.password.expose()))
        .prefer_socket(false)
        // Known up front, so the driver sends no query of its own to learn
        // them: every statement on the wire is one we count.
        .max_allowed_packet(Some(16 * 1024 * 1024))
        .wait_timeout(Some(28_800));
    if let Some(ca) = ssl_ca {
        let mut ssl = SslOpts::default().with_root_certs(vec![ca.to_path_buf().into()]);
        if through.is_some() {
            ssl = ssl.with_danger_tls_hostname_override(Some(admin.host.clone()));
        }
        opts = opts.ssl_opts(ssl);
    }
    let via = through.map(|t| format!(" through {}", t.described)).unwrap_or_default();
    let what = format!("connecting to {}:{} as {}{via}", admin.host, admin.port, admin.user);
    tracing::debug!("{what}");
    let conn = match tokio::time::timeout(timeout, Conn::new(opts)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(mysql_error(what, e, None)),
        Err(_) => {
            return Err(anyhow::Error::new(MysqlError {
                what,
                code: None,
                state: None,
                detail: format!("no answer within {} s", timeout.as_secs()),
            }));
        }
    };
    Ok(Session { conn, calls })
}

impl Session {
    /// Counts, logs (redacted) and sends one statement; returns its rows.
    pub async fn run<T: FromRow + Send + 'static>(&mut self, s: &Statement) -> anyhow::Result<Vec<T>> {
        self.calls.record_statement(s.label, s.mutating)?;
        tracing::debug!("sql: {}", s.shown());
        let result = if s.params.is_empty() {
            self.conn.query(s.sql()).await
        } else {
            let params = Params::Positional(s.params.iter().map(|p| mysql_async::Value::from(p.as_str())).collect());
            self.conn.exec(s.sql(), params).await
        };
        result.map_err(|e| mysql_error(s.shown().to_owned(), e, Some(s)))
    }

    /// The server's settings, our databases, accounts and their grants.
    pub async fn observe(&mut self, desired: &Desired) -> anyhow::Result<Observed> {
        let vars: Vec<(String, String)> = self.run(&sql::server_settings()).await?;
        let var = |k: &str| vars.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
        let dialect = Dialect::from_settings(var("sql_mode").unwrap_or(""), var("partial_revokes"));
        let mut observed =
            Observed { dialect, version: var("version").unwrap_or_default().to_owned(), ..Default::default() };

        if !desired.databases.is_empty() {
            let names: Vec<String> = desired.databases.iter().map(|d| d.name.clone()).collect();
            let rows: Vec<(String, String)> = self.run(&sql::select_schemata(&names)).await?;
            observed.charsets = rows.into_iter().collect();
        }

        let names: Vec<String> =
            desired.users.iter().map(|u| u.account.name.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let rows: Vec<(String, String)> = self.run(&sql::select_users(&names)).await?;
        let existing: BTreeSet<sql::Account> = rows.into_iter().map(|(u, h)| sql::Account::new(u, h)).collect();
        for user in &desired.users {
            if !existing.contains(&user.account) {
                continue;
            }
            let lines: Vec<String> = self.run(&sql::show_grants(&user.account, dialect)).await?;
            observed.grants.insert(user.account.clone(), Grants::parse(&lines));
            observed.accounts.insert(user.account.clone());
        }
        Ok(observed)
    }

    /// Sends one planned operation. A password file is written right
    /// before the statement that sets the password, and put back to what it
    /// held if the statement fails: the file never holds a password the
    /// server refused, and a password set on the server is never lost.
    pub async fn apply_op(&mut self, op: &Op, secrets: &SecretsDir) -> anyhow::Result<()> {
        let (statement, file) = match op {
            Op::Sql(s) => (s, None),
            Op::SetPassword { statement, file } => (statement, file.as_ref()),
        };
        if let Some(f) = file {
            write_generated(secrets, &f.name, &f.value)?;
        }
        let sent = self.run::<mysql_async::Row>(statement).await;
        if let (Err(_), Some(f)) = (&sent, file) {
            let restored = match &f.previous {
                Some(old) => write_generated(secrets, &f.name, old).map(drop),
                None => secrets.remove(&f.name),
            };
            if let Err(re) = restored {
                tracing::error!("could not put back {}: {re:#}", secrets.file(&f.name).display());
            }
        }
        sent.map(drop)
    }

    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::{Account, create_user};

    #[test]
    fn server_errors_carry_code_state_and_hint_on_one_line() {
        let e = mysql_error(
            "connecting to db:3306 as admin".into(),
            mysql_async::Error::Server(mysql_async::ServerError {
                code: 1045,
                message: "Access denied for user 'admin'@'10.0.0.1' (using password: YES)".into(),
                state: "28000".into(),
            }),
            None,
        );
        let line = e.to_string();
        assert!(line.starts_with("connecting to db:3306 as admin: MySQL error 1045 (28000): Access denied"), "{line}");
        assert!(line.contains("hint:") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn errors_of_password_statements_never_show_it() {
        let pw = "x'y\\z;--%secret";
        let s = create_user(&Account::new("u", "%"), pw, Dialect::default());
        let near =
            format!("You have an error in your SQL syntax; check the manual near '{}' at line 1", &s.sql()[30..]);
        let e = mysql_error(
            s.shown().to_owned(),
            mysql_async::Error::Server(mysql_async::ServerError { code: 1064, message: near, state: "42000".into() }),
            Some(&s),
        );
        let line = e.to_string();
        assert!(!line.contains("secret"), "{line}");
        assert!(line.contains("withheld"), "{line}");
        let e = mysql_error(
            s.shown().to_owned(),
            mysql_async::Error::Server(mysql_async::ServerError {
                code: 1819,
                message: format!("Your password {pw} does not satisfy the current policy requirements"),
                state: "HY000".into(),
            }),
            Some(&s),
        );
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
