//! Sending one planned call ([`apply_op`], the closure mk-rds gives
//! `common::plan::apply`). The creates are sent at most once per try and,
//! after a lost answer or "already exists", count as made when what is
//! found carries the tags they sent; the master password is written before
//! the instance is created.

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_rds::types::Tag;
use common::retry::eventually;
use common::secrets::Secret;
use common::{AwsResultExt, SecretsDir, aws_error_code};

use crate::desired::{ENGINE, STORAGE_TYPE};
use crate::observe::{Clients, describe_instance, observed_instance, status, subnet_group, wait_deleted};
use crate::observed::{deletion_under_way, made_by_our_create};
use crate::op::{InstanceSpec, Modification, Op};
use crate::password;

/// Where the run's side effects go, beside AWS.
pub struct ApplyContext<'a> {
    pub secrets: &'a SecretsDir,
    pub password_file: &'a str,
    /// `Some(timeout)`: wait for a deleted instance to be gone.
    pub wait_deleted: Option<Duration>,
}

fn tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

type RdsError<E> = aws_sdk_rds::error::SdkError<E, aws_sdk_rds::config::http::HttpResponse>;

/// What a try of a create gave.
enum Made {
    /// The ARN of what it made.
    Created(Option<String>),
    /// "Already exists" (with AWS's message): ours or not, to be looked at.
    Exists(String),
}

const GROUP_EXISTS: &str = "DBSubnetGroupAlreadyExists";
const INSTANCE_EXISTS: &str = "DBInstanceAlreadyExists";

/// A try's answer: the created resource's ARN, or "already exists".
/// Other failures are the SDK's error as it is, which `at_most_once` reads.
#[allow(clippy::result_large_err)]
fn made<T, E>(
    sent: Result<T, RdsError<E>>,
    exists: &str,
    arn: impl FnOnce(&T) -> Option<String>,
) -> Result<Made, RdsError<E>>
where
    E: aws_sdk_rds::error::ProvideErrorMetadata,
{
    match sent {
        Ok(out) => Ok(Made::Created(arn(&out))),
        Err(e) if aws_error_code(&e) == Some(exists) => {
            Ok(Made::Exists(e.as_service_error().and_then(|se| se.message()).unwrap_or_default().to_owned()))
        }
        Err(e) => Err(e),
    }
}

/// The ARN of what a create made: the answer's, or, after "already exists",
/// the one `ours` finds (it exists with the deployment's tags: an earlier
/// try took effect); anything else of that name is an error.
async fn settle(
    made: Made,
    what: &str,
    code: &str,
    ours: impl Future<Output = anyhow::Result<Option<String>>>,
) -> anyhow::Result<Option<String>> {
    match made {
        Made::Created(arn) => Ok(arn),
        Made::Exists(detail) => match ours.await? {
            Some(arn) => {
                tracing::info!("{what}: it exists already, with this deployment's tags (an earlier try took effect)");
                Ok(Some(arn))
            }
            None => anyhow::bail!(
                "{what}: {code}: {detail} (one of that name appeared meanwhile, not tagged for this deployment)"
            ),
        },
    }
}

/// The subnet group's ARN when it exists with the tags our create sent.
async fn subnet_group_made_by_us(
    rds: &aws_sdk_rds::Client,
    name: &str,
    sent: &[(String, String)],
) -> anyhow::Result<Option<String>> {
    Ok(subnet_group(rds, name).await?.filter(|g| made_by_our_create(&g.tags, sent)).map(|g| g.arn))
}

/// The instance's ARN when it exists, not being deleted, with the tags our
/// create sent.
async fn instance_made_by_us(
    rds: &aws_sdk_rds::Client,
    id: &str,
    sent: &[(String, String)],
) -> anyhow::Result<Option<String>> {
    let found = describe_instance(rds, id).await?.map(|i| observed_instance(&i));
    Ok(found.filter(|i| i.status != "deleting" && made_by_our_create(&i.tags, sent)).map(|i| i.arn))
}

/// Creates the subnet group. A name RDS deduplicates, but the SDK's retry
/// of a create whose answer was lost would answer "already exists": each
/// try is sent once, and after a transient failure (or "already exists")
/// the group counts as created if it now exists with the deployment's tags.
async fn create_subnet_group(
    rds: &aws_sdk_rds::Client,
    name: &str,
    subnet_ids: &[String],
    t: &[(String, String)],
) -> anyhow::Result<Option<String>> {
    let what = format!("creating DB subnet group {name}");
    let no_retries = aws_sdk_rds::config::Config::builder().retry_config(common::once::no_retries());
    let made = common::once::at_most_once(
        &what,
        || async {
            let sent = rds
                .create_db_subnet_group()
                .db_subnet_group_name(name)
                .db_subnet_group_description(format!("Analytics RDS subnets ({name})"))
                .set_subnet_ids(Some(subnet_ids.to_vec()))
                .set_tags(Some(tags(t)))
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            made(sent, GROUP_EXISTS, |out| {
                out.db_subnet_group().and_then(|g| g.db_subnet_group_arn()).map(str::to_owned)
            })
        },
        || async { Ok(subnet_group_made_by_us(rds, name, t).await?.map(|arn| Made::Created(Some(arn)))) },
    )
    .await?;
    settle(made, &what, GROUP_EXISTS, subnet_group_made_by_us(rds, name, t)).await
}

/// Writes the master password file (0600, atomically).
fn write_password(secrets: &SecretsDir, name: &str, password: &Secret) -> anyhow::Result<PathBuf> {
    secrets.write_secret(name, password)
}

/// Sends one try of `CreateDBInstance` (waiting out a security group that
/// has not reached RDS yet).
async fn send_create_instance(
    rds: &aws_sdk_rds::Client,
    spec: &InstanceSpec,
    password: &Secret,
) -> Result<Made, RdsError<aws_sdk_rds::operation::create_db_instance::CreateDBInstanceError>> {
    let no_retries = aws_sdk_rds::config::Config::builder().retry_config(common::once::no_retries());
    let sent = eventually(|| {
        rds.create_db_instance()
            .db_instance_identifier(&spec.id)
            .engine(ENGINE)
            .engine_version(&spec.engine_version)
            .db_instance_class(&spec.class)
            .allocated_storage(spec.storage_gb)
            .storage_type(STORAGE_TYPE)
            .storage_encrypted(true)
            .publicly_accessible(false)
            .backup_retention_period(spec.backup_days)
            .engine_lifecycle_support(spec.lifecycle)
            .copy_tags_to_snapshot(true)
            .master_username(&spec.master_username)
            .master_user_password(password.expose())
            .db_subnet_group_name(&spec.subnet_group)
            .set_vpc_security_group_ids(Some(spec.group_ids.clone()))
            .set_tags(Some(tags(&spec.tags)))
            .customize()
            .config_override(no_retries.clone())
            .send()
    })
    .await;
    made(sent, INSTANCE_EXISTS, |out| out.db_instance().and_then(|i| i.db_instance_arn()).map(str::to_owned))
}

/// Creates the instance, as [`create_subnet_group`] does its group. The
/// master password is generated and written before the first try, and
/// every try sends that one: the file holds the password of the instance
/// whichever try made it.
async fn create_instance(
    rds: &aws_sdk_rds::Client,
    spec: &InstanceSpec,
    secrets: &SecretsDir,
    password_file: &str,
) -> anyhow::Result<Option<String>> {
    // Written first: an instance must never exist with a lost password.
    let before = secrets.read_secret(password_file)?;
    let password = Secret::new(password::generate());
    let path = write_password(secrets, password_file, &password)?;
    tracing::info!("master password written to {}", path.display());
    let what = format!("creating DB instance {}", spec.id);
    let made = common::once::at_most_once(
        &what,
        || send_create_instance(rds, spec, &password),
        || async { Ok(instance_made_by_us(rds, &spec.id, &spec.tags).await?.map(|arn| Made::Created(Some(arn)))) },
    )
    .await?;
    let settled = settle(made, &what, INSTANCE_EXISTS, instance_made_by_us(rds, &spec.id, &spec.tags)).await;
    if settled.is_err() {
        // Someone else's instance: the password just written is no
        // instance's; the file goes back to what it held.
        match &before {
            Some(old) => write_password(secrets, password_file, old).map(drop)?,
            None => secrets.remove(password_file)?,
        }
    }
    settled
}

/// One `ModifyDBInstance`, with the modification's `ApplyImmediately`
/// (always sent, `false` too); sent again while the instance is busy
/// (`InvalidDBInstanceState`: creating, backing-up, modifying) or a new
/// group has not reached RDS.
async fn modify_instance(rds: &aws_sdk_rds::Client, id: &str, m: &Modification) -> anyhow::Result<()> {
    eventually(|| {
        rds.modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(m.apply_immediately)
            .set_db_instance_class(m.class.clone())
            .set_allocated_storage(m.storage_gb)
            .set_storage_type(m.storage_type.clone())
            .set_backup_retention_period(m.backup_days)
            .set_vpc_security_group_ids(m.group_ids.clone())
            .set_publicly_accessible(m.public)
            .send()
    })
    .await
    .aws_context(format!("modifying DB instance {id}"))?;
    Ok(())
}

async fn delete_instance(
    rds: &aws_sdk_rds::Client,
    id: &str,
    final_snapshot: Option<&String>,
    wait: Option<Duration>,
) -> anyhow::Result<()> {
    let what = format!("deleting DB instance {id}");
    let sent = rds
        .delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(final_snapshot.is_none())
        .set_final_db_snapshot_identifier(final_snapshot.cloned())
        .send()
        .await;
    // The SDK's retry of a delete whose answer was lost finds the instance
    // gone (not found) or on its way (AWS: "invalid state").
    match sent {
        Ok(_) => {}
        Err(e) if aws_error_code(&e) == Some("DBInstanceNotFound") => {}
        Err(e) if aws_error_code(&e) == Some("InvalidDBInstanceState") => {
            let status = status(rds, id).await?;
            if !deletion_under_way(status.as_ref().map(Option::as_deref)) {
                return Err(e).aws_context(what);
            }
        }
        Err(e) => return Err(e).aws_context(what),
    }
    if let Some(timeout) = wait {
        wait_deleted(rds, id, timeout).await?;
    }
    Ok(())
}

/// Performs one call (or a call and its wait); returns the ARN of what it
/// created.
pub async fn apply_op(c: &Clients, op: &Op, ctx: &ApplyContext<'_>) -> anyhow::Result<Option<String>> {
    let rds = &c.rds;
    match op {
        Op::CreateSubnetGroup { name, subnet_ids, tags: t } => {
            return create_subnet_group(rds, name, subnet_ids, t).await;
        }
        Op::CreateInstance(spec) => return create_instance(rds, spec, ctx.secrets, ctx.password_file).await,
        Op::SetSubnets { name, subnet_ids } => {
            rds.modify_db_subnet_group()
                .db_subnet_group_name(name)
                .set_subnet_ids(Some(subnet_ids.clone()))
                .send()
                .await
                .aws_context(format!("adding subnets to DB subnet group {name}"))?;
        }
        Op::AddTags { arn, tags: t } => {
            rds.add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(tags(t)))
                .send()
                .await
                .aws_context(format!("tagging {arn}"))?;
        }
        Op::ModifyInstance { id, modification } => modify_instance(rds, id, modification).await?,
        Op::DeleteInstance { id, final_snapshot } => {
            delete_instance(rds, id, final_snapshot.as_ref(), ctx.wait_deleted).await?;
        }
        Op::DeleteSubnetGroup { name } => {
            rds.delete_db_subnet_group()
                .db_subnet_group_name(name)
                .send()
                .await
                .none_if("DBSubnetGroupNotFoundFault", format!("deleting DB subnet group {name}"))?;
        }
    }
    Ok(None)
}
