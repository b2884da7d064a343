//! Reading what exists: the VPC, its subnets and groups (EC2), the
//! instances and the subnet group (RDS); and waiting on the instance.
//! Thin: the decisions are in [`crate::plan`].

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, PendingModifiedValues};
use common::AwsResultExt;
use common::error::bad_input;
use common::wait::{WaitState, wait_until};
use network::{VpcChoice, filter, find_vpc};

use crate::desired::DesiredInstance;
use crate::observed::{Network, Observed, ObservedInstance, ObservedJoin, ObservedSubnetGroup, poll_readiness};

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

/// A pending modification in words, for the report.
pub fn pending_changes(p: &PendingModifiedValues) -> Vec<String> {
    let s = |label: &str, v: Option<String>| v.map(|v| format!("{label} {v}"));
    [
        s("instance class", p.db_instance_class().map(str::to_owned)),
        s("storage", p.allocated_storage().map(|g| format!("{g} GB"))),
        s("storage type", p.storage_type().map(str::to_owned)),
        s("IOPS", p.iops().map(|n| n.to_string())),
        s("backup retention", p.backup_retention_period().map(|d| format!("{d} days"))),
        s("Multi-AZ", p.multi_az().map(|b| b.to_string())),
        s("engine version", p.engine_version().map(str::to_owned)),
        s("port", p.port().map(|n| n.to_string())),
        s("CA certificate", p.ca_certificate_identifier().map(str::to_owned)),
        s("DB subnet group", p.db_subnet_group_name().map(str::to_owned)),
        s("identifier", p.db_instance_identifier().map(str::to_owned)),
        p.master_user_password().map(|_| "master password".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn endpoint(i: &DbInstance) -> Option<(String, i32)> {
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
        storage_gb: pending.and_then(PendingModifiedValues::allocated_storage).or(i.allocated_storage()).unwrap_or(0),
        storage_type: pending.and_then(|p| p.storage_type()).or(i.storage_type()).unwrap_or_default().to_owned(),
        encrypted: i.storage_encrypted().unwrap_or(false),
        public: i.publicly_accessible().unwrap_or(false),
        backup_days: pending
            .and_then(PendingModifiedValues::backup_retention_period)
            .or(i.backup_retention_period())
            .unwrap_or(0),
        groups: member_groups(i),
        vpc_id: i.db_subnet_group().and_then(|g| g.vpc_id()).map(str::to_owned),
        subnet_group: i.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_owned),
        master_username: i.master_username().unwrap_or_default().to_owned(),
        endpoint: endpoint(i),
        tags: i.tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect(),
        pending: pending_ours(i),
        lifecycle: i.engine_lifecycle_support().map(str::to_owned),
    }
}

async fn instance(rds: &aws_sdk_rds::Client, id: &str) -> anyhow::Result<Option<ObservedInstance>> {
    Ok(describe_instance(rds, id).await?.as_ref().map(observed_instance))
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
async fn joins(
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
        out.push(ObservedJoin {
            id: id.clone(),
            vpc_id,
            groups: member_groups(&i),
            emr_rds_group: group,
            engine: i.engine().unwrap_or_default().to_owned(),
            engine_version: i.engine_version().unwrap_or_default().to_owned(),
            lifecycle: i.engine_lifecycle_support().map(str::to_owned),
            maintenance_window: i.preferred_maintenance_window().map(str::to_owned),
            pending: i.pending_modified_values().map(pending_changes).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Everything a converge compares: the network (and the memberships, whose
/// EMR-RDS group it may hold), the instance and the subnet group, read
/// concurrently.
pub async fn observe(c: &Clients, want: &DesiredInstance, region: &str) -> anyhow::Result<Observed> {
    let ((network, joins), instance, subnet_group) = tokio::try_join!(
        async {
            let network = network(c, want.vpc_id.as_deref(), region, &want.emr_rds_group).await?;
            let joins = joins(c, &want.join, &want.emr_rds_group, Some(&network)).await?;
            Ok::<_, anyhow::Error>((network, joins))
        },
        instance(&c.rds, &want.id),
        subnet_group(&c.rds, &want.subnet_group),
    )?;
    Ok(Observed { network, instance, subnet_group, joins })
}

/// What `--destroy` compares: no network, only what may be deleted.
pub async fn observe_destroy(c: &Clients, want: &DesiredInstance) -> anyhow::Result<Observed> {
    let (instance, subnet_group, joins) = tokio::try_join!(
        instance(&c.rds, &want.id),
        subnet_group(&c.rds, &want.subnet_group),
        joins(c, &want.join, &want.emr_rds_group, None),
    )?;
    Ok(Observed { instance, subnet_group, joins, ..Default::default() })
}

/// The instance's status when it exists (`Some(None)`: no status given).
pub async fn status(rds: &aws_sdk_rds::Client, id: &str) -> anyhow::Result<Option<Option<String>>> {
    Ok(describe_instance(rds, id).await?.map(|i| i.db_instance_status().map(str::to_owned)))
}

/// Waits until the instance is usable (`available` or
/// `storage-optimization`) with nothing of ours pending. After a create
/// (`created`), "not found" is waited out until the instance is first
/// listed ([`poll_readiness`]).
pub async fn wait_available(
    rds: &aws_sdk_rds::Client,
    id: &str,
    timeout: Duration,
    created: bool,
) -> anyhow::Result<ObservedInstance> {
    let seen = Cell::new(!created);
    let told = Cell::new(false);
    wait_until(&format!("DB instance {id}"), timeout, || async {
        let found = describe_instance(rds, id).await?;
        let seen_before = seen.get();
        if found.is_none() && !seen_before && !told.replace(true) {
            tracing::info!(
                "waiting for DB instance {id} to be listed (DescribeDBInstances answered DBInstanceNotFound right \
                 after the create; trying again for up to {} s)",
                timeout.as_secs()
            );
        }
        seen.set(seen_before || found.is_some());
        let state = found.as_ref().map(|i| (i.db_instance_status().unwrap_or_default(), pending_ours(i)));
        Ok(match poll_readiness(state, seen_before) {
            WaitState::Ready(()) => WaitState::Ready(observed_instance(found.as_ref().expect("ready when found"))),
            WaitState::Pending(p) => WaitState::Pending(p),
            WaitState::Failed(f) => WaitState::Failed(f),
        })
    })
    .await
}

/// Waits until the instance is gone.
pub async fn wait_deleted(rds: &aws_sdk_rds::Client, id: &str, timeout: Duration) -> anyhow::Result<()> {
    wait_until(&format!("deletion of DB instance {id}"), timeout, || async {
        Ok(match describe_instance(rds, id).await? {
            None => WaitState::Ready(()),
            Some(i) => WaitState::Pending(i.db_instance_status().unwrap_or("deleting").to_owned()),
        })
    })
    .await
}
