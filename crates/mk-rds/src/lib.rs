//! mk-rds: the deployment's MySQL RDS instance for the analytics databases
//! (SPEC section 7), its DB subnet group, and the EMR-RDS group's
//! membership of other instances (`--join-sg`, the edxapp database).
//!
//! Follows the house path: [`desired`] (pure) → [`observe::observe`] →
//! [`plan`] (pure) → [`common::plan::apply`] with [`apply::apply_op`]
//! (nothing sent under `--dry-run`) → wait for the instance → the report.
//! The master password is made by [`password`] and only ever written to
//! the secrets directory.

pub mod apply;
pub mod args;
pub mod desired;
pub mod destroy;
pub mod ensure;
#[cfg(test)]
mod fixtures;
pub mod instance;
pub mod join;
pub mod observe;
pub mod observed;
pub mod op;
pub mod password;
pub mod plan;
pub mod support;

pub use args::Args;
use common::{Finding, Run, SecretsDir, WaitArgs};
use serde_json::json;

use crate::apply::ApplyContext;
use crate::desired::DesiredInstance;
use crate::observe::Clients;
use crate::observed::{Observed, ObservedInstance, is_ready};
use crate::op::{KIND_INSTANCE, Plan, changes_instance, creates_instance};

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let want = desired::instance(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let c = Clients { rds: common::client!(aws_sdk_rds, &aws), ec2: common::client!(aws_sdk_ec2, &aws) };
    let password_file = want.password_file();
    let waits = !args.wait.no_wait;
    let destroy = args.destroy();

    let observed = if destroy {
        observe::observe_destroy(&c, &want).await?
    } else {
        observe::observe(&c, &want, &aws.region).await?
    };
    let now = time::OffsetDateTime::now_utc();
    let opts = destroy.then_some(plan::DestroyOptions { skip_final_snapshot: args.skip_final_snapshot, waits, now });
    let plan = plan::plan(&d, &want, &observed, now.date(), opts)?;
    let ctx = ApplyContext {
        secrets: &secrets,
        password_file: &password_file,
        wait_deleted: (destroy && waits).then(|| args.wait.timeout()),
    };
    common::plan::apply(run, &plan, async |op: &plan::Op| apply::apply_op(&c, op, &ctx).await).await?;

    if destroy {
        let path = secrets.file(&password_file);
        if plan.changes().any(|ch| ch.kind == KIND_INSTANCE) && path.exists() {
            run.report.finding(
                Finding::info(format!("{} is kept: restoring the final snapshot needs it", path.display()))
                    .with_code("master-password-kept")
                    .about(&want.id),
            );
        }
        return Ok(());
    }
    let current = if run.dry_run() {
        observed.instance.clone()
    } else {
        settle(run, &c, &want, &args.wait, &plan, &observed).await?
    };
    outputs(run, &want, &plan, &secrets, &observed, current.as_ref());
    Ok(())
}

/// After a converge: waits for the instance to be available or, with
/// `--no-wait`, records it as pending; returns the instance as it is then.
async fn settle(
    run: &mut Run,
    c: &Clients,
    want: &DesiredInstance,
    wait: &WaitArgs,
    plan: &Plan,
    observed: &Observed,
) -> anyhow::Result<Option<ObservedInstance>> {
    let ready = !changes_instance(plan) && observed.instance.as_ref().is_some_and(is_ready);
    if ready {
        return Ok(observed.instance.clone());
    }
    if !wait.no_wait {
        tracing::info!("waiting for DB instance {} to be available (several minutes on AWS)", want.id);
        let created = creates_instance(plan);
        let now = observe::wait_available(&c.rds, &want.id, wait.timeout(), created).await?;
        tracing::info!("DB instance {} is ready ({})", want.id, now.status);
        return Ok(Some(now));
    }
    let state = match &observed.instance {
        None => "being created".to_owned(),
        Some(_) if changes_instance(plan) => "applying a modification".to_owned(),
        Some(i) => i.status.clone(),
    };
    run.report.pending(KIND_INSTANCE, &want.id, state);
    Ok(observed.instance.clone())
}

/// The converge's outputs: where the instance is, who its master is and
/// where their password is kept.
fn outputs(
    run: &mut Run,
    want: &DesiredInstance,
    plan: &Plan,
    secrets: &SecretsDir,
    observed: &Observed,
    current: Option<&ObservedInstance>,
) {
    let password_path = secrets.file(&want.password_file());
    if password_path.exists() || creates_instance(plan) {
        run.report.output("master_password_file", password_path.display().to_string());
    } else if observed.instance.is_some() {
        run.report.finding(
            Finding::warning(format!(
                "{} does not exist: mk-rds sets the master password only when it creates the instance; reset it \
                 (aws rds modify-db-instance --master-user-password) and write it there",
                password_path.display()
            ))
            .with_code("master-password-unknown")
            .about(&want.id),
        );
    }
    if let Some((address, port)) = current.and_then(|i| i.endpoint.clone()) {
        run.report.output("endpoint", json!({"address": address, "port": port}));
    }
    run.report.output("db_instance_id", want.id.clone());
    if let Some(i) = current {
        // `available`, or `storage-optimization`: usable while RDS optimizes its volume.
        run.report.output("status", i.status.clone());
    }
    let master = observed.instance.as_ref().map(|i| i.master_username.clone()).filter(|u| !u.is_empty());
    run.report.output("master_username", master.unwrap_or_else(|| want.master_username.clone()));
    run.report.output("subnet_group", want.subnet_group.clone());
    run.report.output("vpc_id", observed.network.vpc_id.clone());
}
