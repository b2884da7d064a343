//! mk-rds-users: the MySQL databases, users and grants of SPEC section 8,
//! on the analytics server (`--analytics`) or the edxapp server
//! (`--edxapp-readonly`). Speaks MySQL, not AWS; works on MySQL 8.0/8.4 and
//! MariaDB 10.11.
//!
//! Follows the house path: [`desired`] (pure) → [`mysql::Session::observe`]
//! (`information_schema`, `mysql.user`, `SHOW GRANTS`) → [`plan`] (pure) →
//! [`common::plan::apply`] with [`mysql::Session::apply_op`] (nothing sent
//! under `--dry-run`) → the report. [`quote`] and [`sql`] quote everything
//! that reaches SQL; [`grants`] reads both servers' `SHOW GRANTS`;
//! [`credentials`] keeps passwords out of sight. With `--via` ([`via`]) the
//! connection goes through an SSH tunnel via the director ([`tunnel`]),
//! closed when the run ends.

pub mod admin;
pub mod args;
pub mod credentials;
pub mod desired;
#[cfg(test)]
mod fixtures;
pub mod grant_plan;
mod grant_syntax;
pub mod grants;
pub mod mysql;
pub mod observed;
pub mod op;
pub mod plan;
pub mod privilege;
pub mod quote;
pub mod sql;
pub mod tunnel;
pub mod users;
pub mod via;

use std::time::Duration;

pub use args::Args;
use common::error::bad_input;
use common::secrets::{DbCredentials, Secret};
use common::{ClientName, Run, SecretsArgs, SecretsDir};
use serde_json::{Map, Value, json};

use crate::admin::Admin;
use crate::credentials::PasswordState;
use crate::desired::{Desired, Mode, PasswordSource};
use crate::tunnel::Tunnel;
use crate::via::Via;

fn secrets_dir(secrets: &SecretsArgs, client: Option<&ClientName>) -> anyhow::Result<SecretsDir> {
    match (&secrets.secrets_dir, client) {
        (Some(_), _) => secrets.dir(""),
        (None, Some(c)) => secrets.dir(c.as_str()),
        (None, None) => Err(bad_input(
            "--client (or ANALYTICS_CLIENT) or --secrets-dir is needed: passwords go to ./secrets/<client> by default",
        )),
    }
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    // The client is optional here, so not common's ConvergeArgs.
    let client = args.client.as_deref().map(ClientName::parse).transpose()?;
    run.report.client = client.as_ref().map(ClientName::to_string);

    // Everything that can be wrong with the input is found before connecting.
    let desired = desired::from_args(&args)?;
    let secrets = secrets_dir(&args.secrets, client.as_ref())?;
    let admin = admin::resolve(&args, client.as_ref())?;
    if let Some(ca) = &args.ssl_ca
        && let Err(e) = std::fs::File::open(ca)
    {
        return Err(bad_input(format!("cannot read --ssl-ca {}: {e}", ca.display())));
    }
    let via = via::resolve(&args, client.as_ref(), &secrets)?;
    let passwords = credentials::password_states(&desired, &secrets)?;
    run.report.record(&desired.findings);

    let tunnel = match &via {
        Some(v) => {
            if v.known_hosts_in_secrets {
                secrets.ensure()?;
            }
            Some(Tunnel::open(v, &admin.host, admin.port).await?)
        }
        None => None,
    };
    let converged = converge(run, &args, &desired, &admin, tunnel.as_ref(), &passwords, &secrets).await;
    let converged = match tunnel {
        Some(mut t) => {
            let c = converged.map_err(|e| with_tunnel_news(e, &mut t, &admin));
            t.close().await;
            c
        }
        None => converged,
    };
    let (version, planned) = converged?;

    let creds = planned.passwords[0].as_ref().map(|password| credentials_of(&desired, &admin, password));
    if let Some(c) = creds.as_ref().filter(|_| !run.dry_run())
        && credentials::write_creds(&secrets, desired.creds_file, c)?
    {
        tracing::info!("wrote {}", secrets.file(desired.creds_file).display());
    }
    outputs(run, &desired, &secrets, creds.is_some());
    run.report.output("server", server_json(&admin, &version, via.as_ref()));
    Ok(())
}
/// Observe, plan and apply on one connection (through the tunnel when there
/// is one); the server's version and the plan.
async fn converge(
    run: &mut Run,
    args: &Args,
    desired: &Desired,
    admin: &Admin,
    tunnel: Option<&Tunnel>,
    passwords: &[PasswordState],
    secrets: &SecretsDir,
) -> anyhow::Result<(String, plan::Planned)> {
    let timeout = Duration::from_secs(args.connect_timeout);
    let through = tunnel.map(|t| mysql::Through { local_port: t.local_port, described: &t.described });
    let mut session = mysql::connect(admin, through, args.ssl_ca.as_deref(), timeout, run.calls.clone()).await?;
    let observed = match session.observe(desired).await {
        Ok(o) => o,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };
    tracing::debug!("server {} ({:?})", observed.version, observed.dialect);
    let planned = plan::plan(desired, &observed, passwords, args.rotate, secrets);

    // One connection: the steps of a phase take turns on it.
    let session = tokio::sync::Mutex::new(session);
    let applied = common::plan::apply(run, &planned.plan, async |op: &op::Op| {
        session.lock().await.apply_op(op, secrets).await.map(|()| None)
    })
    .await;
    session.into_inner().close().await;
    applied?;
    Ok((observed.version, planned))
}

/// A failure seen through the tunnel, with what ssh knows of it: the tunnel
/// broke, or the director could not reach the server.
fn with_tunnel_news(e: anyhow::Error, tunnel: &mut Tunnel, admin: &Admin) -> anyhow::Error {
    if let Some(said) = tunnel.broken() {
        return anyhow::anyhow!("{e:#} ({} closed; ssh: {said})", tunnel.described);
    }
    match tunnel.open_failures() {
        Some(said) => anyhow::anyhow!(
            "{e:#} (the director could not reach {}:{}: check that the server's security groups let the director's \
             group in on MySQL: mk-sg's emr-rds group, which mk-rds --join-sg adds to edxapp's database; ssh: {said})",
            admin.host,
            admin.port
        ),
        None => e,
    }
}

/// `outputs.server`: the server as seen from where the SQL ran, and the
/// tunnel it went through.
fn server_json(admin: &Admin, version: &str, via: Option<&Via>) -> Value {
    let via = via.map(|v| {
        json!({"host": v.host, "port": v.port, "user": v.user, "key": v.key.display().to_string(),
               "known_hosts": v.known_hosts.display().to_string()})
    });
    json!({"host": admin.host, "port": admin.port, "version": version, "via": via})
}

/// The pipeline's credentials for the first user (the port is a string).
fn credentials_of(desired: &Desired, admin: &Admin, password: &Secret) -> DbCredentials {
    DbCredentials {
        host: admin.host.clone(),
        port: admin.port.to_string(),
        username: desired.users[0].account.name.clone(),
        password: password.clone(),
    }
}

/// What was set up and where its secrets are: names, never values.
fn outputs(run: &mut Run, desired: &Desired, secrets: &SecretsDir, has_creds: bool) {
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
    let creds_file = secrets.file(desired.creds_file).display().to_string();
    report.output("credentials_file", if has_creds { Value::from(creds_file) } else { Value::Null });
}
