//! Sending the plan's calls, one [`Op`] at a time (the loop is
//! `common::plan::apply`). Thin: the decisions are in [`crate::plan`].
//!
//! Each call is safe to send again: a create that finds its resource made
//! (by a concurrent or interrupted run) and a delete that finds it gone
//! count as done; the calls IAM may refuse for a moment right after a
//! change (`ConcurrentModification`, see `common::retry::EVENTUAL`) go
//! through [`eventually`]; those that cannot be repeated are sent at most
//! once per try and verified ([`common::once`]).

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use common::retry::eventually;
use common::{AwsResultExt, SecretsDir, aws_error_code};
use serde_json::Value;

use crate::iam::{ALREADY_EXISTS, NO_SUCH_ENTITY, done_if, iam_tags, no_retries};
use crate::observe::{observe_policy, observe_profile};
use crate::observed::Tags;
use crate::op::Op;
use crate::{keyfile, new_key, policy, quota};

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
    let once = no_retries();
    common::once::at_most_once(
        &format!("setting a new version of {arn}"),
        || async {
            eventually(|| {
                iam.create_policy_version()
                    .policy_arn(arn)
                    .policy_document(document.to_string())
                    .set_as_default(true)
                    .customize()
                    .config_override(once.clone())
                    .send()
            })
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

/// Adds a role to a profile. A profile holds one role: `LimitExceeded`
/// means a concurrent run put one in already, which is fine if it is ours.
async fn add_role_to_profile(iam: &Client, profile: &str, role: &str) -> anyhow::Result<()> {
    let what = format!("adding role {role} to instance profile {profile}");
    match eventually(|| iam.add_role_to_instance_profile().instance_profile_name(profile).role_name(role).send()).await
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
    let once = no_retries();
    common::once::at_most_once(
        &format!("removing role {role} from instance profile {profile}"),
        || async {
            let call = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile)
                .role_name(role)
                .customize()
                .config_override(once.clone())
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

async fn create_policy(iam: &Client, name: &str, document: &Value, tags: &Tags) -> anyhow::Result<()> {
    let call = iam.create_policy().policy_name(name).policy_document(document.to_string()).set_tags(iam_tags(tags)?);
    done_if(call.send(), ALREADY_EXISTS, format!("creating policy {name}")).await
}

async fn create_role(iam: &Client, name: &str, trust: &Value, tags: &Tags) -> anyhow::Result<()> {
    let call =
        iam.create_role().role_name(name).assume_role_policy_document(trust.to_string()).set_tags(iam_tags(tags)?);
    // A shared role made by a concurrent run (of any deployment).
    done_if(call.send(), ALREADY_EXISTS, format!("creating role {name}")).await
}

/// The tag calls: on a policy (by ARN), a role, an instance profile, a user.
async fn tag(iam: &Client, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::TagPolicy { arn, tags } => {
            iam.tag_policy()
                .policy_arn(arn)
                .set_tags(iam_tags(tags)?)
                .send()
                .await
                .aws_context(format!("tagging {arn}"))?;
        }
        Op::TagRole { name, tags } => {
            let call = iam.tag_role().role_name(name).set_tags(iam_tags(tags)?);
            call.send().await.aws_context(format!("tagging role {name}"))?;
        }
        Op::TagInstanceProfile { name, tags } => {
            let call = iam.tag_instance_profile().instance_profile_name(name).set_tags(iam_tags(tags)?);
            call.send().await.aws_context(format!("tagging instance profile {name}"))?;
        }
        Op::TagUser { name, tags } => {
            let call = iam.tag_user().user_name(name).set_tags(iam_tags(tags)?);
            call.send().await.aws_context(format!("tagging user {name}"))?;
        }
        other => unreachable!("not a tag call: {other:?}"),
    }
    Ok(())
}

/// The deletes, each done when what it removes is gone already.
async fn delete(iam: &Client, op: &Op) -> anyhow::Result<()> {
    match op {
        Op::DeletePolicyVersion { arn, version } => {
            let call = iam.delete_policy_version().policy_arn(arn).version_id(version).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting version {version} of {arn}")).await
        }
        Op::DeletePolicy { arn } => {
            done_if(iam.delete_policy().policy_arn(arn).send(), NO_SUCH_ENTITY, format!("deleting policy {arn}")).await
        }
        Op::DetachRolePolicy { role, arn } => {
            let call = eventually(|| iam.detach_role_policy().role_name(role).policy_arn(arn).send());
            done_if(call, NO_SUCH_ENTITY, format!("detaching {arn} from role {role}")).await
        }
        Op::DeleteRolePolicy { role, name } => {
            let call = iam.delete_role_policy().role_name(role).policy_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting policy {name} of role {role}")).await
        }
        Op::DeleteRole { name } => {
            done_if(iam.delete_role().role_name(name).send(), NO_SUCH_ENTITY, format!("deleting role {name}")).await
        }
        Op::DeleteInstanceProfile { name } => {
            let call = iam.delete_instance_profile().instance_profile_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting instance profile {name}")).await
        }
        Op::DeleteUserPolicy { user, name } => {
            let call = iam.delete_user_policy().user_name(user).policy_name(name).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting policy {name} of user {user}")).await
        }
        Op::DetachUserPolicy { user, arn } => {
            let call = iam.detach_user_policy().user_name(user).policy_arn(arn).send();
            done_if(call, NO_SUCH_ENTITY, format!("detaching {arn} from user {user}")).await
        }
        Op::DeleteUser { name } => {
            done_if(iam.delete_user().user_name(name).send(), NO_SUCH_ENTITY, format!("deleting user {name}")).await
        }
        Op::DeleteAccessKey { user, id } => {
            let call = iam.delete_access_key().user_name(user).access_key_id(id).send();
            done_if(call, NO_SUCH_ENTITY, format!("deleting access key {id} of {user}")).await
        }
        other => unreachable!("not a delete: {other:?}"),
    }
}

/// Sends one planned call; returns the id of an access key it made.
pub async fn apply_op(iam: &Client, secrets: &SecretsDir, op: &Op) -> anyhow::Result<Option<String>> {
    match op {
        Op::CreatePolicy { name, document, tags } => create_policy(iam, name, document, tags).await?,
        Op::SetPolicyDocument { arn, document } => set_policy_document(iam, arn, document).await?,
        Op::CreateRole { name, trust, tags } => create_role(iam, name, trust, tags).await?,
        Op::UpdateTrust { name, trust } => {
            let call = iam.update_assume_role_policy().role_name(name).policy_document(trust.to_string());
            call.send().await.aws_context(format!("updating the trust policy of role {name}"))?;
        }
        Op::AttachRolePolicy { role, arn } => {
            let answer = eventually(|| iam.attach_role_policy().role_name(role).policy_arn(arn).send()).await;
            if let Err(e) = &answer
                && let Some(why) = quota::explain_refusal(role, arn, aws_error_code(e), e.message().unwrap_or_default())
            {
                return Err(why);
            }
            answer.aws_context(format!("attaching {arn} to role {role}"))?;
        }
        Op::CreateInstanceProfile { name, tags } => {
            let call = iam.create_instance_profile().instance_profile_name(name).set_tags(iam_tags(tags)?).send();
            done_if(call, ALREADY_EXISTS, format!("creating instance profile {name}")).await?;
        }
        Op::AddRoleToInstanceProfile { profile, role } => add_role_to_profile(iam, profile, role).await?,
        Op::RemoveRoleFromInstanceProfile { profile, role } => remove_role_from_profile(iam, profile, role).await?,
        Op::CreateUser { name, tags } => {
            let call = iam.create_user().user_name(name).set_tags(iam_tags(tags)?).send();
            done_if(call, ALREADY_EXISTS, format!("creating user {name}")).await?;
        }
        Op::PutUserPolicy { user, name, document } => {
            eventually(|| {
                iam.put_user_policy().user_name(user).policy_name(name).policy_document(document.to_string()).send()
            })
            .await
            .aws_context(format!("putting policy {name} on user {user}"))?;
        }
        Op::CreateAccessKey { user } => return Ok(Some(new_key::create_access_key(iam, secrets, user).await?)),
        Op::RemoveKeyFile { user } => secrets.remove(&common::secrets::AccessKeyFile::file_name(user))?,
        Op::ClearPendingKey { user } => keyfile::clear_pending(secrets, user)?,
        Op::TagPolicy { .. } | Op::TagRole { .. } | Op::TagInstanceProfile { .. } | Op::TagUser { .. } => {
            tag(iam, op).await?;
        }
        Op::DeletePolicyVersion { .. }
        | Op::DeletePolicy { .. }
        | Op::DetachRolePolicy { .. }
        | Op::DeleteRolePolicy { .. }
        | Op::DeleteRole { .. }
        | Op::DeleteInstanceProfile { .. }
        | Op::DeleteUserPolicy { .. }
        | Op::DetachUserPolicy { .. }
        | Op::DeleteUser { .. }
        | Op::DeleteAccessKey { .. } => delete(iam, op).await?,
    }
    Ok(None)
}
