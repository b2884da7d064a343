//! mk-rds-users: the MySQL databases, users and grants of SPEC section 8,
//! on the analytics server (`--analytics`) or the edxapp server
//! (`--edxapp-readonly`). Speaks MySQL, not AWS; works on MySQL 8.0/8.4 and
//! MariaDB 10.11.
//!
//! Follows the house path: [`desired`] (pure) → [`mysql::Session::observe`]
//! (`information_schema`, `mysql.user`, `SHOW GRANTS`) → [`plan`] (pure) →
//! [`mysql::Session::apply`] (skipped under `--dry-run`) → the report.
//! [`sql`] quotes everything that reaches SQL; [`grants`] reads both
//! servers' `SHOW GRANTS`; [`credentials`] keeps passwords out of sight.

pub mod admin;
pub mod credentials;
pub mod desired;
pub mod grants;
pub mod mysql;
pub mod plan;
pub mod sql;

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use common::cli::ToolArgs;
use common::error::bad_input;
use common::{ClientName, LogArgs, Run, SecretsArgs, SecretsDir};
use serde_json::{Map, Value, json};

use crate::credentials::Creds;
use crate::desired::{Charset, Mode, PasswordSource};

const EXAMPLES: &str = "\
Examples:
  # the analytics server: databases, the analytics user, the migration user
  MYSQL_PWD=... mk-rds-users --analytics --client acme \\
      --host acme-analytics.abc123.us-east-1.rds.amazonaws.com --admin-user admin \\
      --migration-user edxapp001 --migration-password-file secrets/acme/edxapp-mysql.password
  # the same, with host, user and password from mk-rds's outputs (state/acme/mk-rds.json)
  mk-rds-users --analytics --client acme --admin-from-rds
  # the edxapp server: the read-only user the pipeline imports with
  mk-rds-users --edxapp-readonly --client acme --host edxapp-db.internal \\
      --admin-user root --admin-password-file ~/edxapp-root.password
  # drift check (changes nothing), then a new password for analytics
  mk-rds-users --analytics --client acme --admin-from-rds --dry-run
  mk-rds-users --analytics --client acme --admin-from-rds --rotate

Passwords of the users it creates are generated and written to the secrets
directory (mysql-<user>.password, 0600), with the pipeline's credentials file
(edxanalytics_creds or edxapp_creds); a re-run reuses them and changes a
password only with --rotate. A database found with another character set gets
its default changed (ALTER DATABASE); tables it holds keep theirs.";

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

    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }
}

fn secrets_dir(args: &Args, client: Option<&ClientName>) -> anyhow::Result<SecretsDir> {
    match (&args.secrets.secrets_dir, client) {
        (Some(_), _) => args.secrets.dir(""),
        (None, Some(c)) => args.secrets.dir(c.as_str()),
        (None, None) => Err(bad_input(
            "--client (or ANALYTICS_CLIENT) or --secrets-dir is needed: passwords go to ./secrets/<client> by default",
        )),
    }
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let client = args.client.as_deref().map(ClientName::parse).transpose()?;
    run.report.client = client.as_ref().map(ClientName::to_string);

    // Everything that can be wrong with the input is found before connecting.
    let desired = desired::from_args(&args)?;
    let secrets = secrets_dir(&args, client.as_ref())?;
    let admin = admin::resolve(&args, client.as_ref())?;
    if let Some(ca) = &args.ssl_ca
        && let Err(e) = std::fs::File::open(ca)
    {
        return Err(bad_input(format!("cannot read --ssl-ca {}: {e}", ca.display())));
    }
    let passwords = credentials::password_states(&desired, &secrets)?;
    for f in &desired.findings {
        run.report.findings.push(f.clone());
        tracing::warn!("{}", f.message);
    }

    let timeout = Duration::from_secs(args.connect_timeout);
    let mut session = mysql::connect(&admin, args.ssl_ca.as_deref(), timeout, run.calls.clone()).await?;
    let observed = session.observe(&desired).await?;
    tracing::debug!("server {} ({:?})", observed.version, observed.dialect);
    let plan = plan::plan(&desired, &observed, &passwords, args.rotate, &secrets);
    for f in &plan.findings {
        run.report.findings.push(f.clone());
        tracing::warn!("{}", f.message);
    }

    let main_user = &desired.users[0];
    let creds = plan.passwords[0].as_ref().map(|password| Creds {
        host: admin.host.clone(),
        port: admin.port.to_string(),
        username: main_user.account.name.clone(),
        password: password.clone(),
    });
    let applied = if run.dry_run() {
        for step in &plan.steps {
            run.report.change(step.change.clone());
        }
        Ok(())
    } else {
        session.apply(&plan, &secrets, &mut run.report).await
    };
    session.close().await;
    applied?;
    if let Some(c) = creds.as_ref().filter(|_| !run.dry_run())
        && credentials::write_creds(&secrets, desired.creds_file, c)?
    {
        tracing::info!("wrote {}", secrets.file(desired.creds_file).display());
    }

    let report = &mut run.report;
    if desired.mode == Mode::Analytics {
        let dbs: Map<String, Value> =
            desired.databases.iter().map(|d| (d.role.key().to_owned(), Value::from(d.name.clone()))).collect();
        report.output("databases", dbs);
    }
    let users: Map<String, Value> =
        desired.users.iter().map(|u| (u.role.key().to_owned(), Value::from(u.account.name.clone()))).collect();
    report.output("users", users);
    let files: Map<String, Value> = desired
        .users
        .iter()
        .filter_map(|u| match &u.password {
            PasswordSource::Generated { file } => {
                Some((u.role.key().to_owned(), Value::from(secrets.file(file).display().to_string())))
            }
            PasswordSource::Given { .. } => None,
        })
        .collect();
    report.output("password_files", files);
    report.output(
        "credentials_file",
        creds.map(|_| Value::from(secrets.file(desired.creds_file).display().to_string())).unwrap_or(Value::Null),
    );
    report.output("server", json!({"host": admin.host, "port": admin.port, "version": observed.version}));
    Ok(())
}
