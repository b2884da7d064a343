//! mk-iam's flags: the shared converge, destroy and secrets flags, and the
//! names of every IAM resource it manages.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs, SecretsArgs};

const EXAMPLES: &str = "\
Examples:
  mk-iam --client acme
  mk-iam --client acme --reports --secrets-dir ./secrets/acme --dry-run
  mk-iam --client acme --es-domain-arn arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es
  mk-iam --client acme --rotate-keys             # new access keys, old ones deleted
  mk-iam --client acme --destroy --dry-run       # lists what --destroy would delete
  mk-iam --client acme --instance-role acme-insights --es-user acme-search  # names of your own

Every name can be overridden (the Names flags). Give the same flags to every
later run, --destroy included: a run knows the resources by these names. The
tools after it take the names from their own flags: mk-ec2 --instance-profile
for --instance-role, mk-es --grant-arn for --es-user (its ARN is
outputs.users.elasticsearch.arn).

Access keys are written to <secrets-dir>/<user>.access-key.json (mode 0600);
stdout names the file and the key id, never the secret. While a key is being
made, <user>.access-key.pending.json lists the user's keys from before: a run
that finds it deletes the key an interrupted run made but never stored.";

/// Create (or adopt) the IAM policies, roles, instance profiles and users of
/// an Open edX analytics deployment.
///
/// The client's resources are tagged for it; a same-name resource without
/// that tag is left alone. EMR_DefaultRole and EMR_EC2_DefaultRole (or the
/// roles --emr-role and --emr-ec2-role name) are shared by every deployment
/// in the account: created when missing, never tagged for a client, never
/// deleted.
#[derive(Parser, Debug)]
#[command(name = "mk-iam", version, after_help = EXAMPLES)]
// The shared flags, with the help mk-iam has always given them.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; change nothing")))]
#[command(mut_arg("destroy", |a| {
    a.help("Remove this client's users, role, instance profile and policies (only those tagged for it)")
}))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// Also the Analytics API reports user, allowed to read the reports bucket
    #[arg(long)]
    pub reports: bool,
    /// The bucket the reports user reads [default: <client>-analytics-api-reports]
    #[arg(long, value_name = "NAME")]
    pub reports_bucket: Option<String>,
    /// Scope the search policy (--es-policy) to this search domain [default: every domain]
    #[arg(long, value_name = "ARN")]
    pub es_domain_arn: Option<String>,
    /// Replace each user's access key: create and store a new one, then delete the old ones
    #[arg(long, conflicts_with = "destroy")]
    pub rotate_keys: bool,
    #[command(flatten)]
    pub destroying: DestroyArgs,
    #[command(flatten)]
    pub names: NameArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The name of each IAM resource, when not the default. IAM's rules apply:
/// letters, digits and `_+=,.@-`; at most 64 characters for roles and
/// users, 128 for policies.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Names")]
pub struct NameArgs {
    /// The policy that lets the analytics host run EMR clusters [default: <client>-provision-emr-clusters]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub provision_policy: Option<String>,
    /// The analytics host's role and its instance profile (same name) [default: <client>-edxanalytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub instance_role: Option<String>,
    /// EMR's service role, shared by every deployment [default: EMR_DefaultRole]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_role: Option<String>,
    /// The role and instance profile of EMR's nodes, shared by every deployment [default: EMR_EC2_DefaultRole]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_ec2_role: Option<String>,
    /// The search policy attached to the EMR nodes' role [default: <client>-elasticsearch-all]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub es_policy: Option<String>,
    /// The Analytics API's search user [default: <client>-analytics-elasticsearch]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub es_user: Option<String>,
    /// The Analytics API's reports user (with --reports) [default: <client>-analytics-reports]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub reports_user: Option<String>,
    /// The reports user's inline policy [default: s3-read-analytics-reports]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub reports_policy: Option<String>,
}

common::converge_args!(Args, destroy);

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_shared_flags_keep_mk_iams_help() {
        let cmd = Args::command();
        let help = |id: &str| {
            cmd.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_help()).map(ToString::to_string)
        };
        assert_eq!(help("dry_run").as_deref(), Some("Report what would change; change nothing"));
        assert!(help("destroy").is_some_and(|h| h.starts_with("Remove this client's users")));
        let e = Args::try_parse_from(["mk-iam", "--client", "acme", "--destroy", "--rotate-keys"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let a = Args::try_parse_from(["mk-iam", "--client", "acme", "--dry-run", "--destroy"]).unwrap();
        assert!(a.converge.dry_run && a.destroy());
    }
}
