//! What exists of mk-config's outputs: the files in the secrets directory
//! (the four it writes, the credential files mk-rds-users left) and, with
//! `--upload`, the credential objects in the config bucket.

use aws_sdk_s3::Client;
use common::AwsResultExt;
use common::SecretsDir;
use common::secrets::Secret;

use crate::desired::{CREDS, Rendered};

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
async fn object(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Object> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(h) => Ok(Object::Present { sha256: h.metadata().and_then(|m| m.get("sha256")).cloned() }),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(Object::Missing),
        Err(e) => Err(e).aws_context(format!("checking s3://{bucket}/{key}")),
    }
}

/// Reads the object of each credential file, one after the other.
pub async fn observe_objects(s3: &Client, bucket: &str, observed: &mut Observed) -> anyhow::Result<()> {
    let mut objects = Vec::new();
    for (_, name, _) in &observed.creds {
        objects.push(object(s3, bucket, name).await?);
    }
    observed.objects = Some(objects);
    Ok(())
}
