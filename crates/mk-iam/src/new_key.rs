//! Making a user's access key: at most once per try, and stored in the
//! secrets directory before anything else can fail.

use anyhow::Context;
use aws_sdk_iam::Client;
use common::retry::eventually;
use common::secrets::{AccessKeyFile, Secret};
use common::{AwsResultExt, SecretsDir};

use crate::iam::{NO_SUCH_ENTITY, done_if, no_retries};
use crate::keyfile;

/// The ids of the user's keys.
async fn key_ids(iam: &Client, user: &str) -> anyhow::Result<Vec<String>> {
    let out = eventually(|| iam.list_access_keys().user_name(user).send())
        .await
        .aws_context(format!("listing access keys of {user}"))?;
    Ok(out.access_key_metadata().iter().filter_map(|k| k.access_key_id().map(str::to_owned)).collect())
}

/// Deletes every key of the user not in `before`: keys this run made whose
/// answer (the secret) was lost.
async fn delete_unstored(iam: &Client, user: &str, before: &[String]) -> anyhow::Result<()> {
    for id in key_ids(iam, user).await?.into_iter().filter(|id| !before.contains(id)) {
        tracing::warn!("access key {id} of {user} was made but its answer (the secret) was lost: deleting it");
        let call = iam.delete_access_key().user_name(user).access_key_id(&id).send();
        done_if(call, NO_SUCH_ENTITY, format!("deleting access key {id} of {user} (its secret was lost)")).await?;
    }
    Ok(())
}

/// Makes a key, and stores it before anything else can fail; returns its
/// id. If storing fails, the key is deleted again: a key nobody holds the
/// secret of is exactly what the next run would have to warn about.
///
/// CreateAccessKey has nothing to deduplicate on, and its answer is the
/// only copy of the secret: it is sent once per try (SDK retries off,
/// [`common::once::at_most_once`]). The user's keys are listed first;
/// after a transient failure, a key that was not there then is one this
/// run made and whose secret was lost: it is deleted before the next try
/// (never a key that existed before, so never one whose secret the secrets
/// directory holds).
///
/// That list is also written down, as the user's pending marker, before
/// the first try, and the marker is removed once the secret is stored: if
/// this process is killed in between, the next run finds the marker and
/// deletes the key it made (see [`keyfile::PendingKey`]). After a failure
/// the marker is removed only once no key of this run is left.
pub async fn create_access_key(iam: &Client, secrets: &SecretsDir, user: &str) -> anyhow::Result<String> {
    let before = key_ids(iam, user).await?;
    keyfile::mark_pending(secrets, user, &before)?;
    let once = no_retries();
    let made = common::once::at_most_once(
        &format!("creating an access key for {user}"),
        || eventually(|| iam.create_access_key().user_name(user).customize().config_override(once.clone()).send()),
        || async { delete_unstored(iam, user, &before).await.map(|()| None) },
    )
    .await;
    let out = match made {
        Ok(out) => out,
        Err(e) => {
            // When it cannot be made sure that no key of this run is left,
            // the marker stays, for the next run to finish the job. (A
            // marker that stays needlessly only costs that run a look.)
            if delete_unstored(iam, user, &before).await.is_ok() {
                let _ = keyfile::clear_pending(secrets, user);
            }
            return Err(e);
        }
    };
    let key = out.access_key().with_context(|| format!("CreateAccessKey for {user} returned no key"))?;
    let file = AccessKeyFile {
        user: user.to_owned(),
        access_key_id: key.access_key_id().to_owned(),
        secret_access_key: Secret::new(key.secret_access_key()),
    };
    store_or_undo(iam, secrets, file).await
}

/// Stores the new key; if that fails, deletes the key again.
async fn store_or_undo(iam: &Client, secrets: &SecretsDir, file: AccessKeyFile) -> anyhow::Result<String> {
    let user = file.user.as_str();
    match keyfile::store(secrets, &file) {
        Ok(_) => {
            keyfile::clear_pending(secrets, user)?;
            Ok(file.access_key_id)
        }
        Err(e) => {
            let id = &file.access_key_id;
            let call = iam.delete_access_key().user_name(user).access_key_id(id).send();
            let undone = match done_if(call, NO_SUCH_ENTITY, String::new()).await {
                Ok(()) => {
                    let _ = keyfile::clear_pending(secrets, user);
                    "the key was deleted again"
                }
                Err(_) => "deleting the key failed too; the next run deletes it",
            };
            Err(e.context(format!("storing the new access key {id} of {user} ({undone})")))
        }
    }
}
