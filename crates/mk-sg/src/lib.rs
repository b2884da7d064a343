//! mk-sg: the security groups of the analytics stack (SPEC section 4):
//! the director, the analytics host, EMR's master and slave pair, and the
//! group that lets EMR and the director reach MySQL.
//!
//! Follows the house path: [`desired`] (pure) → [`ec2::observe`] → [`plan`]
//! (pure) → [`common::plan::apply`] with [`apply::Groups::send`] (nothing
//! sent under `--dry-run`) → the report.
//! Rules are values ([`rule::SecurityGroupRule`]) compared as sets; the
//! rules this tool adds carry the description `mk-sg:<client>` (or `mk-sg`
//! for EMR's traffic between its own two groups), which is how it knows
//! its own from anyone else's.

pub mod apply;
pub mod args;
pub mod desired;
pub mod destroy;
pub mod ec2;
pub mod ensure;
pub mod observed;
pub mod op;
pub mod plan;
pub mod role;
pub mod rule;

pub use args::Args;
use common::Run;
use serde_json::{Map, Value};

use crate::role::GroupRole;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let desired = desired::desired(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let ec2 = common::client!(aws_sdk_ec2, &aws);

    let observed = ec2::observe(&ec2, &desired, &aws.region, args.destroy()).await?;
    let plan = plan::plan(&d, &desired, &observed, args.destroy())?;
    run.report.output("vpc_id", observed.vpc_id.clone());
    let groups = apply::Groups::new(&ec2, &observed.vpc_id, plan::existing_ids(&desired, &observed));
    common::plan::apply(run, &plan, async |op: &plan::Op| groups.send(op).await).await?;
    if !args.destroy() {
        let ids = groups.ids();
        let groups: Map<String, Value> = GroupRole::ALL
            .iter()
            .map(|r| (r.key().to_owned(), ids.get(r).cloned().map(Value::from).unwrap_or(Value::Null)))
            .collect();
        run.report.output("security_groups", groups);
    }
    Ok(())
}
