//! Reading the VPC (EC2) and the instances and subnet group (RDS), and
//! changing them. Thin: the decisions are in `plan`.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, Tag};
use common::error::bad_input;
use common::wait::{WaitState, wait_until};
use common::{AwsResultExt, Report, SecretsDir, aws_error_code};

use network::{VpcChoice, filter, find_vpc};

use crate::desired::{ENGINE, STORAGE_TYPE};
use crate::password;
use crate::plan::{
    InstanceSpec, Modification, Network, ObservedInstance, ObservedJoin, ObservedSubnetGroup, Op, Plan,
    deletion_under_way, made_by_our_create, readiness,
};

pub struct Clients {
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
}

async fn subnets(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ec2
            .describe_subnets()
            .filters(filter("vpc-id", [vpc_id]))
            .set_next_token(token)
            .send()
            .await
            .aws_context(format!("listing the subnets of {vpc_id}"))?;
        for s in page.subnets() {
            if let (Some(id), Some(az)) = (s.subnet_id(), s.availability_zone()) {
                out.push((id.to_owned(), az.to_owned()));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    Ok(out)
}

/// Ids of the named groups in a VPC, by name.
async fn groups_by_name(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    names: &[&str],
) -> anyhow::Result<BTreeMap<String, String>> {
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", [vpc_id]))
        .filters(filter("group-name", names.iter().copied()))
        .send()
        .await
        .aws_context(format!("looking up security groups {} in {vpc_id}", names.join(", ")))?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.group_name()?.to_owned(), g.group_id()?.to_owned())))
        .collect())
}

/// The VPC (flag or default), its subnets, and its EMR-RDS and default groups.
pub async fn network(c: &Clients, vpc_id: Option<&str>, region: &str, emr_rds_group: &str) -> anyhow::Result<Network> {
    let choice = vpc_id.map_or(VpcChoice::Default, |id| VpcChoice::Named(id.to_owned()));
    let vpc_id = find_vpc(&c.ec2, &choice, region).await?;
    let names = [emr_rds_group, "default"];
    let (subnets, groups) = tokio::try_join!(subnets(&c.ec2, &vpc_id), groups_by_name(&c.ec2, &vpc_id, &names))?;
    Ok(Network {
        emr_rds_group: groups.get(emr_rds_group).cloned(),
        default_group: groups.get("default").cloned(),
        vpc_id,
        subnets,
    })
}

pub async fn describe_instance(rds: &aws_sdk_rds::Client, id: &str) -> anyhow::Result<Option<DbInstance>> {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .none_if("DBInstanceNotFound", format!("describing DB instance {id}"))?;
    Ok(out.and_then(|o| o.db_instances().first().cloned()))
}

/// Security groups the instance is or is becoming a member of.
fn member_groups(i: &DbInstance) -> Vec<String> {
    i.vpc_security_groups()
        .iter()
        .filter(|g| !matches!(g.status(), Some("removing" | "inactive")))
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect()
}

/// Whether a change to the fields this tool manages is pending.
fn pending_ours(i: &DbInstance) -> bool {
    i.pending_modified_values().is_some_and(|p| {
        p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
            || p.storage_type().is_some()
            || p.backup_retention_period().is_some()
    })
}

pub fn endpoint(i: &DbInstance) -> Option<(String, i32)> {
    let e = i.endpoint()?;
    Some((e.address()?.to_owned(), e.port().unwrap_or(3306)))
}

pub fn observed_instance(i: &DbInstance) -> ObservedInstance {
    let pending = i.pending_modified_values();
    ObservedInstance {
        arn: i.db_instance_arn().unwrap_or_default().to_owned(),
        status: i.db_instance_status().unwrap_or_default().to_owned(),
        engine: i.engine().unwrap_or_default().to_owned(),
        engine_version: i.engine_version().unwrap_or_default().to_owned(),
        class: pending.and_then(|p| p.db_instance_class()).or(i.db_instance_class()).unwrap_or_default().to_owned(),
        storage_gb: pending
            .and_then(aws_sdk_rds::types::PendingModifiedValues::allocated_storage)
            .or(i.allocated_storage())
            .unwrap_or(0),
        storage_type: pending.and_then(|p| p.storage_type()).or(i.storage_type()).unwrap_or_default().to_owned(),
        encrypted: i.storage_encrypted().unwrap_or(false),
        public: i.publicly_accessible().unwrap_or(false),
        backup_days: pending
            .and_then(aws_sdk_rds::types::PendingModifiedValues::backup_retention_period)
            .or(i.backup_retention_period())
            .unwrap_or(0),
        groups: member_groups(i),
        vpc_id: i.db_subnet_group().and_then(|g| g.vpc_id()).map(str::to_owned),
        subnet_group: i.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_owned),
        master_username: i.master_username().unwrap_or_default().to_owned(),
        endpoint: endpoint(i),
        tags: i.tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect(),
        pending: pending_ours(i),
    }
}

pub async fn subnet_group(rds: &aws_sdk_rds::Client, name: &str) -> anyhow::Result<Option<ObservedSubnetGroup>> {
    let Some(out) = rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .none_if("DBSubnetGroupNotFoundFault", format!("describing DB subnet group {name}"))?
    else {
        return Ok(None);
    };
    let Some(g) = out.db_subnet_groups().first() else { return Ok(None) };
    let arn = g.db_subnet_group_arn().unwrap_or_default().to_owned();
    let tags = rds
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .aws_context(format!("reading the tags of DB subnet group {name}"))?;
    Ok(Some(ObservedSubnetGroup {
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        subnet_ids: g.subnets().iter().filter_map(|s| s.subnet_identifier().map(str::to_owned)).collect(),
        tags: tags.tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect(),
        arn,
    }))
}

/// The instances of `--join-sg`, each with the EMR-RDS group of its VPC
/// (`known` is the group already found in our own VPC).
pub async fn joins(
    c: &Clients,
    ids: &[String],
    emr_rds_group: &str,
    known: Option<&Network>,
) -> anyhow::Result<Vec<ObservedJoin>> {
    let mut out = Vec::new();
    for id in ids {
        let Some(i) = describe_instance(&c.rds, id).await? else {
            return Err(bad_input(format!("--join-sg {id}: no such DB instance in this region")));
        };
        let vpc_id = i.db_subnet_group().and_then(|g| g.vpc_id()).map(str::to_owned);
        let group = match (&vpc_id, known) {
            (Some(v), Some(n)) if *v == n.vpc_id => n.emr_rds_group.clone(),
            (Some(v), _) => groups_by_name(&c.ec2, v, &[emr_rds_group]).await?.remove(emr_rds_group),
            (None, _) => None,
        };
        out.push(ObservedJoin { id: id.clone(), vpc_id, groups: member_groups(&i), emr_rds_group: group });
    }
    Ok(out)
}

fn tags(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

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
    sent: Result<T, aws_sdk_rds::error::SdkError<E, aws_sdk_rds::config::http::HttpResponse>>,
    exists: &str,
    arn: impl FnOnce(&T) -> Option<String>,
) -> Result<Made, aws_sdk_rds::error::SdkError<E, aws_sdk_rds::config::http::HttpResponse>>
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
    let before = secrets.read(password_file)?;
    let password = password::generate();
    let path = secrets.write(password_file, password.as_bytes())?;
    tracing::info!("master password written to {}", path.display());
    let what = format!("creating DB instance {}", spec.id);
    let no_retries = aws_sdk_rds::config::Config::builder().retry_config(common::once::no_retries());
    let made = common::once::at_most_once(
        &what,
        || async {
            let sent = rds
                .create_db_instance()
                .db_instance_identifier(&spec.id)
                .engine(ENGINE)
                .engine_version(&spec.engine_version)
                .db_instance_class(&spec.class)
                .allocated_storage(spec.storage_gb)
                .storage_type(STORAGE_TYPE)
                .storage_encrypted(true)
                .publicly_accessible(false)
                .backup_retention_period(spec.backup_days)
                .copy_tags_to_snapshot(true)
                .master_username(&spec.master_username)
                .master_user_password(&password)
                .db_subnet_group_name(&spec.subnet_group)
                .set_vpc_security_group_ids(Some(spec.group_ids.clone()))
                .set_tags(Some(tags(&spec.tags)))
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await;
            made(sent, INSTANCE_EXISTS, |out| out.db_instance().and_then(|i| i.db_instance_arn()).map(str::to_owned))
        },
        || async { Ok(instance_made_by_us(rds, &spec.id, &spec.tags).await?.map(|arn| Made::Created(Some(arn)))) },
    )
    .await?;
    let settled = settle(made, &what, INSTANCE_EXISTS, instance_made_by_us(rds, &spec.id, &spec.tags)).await;
    if settled.is_err() {
        // Someone else's instance: the password just written is no
        // instance's; the file goes back to what it held.
        match &before {
            Some(old) => secrets.write(password_file, old.as_bytes()).map(drop)?,
            None => secrets.remove(password_file)?,
        }
    }
    settled
}

async fn modify_instance(rds: &aws_sdk_rds::Client, id: &str, m: &Modification) -> anyhow::Result<()> {
    rds.modify_db_instance()
        .db_instance_identifier(id)
        .apply_immediately(true)
        .set_db_instance_class(m.class.clone())
        .set_allocated_storage(m.storage_gb)
        .set_storage_type(m.storage_type.clone())
        .set_backup_retention_period(m.backup_days)
        .set_vpc_security_group_ids(m.group_ids.clone())
        .set_publicly_accessible(m.public)
        .send()
        .await
        .aws_context(format!("modifying DB instance {id}"))?;
    Ok(())
}

/// Where the run's side effects go, beside AWS.
pub struct ApplyContext<'a> {
    pub secrets: &'a SecretsDir,
    pub password_file: &'a str,
    /// `Some(timeout)`: wait for a deleted instance to be gone.
    pub wait_deleted: Option<Duration>,
}

/// Performs one call (or a call and its wait); returns the ARN of what it created.
async fn apply_op(c: &Clients, op: &Op, ctx: &ApplyContext<'_>) -> anyhow::Result<Option<String>> {
    let rds = &c.rds;
    match op {
        Op::CreateSubnetGroup { name, subnet_ids, tags: t } => {
            return create_subnet_group(rds, name, subnet_ids, t).await;
        }
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
        Op::CreateInstance(spec) => return create_instance(rds, spec, ctx.secrets, ctx.password_file).await,
        Op::ModifyInstance { id, modification } => modify_instance(rds, id, modification).await?,
        Op::DeleteInstance { id, final_snapshot } => {
            let what = format!("deleting DB instance {id}");
            let sent = rds
                .delete_db_instance()
                .db_instance_identifier(id)
                .skip_final_snapshot(final_snapshot.is_none())
                .set_final_db_snapshot_identifier(final_snapshot.clone())
                .send()
                .await;
            // The SDK's retry of a delete whose answer was lost finds the
            // instance gone (not found) or on its way (AWS: "invalid state").
            match sent {
                Ok(_) => {}
                Err(e) if aws_error_code(&e) == Some("DBInstanceNotFound") => {}
                Err(e) if aws_error_code(&e) == Some("InvalidDBInstanceState") => {
                    let status = describe_instance(rds, id).await?.map(|i| i.db_instance_status().map(str::to_owned));
                    if !deletion_under_way(status.as_ref().map(Option::as_deref)) {
                        return Err(e).aws_context(what);
                    }
                }
                Err(e) => return Err(e).aws_context(what),
            }
            if let Some(timeout) = ctx.wait_deleted {
                wait_deleted(rds, id, timeout).await?;
            }
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

/// Performs the steps in order; each finished step goes into the report.
pub async fn apply(c: &Clients, plan: &Plan, ctx: &ApplyContext<'_>, report: &mut Report) -> anyhow::Result<()> {
    for step in &plan.steps {
        let mut change = step.change.clone();
        for op in &step.ops {
            if let Some(arn) = apply_op(c, op, ctx).await? {
                change = change.with_id(arn);
            }
        }
        if change.action.is_change() {
            tracing::info!("{} {} {}", change.action.word(false), change.kind, change.name);
        }
        report.change(change);
    }
    Ok(())
}

/// Waits until the instance is `available` with nothing of ours pending.
pub async fn wait_available(rds: &aws_sdk_rds::Client, id: &str, timeout: Duration) -> anyhow::Result<DbInstance> {
    wait_until(&format!("DB instance {id}"), timeout, || async {
        Ok(match describe_instance(rds, id).await? {
            None => WaitState::Failed("it no longer exists".into()),
            Some(i) => match readiness(i.db_instance_status().unwrap_or_default(), pending_ours(&i)) {
                WaitState::Ready(()) => WaitState::Ready(i),
                WaitState::Pending(p) => WaitState::Pending(p),
                WaitState::Failed(f) => WaitState::Failed(f),
            },
        })
    })
    .await
}

async fn wait_deleted(rds: &aws_sdk_rds::Client, id: &str, timeout: Duration) -> anyhow::Result<()> {
    wait_until(&format!("deletion of DB instance {id}"), timeout, || async {
        Ok(match describe_instance(rds, id).await? {
            None => WaitState::Ready(()),
            Some(i) => WaitState::Pending(i.db_instance_status().unwrap_or("deleting").to_owned()),
        })
    })
    .await
}
