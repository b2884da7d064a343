//! mk-sg's flags.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs};

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
/// and the master group. <client>-emr-rds: MySQL from both EMR groups and
/// from the director group (mk-rds-users' SSH tunnel), on the databases
/// that carry it.
///
/// Missing rules are added, rules this tool added that no longer belong are
/// removed, and rules added by anyone else are left alone (and reported when
/// they open 8080 or 22 on the analytics group to the whole internet).
#[derive(Parser, Debug)]
#[command(name = "mk-sg", version, after_help = EXAMPLES)]
// The shared flags, with the help text this tool has always had.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; change nothing")))]
#[command(mut_arg("destroy", |a| a.help(
    "Remove this client's groups and rules (EMR's groups only when mk-sg made them for it and they are unused)"
)))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// The VPC [default: the region's default VPC]
    #[arg(long, value_name = "ID")]
    pub vpc_id: Option<String>,
    /// Where operators SSH to the director from, IPv4 or IPv6; repeatable [default: 0.0.0.0/0, with a warning]
    #[arg(long = "admin-cidr", value_name = "CIDR")]
    pub admin_cidrs: Vec<String>,
    #[command(flatten)]
    pub destroying: DestroyArgs,
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

common::converge_args!(Args, destroy);
