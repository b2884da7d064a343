//! mk-sg: the security groups of the analytics stack (SPEC section 4):
//! the director, the analytics host, EMR's master and slave pair, and the
//! group that lets EMR reach MySQL.
//!
//! Follows the house path: [`desired`] (pure) → [`ec2::observe`] → [`plan`]
//! (pure) → [`ec2::apply`] (skipped under `--dry-run`) → the report.
//! Rules are values ([`rule::SecurityGroupRule`]) compared as sets; the
//! rules this tool adds carry the description `mk-sg:<client>` (or `mk-sg`
//! for EMR's traffic between its own two groups), which is how it knows
//! its own from anyone else's.

pub mod desired;
pub mod ec2;
pub mod plan;
pub mod rule;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{Deployment, DeploymentArgs, LogArgs, Run};
use serde_json::{Map, Value};

use crate::desired::GroupRole;

const EXAMPLES: &str = "\
Examples:
  mk-sg --client acme --admin-cidr 203.0.113.0/24
  mk-sg --client acme --vpc-id vpc-0a1b2c3d4e5f60718 --admin-cidr 2001:db8:42::/48 --dry-run
  mk-sg --client acme --destroy      # keeps EMR's pair while anything else uses it

Jenkins (8080 on the analytics host) has no authentication: mk-sg never opens
it; reach it through an SSH tunnel via the director, e.g.
  ssh -L 8080:localhost:8080 -J ubuntu@DIRECTOR ubuntu@ANALYTICS";

/// Create (or adopt) the security groups of an Open edX analytics deployment.
///
/// <client>-director: SSH from --admin-cidr. <client>-analytics: SSH from the
/// director group, HTTP and HTTPS from anywhere (Insights).
/// ElasticMapReduce-master: SSH from the analytics group, all traffic from
/// itself and the slave group. ElasticMapReduce-slave: all traffic from itself
/// and the master group. <client>-emr-rds: MySQL from both EMR groups.
///
/// Missing rules are added, rules this tool added that no longer belong are
/// removed, and rules added by anyone else are left alone (and reported when
/// they open 8080 or 22 on the analytics group to the whole internet).
#[derive(Parser, Debug)]
#[command(name = "mk-sg", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The VPC [default: the region's default VPC]
    #[arg(long, value_name = "ID")]
    pub vpc_id: Option<String>,
    /// Where operators SSH to the director from, IPv4 or IPv6; repeatable [default: 0.0.0.0/0, with a warning]
    #[arg(long = "admin-cidr", value_name = "CIDR")]
    pub admin_cidrs: Vec<String>,
    /// Report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove this client's groups and rules (EMR's groups only when mk-sg made them for it and they are unused)
    #[arg(long)]
    pub destroy: bool,
    /// [default: <client>-director]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub director_group: Option<String>,
    /// [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub analytics_group: Option<String>,
    /// [default: ElasticMapReduce-master]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_master_group: Option<String>,
    /// [default: ElasticMapReduce-slave]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_slave_group: Option<String>,
    /// [default: <client>-emr-rds]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_rds_group: Option<String>,
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
    let d = Deployment::from_args(&args.deployment, plan::TOOL)?;
    run.report.client = Some(d.client.to_string());
    let desired = desired::desired(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let ec2 = common::client!(aws_sdk_ec2, &aws);

    let observed = ec2::observe(&ec2, &desired, &aws.region, args.destroy).await?;
    let plan = plan::plan(&d, &desired, &observed, args.destroy)?;
    run.report.record(&plan.findings);
    run.report.output("vpc_id", observed.vpc_id.clone());
    let ids = if run.dry_run() {
        for step in &plan.steps {
            for c in &step.changes {
                run.report.change(c.clone());
            }
        }
        plan.group_ids.clone()
    } else {
        ec2::apply(&ec2, &observed.vpc_id, &plan, &mut run.report).await?
    };
    if !args.destroy {
        let groups: Map<String, Value> = GroupRole::ALL
            .iter()
            .map(|r| (r.key().to_owned(), ids.get(r).cloned().map(Value::from).unwrap_or(Value::Null)))
            .collect();
        run.report.output("security_groups", groups);
    }
    Ok(())
}
