//! Sending one planned write (the loop is `common::plan::apply`): a file
//! into the secrets directory, or a credential file into the config bucket.

use anyhow::Context;
use aws_sdk_s3::Client;
use aws_sdk_s3::types::ServerSideEncryption;
use common::retry::eventually;
use common::{AwsResultExt, SecretsDir};

use crate::plan::{Op, object_uri};

/// Performs one [`Op`]; `s3` is there with `--upload`.
pub async fn apply_op(secrets: &SecretsDir, s3: Option<&Client>, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::WriteFile { name, contents } => secrets.write(name, contents.expose().as_bytes()).map(drop),
        Op::Upload { bucket, key, body, sha256 } => {
            let s3 = s3.context("an upload is planned only with --upload")?;
            eventually(|| {
                s3.put_object()
                    .bucket(bucket)
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
