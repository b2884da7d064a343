//! mk-vpc: checks and fixes the network the EMR clusters run in (SPEC
//! section 3): DNS support and hostnames on the VPC, an internet gateway,
//! and a `0.0.0.0/0` route to it in each subnet's route table.
//!
//! Follows the house path: [`desired`] (pure) → [`ec2::observe`] → [`plan`]
//! (pure) → [`common::plan::apply`] with [`apply::Vpc::send`] (nothing
//! sent under `--dry-run`) → the report.

pub mod apply;
pub mod args;
pub mod desired;
pub mod destroy;
pub mod ec2;
pub mod observed;
pub mod op;
pub mod plan;

pub use args::Args;
use common::Run;
use serde_json::{Value, json};

use crate::plan::GatewayRef;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let mut desired = desired::desired(&args)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let ec2 = common::client!(aws_sdk_ec2, &aws);

    let observed = ec2::observe(&ec2, &d, &desired, &aws.region, args.destroy()).await?;
    if desired.subnet_ids.is_empty() {
        // None named: every subnet of the VPC, so that whichever one EMR
        // gets has its route (on AWS the default VPC's all use the main table).
        desired.subnet_ids = observed.subnets.iter().map(|s| s.id.clone()).collect();
        desired.subnet_ids.sort();
    }
    let planned = plan::plan(&d, &desired, &observed, args.destroy())?;
    run.report.output("vpc_id", planned.vpc_id.clone());
    let vpc = apply::Vpc::new(&ec2, &planned.vpc_id);
    common::plan::apply(run, &planned.plan, async |op: &plan::Op| vpc.send(op).await).await?;
    if !args.destroy() {
        let gateway = match &planned.gateway {
            Some(GatewayRef::Existing(id)) => Some(id.clone()),
            Some(GatewayRef::New) => vpc.created_gateway(),
            None => None,
        };
        run.report.output("subnet_ids", desired.subnet_ids.clone());
        run.report.output("route_table_id", planned.route_table_id.clone());
        run.report.output("route_table_ids", json!(planned.route_table_ids()));
        run.report.output("internet_gateway_id", gateway.map(Value::from).unwrap_or(Value::Null));
    }
    Ok(())
}
