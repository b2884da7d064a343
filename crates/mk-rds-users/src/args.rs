//! mk-rds-users' flags: the mode (which server), the server and its admin,
//! the names of the databases and users, and the shared secrets flag. Its
//! own `--client` (optional) and `--dry-run`: it converges MySQL, not a
//! tagged AWS deployment.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use common::cli::ToolArgs;
use common::{LogArgs, SecretsArgs};

const EXAMPLES: &str = "\
Examples:
  # the analytics server: databases, the analytics user, the migration user
  MYSQL_PWD=... mk-rds-users --analytics --client acme \\
      --host acme-analytics.abc123.us-east-1.rds.amazonaws.com --admin-user admin \\
      --migration-user edxapp001 --migration-password-file secrets/acme/edxapp-mysql.password
  # the same, with host, user and password from mk-rds's outputs (state/acme/mk-rds.json)
  mk-rds-users --analytics --client acme --admin-from-rds
  # on AWS the database is private: the same through an SSH tunnel via the
  # director (key secrets/acme/acme-director.pem, host key pinned in
  # secrets/acme/known_hosts on first use)
  mk-rds-users --analytics --client acme --admin-from-rds --via 54.12.34.56
  # the edxapp server: the read-only user the pipeline imports with
  mk-rds-users --edxapp-readonly --client acme --host edxapp-db.internal \\
      --admin-user root --admin-password-file ~/edxapp-root.password
  # the same through another jump host, its own key and user
  mk-rds-users --edxapp-readonly --client acme --host edxapp-db.internal \\
      --admin-user root --admin-password-file ~/edxapp-root.password \\
      --via bastion.example.org --via-user admin --via-port 2222 --via-key ~/.ssh/bastion.pem
  # drift check (changes nothing), then a new password for analytics
  mk-rds-users --analytics --client acme --admin-from-rds --dry-run
  mk-rds-users --analytics --client acme --admin-from-rds --rotate

Passwords of the users it creates are generated and written to the secrets
directory (mysql-<user>.password, 0600), with the pipeline's credentials file
(edxanalytics_creds or edxapp_creds); a re-run reuses them and changes a
password only with --rotate. A database found with another character set gets
its default changed (ALTER DATABASE); tables it holds keep theirs.

With --via, the SQL goes through `ssh -N -L` (the system's OpenSSH client)
to the director, which connects to the server: --host (or mk-rds's endpoint)
is as the director sees it. The tunnel is closed when the run ends, however
it ends (when the run is killed outright, ssh goes with it where util-linux's
setpriv is installed). No ssh configuration file is read.";

/// Create (or converge) the MySQL databases, users and grants of an Open edX
/// analytics deployment.
///
/// --analytics: databases dashboard, analytics-api and reports (utf8mb4), user
/// analytics@% with ALL PRIVILEGES on exactly those, and optionally the
/// migration user (edxapp's name and password) with the same. --edxapp-readonly:
/// user edxapp_ro@% with SELECT on *.* and nothing else. Extra privileges
/// found on these users are revoked.
#[derive(Parser, Debug)]
#[command(name = "mk-rds-users", version, after_help = EXAMPLES)]
#[command(group(ArgGroup::new("mode").required(true).args(["analytics", "edxapp_readonly"])))]
pub struct Args {
    /// Set up the analytics server (databases, analytics and migration users)
    #[arg(long)]
    pub analytics: bool,
    /// Set up the edxapp server's read-only user
    #[arg(long)]
    pub edxapp_readonly: bool,
    /// Character set of the databases (utf8 is the deprecated utf8mb3)
    #[arg(long, value_enum, default_value_t = Charset::Utf8mb4, conflicts_with = "edxapp_readonly")]
    pub charset: Charset,
    /// The migration user: edxapp's MySQL user name
    #[arg(long, value_name = "NAME", requires = "migration_password_file", conflicts_with = "edxapp_readonly")]
    pub migration_user: Option<String>,
    /// File holding edxapp's MySQL password, for the migration user
    #[arg(long, value_name = "FILE", requires = "migration_user")]
    pub migration_password_file: Option<PathBuf>,
    /// Set new passwords (the migration user's from its file) and rewrite the files
    #[arg(long)]
    pub rotate: bool,
    /// Report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// The deployment's client name (for the default secrets directory)
    #[arg(long, env = "ANALYTICS_CLIENT", value_name = "NAME")]
    pub client: Option<String>,

    /// The MySQL server
    #[arg(long, value_name = "HOST", required_unless_present = "admin_from_rds", help_heading = "Server")]
    pub host: Option<String>,
    /// Its port [default: 3306]
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..), help_heading = "Server")]
    pub port: Option<u16>,
    /// The admin user (on RDS, the master user)
    #[arg(long, value_name = "USER", required_unless_present = "admin_from_rds", help_heading = "Server")]
    pub admin_user: Option<String>,
    /// File holding the admin password (else env MYSQL_PWD)
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub admin_password_file: Option<PathBuf>,
    /// Host, port, admin user and password from mk-rds's outputs
    #[arg(long, conflicts_with_all = ["host", "port", "admin_user", "admin_password_file"], help_heading = "Server")]
    pub admin_from_rds: bool,
    /// mk-rds's JSON document [default: $ANALYTICS_STATE_DIR/mk-rds.json, else state/<client>/mk-rds.json]
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub rds_state: Option<PathBuf>,
    /// Connect with TLS, trusting this CA bundle (for RDS: global-bundle.pem)
    #[arg(long, value_name = "FILE", help_heading = "Server")]
    pub ssl_ca: Option<PathBuf>,
    /// Give up connecting after this long
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Server")]
    pub connect_timeout: u64,

    #[arg(long, value_name = "NAME", default_value = "dashboard", help_heading = "Names")]
    pub dashboard_db: String,
    #[arg(long, value_name = "NAME", default_value = "analytics-api", help_heading = "Names")]
    pub analytics_api_db: String,
    #[arg(long, value_name = "NAME", default_value = "reports", help_heading = "Names")]
    pub reports_db: String,
    #[arg(long, value_name = "NAME", default_value = "analytics", help_heading = "Names")]
    pub analytics_user: String,
    #[arg(long, value_name = "NAME", default_value = "edxapp_ro", help_heading = "Names")]
    pub readonly_user: String,
    /// The host part of every account this tool manages
    #[arg(long, value_name = "HOST", default_value = "%", help_heading = "Names")]
    pub user_host: String,

    /// Reach the server through an SSH tunnel via this host (the director's public address or name)
    #[arg(long, value_name = "HOST", help_heading = "Tunnel")]
    pub via: Option<String>,
    /// The user to log in to --via as
    #[arg(long, value_name = "USER", default_value = "ubuntu", requires = "via", help_heading = "Tunnel")]
    pub via_user: String,
    /// The SSH port of --via
    #[arg(long, value_name = "PORT", default_value_t = 22, value_parser = clap::value_parser!(u16).range(1..),
          requires = "via", help_heading = "Tunnel")]
    pub via_port: u16,
    /// The private key for --via [default: <secrets-dir>/<client>-director.pem, as mk-ec2 writes it]
    #[arg(long, value_name = "FILE", requires = "via", help_heading = "Tunnel")]
    pub via_key: Option<PathBuf>,
    /// Where --via's host key is pinned on first use; a changed key is refused [default: <secrets-dir>/known_hosts]
    #[arg(long, value_name = "FILE", requires = "via", help_heading = "Tunnel")]
    pub known_hosts: Option<PathBuf>,
    /// How long to keep trying while --via does not answer SSH yet (a director just started)
    #[arg(long, value_name = "SECONDS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(0..=3600), requires = "via", help_heading = "Tunnel")]
    pub via_wait: u64,

    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }

    /// `common::cli::main` makes the run read-only from this. There are no
    /// `ConvergeArgs`: the client is optional (`--secrets-dir` is enough)
    /// and MySQL has no tags.
    fn dry_run(&self) -> bool {
        self.dry_run
    }
}

/// `--charset`: the runbook's `utf8` is the deprecated 3-byte `utf8mb3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Charset {
    Utf8mb4,
    Utf8,
}

impl Charset {
    /// The name both servers report in information_schema (MySQL 8 and
    /// MariaDB 10.6+ say `utf8mb3` for `utf8`).
    pub fn server_name(self) -> &'static str {
        match self {
            Charset::Utf8mb4 => "utf8mb4",
            Charset::Utf8 => "utf8mb3",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_reaches_the_shared_main() {
        let base = ["mk-rds-users", "--analytics", "--host", "h", "--admin-user", "u"];
        let a = Args::try_parse_from([&base[..], &["--dry-run"]].concat()).unwrap();
        assert!(a.dry_run());
        assert!(a.converge().is_none(), "the client is optional: no ConvergeArgs");
        assert!(!Args::try_parse_from(base).unwrap().dry_run());
    }
}
