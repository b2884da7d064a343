//! Reading and changing buckets on S3. Thin: the decisions are in `plan`.

use anyhow::Context;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use common::error::bad_input;
use common::retry::eventually;
use common::{AwsResultExt, aws_error_code};
use futures::future::try_join_all;

use crate::desired::{BucketSpec, GradesStatement};
use crate::plan::{BucketOp, Observed, ObservedBucket, Op};

/// Whether a bucket exists and is ours to use (HeadBucket: 404 none, 403
/// someone else's).
async fn exists(s3: &Client, bucket: &str) -> anyhow::Result<bool> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
            Some(404) => Ok(false),
            Some(403) => Err(bad_input(format!(
                "bucket {bucket:?} exists in another account (S3 names are global): choose another name"
            ))),
            _ => Err::<bool, _>(e).aws_context(format!("checking bucket {bucket}")),
        },
    }
}

async fn observe_bucket(s3: &Client, name: &str, destroy: bool) -> anyhow::Result<ObservedBucket> {
    if !exists(s3, name).await? {
        return Ok(ObservedBucket::default());
    }
    let (tags, pab, enc, empty) = tokio::try_join!(
        async {
            let t = s3
                .get_bucket_tagging()
                .bucket(name)
                .send()
                .await
                .none_if("NoSuchTagSet", format!("reading tags of {name}"))?;
            Ok::<_, anyhow::Error>(
                t.map(|t| t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect())
                    .unwrap_or_default(),
            )
        },
        async {
            let p = s3.get_public_access_block().bucket(name).send().await.none_if(
                "NoSuchPublicAccessBlockConfiguration",
                format!("reading the public access block of {name}"),
            )?;
            Ok(p.and_then(|p| p.public_access_block_configuration().cloned()).is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }))
        },
        async {
            let e = s3.get_bucket_encryption().bucket(name).send().await.none_if(
                "ServerSideEncryptionConfigurationNotFoundError",
                format!("reading the encryption of {name}"),
            )?;
            Ok(e.and_then(|e| e.server_side_encryption_configuration().cloned())
                .is_some_and(|c| c.rules().iter().any(|r| r.apply_server_side_encryption_by_default().is_some())))
        },
        async {
            if !destroy {
                return Ok(None);
            }
            let v = s3
                .list_object_versions()
                .bucket(name)
                .max_keys(1)
                .send()
                .await
                .aws_context(format!("listing objects of {name}"))?;
            Ok(Some(v.versions().is_empty() && v.delete_markers().is_empty()))
        },
    )?;
    Ok(ObservedBucket { exists: true, tags, public_access_blocked: pab, encrypted: enc, empty })
}

async fn observe_grades(s3: &Client, g: &GradesStatement) -> anyhow::Result<Option<serde_json::Value>> {
    if !exists(s3, &g.bucket).await? {
        return Err(bad_input(format!(
            "--grades-bucket {:?} does not exist (it is edxapp's existing bucket)",
            g.bucket
        )));
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

/// Reads every bucket (concurrently) and the grades bucket's policy.
pub async fn observe(
    s3: &Client,
    buckets: &[BucketSpec],
    grades: Option<&GradesStatement>,
    destroy: bool,
) -> anyhow::Result<Observed> {
    let (buckets, grades_policy) =
        tokio::try_join!(try_join_all(buckets.iter().map(|b| observe_bucket(s3, &b.name, destroy))), async {
            match grades {
                Some(g) => observe_grades(s3, g).await,
                None => Ok(None),
            }
        })?;
    Ok(Observed { buckets, grades_policy })
}

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
        Err(e) if aws_error_code(&e) == Some("BucketAlreadyExists") => Err(bad_input(format!(
            "bucket {bucket:?} is taken by another account (S3 names are global): choose another name"
        ))),
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

/// Sends one planned call.
pub async fn apply_op(s3: &Client, region: &str, op: &Op) -> anyhow::Result<()> {
    let bucket = op.bucket.as_str();
    match &op.call {
        BucketOp::Create => create(s3, region, bucket).await,
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
