//! mk-ec2's flags: the shared converge, destroy, secrets, wait and AWS
//! flags, and the hosts' own.

use std::path::PathBuf;

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs, SecretsArgs, WaitArgs};

const EXAMPLES: &str = "\
Examples:
  mk-ec2 --client acme
  mk-ec2 --client acme --ubuntu-release 22.04 --analytics-type t3.large --dry-run
  mk-ec2 --client acme --public-key ~/.ssh/id_ed25519.pub --no-director
  mk-ec2 --client acme --no-wait && mk-ec2 --client acme   # start, then wait later
  mk-ec2 --client acme --destroy   # terminates only hosts tagged for acme

Needs, from the earlier steps: security groups <client>-analytics and
<client>-director (mk-sg) and instance profile <client>-edxanalytics (mk-iam).
Key pairs are made here: an ed25519 key whose private key is written to the
secrets directory (0600) before its public key is imported, so a stop at any
point loses no key; stdout names the file. A re-run imports a private key
file whose key pair is gone (never writing over the file), and makes again a
key pair of this client whose private key was never stored, unless a host
uses it. SSH in with the command under outputs.ssh; reach Jenkins through the
SSH tunnel there, never by opening port 8080.";

/// Launch (or find again) the analytics and director hosts of an Open edX
/// analytics deployment.
///
/// The analytics host runs Ubuntu LTS from Canonical's newest image, with
/// the deployment's instance profile, a 50 GB encrypted gp3 root volume,
/// IMDSv2 required, the VPC's default group plus <client>-analytics, and an
/// Elastic IP. Hosts are found again by their tags, so a re-run never
/// launches a second one.
#[derive(Parser, Debug)]
#[command(name = "mk-ec2", version, after_help = EXAMPLES)]
// The shared flags, with the help this tool has always given them.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; change nothing").help_heading("Hosts")))]
#[command(mut_arg("destroy", |a| a
    .help("Release the address, terminate the hosts and delete the key pairs tagged for this client")
    .help_heading("Hosts")))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// Ubuntu LTS release of the image: 24.04, 22.04, 20.04, 18.04, 16.04, or its codename
    #[arg(long, help_heading = "Hosts", value_name = "RELEASE", default_value = "24.04")]
    pub ubuntu_release: String,
    /// Launch from this image instead of looking up Canonical's newest
    #[arg(long, help_heading = "Hosts", value_name = "AMI")]
    pub ami_id: Option<String>,
    /// Instance type of the analytics host
    #[arg(long, help_heading = "Hosts", value_name = "TYPE", default_value = crate::desired::DEFAULT_ANALYTICS_TYPE)]
    pub analytics_type: String,
    /// Instance type of the director host
    #[arg(long, help_heading = "Hosts", value_name = "TYPE", default_value = crate::desired::DEFAULT_DIRECTOR_TYPE)]
    pub director_type: String,
    /// Number of analytics hosts (analytics-1, analytics-2, ...)
    #[arg(long, help_heading = "Hosts", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub analytics_count: u32,
    /// No director host (and no director key pair)
    #[arg(long, help_heading = "Hosts")]
    pub no_director: bool,
    /// Import this OpenSSH public key (the .pub file) as the key pairs, instead of making keys here
    #[arg(long, help_heading = "Hosts", value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Launch into this VPC [default: the region's default VPC]
    #[arg(long, help_heading = "Hosts", value_name = "VPC")]
    pub vpc_id: Option<String>,
    /// Launch into this subnet [default: a default subnet of the VPC]
    #[arg(long, help_heading = "Hosts", value_name = "SUBNET")]
    pub subnet_id: Option<String>,
    #[command(flatten)]
    pub destroying: DestroyArgs,
    /// The analytics host's instance profile, as mk-iam made it (outputs.instance_profiles.edxanalytics)
    /// [default: <client>-edxanalytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub instance_profile: Option<String>,
    /// The analytics host's security group, as mk-sg made it [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub analytics_group: Option<String>,
    /// The director's security group, as mk-sg made it [default: <client>-director]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub director_group: Option<String>,
    /// The analytics host's key pair (and <secrets>/<name>.pem) [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub analytics_key: Option<String>,
    /// The director's key pair (and <secrets>/<name>.pem) [default: <client>-director]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub director_key: Option<String>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

common::converge_args!(Args, destroy);

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn shared_flags_keep_their_spelling_and_help() {
        let a = Args::try_parse_from(["mk-ec2", "--client", "acme", "--dry-run", "--destroy", "--secrets-dir", "s"])
            .unwrap();
        assert!(a.converge.dry_run && a.destroy());
        assert_eq!(a.converge.deployment.client, "acme");
        let cmd = Args::command();
        let arg = |id: &str| cmd.get_arguments().find(|a| a.get_id() == id).unwrap().clone();
        assert_eq!(arg("dry_run").get_help().unwrap().to_string(), "Report what would change; change nothing");
        assert_eq!(
            arg("destroy").get_help().unwrap().to_string(),
            "Release the address, terminate the hosts and delete the key pairs tagged for this client"
        );
        assert_eq!(arg("destroy").get_help_heading(), Some("Hosts"));
    }
}
