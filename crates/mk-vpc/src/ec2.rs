//! Reading the VPC on EC2 (observe). Reads only; the changes are sent by
//! [`crate::apply`].

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttachmentStatus, Filter, VpcAttributeName};
use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};
use common::{AwsResultExt, Deployment};

use network::{filter, find_vpc, tags_of};

use crate::desired::Desired;
use crate::observed::{ANYWHERE, InternetGateway, Observed, ObservedSubnet, ObservedVpc, RouteTable};

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

pub(crate) async fn route_tables(ec2: &Client, vpc: &str) -> anyhow::Result<Vec<RouteTable>> {
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

pub(crate) async fn gateways(ec2: &Client, filters: Vec<Filter>) -> anyhow::Result<Vec<InternetGateway>> {
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
