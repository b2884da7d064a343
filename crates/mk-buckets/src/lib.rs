//! mk-buckets: the deployment's S3 buckets (SPEC section 5) and the
//! grades-download statement on the edxapp bucket.
//!
//! Follows the house path: [`desired`] (pure) → [`s3::observe`] → [`plan`]
//! (pure) → [`common::plan::apply`] with [`s3::apply_op`] (nothing sent
//! under `--dry-run`) → the report.

pub mod args;
pub mod desired;
pub mod plan;
pub mod policy;
pub mod s3;

pub use args::Args;
use common::Run;
use serde_json::{Map, Value};

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let buckets = desired::buckets(&args, &d)?;
    let grades = desired::grades(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let s3 =
        common::client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(aws.s3_path_style()));

    let observed = s3::observe(&s3, &buckets, grades.as_ref(), args.destroy()).await?;
    let plan = plan::plan(&d, &buckets, grades.as_ref(), &observed, args.destroy(), args.force)?;
    common::plan::apply(run, &plan, async |op: &plan::Op| s3::apply_op(&s3, &aws.region, op).await.map(|()| None))
        .await?;
    if !args.destroy() {
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
