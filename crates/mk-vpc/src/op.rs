//! The plan's vocabulary, shared by converging ([`crate::plan`]) and
//! destroying ([`crate::destroy`]): the EC2 calls ([`Op`]), the phases, and
//! the plan with what the report's outputs need from it ([`VpcPlan`]).

use std::collections::BTreeMap;

use crate::observed::ANYWHERE;

/// An internet gateway, existing or about to be created by the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayRef {
    Existing(String),
    /// The one this run creates: its id is known once `CreateGateway` has
    /// answered, and read then by the ops that need it.
    New,
}

/// One EC2 call on the VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    EnableDnsSupport,
    EnableDnsHostnames,
    CreateGateway { tags: Vec<(String, String)> },
    TagGateway { id: String, tags: Vec<(String, String)> },
    AttachGateway(GatewayRef),
    CreateRoute { route_table: String, gateway: GatewayRef },
    DeleteRoute { route_table: String },
    DetachGateway { id: String },
    DeleteGateway { id: String },
}

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// Converging, one phase after the other: DNS support, then DNS hostnames
/// (refused without support), then the internet gateway (created and
/// attached), then the routes to it.
pub const DNS_SUPPORT: u8 = 0;
pub const DNS_HOSTNAMES: u8 = 1;
pub const GATEWAY: u8 = 2;
pub const ROUTES: u8 = 3;
/// Destroying: the routes to our gateway, then the gateway.
pub const DESTROY_ROUTES: u8 = 0;
pub const DESTROY_GATEWAYS: u8 = 1;

/// The plan, and what the report's outputs need from it.
#[derive(Debug, Default)]
pub struct VpcPlan {
    pub plan: Plan,
    pub vpc_id: String,
    /// The gateway the routes go to; `New` until created.
    pub gateway: Option<GatewayRef>,
    /// Each desired subnet and its route table (explicit, else the main one).
    pub subnet_route_tables: Vec<(String, String)>,
    /// The main table, or the first subnet's.
    pub route_table_id: Option<String>,
}

impl VpcPlan {
    /// `subnet_id -> route_table_id`, for the report.
    pub fn route_table_ids(&self) -> BTreeMap<String, String> {
        self.subnet_route_tables.iter().cloned().collect()
    }
}

/// A route's name in the report: `<route table>:0.0.0.0/0`.
pub fn route_name(table: &str) -> String {
    format!("{table}:{ANYWHERE}")
}
