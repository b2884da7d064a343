//! What every IAM call of mk-iam shares: the answers that mean "none" or
//! "already so", tags in IAM's shape, and the per-call override that turns
//! the SDK's retries off (for the calls sent at most once).

use std::future::Future;

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::Tag;
use common::AwsResultExt;

use crate::observed::Tags;

pub const NO_SUCH_ENTITY: &str = "NoSuchEntity";
pub const ALREADY_EXISTS: &str = "EntityAlreadyExists";

/// Awaits a call whose "not there" answer is `NoSuchEntity`, as `None`.
pub async fn or_none<T, E, R>(
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
    what: String,
) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    call.await.none_if(NO_SUCH_ENTITY, what)
}

/// Awaits a call that may answer `code` when what it asks is already so
/// (made by a concurrent run, or gone already): that counts as done.
pub async fn done_if<T, E, R>(
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
    code: &str,
    what: String,
) -> anyhow::Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    call.await.none_if(code, what).map(drop)
}

pub fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

pub fn iam_tags(tags: &Tags) -> anyhow::Result<Option<Vec<Tag>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    let tags = tags.iter().map(|t| Tag::builder().key(&t.0).value(&t.1).build()).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(tags))
}

/// The override for a call sent once per try ([`common::once`]).
pub fn no_retries() -> aws_sdk_iam::config::Builder {
    aws_sdk_iam::config::Config::builder().retry_config(common::once::no_retries())
}
