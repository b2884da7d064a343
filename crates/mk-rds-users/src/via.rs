//! `--via`: where the SSH tunnel goes and with what, from the flags and the
//! secrets directory. Every problem is bad input (exit 2), found before ssh
//! or MySQL is reached: the host and user names, the key (there, a file,
//! private to its owner, as ssh demands), the known_hosts file's directory,
//! and the `ssh` client itself.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::error::bad_input;
use common::{ClientName, SecretsDir};

use crate::args::Args;

/// How the tunnel is made. Paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    /// The known_hosts file is the secrets directory's: the directory is
    /// made (0700) before ssh writes into it.
    pub known_hosts_in_secrets: bool,
    /// The OpenSSH client.
    pub ssh: PathBuf,
    /// util-linux's `setpriv`, when there is one: ssh then dies with this
    /// process even when it is killed outright (`--pdeathsig`).
    pub setpriv: Option<PathBuf>,
    /// How long to keep trying while the host does not answer SSH yet.
    pub wait: Duration,
    /// ssh's TCP connect timeout, and the bound of each attempt's login.
    pub connect_timeout: Duration,
}

impl Via {
    /// `ubuntu@203.0.113.7:22`, for messages.
    pub fn describe(&self) -> String {
        format!("{}@{}", self.user, self.host_port())
    }

    /// `203.0.113.7:22`, `[2001:db8::1]:22`.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// How the host is named in known_hosts (`[host]:port` off port 22).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 { self.host.clone() } else { format!("[{}]:{}", self.host, self.port) }
    }
}

/// A host name or address for ssh's command line: nothing ssh could read as
/// an option or a second word.
pub fn validate_via_host(host: &str) -> anyhow::Result<String> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ok = !bare.is_empty()
        && bare.len() <= 253
        && !bare.starts_with(['-', '.'])
        && bare.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !ok {
        return Err(bad_input(format!(
            "invalid --via {host:?}: give the director's public address or DNS name, e.g. 203.0.113.7"
        )));
    }
    Ok(bare.to_owned())
}

/// A login name: letters, digits, `.`, `_`, `-`, not starting with `-`.
pub fn validate_via_user(user: &str) -> anyhow::Result<()> {
    let ok = !user.is_empty()
        && user.len() <= 32
        && !user.starts_with('-')
        && user.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(bad_input(format!("invalid --via-user {user:?}"))) }
}

/// An absolute path ssh can take in `-o NAME=PATH` (no quote, no newline).
fn absolute(path: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let text = path.to_string_lossy();
    if text.contains(['"', '\n', '\r']) || text.is_empty() {
        return Err(bad_input(format!("{what} {}: the path may not hold a quote or a newline", path.display())));
    }
    std::path::absolute(path).map_err(|e| bad_input(format!("{what} {}: {e}", path.display())))
}

/// The key file must be there and private: ssh ignores a key others can read.
pub fn check_key(path: &Path, flag_given: bool) -> anyhow::Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if !flag_given && e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad_input(format!(
                "no director key {}: pass --via-key FILE (mk-ec2 writes <client>-director.pem into the secrets \
                 directory when it creates the key pair; with --public-key it is your own key)",
                path.display()
            )));
        }
        Err(e) => return Err(bad_input(format!("cannot read --via-key {}: {e}", path.display()))),
    };
    if !meta.is_file() {
        return Err(bad_input(format!("--via-key {} is not a file", path.display())));
    }
    std::fs::File::open(path).map_err(|e| bad_input(format!("cannot read --via-key {}: {e}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(bad_input(format!(
            "--via-key {} is readable by others (mode {mode:04o}) and ssh refuses such a key: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// A program on `PATH` (or in /usr/bin, /bin).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The tunnel's settings, or `None` without `--via`.
pub fn resolve(args: &Args, client: Option<&ClientName>, secrets: &SecretsDir) -> anyhow::Result<Option<Via>> {
    let Some(given) = &args.via else { return Ok(None) };
    let host = validate_via_host(given)?;
    validate_via_user(&args.via_user)?;
    let key = match (&args.via_key, client) {
        (Some(k), _) => k.clone(),
        (None, Some(c)) => secrets.file(&format!("{c}-director.pem")),
        (None, None) => {
            return Err(bad_input(
                "--via needs --via-key FILE, or --client to find <secrets-dir>/<client>-director.pem",
            ));
        }
    };
    let key = absolute(&key, "--via-key")?;
    check_key(&key, args.via_key.is_some())?;
    let known_hosts_in_secrets = args.known_hosts.is_none();
    let known_hosts =
        absolute(&args.known_hosts.clone().unwrap_or_else(|| secrets.file("known_hosts")), "--known-hosts")?;
    if known_hosts.is_dir() {
        return Err(bad_input(format!("--known-hosts {} is a directory", known_hosts.display())));
    }
    if !known_hosts_in_secrets && !known_hosts.parent().is_some_and(Path::is_dir) {
        return Err(bad_input(format!("--known-hosts {}: its directory does not exist", known_hosts.display())));
    }
    let ssh = find_program("ssh").ok_or_else(|| {
        bad_input("--via needs the OpenSSH client: no `ssh` on PATH (apt-get install openssh-client)")
    })?;
    Ok(Some(Via {
        host,
        port: args.via_port,
        user: args.via_user.clone(),
        key,
        known_hosts,
        known_hosts_in_secrets,
        ssh,
        setpriv: find_program("setpriv"),
        wait: Duration::from_secs(args.via_wait),
        connect_timeout: Duration::from_secs(args.connect_timeout),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(extra: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from([&["mk-rds-users", "--analytics", "--host", "db", "--admin-user", "u"], extra].concat())
    }

    #[test]
    fn names_that_reach_ssh_cannot_be_options() {
        for ok in ["203.0.113.7", "director.example.org", "2001:db8::1", "[2001:db8::1]", "ip-10-0-0-1_x"] {
            validate_via_host(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert_eq!(validate_via_host("[2001:db8::1]").unwrap(), "2001:db8::1");
        for bad in ["", "-oProxyCommand=x", "a b", "h;x", "user@h", ".h", &"a".repeat(254)] {
            let e = validate_via_host(bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad}");
        }
        validate_via_user("ubuntu").unwrap();
        validate_via_user("ec2-user").unwrap();
        for bad in ["", "-oX", "a b", "a@b", "%u"] {
            assert!(validate_via_user(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_tunnel_flags_need_via_and_have_defaults() {
        let a = parse(&["--via", "h"]).unwrap();
        assert_eq!((a.via_user.as_str(), a.via_port, a.via_wait), ("ubuntu", 22, 120));
        assert!(parse(&["--via-user", "admin"]).is_err(), "--via-user without --via");
        assert!(parse(&["--via-key", "k"]).is_err());
        assert!(parse(&["--via", "h", "--via-port", "0"]).is_err());
        assert!(parse(&[]).unwrap().via.is_none());
    }

    #[test]
    fn the_key_defaults_to_the_directors_in_the_secrets_dir_and_must_be_private() {
        let t = tempfile::tempdir().unwrap();
        let secrets = SecretsDir::new(t.path().join("s"));
        std::fs::create_dir_all(secrets.path()).unwrap();
        let client = ClientName::parse("acme").unwrap();
        let args = parse(&["--via", "203.0.113.7"]).unwrap();
        let e = resolve(&args, Some(&client), &secrets).unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(e.to_string().contains("acme-director.pem") && e.to_string().contains("--via-key"), "{e}");
        let e = resolve(&args, None, &secrets).unwrap_err();
        assert!(e.to_string().contains("--client"), "{e}");

        let key = secrets.file("acme-director.pem");
        std::fs::write(&key, "k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = resolve(&args, Some(&client), &secrets).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        if find_program("ssh").is_none() {
            return;
        }
        let via = resolve(&args, Some(&client), &secrets).unwrap().unwrap();
        assert_eq!(via.key, std::path::absolute(&key).unwrap());
        assert_eq!(via.known_hosts, std::path::absolute(secrets.file("known_hosts")).unwrap());
        assert!(via.known_hosts_in_secrets);
        assert_eq!(via.describe(), "ubuntu@203.0.113.7:22");
        assert_eq!(via.known_hosts_name(), "203.0.113.7");
    }

    #[test]
    fn a_given_known_hosts_needs_its_directory() {
        let t = tempfile::tempdir().unwrap();
        let key = t.path().join("k.pem");
        std::fs::write(&key, "k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let args =
            parse(&["--via", "h", "--via-key", key.to_str().unwrap(), "--known-hosts", "/nonexistent/dir/kh"]).unwrap();
        let e = resolve(&args, None, &SecretsDir::new(t.path())).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/kh"), "{e}");
        let args = parse(&["--via", "h", "--via-key", "/nonexistent/key.pem"]).unwrap();
        let e = resolve(&args, None, &SecretsDir::new(t.path())).unwrap_err();
        assert!(e.to_string().contains("cannot read --via-key /nonexistent/key.pem"), "{e}");
    }
}
