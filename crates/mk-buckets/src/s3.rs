//! Changing buckets on S3, one planned call at a time (the loop is
//! `common::plan::apply`). Thin: the decisions are in [`crate::plan`]; the
//! reads are in [`crate::observe`].

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use common::retry::eventually;
use common::{AwsResultExt, SecretsDir, aws_error_code};

use crate::pending;
use crate::plan::{BucketOp, Op};

async fn create(s3: &Client, region: &str, bucket: &str) -> anyhow::Result<()> {
    let mut req = s3.create_bucket().bucket(bucket);
    // us-east-1 takes no location constraint; every other region needs one.
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        // Made by a concurrent or interrupted run of ours: carry on.
        Err(e) if aws_error_code(&e) == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) if aws_error_code(&e) == Some("BucketAlreadyExists") => Err(anyhow::anyhow!(
            "bucket {bucket} is taken by another AWS account (S3 names are global): name another bucket"
        )),
        Err(e) => Err(e).aws_context(format!("creating bucket {bucket}")),
    }
}

async fn tag(s3: &Client, bucket: &str, tags: &[(String, String)]) -> anyhow::Result<()> {
    let tag_set = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<Vec<_>, _>>()?;
    let tagging = Tagging::builder().set_tag_set(Some(tag_set)).build()?;
    eventually(|| s3.put_bucket_tagging().bucket(bucket).tagging(tagging.clone()).send())
        .await
        .aws_context(format!("tagging bucket {bucket}"))?;
    Ok(())
}

async fn block_public_access(s3: &Client, bucket: &str) -> anyhow::Result<()> {
    let all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    eventually(|| s3.put_public_access_block().bucket(bucket).public_access_block_configuration(all.clone()).send())
        .await
        .aws_context(format!("blocking public access to {bucket}"))?;
    Ok(())
}

async fn encrypt(s3: &Client, bucket: &str) -> anyhow::Result<()> {
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?,
        )
        .bucket_key_enabled(true)
        .build();
    let config = ServerSideEncryptionConfiguration::builder().rules(rule).build()?;
    eventually(|| {
        s3.put_bucket_encryption().bucket(bucket).server_side_encryption_configuration(config.clone()).send()
    })
    .await
    .aws_context(format!("setting default encryption on {bucket}"))?;
    Ok(())
}

/// Deletes every object version and delete marker, a page at a time.
async fn delete_objects(s3: &Client, bucket: &str) -> anyhow::Result<()> {
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .send()
            .await
            .aws_context(format!("listing objects of {bucket}"))?;
        let ids = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
            .filter_map(|(k, v)| {
                k.map(|k| ObjectIdentifier::builder().key(k).set_version_id(v.map(str::to_owned)).build())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Ok(());
        }
        s3.delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(ids)).quiet(true).build()?)
            .send()
            .await
            .aws_context(format!("deleting objects of {bucket}"))?;
    }
}

/// Where the calls go and the markers are kept.
pub struct Target<'a> {
    pub s3: &'a Client,
    pub region: &'a str,
    pub secrets: &'a SecretsDir,
    pub client: &'a str,
}

/// Sends one planned call.
pub async fn apply_op(t: &Target<'_>, op: &Op) -> anyhow::Result<()> {
    let (s3, bucket) = (t.s3, op.bucket.as_str());
    match &op.call {
        BucketOp::Create => {
            pending::mark(t.secrets, bucket, t.client)?;
            create(s3, t.region, bucket).await
        }
        BucketOp::ClearPending => pending::clear(t.secrets, bucket),
        BucketOp::Tag(tags) => tag(s3, bucket, tags).await,
        BucketOp::BlockPublicAccess => block_public_access(s3, bucket).await,
        BucketOp::Encrypt => encrypt(s3, bucket).await,
        BucketOp::DeleteObjects => delete_objects(s3, bucket).await,
        BucketOp::DeleteBucket => {
            s3.delete_bucket().bucket(bucket).send().await.map(|_| ()).aws_context(format!("deleting bucket {bucket}"))
        }
        BucketOp::PutPolicy(doc) => eventually(|| s3.put_bucket_policy().bucket(bucket).policy(doc.to_string()).send())
            .await
            .map(|_| ())
            .aws_context(format!("putting the policy of {bucket}")),
        BucketOp::DeletePolicy => s3
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .map(|_| ())
            .aws_context(format!("deleting the policy of {bucket}")),
    }
}
