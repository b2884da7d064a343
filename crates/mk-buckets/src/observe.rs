//! Reading what exists: who we are (STS), each bucket and the grades
//! bucket's policy (S3), the pending markers (secrets directory). Thin: the
//! decisions are in [`crate::plan`].
//!
//! Each bucket is first located with `HeadBucket` and `ExpectedBucketOwner`
//! (this account): a bucket in another region, or owned by another account,
//! is a clear error naming it before any mutating call (the plan makes it
//! one; on destroy it is left alone). It is a fact of the world, not a typo
//! (exit 1).

use anyhow::Context;
use aws_sdk_s3::Client;
use common::error::bad_input;
use common::{AwsResultExt, SecretsDir};
use futures::future::try_join_all;

use crate::desired::{BucketRole, BucketSpec, GradesStatement};
use crate::pending;
use crate::plan::{Observed, ObservedBucket};

/// Where the run is: the account that must own every bucket, the region
/// they must be in.
#[derive(Debug, Clone)]
pub struct Place {
    pub account: String,
    pub region: String,
}

/// This account's id: GetCallerIdentity.
pub async fn account_id(sts: &aws_sdk_sts::Client) -> anyhow::Result<String> {
    let me = sts.get_caller_identity().send().await.aws_context("reading the caller's identity (STS)")?;
    me.account().map(str::to_owned).context("STS GetCallerIdentity returned no account")
}

/// What the bucket is for, in an error about it, and the flag naming it.
fn purpose(role: Option<BucketRole>) -> String {
    let Some(r) = role else { return "edxapp's bucket, --grades-bucket".to_owned() };
    let what = match r {
        BucketRole::TrackingLogs => "tracking logs",
        BucketRole::Emr => "EMR",
        BucketRole::EmrLogs => "EMR logs",
        BucketRole::Edxanalytics => "configuration",
        BucketRole::Hadoop => "Hadoop data",
        BucketRole::Reports => "reports",
    };
    format!("{what} bucket, {}", r.flag())
}

fn other_region(bucket: &str, role: Option<BucketRole>, theirs: &str, ours: &str) -> anyhow::Error {
    let what = purpose(role);
    let fix = match role {
        Some(BucketRole::TrackingLogs) => format!(
            "the pipeline's EMR clusters read the tracking logs in {ours}: replicate them to a bucket in {ours} and name it with --tracking-logs-bucket, or deploy in {theirs} (--region {theirs})"
        ),
        Some(r) => format!(
            "S3 names are global: name another bucket with {}, or deploy in {theirs} (--region {theirs})",
            r.flag()
        ),
        None => format!("its policy is set from {ours}: deploy in {theirs} (--region {theirs})"),
    };
    anyhow::anyhow!("bucket {bucket} ({what}) is in region {theirs}, not {ours} where this deployment runs: {fix}")
}

fn other_account(bucket: &str, role: Option<BucketRole>, account: &str) -> anyhow::Error {
    let fix = match role {
        Some(r) => format!("name another bucket with {}", r.flag()),
        None => "give edxapp's bucket in this account".to_owned(),
    };
    anyhow::anyhow!(
        "bucket {bucket} ({}) belongs to another AWS account, not {account} (HeadBucket with ExpectedBucketOwner answered 403; S3 names are global): {fix} (if it is this account's, these credentials lack s3:ListBucket on it)",
        purpose(role)
    )
}

/// Where a bucket is, as HeadBucket with ExpectedBucketOwner answers.
#[derive(Debug)]
pub enum Location {
    Missing,
    /// In this account and region.
    Here,
    /// In another region or account: why it cannot be used, in one line.
    Elsewhere(String),
}

/// Locates `bucket`. S3 answers 301 (or 400) with `x-amz-bucket-region`
/// for a bucket in another region, 403 for one another account owns.
pub async fn locate(s3: &Client, place: &Place, bucket: &str, role: Option<BucketRole>) -> anyhow::Result<Location> {
    let elsewhere = |e: anyhow::Error| Ok(Location::Elsewhere(e.to_string()));
    let answer = s3.head_bucket().bucket(bucket).expected_bucket_owner(&place.account).send().await;
    let e = match answer {
        Ok(out) => {
            return match out.bucket_region() {
                Some(r) if r != place.region => elsewhere(other_region(bucket, role, r, &place.region)),
                _ => Ok(Location::Here),
            };
        }
        Err(e) => e,
    };
    let raw = e.raw_response();
    let theirs = raw.and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_owned);
    if let Some(r) = theirs.as_deref().filter(|r| *r != place.region) {
        return elsewhere(other_region(bucket, role, r, &place.region));
    }
    match raw.map(|r| r.status().as_u16()) {
        Some(404) => Ok(Location::Missing),
        Some(403) => elsewhere(other_account(bucket, role, &place.account)),
        Some(301) => elsewhere(other_region(bucket, role, "another region", &place.region)),
        _ => Err(e).aws_context(format!("checking bucket {bucket}")),
    }
}

async fn tags(s3: &Client, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let t =
        s3.get_bucket_tagging().bucket(name).send().await.none_if("NoSuchTagSet", format!("reading tags of {name}"))?;
    Ok(t.map(|t| t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()).unwrap_or_default())
}

async fn public_access_blocked(s3: &Client, name: &str) -> anyhow::Result<bool> {
    let p = s3
        .get_public_access_block()
        .bucket(name)
        .send()
        .await
        .none_if("NoSuchPublicAccessBlockConfiguration", format!("reading the public access block of {name}"))?;
    Ok(p.and_then(|p| p.public_access_block_configuration().cloned()).is_some_and(|c| {
        c.block_public_acls() == Some(true)
            && c.ignore_public_acls() == Some(true)
            && c.block_public_policy() == Some(true)
            && c.restrict_public_buckets() == Some(true)
    }))
}

async fn encrypted(s3: &Client, name: &str) -> anyhow::Result<bool> {
    let e = s3
        .get_bucket_encryption()
        .bucket(name)
        .send()
        .await
        .none_if("ServerSideEncryptionConfigurationNotFoundError", format!("reading the encryption of {name}"))?;
    Ok(e.and_then(|e| e.server_side_encryption_configuration().cloned())
        .is_some_and(|c| c.rules().iter().any(|r| r.apply_server_side_encryption_by_default().is_some())))
}

async fn empty(s3: &Client, name: &str) -> anyhow::Result<bool> {
    let v = s3
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
        .aws_context(format!("listing objects of {name}"))?;
    Ok(v.versions().is_empty() && v.delete_markers().is_empty())
}

async fn observe_bucket(
    s3: &Client,
    place: &Place,
    spec: &BucketSpec,
    pending: bool,
    destroy: bool,
) -> anyhow::Result<ObservedBucket> {
    let name = spec.name.as_str();
    match locate(s3, place, name, Some(spec.role)).await? {
        Location::Here => {}
        Location::Missing => return Ok(ObservedBucket { pending, ..Default::default() }),
        Location::Elsewhere(why) => return Ok(ObservedBucket { pending, elsewhere: Some(why), ..Default::default() }),
    }
    let (tags, public_access_blocked, encrypted, empty) =
        tokio::try_join!(tags(s3, name), public_access_blocked(s3, name), encrypted(s3, name), async {
            if destroy { empty(s3, name).await.map(Some) } else { Ok(None) }
        },)?;
    Ok(ObservedBucket { exists: true, tags, public_access_blocked, encrypted, empty, pending, elsewhere: None })
}

async fn observe_grades(s3: &Client, place: &Place, g: &GradesStatement) -> anyhow::Result<Option<serde_json::Value>> {
    match locate(s3, place, &g.bucket, None).await? {
        Location::Here => {}
        Location::Missing => {
            return Err(bad_input(format!(
                "--grades-bucket {:?} does not exist (it is edxapp's existing bucket)",
                g.bucket
            )));
        }
        Location::Elsewhere(why) => anyhow::bail!(why),
    }
    let p = s3
        .get_bucket_policy()
        .bucket(&g.bucket)
        .send()
        .await
        .none_if("NoSuchBucketPolicy", format!("reading the policy of {}", g.bucket))?;
    match p.and_then(|p| p.policy().map(str::to_owned)) {
        Some(text) => Ok(Some(
            serde_json::from_str(&text)
                .with_context(|| format!("the policy of bucket {} is not valid JSON", g.bucket))?,
        )),
        None => Ok(None),
    }
}

/// Reads every bucket (concurrently), its pending marker, and the grades
/// bucket's policy.
pub async fn observe(
    s3: &Client,
    place: &Place,
    secrets: &SecretsDir,
    client: &str,
    buckets: &[BucketSpec],
    grades: Option<&GradesStatement>,
    destroy: bool,
) -> anyhow::Result<Observed> {
    let pending: Vec<bool> =
        buckets.iter().map(|b| pending::is_pending(secrets, &b.name, client)).collect::<anyhow::Result<_>>()?;
    let (buckets, grades_policy) = tokio::try_join!(
        try_join_all(buckets.iter().zip(pending).map(|(b, p)| observe_bucket(s3, place, b, p, destroy))),
        async {
            match grades {
                Some(g) => observe_grades(s3, place, g).await,
                None => Ok(None),
            }
        }
    )?;
    Ok(Observed { buckets, grades_policy })
}
