//! mk-buckets: the deployment's S3 buckets (SPEC section 5) and the
//! grades-download statement on the edxapp bucket.
//!
//! Follows the house path: [`desired`] (pure) → [`s3::observe`] → [`plan`]
//! (pure) → [`s3::apply`] (skipped under `--dry-run`) → the report.

pub mod desired;
pub mod plan;
pub mod policy;
pub mod s3;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{Deployment, DeploymentArgs, LogArgs, Run};
use serde_json::{Map, Value};

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
#[derive(Parser, Debug)]
#[command(name = "mk-buckets", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
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
    /// Report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove this client's buckets (only those tagged for it) and statement
    #[arg(long)]
    pub destroy: bool,
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
    let d = Deployment::from_args(&args.deployment, "mk-buckets")?;
    run.report.client = Some(d.client.to_string());
    let buckets = desired::buckets(&args, &d)?;
    let grades = desired::grades(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let s3 =
        common::client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(aws.s3_path_style()));

    let observed = s3::observe(&s3, &buckets, grades.as_ref(), args.destroy).await?;
    let plan = plan::plan(&d, &buckets, grades.as_ref(), &observed, args.destroy, args.force)?;
    for f in &plan.findings {
        run.report.findings.push(f.clone());
        tracing::info!("{}", f.message);
    }
    if !run.dry_run() {
        s3::apply(&s3, &aws.region, &plan, &mut run.report).await?;
    } else {
        for step in &plan.steps {
            run.report.change(step.change.clone());
        }
    }
    if !args.destroy {
        let names: Map<String, Value> =
            buckets.iter().map(|b| (b.role.key().to_owned(), Value::from(b.name.clone()))).collect();
        let log_bucket = buckets
            .iter()
            .find(|b| b.role == desired::BucketRole::EmrLogs)
            .or_else(|| buckets.iter().find(|b| b.role == desired::BucketRole::Emr))
            .map(|b| b.name.clone());
        run.report.output("buckets", names);
        if let Some(b) = log_bucket {
            run.report.output("emr_log_uri", format!("s3://{b}/logs"));
        }
        if let Some(g) = &grades {
            run.report.output("grades_policy", serde_json::json!({"bucket": g.bucket, "sid": g.sid}));
        }
    }
    Ok(())
}
