//! mk-es' flags: the shared converge, destroy, wait and AWS flags, and the
//! search domain's own.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs, WaitArgs};

const EXAMPLES: &str = "\
Examples:
  mk-es --client acme                       # grants acme-analytics-elasticsearch (made by mk-iam)
  mk-es --client acme --no-wait             # start creating; a later run waits for it
  mk-es --client acme --engine-version OpenSearch_2.11 --instance-type t3.small
  mk-es --client acme --grant-arn arn:aws:iam::123456789012:user/acme-analytics-elasticsearch \\
      --grant-arn arn:aws:iam::123456789012:role/EMR_EC2_DefaultRole
  mk-es --client acme --dry-run             # what would change (drift detection)
  mk-es --client acme --destroy             # deletes the domain only if tagged for acme

The endpoint goes to ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST and to [elasticsearch] host:
  mk-es --client acme | jq -r .outputs.endpoint";

/// Create (or converge) the Elasticsearch/OpenSearch domain of an Open edX
/// analytics deployment.
///
/// One data node, no dedicated master, no zone awareness, a general-purpose
/// SSD EBS volume, automated snapshots at 00:00 UTC, the advanced option
/// rest.action.multi.allow_explicit_index = "true", and an access policy
/// giving es:* on the domain to named principals only (never `*`).
/// Encryption at rest, node-to-node encryption and HTTPS-only (TLS 1.2) go
/// on wherever the version and instance type support them. An existing
/// domain is checked section by section and only what differs is updated;
/// its engine version is never changed.
#[derive(Parser, Debug)]
#[command(name = "mk-es", version, after_help = EXAMPLES)]
// The shared flags, with the help this tool has always given them.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; change nothing").help_heading("Search domain")))]
#[command(mut_arg("destroy", |a| a.help("Delete the domain (only if tagged for this client)").help_heading("Search domain")))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// Principal (IAM user or role ARN) given es:* on the domain (repeatable)
    /// [default: the ARN of the IAM user <client>-analytics-elasticsearch]
    #[arg(long = "grant-arn", value_name = "ARN", help_heading = "Search domain")]
    pub grant_arns: Vec<String>,
    /// Engine version, Elasticsearch_X.Y or OpenSearch_X.Y
    /// (Elasticsearch_1.5, the runbook's, is accepted with a warning)
    #[arg(long, value_name = "VERSION", default_value = "Elasticsearch_7.10", help_heading = "Search domain")]
    pub engine_version: String,
    /// Data node instance type; the .search suffix may be left out
    #[arg(long, value_name = "TYPE", default_value = crate::desired::DEFAULT_INSTANCE_TYPE, help_heading = "Search domain")]
    pub instance_type: String,
    /// Size of the EBS volume in GB
    #[arg(long, value_name = "GB", default_value_t = 10, help_heading = "Search domain")]
    pub volume_gb: i32,
    /// Domain name [default: <client>-analytics-es]
    #[arg(long, value_name = "NAME", help_heading = "Search domain")]
    pub domain_name: Option<String>,
    #[command(flatten)]
    pub destroying: DestroyArgs,
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
        let a = Args::try_parse_from(["mk-es", "--client", "acme", "--dry-run", "--destroy", "--tag", "a=b"]).unwrap();
        assert!(a.converge.dry_run && a.destroy());
        assert_eq!(a.converge.deployment.tags, [("a".to_owned(), "b".to_owned())]);
        let cmd = Args::command();
        let help = |id: &str| cmd.get_arguments().find(|a| a.get_id() == id).unwrap().get_help().unwrap().to_string();
        assert_eq!(help("dry_run"), "Report what would change; change nothing");
        assert_eq!(help("destroy"), "Delete the domain (only if tagged for this client)");
    }
}
