//! Reading what exists on IAM. Thin: the decisions are in [`crate::plan`].
//!
//! Reads run concurrently; each resource is read with the fewest calls
//! that show everything the plan compares (the Get calls return tags too).
//! The lists read here (attached policies, keys, versions, inline
//! policies) are bounded by IAM quotas well under one page.

use anyhow::Context;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::StatusType;
use common::AwsResultExt;
use futures::future::try_join_all;
use serde_json::Value;

use crate::desired::{AccountInfo, Desired};
use crate::iam::{or_none, tags_of};
use crate::keys::AwsKey;
use crate::names::{Names, UserKind};
use crate::observed::{Observed, ObservedPolicy, ObservedProfile, ObservedRole, ObservedUser};
use crate::policy;

/// Who we are: GetCallerIdentity's account, in `partition` (the region's,
/// as every tool builds its ARNs: `common::aws::partition`).
pub async fn account(sts: &aws_sdk_sts::Client, partition: &str) -> anyhow::Result<AccountInfo> {
    let me = sts.get_caller_identity().send().await.aws_context("reading the caller's identity (STS)")?;
    let id = me.account().context("STS GetCallerIdentity returned no account")?;
    if let Some(theirs) = me.arn().and_then(common::aws::arn_partition).filter(|p| *p != partition) {
        tracing::warn!(
            "the caller's ARN is in partition {theirs}, the region in {partition}: ARNs are built in {partition}"
        );
    }
    Ok(AccountInfo { id: id.to_owned(), partition: partition.to_owned() })
}

pub async fn observe_policy(iam: &Client, arn: &str, destroy: bool) -> anyhow::Result<Option<ObservedPolicy>> {
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

pub async fn observe_profile(iam: &Client, name: &str) -> anyhow::Result<Option<ObservedProfile>> {
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

/// Reads every resource of the `account`, concurrently.
/// On destroy the shared roles are not read, except which policies
/// EMR's nodes' role has (ours is detached from it).
pub async fn observe(
    iam: &Client,
    account: AccountInfo,
    names: &Names,
    stored_keys: Vec<Option<String>>,
    pending_keys: Vec<Option<Vec<String>>>,
    destroy: bool,
) -> anyhow::Result<(Desired, Observed)> {
    let [client_role, emr_role, emr_ec2_role] = names.roles();
    let ((desired, policies), roles, profiles, users) = tokio::try_join!(
        async {
            let desired = Desired::new(names, &account);
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
