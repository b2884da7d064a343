//! Sending one planned write (the loop is `common::plan::apply`): a file
//! into the secrets directory, or a credential file into the config bucket.

use anyhow::Context;
use aws_sdk_s3::types::ServerSideEncryption;
use common::retry::eventually;
use common::{AwsResultExt, SecretsDir};

use crate::observe::ConfigBucket;
use crate::plan::{Op, object_uri};

/// Performs one [`Op`]; `config` is there with `--upload`, checked.
pub async fn apply_op(secrets: &SecretsDir, config: Option<&ConfigBucket>, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::WriteFile { name, contents } => secrets.write(name, contents.expose().as_bytes()).map(drop),
        Op::Upload { bucket, key, body, sha256 } => {
            let config = config.context("an upload is planned only with --upload")?;
            anyhow::ensure!(*bucket == config.name, "an upload is planned only to the checked config bucket");
            eventually(|| {
                config
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .expected_bucket_owner(&config.owner)
                    .key(*key)
                    .body(body.expose().as_bytes().to_vec().into())
                    .server_side_encryption(ServerSideEncryption::Aes256)
                    .metadata("sha256", sha256)
                    .content_type("application/json")
                    .send()
            })
            .await
            .map(drop)
            .aws_context(format!("uploading {}", object_uri(bucket, key)))
        }
    }
}
