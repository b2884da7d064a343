//! mk-ec2: the deployment's hosts (SPEC section 9): the analytics host
//! (Insights, the Analytics API, Jenkins), the director host, their key
//! pairs, and an Elastic IP on the analytics host.
//!
//! Follows the house path: [`desired`] (pure, from [`args`]) →
//! [`ec2::observe`] (into [`observed`]) → [`plan`] (pure, a
//! [`converge::Converge`]: [`plan_keys`] for the key pairs, [`plan_hosts`]
//! for the hosts, [`plan_destroy`] for `--destroy`; the calls are
//! [`op::Op`]s) → the types to launch checked against the region's
//! [`offerings`] → [`common::plan::apply`] with [`apply::apply_op`] (and
//! [`launch`] for the instances; nothing sent under `--dry-run`), what the
//! ops made kept in a [`ledger`] → the report, whose outputs [`outputs`]
//! builds. [`keys`] makes the key pairs' keys here, so that no private key
//! exists only in an answer from EC2. It reads, and never makes, what other
//! tools own: the security groups (mk-sg), the instance profile (mk-iam),
//! the VPC (mk-vpc).

pub mod apply;
pub mod args;
pub mod converge;
pub mod desired;
pub mod ec2;
#[cfg(test)]
mod fixtures;
pub mod image;
pub mod keys;
pub mod launch;
pub mod ledger;
pub mod observed;
pub mod offerings;
pub mod op;
pub mod outputs;
pub mod plan;
pub mod plan_destroy;
pub mod plan_hosts;
pub mod plan_keys;
pub mod public_key;

use std::time::Duration;

pub use args::Args;
use common::{Deployment, Run};

use crate::converge::{Converge, Deferred};
use crate::desired::Desired;
use crate::ledger::{Ctx, Ledger};
use crate::observed::Observed;
use crate::op::{KIND_INSTANCE, Op};
use crate::outputs::Built;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let w = desired::desired(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let aws = args.aws.load(&run.calls).await?;
    let w = w.in_partition(aws.partition());
    run.report.region = Some(aws.region.clone());
    let ec2 = common::client!(aws_sdk_ec2, &aws);
    let wait = (!args.wait.no_wait).then(|| args.wait.timeout());
    let mut o = ec2::observe(&ec2, &d, &w, &secrets, args.destroy()).await?;
    let ctx = |o, ledger| Ctx { ec2: &ec2, d: &d, o, secrets: &secrets, wait, ledger };

    if args.destroy() {
        let plan = plan_destroy::plan_destroy(&d, &w, &o, wait.is_some());
        let ctx = ctx(&o, Ledger::default());
        return common::plan::apply(run, &plan, async |op: &Op| apply::apply_op(&ctx, op).await).await;
    }
    if plan::needs_instance_profile(&w, &o) {
        let iam = common::client!(aws_sdk_iam, &aws);
        o.instance_profile_exists = Some(ec2::instance_profile_exists(&iam, &w.instance_profile).await?);
    }
    let c = plan_converge(run, &d, &w, &o, wait)?;
    let mut launching: Vec<&desired::HostSpec> = Vec::new();
    for l in c.launches() {
        if !launching.iter().any(|s| s.role == l.spec.role) {
            launching.push(&l.spec);
        }
    }
    offerings::ensure_offered(&ec2, &launching, &aws.region).await?;
    let ctx = ctx(&o, Ledger::new(&c));
    common::plan::apply(run, &c.plan, async |op: &Op| apply::apply_op(&ctx, op).await).await?;
    let key_pairs = outputs::key_pairs(&c, &ctx.ledger, &secrets);
    let built = if run.dry_run() {
        Built::observed(&o, key_pairs)
    } else {
        after_apply(run, &c, &ctx).await?;
        Built::made(&o, &ctx.ledger, key_pairs)
    };
    for (k, v) in outputs::outputs(&built) {
        run.report.output(&k, v);
    }
    Ok(())
}

/// The converging plan. Missing prerequisites stop a real run before any
/// change (with the plan's findings said); under dry-run they are warnings.
fn plan_converge(
    run: &mut Run,
    d: &Deployment,
    w: &Desired,
    o: &Observed,
    wait: Option<Duration>,
) -> anyhow::Result<Converge> {
    let mut c = plan::plan(d, w, o, wait.is_some());
    if !c.missing.is_empty() {
        if !run.dry_run() {
            run.report.record(&c.plan.findings);
            anyhow::bail!("{}", c.missing.join("; "));
        }
        for m in std::mem::take(&mut c.missing) {
            c.plan.warn(m);
        }
    }
    Ok(c)
}

/// What a real run says and reads once its plan is applied: the hosts it
/// did not wait for, the associations left to a later run, and the hosts
/// read again when anything changed (addresses moved).
async fn after_apply(run: &mut Run, c: &Converge, ctx: &Ctx<'_>) -> anyhow::Result<()> {
    if ctx.wait.is_none() {
        for h in ctx.ledger.hosts().iter().filter(|h| h.state == "pending") {
            run.report.pending(KIND_INSTANCE, h.label(), &h.state);
        }
    }
    for deferred in &c.deferred {
        let (slot, what) = match deferred {
            Deferred::Profile { slot, profile } => (*slot, format!("instance profile {profile}")),
            Deferred::Address { slot } => {
                let ip = ctx.ledger.address().map(|a| a.public_ip).unwrap_or_default();
                (*slot, format!("Elastic IP {ip}"))
            }
        };
        let h = ctx.ledger.host(slot)?;
        run.report.info(format!(
            "{} ({}) is {}: {what} is associated by a run once it is running",
            h.label(),
            h.id,
            h.state
        ));
    }
    let mutated = c.plan.steps.iter().flat_map(|s| &s.ops).any(Op::mutates);
    let ids: Vec<String> = ctx.ledger.hosts().into_iter().map(|h| h.id).collect();
    if mutated && !ids.is_empty() {
        ctx.ledger.refresh(ec2::describe_hosts(ctx.ec2, &ids).await?);
    }
    Ok(())
}
