//! Reading and changing IAM. Thin: the decisions are in `plan`.
//!
//! Reads run concurrently; each resource is read with the fewest calls
//! that show everything `plan` compares (the Get calls return tags too).
//! The lists read here (attached policies, keys, versions, inline
//! policies) are bounded by IAM quotas well under one page.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_iam::Client;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{StatusType, Tag};
use common::{AwsResultExt, Report, SecretsDir, aws_error_code};
use futures::future::{join_all, try_join_all};
use serde_json::Value;

use crate::desired::{AccountInfo, Desired, Names, UserKind};
use crate::keys::{self, AwsKey, StoredKey};
use crate::plan::{Observed, ObservedPolicy, ObservedProfile, ObservedRole, ObservedUser, Op, Plan, Step, Tags};
use crate::policy;

const NO_SUCH_ENTITY: &str = "NoSuchEntity";
const ALREADY_EXISTS: &str = "EntityAlreadyExists";

/// Awaits a call whose "not there" answer is `NoSuchEntity`, as `None`.
async fn or_none<T, E, R>(
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
async fn done_if<T, E, R>(
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

/// IAM is eventually consistent: a role, profile or user made a moment
/// ago may still be `NoSuchEntity` to the next call. Retries a few times
/// with a short backoff (0.25 s doubling, about 8 s in all).
async fn retry_fresh<T, E, R, F, Fut>(what: &str, mut call: F) -> Result<T, SdkError<E, R>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata,
{
    let mut delay = Duration::from_millis(250);
    for _ in 0..5 {
        match call().await {
            Err(e) if aws_error_code(&e) == Some(NO_SUCH_ENTITY) => {
                tracing::debug!("{what}: not visible yet, retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            other => return other,
        }
    }
    call().await
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()
}

fn iam_tags(tags: &Tags) -> anyhow::Result<Option<Vec<Tag>>> {
    if tags.is_empty() {
        return Ok(None);
    }
    let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(tags))
}

/// Who we are: GetCallerIdentity.
pub async fn account(sts: &aws_sdk_sts::Client) -> anyhow::Result<AccountInfo> {
    let me = sts.get_caller_identity().send().await.aws_context("reading the caller's identity (STS)")?;
    let id = me.account().context("STS GetCallerIdentity returned no account")?;
    Ok(AccountInfo::new(id, me.arn().unwrap_or_default()))
}

async fn observe_policy(iam: &Client, arn: &str, destroy: bool) -> anyhow::Result<Option<ObservedPolicy>> {
    let Some(got) = or_none(iam.get_policy().policy_arn(arn).send(), format!("reading policy {arn}")).await? else {
        return Ok(None);
    };
    let p = got.policy().with_context(|| format!("GetPolicy {arn} returned no policy"))?;
    let mut o = ObservedPolicy { tags: tags_of(p.tags()), ..Default::default() };
    if destroy {
        let v = iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .aws_context(format!("listing versions of {arn}"))?;
        o.other_versions = v
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| v.version_id().map(str::to_owned))
            .collect();
    } else {
        let version = p.default_version_id().with_context(|| format!("policy {arn} has no default version"))?;
        let v = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .aws_context(format!("reading policy {arn} version {version}"))?;
        let text = v.policy_version().and_then(|v| v.document()).unwrap_or_default();
        o.document = Some(policy::parse_returned(text).with_context(|| format!("reading policy {arn}"))?);
    }
    Ok(Some(o))
}

async fn attached_role_policies(iam: &Client, role: &str) -> anyhow::Result<Vec<String>> {
    let got = or_none(
        iam.list_attached_role_policies().role_name(role).send(),
        format!("listing policies attached to role {role}"),
    )
    .await?;
    Ok(got
        .map(|g| g.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect())
        .unwrap_or_default())
}

async fn observe_role(iam: &Client, name: &str, destroy: bool) -> anyhow::Result<Option<ObservedRole>> {
    let (role, attached, inline) = tokio::try_join!(
        or_none(iam.get_role().role_name(name).send(), format!("reading role {name}")),
        attached_role_policies(iam, name),
        async {
            if !destroy {
                return Ok(None);
            }
            or_none(iam.list_role_policies().role_name(name).send(), format!("listing inline policies of role {name}"))
                .await
        },
    )?;
    let Some(role) = role.as_ref().and_then(|r| r.role()) else { return Ok(None) };
    let trust = match role.assume_role_policy_document() {
        Some(text) => {
            policy::parse_returned(text).with_context(|| format!("reading the trust policy of role {name}"))?
        }
        None => Value::Null,
    };
    Ok(Some(ObservedRole {
        arn: role.arn().to_owned(),
        tags: tags_of(role.tags()),
        trust,
        attached,
        inline: inline.map(|i| i.policy_names().to_vec()).unwrap_or_default(),
    }))
}

async fn observe_profile(iam: &Client, name: &str) -> anyhow::Result<Option<ObservedProfile>> {
    let got = or_none(
        iam.get_instance_profile().instance_profile_name(name).send(),
        format!("reading instance profile {name}"),
    )
    .await?;
    Ok(got.and_then(|g| {
        g.instance_profile().map(|p| ObservedProfile {
            arn: p.arn().to_owned(),
            tags: tags_of(p.tags()),
            roles: p.roles().iter().map(|r| r.role_name().to_owned()).collect(),
        })
    }))
}

async fn observe_user(
    iam: &Client,
    name: &str,
    kind: UserKind,
    names: &Names,
    destroy: bool,
) -> anyhow::Result<Option<ObservedUser>> {
    let inline_wanted = !destroy && kind == UserKind::Reports && names.reports_bucket.is_some();
    let policy_name = &names.reports_policy;
    let (user, keys, inline, inline_names, attached) = tokio::try_join!(
        or_none(iam.get_user().user_name(name).send(), format!("reading user {name}")),
        or_none(iam.list_access_keys().user_name(name).send(), format!("listing access keys of {name}")),
        async {
            if !inline_wanted {
                return Ok(None);
            }
            or_none(
                iam.get_user_policy().user_name(name).policy_name(policy_name).send(),
                format!("reading policy {policy_name} of user {name}"),
            )
            .await
        },
        async {
            if !destroy {
                return Ok(None);
            }
            or_none(iam.list_user_policies().user_name(name).send(), format!("listing inline policies of {name}")).await
        },
        async {
            if !destroy {
                return Ok(None);
            }
            or_none(
                iam.list_attached_user_policies().user_name(name).send(),
                format!("listing policies attached to {name}"),
            )
            .await
        },
    )?;
    let Some(user) = user.as_ref().and_then(|u| u.user()) else { return Ok(None) };
    let keys = keys
        .map(|k| {
            k.access_key_metadata()
                .iter()
                .filter_map(|m| {
                    Some(AwsKey {
                        id: m.access_key_id()?.to_owned(),
                        active: m.status() == Some(&StatusType::Active),
                        created: m.create_date().map_or(0, aws_sdk_sts::primitives::DateTime::secs),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let inline = match inline {
        Some(p) => Some(
            policy::parse_returned(p.policy_document())
                .with_context(|| format!("reading policy {policy_name} of user {name}"))?,
        ),
        None => None,
    };
    Ok(Some(ObservedUser {
        arn: user.arn().to_owned(),
        tags: tags_of(user.tags()),
        keys,
        inline,
        inline_names: inline_names.map(|i| i.policy_names().to_vec()).unwrap_or_default(),
        attached: attached
            .map(|a| a.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_owned)).collect())
            .unwrap_or_default(),
    }))
}

/// Reads the account and every resource, concurrently. The policies are
/// found by ARN, so they wait for the account id; the rest do not.
/// On destroy the shared roles are not read, except which policies
/// EMR's nodes' role has (ours is detached from it).
pub async fn observe(
    iam: &Client,
    sts: &aws_sdk_sts::Client,
    names: &Names,
    stored_keys: Vec<Option<String>>,
    pending_keys: Vec<Option<Vec<String>>>,
    destroy: bool,
) -> anyhow::Result<(Desired, Observed)> {
    let [client_role, emr_role, emr_ec2_role] = names.roles();
    let ((desired, policies), roles, profiles, users) = tokio::try_join!(
        async {
            let desired = Desired::new(names, &account(sts).await?);
            let policies = try_join_all(desired.policies.iter().map(|p| observe_policy(iam, &p.arn, destroy))).await?;
            Ok::<_, anyhow::Error>((desired, policies))
        },
        async {
            if !destroy {
                return try_join_all([client_role, emr_role, emr_ec2_role].map(|r| observe_role(iam, r, false))).await;
            }
            let (client, emr_ec2_attached) =
                tokio::try_join!(observe_role(iam, client_role, true), attached_role_policies(iam, emr_ec2_role))?;
            let emr_ec2 = ObservedRole { attached: emr_ec2_attached, ..Default::default() };
            Ok(vec![client, None, Some(emr_ec2)])
        },
        async {
            let profiles = names.profiles();
            let wanted = if destroy { &profiles[..1] } else { &profiles[..] };
            let mut got = try_join_all(wanted.iter().map(|p| observe_profile(iam, p))).await?;
            got.resize(profiles.len(), None);
            Ok(got)
        },
        try_join_all(names.users.iter().map(|(kind, name)| observe_user(iam, name, *kind, names, destroy))),
    )?;
    Ok((desired, Observed { policies, roles, profiles, users, stored_keys, pending_keys }))
}

/// Keys created by this run: user → (key id, file).
#[derive(Debug, Default)]
pub struct Applied {
    pub created_keys: BTreeMap<String, (String, PathBuf)>,
}

/// Sets a new default version, making room first: IAM keeps at most five
/// versions of a policy.
async fn set_policy_document(iam: &Client, arn: &str, document: &Value) -> anyhow::Result<()> {
    let listed =
        iam.list_policy_versions().policy_arn(arn).send().await.aws_context(format!("listing versions of {arn}"))?;
    if listed.versions().len() >= 5 {
        let oldest = listed
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .min_by_key(|v| v.create_date().map_or(0, aws_sdk_sts::primitives::DateTime::secs))
            .and_then(|v| v.version_id());
        if let Some(version) = oldest {
            done_if(
                iam.delete_policy_version().policy_arn(arn).version_id(version).send(),
                NO_SUCH_ENTITY,
                format!("deleting version {version} of {arn}"),
            )
            .await?;
        }
    }
    // Sent again after a lost answer, CreatePolicyVersion would make a
    // second version (and fail at the five-version quota): at most once,
    // and a try whose answer was lost counts as done when the default
    // version holds the document.
    let no_retries = aws_sdk_iam::config::Config::builder().retry_config(common::once::no_retries());
    common::once::at_most_once(
        &format!("setting a new version of {arn}"),
        || async {
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(document.to_string())
                .set_as_default(true)
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await
                .map(drop)
        },
        || async {
            let now = observe_policy(iam, arn, false).await?.and_then(|p| p.document);
            Ok(now.is_some_and(|now| policy::same(&now, document)).then_some(()))
        },
    )
    .await
}

/// Makes a key, and stores it before anything else can fail. If storing
/// fails, the key is deleted again: a key nobody holds the secret of is
/// exactly what the next run would have to warn about.
///
/// CreateAccessKey has nothing to deduplicate on, and its answer is the
/// only copy of the secret: it is sent once per try (SDK retries off). The
/// user's keys are listed first; after a transient failure, a key that was
/// not there then is one this run made and whose secret was lost: it is
/// deleted before the next try (never a key that existed before, so never
/// one whose secret the secrets directory holds).
///
/// That list is also written down, as the user's pending marker, before
/// the first try, and the marker is removed once the secret is stored: if
/// this process is killed in between, the next run finds the marker and
/// deletes the key it made (see [`keys::PendingKey`]). After a failure the
/// marker is removed only once no key of this run is left.
async fn create_access_key(iam: &Client, secrets: &SecretsDir, user: &str) -> anyhow::Result<(String, PathBuf)> {
    let list = || async {
        let what = format!("listing access keys of {user}");
        let out = retry_fresh(&what, || iam.list_access_keys().user_name(user).send()).await.aws_context(what)?;
        Ok::<Vec<String>, anyhow::Error>(
            out.access_key_metadata().iter().filter_map(|k| k.access_key_id().map(str::to_owned)).collect(),
        )
    };
    let before = list().await?;
    keys::mark_pending(secrets, user, &before)?;
    let delete_unstored = || async {
        for id in list().await?.into_iter().filter(|id| !before.contains(id)) {
            tracing::warn!("access key {id} of {user} was made but its answer (the secret) was lost: deleting it");
            let call = iam.delete_access_key().user_name(user).access_key_id(&id).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting access key {id} of {user} (its secret was lost)")).await?;
        }
        Ok::<(), anyhow::Error>(())
    };
    let no_retries = aws_sdk_iam::config::Config::builder().retry_config(common::once::no_retries());
    let made = common::once::at_most_once(
        &format!("creating an access key for {user}"),
        || {
            retry_fresh(user, || {
                iam.create_access_key().user_name(user).customize().config_override(no_retries.clone()).send()
            })
        },
        || async { delete_unstored().await.map(|()| None) },
    )
    .await;
    let out = match made {
        Ok(out) => out,
        Err(e) => {
            // When it cannot be made sure that no key of this run is left,
            // the marker stays, for the next run to finish the job. (A
            // marker that stays needlessly only costs that run a look.)
            if delete_unstored().await.is_ok() {
                let _ = keys::clear_pending(secrets, user);
            }
            return Err(e);
        }
    };
    let key = out.access_key().with_context(|| format!("CreateAccessKey for {user} returned no key"))?;
    let stored = StoredKey {
        user: user.to_owned(),
        access_key_id: key.access_key_id().to_owned(),
        secret_access_key: key.secret_access_key().to_owned(),
    };
    match keys::store(secrets, &stored) {
        Ok(path) => {
            keys::clear_pending(secrets, user)?;
            Ok((stored.access_key_id, path))
        }
        Err(e) => {
            let id = &stored.access_key_id;
            let call = iam.delete_access_key().user_name(user).access_key_id(id).send();
            let undone = match done_if(call, NO_SUCH_ENTITY, String::new()).await {
                Ok(()) => {
                    let _ = keys::clear_pending(secrets, user);
                    "the key was deleted again"
                }
                Err(_) => "deleting the key failed too; the next run deletes it",
            };
            Err(e.context(format!("storing the new access key {id} of {user} ({undone})")))
        }
    }
}

/// Adds a role to a profile. A profile holds one role: `LimitExceeded`
/// means a concurrent run put one in already, which is fine if it is ours.
async fn add_role_to_profile(iam: &Client, profile: &str, role: &str) -> anyhow::Result<()> {
    let what = format!("adding role {role} to instance profile {profile}");
    match retry_fresh(&what, || {
        iam.add_role_to_instance_profile().instance_profile_name(profile).role_name(role).send()
    })
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if aws_error_code(&e) == Some("LimitExceeded") => {
            let holds = observe_profile(iam, profile).await?.is_some_and(|p| p.roles.iter().any(|r| r == role));
            if holds { Ok(()) } else { Err(e).aws_context(what) }
        }
        Err(e) => Err(e).aws_context(what),
    }
}

/// Takes a role out of a profile. Sent again after a lost answer, the call
/// finds the role gone (`NoSuchEntity` on AWS, a 500 on the emulator): it
/// is sent at most once per try, and a try whose answer was lost counts as
/// done when the profile no longer holds the role.
async fn remove_role_from_profile(iam: &Client, profile: &str, role: &str) -> anyhow::Result<()> {
    let no_retries = aws_sdk_iam::config::Config::builder().retry_config(common::once::no_retries());
    common::once::at_most_once(
        &format!("removing role {role} from instance profile {profile}"),
        || async {
            let call = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(role)
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            match call {
                Err(e) if aws_error_code(&e) == Some(NO_SUCH_ENTITY) => Ok(()),
                other => other.map(drop),
            }
        },
        || async {
            let holds = observe_profile(iam, profile).await?.is_some_and(|p| p.roles.iter().any(|r| r == role));
            Ok((!holds).then_some(()))
        },
    )
    .await
}

/// Performs one call; returns the id and file of a key it created.
async fn apply_op(iam: &Client, secrets: &SecretsDir, op: &Op) -> anyhow::Result<Option<(String, PathBuf)>> {
    match op {
        Op::CreatePolicy { name, document, tags } => {
            let call = iam
                .create_policy()
                .policy_name(name)
                .policy_document(document.to_string())
                .set_tags(iam_tags(tags)?)
                .send();
            done_if(call, ALREADY_EXISTS, format!("creating policy {name}")).await?;
        }
        Op::TagPolicy { arn, tags } => {
            iam.tag_policy()
                .policy_arn(arn)
                .set_tags(iam_tags(tags)?)
                .send()
                .await
                .aws_context(format!("tagging {arn}"))?;
        }
        Op::SetPolicyDocument { arn, document } => set_policy_document(iam, arn, document).await?,
        Op::DeletePolicyVersion { arn, version } => {
            let call = iam.delete_policy_version().policy_arn(arn).version_id(version).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting version {version} of {arn}")).await?;
        }
        Op::DeletePolicy { arn } => {
            done_if(iam.delete_policy().policy_arn(arn).send(), NO_SUCH_ENTITY, format!("deleting policy {arn}"))
                .await?;
        }
        Op::CreateRole { name, trust, tags } => {
            let call = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .set_tags(iam_tags(tags)?)
                .send();
            // A shared role made by a concurrent run (of any deployment).
            done_if(call, ALREADY_EXISTS, format!("creating role {name}")).await?;
        }
        Op::TagRole { name, tags } => {
            iam.tag_role()
                .role_name(name)
                .set_tags(iam_tags(tags)?)
                .send()
                .await
                .aws_context(format!("tagging role {name}"))?;
        }
        Op::UpdateTrust { name, trust } => {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(trust.to_string())
                .send()
                .await
                .aws_context(format!("updating the trust policy of role {name}"))?;
        }
        Op::AttachRolePolicy { role, arn } => {
            let what = format!("attaching {arn} to role {role}");
            retry_fresh(&what, || iam.attach_role_policy().role_name(role).policy_arn(arn).send())
                .await
                .aws_context(what)?;
        }
        Op::DetachRolePolicy { role, arn } => {
            let call = iam.detach_role_policy().role_name(role).policy_arn(arn).send();
            done_if(call, NO_SUCH_ENTITY, format!("detaching {arn} from role {role}")).await?;
        }
        Op::DeleteRolePolicy { role, name } => {
            let call = iam.delete_role_policy().role_name(role).policy_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting policy {name} of role {role}")).await?;
        }
        Op::DeleteRole { name } => {
            done_if(iam.delete_role().role_name(name).send(), NO_SUCH_ENTITY, format!("deleting role {name}")).await?;
        }
        Op::CreateInstanceProfile { name, tags } => {
            let call = iam.create_instance_profile().instance_profile_name(name).set_tags(iam_tags(tags)?).send();
            done_if(call, ALREADY_EXISTS, format!("creating instance profile {name}")).await?;
        }
        Op::TagInstanceProfile { name, tags } => {
            iam.tag_instance_profile()
                .instance_profile_name(name)
                .set_tags(iam_tags(tags)?)
                .send()
                .await
                .aws_context(format!("tagging instance profile {name}"))?;
        }
        Op::AddRoleToInstanceProfile { profile, role } => add_role_to_profile(iam, profile, role).await?,
        Op::RemoveRoleFromInstanceProfile { profile, role } => remove_role_from_profile(iam, profile, role).await?,
        Op::DeleteInstanceProfile { name } => {
            let call = iam.delete_instance_profile().instance_profile_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting instance profile {name}")).await?;
        }
        Op::CreateUser { name, tags } => {
            let call = iam.create_user().user_name(name).set_tags(iam_tags(tags)?).send();
            done_if(call, ALREADY_EXISTS, format!("creating user {name}")).await?;
        }
        Op::TagUser { name, tags } => {
            iam.tag_user()
                .user_name(name)
                .set_tags(iam_tags(tags)?)
                .send()
                .await
                .aws_context(format!("tagging user {name}"))?;
        }
        Op::PutUserPolicy { user, name, document } => {
            let what = format!("putting policy {name} on user {user}");
            retry_fresh(&what, || {
                iam.put_user_policy().user_name(user).policy_name(name).policy_document(document.to_string()).send()
            })
            .await
            .aws_context(what)?;
        }
        Op::DeleteUserPolicy { user, name } => {
            let call = iam.delete_user_policy().user_name(user).policy_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting policy {name} of user {user}")).await?;
        }
        Op::DetachUserPolicy { user, arn } => {
            let call = iam.detach_user_policy().user_name(user).policy_arn(arn).send();
            done_if(call, NO_SUCH_ENTITY, format!("detaching {arn} from user {user}")).await?;
        }
        Op::DeleteUser { name } => {
            done_if(iam.delete_user().user_name(name).send(), NO_SUCH_ENTITY, format!("deleting user {name}")).await?;
        }
        Op::CreateAccessKey { user } => return Ok(Some(create_access_key(iam, secrets, user).await?)),
        Op::DeleteAccessKey { user, id } => {
            let call = iam.delete_access_key().user_name(user).access_key_id(id).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting access key {id} of {user}")).await?;
        }
        Op::RemoveKeyFile { user } => secrets.remove(&keys::file_name(user))?,
        Op::ClearPendingKey { user } => keys::clear_pending(secrets, user)?,
    }
    Ok(None)
}

async fn apply_step(iam: &Client, secrets: &SecretsDir, step: &Step) -> anyhow::Result<Option<(String, PathBuf)>> {
    let mut created = None;
    for op in &step.ops {
        if let Some(k) = apply_op(iam, secrets, op).await? {
            created = Some(k);
        }
    }
    if step.change.action.is_change() {
        tracing::info!("{} {} {}", step.change.action.word(false), step.change.kind, step.change.name);
    }
    Ok(created)
}

/// Performs the plan, phase by phase; the steps of a phase concurrently,
/// each one's calls in order. Every step that finished is in the report,
/// even when another failed.
pub async fn apply(iam: &Client, secrets: &SecretsDir, plan: &Plan, report: &mut Report) -> anyhow::Result<Applied> {
    let mut applied = Applied::default();
    let last = plan.steps.iter().map(|s| s.phase).max().unwrap_or(0);
    for phase in 0..=last {
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.phase == phase).collect();
        let results = join_all(steps.iter().map(|s| apply_step(iam, secrets, s))).await;
        let mut first_err = None;
        for (step, r) in steps.iter().zip(results) {
            match r {
                Ok(created) => {
                    let mut change = step.change.clone();
                    if let Some((id, path)) = created {
                        change.id = Some(id.clone());
                        applied.created_keys.insert(step.change.name.clone(), (id, path));
                    }
                    report.change(change);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
    }
    Ok(applied)
}
