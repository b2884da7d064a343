//! mk-buckets: the deployment's S3 buckets (SPEC section 5) and the
//! grades-download statement on the edxapp bucket.
//!
//! Follows the house path: [`desired`] (pure) → [`observe::observe`] →
//! [`plan`] (pure) → [`common::plan::apply`] with [`s3::apply_op`] (nothing
//! sent under `--dry-run`) → the report. ARNs are built in the region's
//! partition; a bucket in another region or account stops the run before
//! any change; a bucket our own interrupted create left is recognised by
//! its [`pending`] marker.

pub mod args;
pub mod desired;
pub mod observe;
pub mod pending;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod policy;
pub mod s3;

pub use args::Args;
use common::Run;
use serde_json::{Map, Value};

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let buckets = desired::buckets(&args, &d)?;
    let grades = desired::grades(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let aws = args.aws.load(&run.calls).await?;
    let partition = aws.partition();
    if let Some(g) = &grades {
        desired::check_partition(g, partition, &aws.region)?;
    }
    run.report.region = Some(aws.region.clone());
    let s3 =
        common::client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(aws.s3_path_style()));
    let sts = common::client!(aws_sdk_sts, &aws);

    let place = observe::Place { account: observe::account_id(&sts).await?, region: aws.region.clone() };
    let client = d.client.as_str();
    let observed = observe::observe(&s3, &place, &secrets, client, &buckets, grades.as_ref(), args.destroy()).await?;
    let plan = plan::plan(&d, partition, &buckets, grades.as_ref(), &observed, args.destroy(), args.force)?;
    let target = s3::Target { s3: &s3, region: &aws.region, secrets: &secrets, client };
    common::plan::apply(run, &plan, async |op: &plan::Op| s3::apply_op(&target, op).await.map(|()| None)).await?;
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
