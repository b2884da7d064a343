//! mk-buckets' flags.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs, SecretsArgs};

const EXAMPLES: &str = "\
Examples:
  mk-buckets --client acme
  mk-buckets --client acme --reports --separate-logs --dry-run
  mk-buckets --client acme --grades-bucket acme-edxapp-grades \\
      --edxapp-user-arn arn:aws:iam::123456789012:user/edxapp-s3
  mk-buckets --client acme --destroy --force   # deletes only buckets tagged for acme";

/// Create (or adopt) the S3 buckets of an Open edX analytics deployment.
///
/// Buckets it creates get public access blocked, default encryption and the
/// deployment's tags. An existing bucket it did not create (typically the
/// tracking-logs bucket) is adopted as it is and never changed or deleted.
/// Every bucket must be in this account and region. While a bucket is being
/// created, <secrets-dir>/<bucket>.bucket-pending.json notes it: a run that
/// finds that bucket untagged finishes it as its own.
#[derive(Parser, Debug)]
#[command(name = "mk-buckets", version, after_help = EXAMPLES)]
#[command(mut_arg("secrets_dir", |a| {
    a.help("Where a bucket being created is noted until it is tagged (default ./secrets/<client>)")
}))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    #[command(flatten)]
    pub destroying: DestroyArgs,
    /// Also the Analytics API reports bucket (<client>-analytics-api-reports)
    #[arg(long)]
    pub reports: bool,
    /// EMR logs in their own bucket (<client>-analytics-emr-logs)
    #[arg(long)]
    pub separate_logs: bool,
    /// Hadoop data in its own bucket (<client>-edxanalytics-hadoop)
    #[arg(long)]
    pub separate_hadoop: bool,
    /// The existing edxapp bucket that gets the grades-download statement
    #[arg(long, value_name = "NAME")]
    pub grades_bucket: Option<String>,
    /// The principal (edxapp's IAM user or role) allowed to download grades
    #[arg(long, value_name = "ARN", requires = "grades_bucket")]
    pub edxapp_user_arn: Option<String>,
    /// With --destroy: delete buckets even when they hold objects
    #[arg(long, requires = "destroy")]
    pub force: bool,
    /// Name of the tracking-logs bucket [default: <client>-tracking-logs]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub tracking_logs_bucket: Option<String>,
    /// [default: <client>-analytics-emr]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_bucket: Option<String>,
    /// [default: <client>-analytics-emr-logs]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_logs_bucket: Option<String>,
    /// [default: <client>-edxanalytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub edxanalytics_bucket: Option<String>,
    /// [default: <client>-edxanalytics-hadoop]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub hadoop_bucket: Option<String>,
    /// [default: <client>-analytics-api-reports]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub reports_bucket: Option<String>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

common::converge_args!(Args, destroy);
