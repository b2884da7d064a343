//! mk-vpc's flags.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs};

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
// The shared flags, with the help text this tool has always had.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; change nothing")))]
#[command(mut_arg("destroy", |a| a.help("Remove the gateway and routes this tool created for the client (DNS stays on)")))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// The VPC [default: the region's default VPC]
    #[arg(long, value_name = "ID")]
    pub vpc_id: Option<String>,
    /// A subnet the clusters run in (vpc_subnet_id of emr-vars.yml); repeatable [default: every subnet of the VPC]
    #[arg(long = "subnet-id", value_name = "ID")]
    pub subnet_ids: Vec<String>,
    #[command(flatten)]
    pub destroying: DestroyArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

common::converge_args!(Args, destroy);
