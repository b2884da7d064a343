//! Whom to connect as, and where: from the flags and the admin password
//! file or `MYSQL_PWD`, or from mk-rds's JSON document and its master
//! password file (`--admin-from-rds`). Passwords never come from a flag.

use std::path::{Path, PathBuf};

use common::ClientName;
use common::error::bad_input;
use common::secrets::Secret;
use serde_json::Value;

use crate::args::Args;
use crate::credentials::{parse_password, read_password_file};

pub const DEFAULT_PORT: u16 = 3306;

/// The admin connection. Its password is a [`Secret`]: `Debug` shows
/// `<redacted>`.
#[derive(Debug, Clone)]
pub struct Admin {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Secret,
}

/// Where mk-rds's document is: `--rds-state`, else
/// `$ANALYTICS_STATE_DIR/mk-rds.json`, else `state/<client>/mk-rds.json`.
pub fn rds_state_path(
    flag: Option<&Path>,
    state_dir: Option<&Path>,
    client: Option<&ClientName>,
) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_owned());
    }
    if let Some(dir) = state_dir {
        return Ok(dir.join("mk-rds.json"));
    }
    match client {
        Some(c) => Ok(Path::new("state").join(c.as_str()).join("mk-rds.json")),
        None => Err(bad_input(
            "--admin-from-rds needs --rds-state FILE, ANALYTICS_STATE_DIR or --client to find mk-rds's document",
        )),
    }
}

/// Host, port, user and password file from mk-rds's document (its
/// `outputs.endpoint.address`, `outputs.endpoint.port`,
/// `outputs.master_username`, `outputs.master_password_file`).
pub fn from_rds_document(doc: &Value, source: &Path) -> anyhow::Result<(String, u16, String, PathBuf)> {
    let missing = |key: &str| {
        bad_input(format!("{} has no outputs.{key}: run mk-rds first (without --dry-run)", source.display()))
    };
    let out = doc.get("outputs").ok_or_else(|| missing("endpoint"))?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let host = text(out.pointer("/endpoint/address")).ok_or_else(|| missing("endpoint.address"))?;
    let port = match out.pointer("/endpoint/port") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .and_then(|p| u16::try_from(p).ok())
    .filter(|p| *p > 0)
    .ok_or_else(|| missing("endpoint.port (a port number)"))?;
    let user = text(out.get("master_username")).ok_or_else(|| missing("master_username"))?;
    let pw_file = text(out.get("master_password_file")).ok_or_else(|| missing("master_password_file"))?;
    Ok((host, port, user, PathBuf::from(pw_file)))
}

/// The admin connection from the flags and the environment. Reads files;
/// every problem is bad input (exit 2), found before any connection.
pub fn resolve(args: &Args, client: Option<&ClientName>) -> anyhow::Result<Admin> {
    if args.admin_from_rds {
        let state_dir = std::env::var_os("ANALYTICS_STATE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
        let path = rds_state_path(args.rds_state.as_deref(), state_dir.as_deref(), client)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| bad_input(format!("cannot read mk-rds's document {}: {e}", path.display())))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| bad_input(format!("{} is not mk-rds's JSON document: {e}", path.display())))?;
        let (host, port, user, pw_file) = from_rds_document(&doc, &path)?;
        let password = read_password_file(&pw_file, "the master password file")?;
        return Ok(Admin { host, port, user, password });
    }
    if args.rds_state.is_some() {
        return Err(bad_input("--rds-state goes with --admin-from-rds"));
    }
    let (Some(host), Some(user)) = (args.host.clone(), args.admin_user.clone()) else {
        return Err(bad_input("--host and --admin-user are needed (or --admin-from-rds)"));
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad_input(format!("invalid --host {host:?}")));
    }
    if user.is_empty() || user.chars().any(char::is_control) {
        return Err(bad_input(format!("invalid --admin-user {user:?}")));
    }
    let password = match &args.admin_password_file {
        Some(path) => read_password_file(path, "the admin password file")?,
        None => match std::env::var("MYSQL_PWD") {
            Ok(v) if !v.is_empty() => parse_password(&v)
                .map_err(|why| bad_input(format!("the MYSQL_PWD environment variable is not usable: {why}")))?,
            _ => {
                return Err(bad_input(
                    "no admin password: pass --admin-password-file FILE or set MYSQL_PWD (never a flag value)",
                ));
            }
        },
    };
    Ok(Admin { host, port: args.port.unwrap_or(DEFAULT_PORT), user, password })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_path_precedence() {
        let c = ClientName::parse("acme").unwrap();
        assert_eq!(
            rds_state_path(Some(Path::new("x.json")), Some(Path::new("/st")), Some(&c)).unwrap(),
            Path::new("x.json")
        );
        assert_eq!(rds_state_path(None, Some(Path::new("/st")), Some(&c)).unwrap(), Path::new("/st/mk-rds.json"));
        assert_eq!(rds_state_path(None, None, Some(&c)).unwrap(), Path::new("state/acme/mk-rds.json"));
        let e = rds_state_path(None, None, None).unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
    }

    #[test]
    fn reads_mk_rds_outputs() {
        let doc = json!({"tool": "mk-rds", "outputs": {
            "endpoint": {"address": "acme-analytics.x.rds.amazonaws.com", "port": 3306},
            "master_username": "admin",
            "master_password_file": "secrets/acme/rds-master.password"}});
        let (h, p, u, f) = from_rds_document(&doc, Path::new("s.json")).unwrap();
        assert_eq!((h.as_str(), p, u.as_str()), ("acme-analytics.x.rds.amazonaws.com", 3306, "admin"));
        assert_eq!(f, Path::new("secrets/acme/rds-master.password"));
        let mut doc2 = doc.clone();
        doc2["outputs"]["endpoint"]["port"] = json!("3307");
        assert_eq!(from_rds_document(&doc2, Path::new("s.json")).unwrap().1, 3307);
        for broken in [
            json!({"tool": "mk-rds"}),
            json!({"outputs": {"endpoint": {"address": "h", "port": 70000}, "master_username": "a", "master_password_file": "f"}}),
            json!({"outputs": {"endpoint": {"address": "h", "port": 3306}, "master_password_file": "f"}}),
        ] {
            let e = from_rds_document(&broken, Path::new("s.json")).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{broken}");
            assert!(e.to_string().contains("s.json"), "{e}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let a = Admin { host: "h".into(), port: 1, user: "u".into(), password: Secret::new("hunter2") };
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
