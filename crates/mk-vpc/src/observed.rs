//! What exists of the network, as observe reads it and plan compares it.
//! Values only, and the pure lookups on them.

/// The destination EMR needs a route for.
pub const ANYWHERE: &str = "0.0.0.0/0";

/// The VPC and its two DNS attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedVpc {
    pub id: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSubnet {
    pub id: String,
    pub vpc_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTable {
    pub id: String,
    /// The VPC's main table: used by every subnet without an explicit one.
    pub main: bool,
    /// Subnets explicitly associated with this table.
    pub subnet_ids: Vec<String>,
    /// Where `0.0.0.0/0` goes (a gateway, NAT, instance... id), if anywhere.
    pub default_route: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternetGateway {
    pub id: String,
    /// The VPCs it is attached to (at most one on AWS).
    pub attached_to: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// What observe read. `gateways` holds, on an ensure run, the gateway
/// attached to the VPC or, when there is none, this deployment's detached
/// ones (left by an interrupted run); on destroy, this deployment's
/// gateways wherever they are.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub vpc: Option<ObservedVpc>,
    /// Those of the desired subnets that exist, in any VPC.
    pub subnets: Vec<ObservedSubnet>,
    /// Every route table of the VPC.
    pub route_tables: Vec<RouteTable>,
    pub gateways: Vec<InternetGateway>,
}

/// The route table a subnet uses: its explicit association, else the
/// VPC's main table.
pub fn route_table_for<'a>(subnet_id: &str, tables: &'a [RouteTable]) -> Option<&'a RouteTable> {
    tables.iter().find(|t| t.subnet_ids.iter().any(|s| s == subnet_id)).or_else(|| main_table(tables))
}

pub fn main_table(tables: &[RouteTable]) -> Option<&RouteTable> {
    tables.iter().find(|t| t.main)
}

/// Tags as `(key, value)` pairs, as [`common::Deployment`] reads them.
pub fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}
