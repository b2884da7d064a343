//! Sending one planned [`Op`]: [`apply_op`] is the closure mk-ec2 gives
//! `common::plan::apply`. The key pair, tag and destroy calls are here;
//! the launch and what follows it in [`crate::launch`]. Thin: the
//! decisions are in `plan`.

use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataEndpointState, ResourceType};
use common::{AwsResultExt, aws_error_code};
use network::{sdk_tags, tag_spec};

use crate::desired::KeyPairSpec;
use crate::ec2::key_pair;
use crate::keys::{same_key, write_new_key};
use crate::launch::{self, Target};
use crate::ledger::{Ctx, KeyPairIds};
use crate::observed::Tags;
use crate::op::Op;

/// Sends one op; returns the id of what it made, if it made something.
pub async fn apply_op(ctx: &Ctx<'_>, op: &Op) -> anyhow::Result<Option<String>> {
    match op {
        Op::GenerateKey { spec, tags } => generate(ctx, spec, tags).await,
        Op::ImportKeyPair { spec, public_key, tags } => import(ctx, spec, public_key, tags).await,
        Op::DeleteKeyPair { name } => {
            ctx.ec2.delete_key_pair().key_name(name).send().await.aws_context(format!("deleting key pair {name}"))?;
            tracing::info!("deleted key pair {name}");
            Ok(None)
        }
        Op::TagKeyPair { name, id, tags } => {
            let id = id.as_deref().ok_or_else(|| anyhow::anyhow!("key pair {name} has no id to tag"))?;
            tag(ctx, id, tags).await
        }
        Op::Tag { id, tags } => tag(ctx, id, tags).await,
        Op::RequireImdsv2 { id, label } => {
            ctx.ec2
                .modify_instance_metadata_options()
                .instance_id(id)
                .http_tokens(HttpTokensState::Required)
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .send()
                .await
                .aws_context(format!("requiring IMDSv2 on {label}"))?;
            Ok(None)
        }
        Op::Launch(l) => launch::launch(ctx, l).await,
        Op::WaitRunning => launch::wait_running(ctx).await,
        Op::AssociateProfile { slot, profile } => launch::associate_profile(ctx, *slot, profile).await,
        Op::ProfileOfLaunch { slot } => launch::profile_of_launch(ctx, *slot),
        Op::AllocateAddress { tags } => launch::allocate_address(ctx, tags).await,
        Op::AssociateAddress { slot } => launch::associate_address(ctx, *slot).await,
        Op::DisassociateAddress { .. } | Op::ReleaseAddress { .. } | Op::Terminate { .. } => destroy(ctx, op).await,
        Op::WaitTerminated { ids } => launch::wait_for(ctx, ids, Target::Terminated).await.map(|_| None),
        Op::RemoveKeyFile { file } => {
            ctx.secrets.remove(file)?;
            tracing::info!("removed {}", ctx.secrets.file(file).display());
            Ok(None)
        }
    }
}

async fn destroy(ctx: &Ctx<'_>, op: &Op) -> anyhow::Result<Option<String>> {
    match op {
        Op::DisassociateAddress { association_id, public_ip } => {
            ctx.ec2
                .disassociate_address()
                .association_id(association_id)
                .send()
                .await
                .aws_context(format!("disassociating Elastic IP {public_ip}"))?;
        }
        Op::ReleaseAddress { allocation_id, public_ip } => {
            ctx.ec2
                .release_address()
                .allocation_id(allocation_id)
                .send()
                .await
                .aws_context(format!("releasing Elastic IP {public_ip}"))?;
            tracing::info!("released Elastic IP {public_ip} ({allocation_id})");
        }
        Op::Terminate { ids } => {
            ctx.ec2
                .terminate_instances()
                .set_instance_ids(Some(ids.clone()))
                .send()
                .await
                .aws_context(format!("terminating {}", ids.join(", ")))?;
            tracing::info!("terminating {}", ids.join(", "));
        }
        other => unreachable!("not a destroy call: {other:?}"),
    }
    Ok(None)
}

async fn tag(ctx: &Ctx<'_>, id: &str, tags: &Tags) -> anyhow::Result<Option<String>> {
    ctx.ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(sdk_tags(tags)))
        .send()
        .await
        .aws_context(format!("tagging {id}"))?;
    Ok(None)
}

/// A new key: the private key is on disk (through `common::secrets`)
/// before EC2 hears of the key, so a stop from here on leaves a file to
/// import.
async fn generate(ctx: &Ctx<'_>, spec: &KeyPairSpec, tags: &Tags) -> anyhow::Result<Option<String>> {
    let file = spec.file_name();
    let public_key = write_new_key(ctx.secrets, &file, &spec.name)?;
    tracing::info!("generated key {}; private key in {}", spec.name, ctx.secrets.file(&file).display());
    import(ctx, spec, &public_key, tags).await
}

/// ImportKeyPair of `public_key`, tagged; returns the key pair's id. The
/// SDK retries a lost answer, and the retry finds the key pair there:
/// taken as done when it is this client's and holds this very key.
async fn import(ctx: &Ctx<'_>, spec: &KeyPairSpec, public_key: &str, tags: &Tags) -> anyhow::Result<Option<String>> {
    let name = &spec.name;
    let what = format!("importing key pair {name}");
    let sent = ctx
        .ec2
        .import_key_pair()
        .key_name(name)
        .public_key_material(Blob::new(public_key.as_bytes()))
        .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
        .send()
        .await;
    let ids = match sent {
        Ok(imported) => {
            tracing::info!("imported key pair {name}");
            KeyPairIds {
                id: imported.key_pair_id().map(str::to_owned),
                fingerprint: imported.key_fingerprint().map(str::to_owned),
            }
        }
        Err(e) if aws_error_code(&e) == Some("InvalidKeyPair.Duplicate") => match key_pair(ctx.ec2, name).await? {
            Some(k)
                if ctx.d.owns(k.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    && same_key(k.public_key.as_deref(), k.fingerprint.as_deref(), public_key) != Some(false) =>
            {
                KeyPairIds { id: k.id, fingerprint: k.fingerprint }
            }
            _ => {
                return Err(e)
                    .aws_context(format!("{what} (one of that name appeared, not this client's or another key)"));
            }
        },
        Err(e) => return Err(e).aws_context(what),
    };
    let id = ids.id.clone();
    ctx.ledger.set_key_pair(spec.role, ids);
    Ok(id)
}
