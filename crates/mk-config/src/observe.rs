//! What exists of mk-config's outputs: the files in the secrets directory
//! (the four it writes, the credential files mk-rds-users left) and, with
//! `--upload`, the config bucket (checked to be this deployment's before
//! anything is sent to it) and the credential objects in it.

use anyhow::Context;
use aws_sdk_s3::Client;
use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};
use common::secrets::Secret;
use common::{AwsResultExt, SecretsDir, aws_error_code};

use crate::desired::{CREDS, Rendered};

/// The tool that makes the config bucket and tags it for the deployment.
pub const BUCKET_TOOL: &str = "mk-buckets";

/// The config bucket, and the account that must own it (every call on it
/// says so with ExpectedBucketOwner).
#[derive(Debug, Clone)]
pub struct ConfigBucket {
    pub s3: Client,
    pub name: String,
    pub owner: String,
}

/// This account's id: GetCallerIdentity (never a document's, which could
/// be edited).
pub async fn account_id(sts: &aws_sdk_sts::Client) -> anyhow::Result<String> {
    let me = sts.get_caller_identity().send().await.aws_context("reading the caller's identity (STS)")?;
    me.account().map(str::to_owned).context("STS GetCallerIdentity returned no account")
}

/// Why a bucket with these tags is not `client`'s config bucket, if it is
/// not: it must carry `analytics:client=<client>` and
/// `analytics:managed-by=mk-buckets`.
pub fn not_ours(bucket: &str, client: &str, tags: &[(String, String)]) -> Option<String> {
    let has = |k: &str, v: &str| tags.iter().any(|(tk, tv)| tk == k && tv == v);
    if has(TAG_CLIENT, client) && has(TAG_MANAGED_BY, BUCKET_TOOL) {
        return None;
    }
    let mut found: Vec<String> =
        tags.iter().filter(|(k, _)| k.starts_with("analytics:")).map(|(k, v)| format!("{k}={v}")).collect();
    if found.is_empty() {
        found.push("no analytics: tag".to_owned());
    }
    Some(format!(
        "refusing to upload credentials to bucket {bucket}: it is not tagged {TAG_CLIENT}={client} and {TAG_MANAGED_BY}={BUCKET_TOOL} ({}), so it is not this deployment's config bucket; check the mk-buckets document (outputs.buckets.edxanalytics) and re-run mk-buckets",
        found.join(", ")
    ))
}

/// Checks, before any upload, that the bucket is in this account and tagged
/// for `client` by mk-buckets (a document naming another bucket must not
/// get the credentials).
pub async fn check_config_bucket(b: &ConfigBucket, client: &str) -> anyhow::Result<()> {
    let answer = b.s3.get_bucket_tagging().bucket(&b.name).expected_bucket_owner(&b.owner).send().await;
    let tags: Vec<(String, String)> = match answer {
        Ok(t) => t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        Err(e) if aws_error_code(&e) == Some("NoSuchTagSet") => Vec::new(),
        Err(e) if aws_error_code(&e) == Some("NoSuchBucket") => {
            anyhow::bail!("the config bucket {} does not exist: run mk-buckets first", b.name)
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => anyhow::bail!(
            "refusing to upload credentials to bucket {}: it belongs to another AWS account than {} (ExpectedBucketOwner answered 403), so it is not this deployment's config bucket; check the mk-buckets document",
            b.name,
            b.owner
        ),
        Err(e) => return Err(e).aws_context(format!("reading the tags of bucket {}", b.name)),
    };
    match not_ours(&b.name, client, &tags) {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// A credential object in the config bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Missing,
    /// With the SHA-256 of its content, as mk-config recorded it (none:
    /// put there by someone else).
    Present {
        sha256: Option<String>,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Per rendered file (same order), what the secrets directory holds.
    pub files: Vec<Option<Secret>>,
    /// The credential files there are, in [`CREDS`] order: (key under
    /// `outputs.files`, name, content).
    pub creds: Vec<(&'static str, &'static str, Secret)>,
    /// With `--upload`, per credential file (same order), its object.
    pub objects: Option<Vec<Object>>,
}

/// Reads the files of the secrets directory.
pub fn observe_files(secrets: &SecretsDir, rendered: &[Rendered]) -> anyhow::Result<Observed> {
    let files = rendered.iter().map(|r| Ok(secrets.read(r.name)?.map(Secret::new))).collect::<anyhow::Result<_>>()?;
    let mut creds = Vec::new();
    for (key, name) in CREDS {
        if let Some(text) = secrets.read(name)? {
            creds.push((key, name, Secret::new(text)));
        }
    }
    Ok(Observed { files, creds, objects: None })
}

/// The object `s3://{bucket}/{key}` and the digest it was put with.
async fn object(b: &ConfigBucket, key: &str) -> anyhow::Result<Object> {
    let bucket = &b.name;
    match b.s3.head_object().bucket(bucket).key(key).expected_bucket_owner(&b.owner).send().await {
        Ok(h) => Ok(Object::Present { sha256: h.metadata().and_then(|m| m.get("sha256")).cloned() }),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(Object::Missing),
        Err(e) => Err(e).aws_context(format!("checking s3://{bucket}/{key}")),
    }
}

/// Reads the object of each credential file, one after the other.
pub async fn observe_objects(b: &ConfigBucket, observed: &mut Observed) -> anyhow::Result<()> {
    let mut objects = Vec::new();
    for (_, name, _) in &observed.creds {
        objects.push(object(b, name).await?);
    }
    observed.objects = Some(objects);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn only_the_deployments_bucket_by_mk_buckets_is_ours() {
        let ours = tags(&[("analytics:client", "acme"), ("analytics:managed-by", "mk-buckets"), ("team", "x")]);
        assert_eq!(not_ours("acme-edxanalytics", "acme", &ours), None);
        let other = tags(&[("analytics:client", "evil"), ("analytics:managed-by", "mk-buckets")]);
        let why = not_ours("evil-edxanalytics", "acme", &other).unwrap();
        assert!(why.contains("evil-edxanalytics") && why.contains("analytics:client=evil"), "{why}");
        let by_hand = tags(&[("analytics:client", "acme")]);
        assert!(not_ours("acme-edxanalytics", "acme", &by_hand).is_some(), "managed-by is needed too");
        let why = not_ours("x", "acme", &[]).unwrap();
        assert!(why.contains("no analytics: tag") && why.contains("analytics:client=acme"), "{why}");
    }
}
