//! mk-vpc: checks and fixes the network the EMR clusters run in (SPEC
//! section 3): DNS support and hostnames on the VPC, an internet gateway,
//! and a `0.0.0.0/0` route to it in each subnet's route table.
//!
//! Follows the house path: [`desired`] (pure) → [`ec2::observe`] → [`plan`]
//! (pure) → [`ec2::apply`] (skipped under `--dry-run`) → the report.

pub mod desired;
pub mod ec2;
pub mod plan;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{Deployment, DeploymentArgs, LogArgs, Run};
use serde_json::{Value, json};

use crate::plan::GatewayRef;

const EXAMPLES: &str = "\
Examples:
  mk-vpc --client acme                      # the default VPC and every subnet's route table
  mk-vpc --client acme --vpc-id vpc-0a1b2c3d4e5f60718 \\
      --subnet-id subnet-0123456789abcdef0 --dry-run
  mk-vpc --client acme --subnet-id subnet-0123456789abcdef0 --subnet-id subnet-0fedcba9876543210
  mk-vpc --client acme --destroy            # removes only the gateway and route it created";

/// Check and fix the VPC that the analytics EMR clusters run in.
///
/// Enables DNS support, then DNS hostnames (EMR clusters hang in
/// provisioning without them); makes sure an internet gateway is attached
/// and that each subnet's route table (its own, else the VPC's main table)
/// sends 0.0.0.0/0 to it. An existing gateway or route is adopted, never
/// duplicated; a 0.0.0.0/0 route to something else (a NAT gateway, a
/// blackhole) is reported and left alone.
#[derive(Parser, Debug)]
#[command(name = "mk-vpc", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The VPC [default: the region's default VPC]
    #[arg(long, value_name = "ID")]
    pub vpc_id: Option<String>,
    /// A subnet the clusters run in (vpc_subnet_id of emr-vars.yml); repeatable [default: every subnet of the VPC]
    #[arg(long = "subnet-id", value_name = "ID")]
    pub subnet_ids: Vec<String>,
    /// Report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove the gateway and routes this tool created for the client (DNS stays on)
    #[arg(long)]
    pub destroy: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let d = Deployment::from_args(&args.deployment, "mk-vpc")?;
    run.report.client = Some(d.client.to_string());
    let mut desired = desired::desired(&args)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let ec2 = common::client!(aws_sdk_ec2, &aws);

    let observed = ec2::observe(&ec2, &d, &desired, &aws.region, args.destroy).await?;
    if desired.subnet_ids.is_empty() {
        // None named: every subnet of the VPC, so that whichever one EMR
        // gets has its route (on AWS the default VPC's all use the main table).
        desired.subnet_ids = observed.subnets.iter().map(|s| s.id.clone()).collect();
        desired.subnet_ids.sort();
    }
    let plan = plan::plan(&d, &desired, &observed, args.destroy)?;
    run.report.record(&plan.findings);
    run.report.output("vpc_id", plan.vpc_id.clone());
    let gateway = if run.dry_run() {
        for step in &plan.steps {
            run.report.change(step.change.clone());
        }
        match &plan.gateway {
            Some(GatewayRef::Existing(id)) => Some(id.clone()),
            _ => None,
        }
    } else {
        ec2::apply(&ec2, &plan, &mut run.report).await?
    };
    if !args.destroy {
        run.report.output("subnet_ids", desired.subnet_ids.clone());
        run.report.output("route_table_id", plan.route_table_id.clone());
        run.report.output("route_table_ids", json!(plan.route_table_ids()));
        run.report.output("internet_gateway_id", gateway.map(Value::from).unwrap_or(Value::Null));
    }
    Ok(())
}
