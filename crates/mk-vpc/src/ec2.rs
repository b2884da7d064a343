//! Reading and changing the VPC on EC2. Thin: the decisions are in `plan`.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttachmentStatus, AttributeBooleanValue, Filter, ResourceType, VpcAttributeName};
use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};
use common::{AwsResultExt, Deployment, Report, aws_error_code};

use network::{filter, find_vpc, sdk_tags, tag_spec, tags_of};

use crate::desired::Desired;
use crate::plan::{ANYWHERE, GatewayRef, InternetGateway, Observed, ObservedSubnet, ObservedVpc, Op, Plan, RouteTable};

async fn attribute(ec2: &Client, vpc: &str, name: VpcAttributeName) -> anyhow::Result<bool> {
    let out = ec2
        .describe_vpc_attribute()
        .vpc_id(vpc)
        .attribute(name.clone())
        .send()
        .await
        .aws_context(format!("reading {} of {vpc}", name.as_str()))?;
    let value = match name {
        VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
        _ => out.enable_dns_hostnames(),
    };
    Ok(value.and_then(aws_sdk_ec2::types::AttributeBooleanValue::value).unwrap_or(false))
}

/// The named subnets or, when none is named, every subnet of the VPC.
async fn subnets(ec2: &Client, ids: &[String], vpc: &str) -> anyhow::Result<Vec<ObservedSubnet>> {
    // A filter, not SubnetIds: an unknown id is then missing from the
    // answer instead of failing the call, and each one can be named.
    let which = if ids.is_empty() { filter("vpc-id", [vpc]) } else { filter("subnet-id", ids) };
    let found: Vec<_> = ec2
        .describe_subnets()
        .filters(which)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .aws_context("reading subnets")?;
    Ok(found
        .iter()
        .map(|s| ObservedSubnet {
            id: s.subnet_id().unwrap_or_default().to_owned(),
            vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
        })
        .collect())
}

async fn route_tables(ec2: &Client, vpc: &str) -> anyhow::Result<Vec<RouteTable>> {
    let tables: Vec<_> = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", [vpc]))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .aws_context(format!("reading the route tables of {vpc}"))?;
    Ok(tables
        .iter()
        .map(|t| RouteTable {
            id: t.route_table_id().unwrap_or_default().to_owned(),
            main: t.associations().iter().any(|a| a.main() == Some(true)),
            subnet_ids: t.associations().iter().filter_map(|a| a.subnet_id().map(str::to_owned)).collect(),
            default_route: t.routes().iter().find(|r| r.destination_cidr_block() == Some(ANYWHERE)).map(|r| {
                [
                    r.gateway_id(),
                    r.nat_gateway_id(),
                    r.instance_id(),
                    r.network_interface_id(),
                    r.transit_gateway_id(),
                    r.vpc_peering_connection_id(),
                ]
                .into_iter()
                .flatten()
                .next()
                .unwrap_or("an unknown target")
                .to_owned()
            }),
        })
        .collect())
}

async fn gateways(ec2: &Client, filters: Vec<Filter>) -> anyhow::Result<Vec<InternetGateway>> {
    let found: Vec<_> = ec2
        .describe_internet_gateways()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .aws_context("reading internet gateways")?;
    Ok(found
        .iter()
        .map(|g| InternetGateway {
            id: g.internet_gateway_id().unwrap_or_default().to_owned(),
            attached_to: g
                .attachments()
                .iter()
                .filter(|a| !matches!(a.state(), Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)))
                .filter_map(|a| a.vpc_id().map(str::to_owned))
                .collect(),
            tags: tags_of(g.tags()),
        })
        .collect())
}

/// Reads the VPC, its attributes, the desired subnets, the VPC's route
/// tables and the gateways the plan needs (see [`Observed::gateways`]).
/// Reads only: a bad id is found here, before any mutating call.
pub async fn observe(
    ec2: &Client,
    d: &Deployment,
    desired: &Desired,
    region: &str,
    destroy: bool,
) -> anyhow::Result<Observed> {
    let vpc = find_vpc(ec2, &desired.vpc, region).await?;
    let ours = || {
        vec![
            filter(&format!("tag:{TAG_CLIENT}"), [d.client.as_str()]),
            filter(&format!("tag:{TAG_MANAGED_BY}"), [d.tool]),
        ]
    };
    let (support, hostnames, subnets, route_tables, gateways) = tokio::try_join!(
        attribute(ec2, &vpc, VpcAttributeName::EnableDnsSupport),
        attribute(ec2, &vpc, VpcAttributeName::EnableDnsHostnames),
        subnets(ec2, &desired.subnet_ids, &vpc),
        route_tables(ec2, &vpc),
        async {
            if destroy {
                return gateways(ec2, ours()).await;
            }
            let attached = gateways(ec2, vec![filter("attachment.vpc-id", [vpc.as_str()])]).await?;
            if !attached.is_empty() {
                return Ok(attached);
            }
            // None attached: look for ours left detached by an interrupted run.
            gateways(ec2, ours()).await
        },
    )?;
    Ok(Observed {
        vpc: Some(ObservedVpc { id: vpc, dns_support: support, dns_hostnames: hostnames }),
        subnets,
        route_tables,
        gateways,
    })
}

fn enabled() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

/// Runs one call; returns the id of a gateway it created.
async fn apply_op(ec2: &Client, vpc: &str, op: &Op, new_gateway: Option<&str>) -> anyhow::Result<Option<String>> {
    let resolve = |g: &GatewayRef| -> anyhow::Result<String> {
        match g {
            GatewayRef::Existing(id) => Ok(id.clone()),
            GatewayRef::New => new_gateway.map(str::to_owned).ok_or_else(|| anyhow::anyhow!("no gateway created")),
        }
    };
    match op {
        Op::EnableDnsSupport => {
            ec2.modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_support(enabled())
                .send()
                .await
                .aws_context(format!("enabling DNS support on {vpc}"))?;
        }
        Op::EnableDnsHostnames => {
            ec2.modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_hostnames(enabled())
                .send()
                .await
                .aws_context(format!("enabling DNS hostnames on {vpc}"))?;
        }
        Op::CreateGateway { tags } => {
            // Tagged in the same call, so an interrupted run leaves a
            // gateway the next run recognises as its own.
            // Nothing deduplicates this create: sent once per try, and
            // after a lost answer the gateway is looked for by its tags
            // (the plan creates one only when none of ours is detached).
            let no_retries = aws_sdk_ec2::config::Config::builder().retry_config(common::once::no_retries());
            let ours: Vec<Filter> = tags.iter().map(|(k, v)| filter(&format!("tag:{k}"), [v.as_str()])).collect();
            let id = common::once::at_most_once(
                "creating an internet gateway",
                || async {
                    let out = ec2
                        .create_internet_gateway()
                        .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
                        .customize()
                        .config_override(no_retries.clone())
                        .send()
                        .await?;
                    Ok(out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_owned())
                },
                || async {
                    let found = gateways(ec2, ours.clone()).await?;
                    Ok(found.into_iter().find(|g| g.attached_to.is_empty()).map(|g| g.id))
                },
            )
            .await?;
            return Ok(Some(id));
        }
        Op::TagGateway { id, tags } => {
            ec2.create_tags()
                .resources(id)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .aws_context(format!("tagging internet gateway {id}"))?;
        }
        Op::AttachGateway(g) => {
            let id = resolve(g)?;
            let what = format!("attaching internet gateway {id} to {vpc}");
            match ec2.attach_internet_gateway().internet_gateway_id(&id).vpc_id(vpc).send().await {
                Ok(_) => {}
                // Already so: a retry of an attach whose answer was lost.
                Err(e) if aws_error_code(&e) == Some("Resource.AlreadyAssociated") => {
                    let found = gateways(ec2, vec![filter("internet-gateway-id", [id.as_str()])]).await?;
                    if !found.iter().any(|g| g.attached_to.iter().any(|v| v == vpc)) {
                        return Err(e).aws_context(format!("{what} (it is attached elsewhere)"));
                    }
                }
                Err(e) => return Err(e).aws_context(what),
            }
        }
        Op::CreateRoute { route_table, gateway } => {
            let id = resolve(gateway)?;
            let what = format!("adding route {ANYWHERE} -> {id} to {route_table}");
            let call =
                ec2.create_route().route_table_id(route_table).destination_cidr_block(ANYWHERE).gateway_id(&id).send();
            match call.await {
                Ok(_) => {}
                // Already there: a retry of a create whose answer was lost,
                // fine if it goes to our gateway.
                Err(e) if aws_error_code(&e) == Some("RouteAlreadyExists") => {
                    let tables = route_tables(ec2, vpc).await?;
                    let target = tables.iter().find(|t| &t.id == route_table).and_then(|t| t.default_route.clone());
                    if target.as_deref() != Some(id.as_str()) {
                        anyhow::bail!(
                            "{what}: RouteAlreadyExists: {route_table} already sends {ANYWHERE} to {}, not to {id}; \
                             remove that route or name another route table",
                            target.as_deref().unwrap_or("an unknown target")
                        );
                    }
                }
                Err(e) => return Err(e).aws_context(what),
            }
        }
        Op::DeleteRoute { route_table } => {
            ec2.delete_route()
                .route_table_id(route_table)
                .destination_cidr_block(ANYWHERE)
                .send()
                .await
                .aws_context(format!("removing route {ANYWHERE} from {route_table}"))?;
        }
        Op::DetachGateway { id } => {
            ec2.detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc)
                .send()
                .await
                .aws_context(format!("detaching internet gateway {id} from {vpc}"))?;
        }
        Op::DeleteGateway { id } => {
            ec2.delete_internet_gateway()
                .internet_gateway_id(id)
                .send()
                .await
                .aws_context(format!("deleting internet gateway {id}"))?;
        }
    }
    Ok(None)
}

/// Performs the plan in order. Every step that finished is in the report,
/// even when a later one failed. Returns the gateway the routes go to.
pub async fn apply(ec2: &Client, plan: &Plan, report: &mut Report) -> anyhow::Result<Option<String>> {
    let mut created: Option<String> = None;
    for step in &plan.steps {
        let mut change = step.change.clone();
        for op in &step.ops {
            if let Some(id) = apply_op(ec2, &plan.vpc_id, op, created.as_deref()).await? {
                created = Some(id);
            }
        }
        if change.id.is_none()
            && let Some(id) = &created
        {
            change.id = Some(id.clone());
        }
        if change.action.is_change() {
            tracing::info!("{} {} {}", change.action.word(false), change.kind, change.name);
        }
        report.change(change);
    }
    Ok(match &plan.gateway {
        Some(GatewayRef::Existing(id)) => Some(id.clone()),
        Some(GatewayRef::New) => created,
        None => None,
    })
}
