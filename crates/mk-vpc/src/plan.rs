//! Comparing the network we want with what exists. Pure.

use std::collections::BTreeMap;

use common::error::bad_input;
use common::{Action, Change, Deployment, Finding, Severity};

use crate::desired::Desired;

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

/// An internet gateway, existing or about to be created by the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayRef {
    Existing(String),
    New,
}

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

/// One resource's change and the calls that make it, in order.
#[derive(Debug, Clone)]
pub struct Step {
    pub change: Change,
    pub ops: Vec<Op>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub vpc_id: String,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// The gateway the routes go to; `New` until created (dry-run).
    pub gateway: Option<GatewayRef>,
    /// Each desired subnet and its route table (explicit, else the main one).
    pub subnet_route_tables: Vec<(String, String)>,
    /// The main table, or the first subnet's.
    pub route_table_id: Option<String>,
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The route table a subnet uses: its explicit association, else the
/// VPC's main table.
pub fn route_table_for<'a>(subnet_id: &str, tables: &'a [RouteTable]) -> Option<&'a RouteTable> {
    tables.iter().find(|t| t.subnet_ids.iter().any(|s| s == subnet_id)).or_else(|| main_table(tables))
}

pub fn main_table(tables: &[RouteTable]) -> Option<&RouteTable> {
    tables.iter().find(|t| t.main)
}

/// Every desired subnet must exist and be in the VPC: a bad-input error
/// naming the first that is not, found before any mutating call.
pub fn check_subnets(desired: &Desired, vpc_id: &str, subnets: &[ObservedSubnet]) -> anyhow::Result<()> {
    for id in &desired.subnet_ids {
        match subnets.iter().find(|s| &s.id == id) {
            None => return Err(bad_input(format!("subnet {id} does not exist in this account and region"))),
            Some(s) if s.vpc_id != vpc_id => {
                return Err(bad_input(format!("subnet {id} belongs to {}, not to {vpc_id}", s.vpc_id)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn attribute_step(vpc_id: &str, attribute: &str, enabled: bool, op: Op) -> Step {
    let change = Change::new("vpc-attribute", format!("{vpc_id}:{attribute}"), Action::Unchanged).with_id(vpc_id);
    if enabled {
        Step { change, ops: vec![] }
    } else {
        let mut change = change.with_details(vec![format!("{attribute} false -> true")]);
        change.action = Action::Update;
        Step { change, ops: vec![op] }
    }
}

/// Which gateway the VPC will use, and the step that gets it there.
fn ensure_gateway(
    d: &Deployment,
    vpc_id: &str,
    gateways: &[InternetGateway],
    findings: &mut Vec<Finding>,
) -> (GatewayRef, Step) {
    let change = |action| Change::new("internet-gateway", vpc_id, action);
    if let Some(g) = gateways.iter().find(|g| g.attached_to.iter().any(|v| v == vpc_id)) {
        let ours = d.owns(pairs(&g.tags));
        if !ours {
            findings.push(Finding::new(
                Severity::Info,
                format!(
                    "internet gateway {} of {vpc_id} was not created by mk-vpc for {}: adopted as it is; \
                     destroy leaves it and its routes",
                    g.id, d.client
                ),
            ));
        }
        let missing = d.missing_tags(pairs(&g.tags));
        let step = if ours && !missing.is_empty() {
            Step {
                change: change(Action::Update).with_id(&g.id).with_details(vec!["tags".into()]),
                ops: vec![Op::TagGateway { id: g.id.clone(), tags: missing }],
            }
        } else {
            Step { change: change(Action::Unchanged).with_id(&g.id), ops: vec![] }
        };
        return (GatewayRef::Existing(g.id.clone()), step);
    }
    // Ours, created by a run that stopped before attaching it.
    if let Some(g) = gateways.iter().find(|g| g.attached_to.is_empty() && d.owns(pairs(&g.tags))) {
        let r = GatewayRef::Existing(g.id.clone());
        let step = Step {
            change: change(Action::Update).with_id(&g.id).with_details(vec!["attached".into()]),
            ops: vec![Op::AttachGateway(r.clone())],
        };
        return (r, step);
    }
    let step = Step {
        change: change(Action::Create),
        ops: vec![Op::CreateGateway { tags: d.tags() }, Op::AttachGateway(GatewayRef::New)],
    };
    (GatewayRef::New, step)
}

fn route_name(table: &str) -> String {
    format!("{table}:{ANYWHERE}")
}

fn ensure(d: &Deployment, desired: &Desired, vpc: &ObservedVpc, o: &Observed) -> anyhow::Result<Plan> {
    check_subnets(desired, &vpc.id, &o.subnets)?;
    let mut plan = Plan { vpc_id: vpc.id.clone(), ..Default::default() };
    let no_main = || anyhow::anyhow!("VPC {} has no main route table", vpc.id);

    // Hostnames need DNS support first: one attribute per call, in this order.
    plan.steps.push(attribute_step(&vpc.id, "enableDnsSupport", vpc.dns_support, Op::EnableDnsSupport));
    plan.steps.push(attribute_step(&vpc.id, "enableDnsHostnames", vpc.dns_hostnames, Op::EnableDnsHostnames));

    let (gateway, step) = ensure_gateway(d, &vpc.id, &o.gateways, &mut plan.findings);
    plan.steps.push(step);

    let mut tables: Vec<&RouteTable> = Vec::new();
    if desired.subnet_ids.is_empty() {
        tables.push(main_table(&o.route_tables).ok_or_else(no_main)?);
    }
    for s in &desired.subnet_ids {
        let t = route_table_for(s, &o.route_tables).ok_or_else(no_main)?;
        plan.subnet_route_tables.push((s.clone(), t.id.clone()));
        if !tables.iter().any(|x| x.id == t.id) {
            tables.push(t);
        }
    }
    plan.route_table_id = tables.first().map(|t| t.id.clone());

    for t in tables {
        let change = |action| Change::new("route", route_name(&t.id), action);
        match (&t.default_route, &gateway) {
            (None, g) => {
                let id = match g {
                    GatewayRef::Existing(id) => Some(id.clone()),
                    GatewayRef::New => None,
                };
                let mut c = change(Action::Create);
                c.id = id;
                plan.steps.push(Step {
                    change: c,
                    ops: vec![Op::CreateRoute { route_table: t.id.clone(), gateway: g.clone() }],
                });
            }
            (Some(target), GatewayRef::Existing(id)) if target == id => {
                plan.steps.push(Step { change: change(Action::Unchanged).with_id(id), ops: vec![] });
            }
            (Some(target), _) => plan.findings.push(Finding::new(
                Severity::Warning,
                format!(
                    "route table {} sends {ANYWHERE} to {target}, not to the internet gateway: left as it is \
                     (mk-vpc never overwrites a route); EMR needs a route to the internet, so point it to the \
                     gateway or check that {target} reaches the internet",
                    t.id
                ),
            )),
        }
    }
    plan.gateway = Some(gateway);
    Ok(plan)
}

fn destroy(d: &Deployment, vpc: &ObservedVpc, o: &Observed) -> Plan {
    let mut plan = Plan { vpc_id: vpc.id.clone(), ..Default::default() };
    plan.findings.push(Finding::new(
        Severity::Info,
        format!("DNS support and DNS hostnames stay enabled on {}: destroy never turns them off", vpc.id),
    ));
    for g in o.gateways.iter().filter(|g| d.owns(pairs(&g.tags))) {
        let here = g.attached_to.iter().any(|v| v == &vpc.id);
        if !here && !g.attached_to.is_empty() {
            plan.findings.push(Finding::new(
                Severity::Info,
                format!(
                    "internet gateway {} of {} is attached to {}, not to {}: left alone",
                    g.id,
                    d.client,
                    g.attached_to.join(", "),
                    vpc.id
                ),
            ));
            continue;
        }
        // A route has no tags: it is ours when it goes to our gateway.
        for t in o.route_tables.iter().filter(|t| t.default_route.as_deref() == Some(g.id.as_str())) {
            plan.steps.push(Step {
                change: Change::new("route", route_name(&t.id), Action::Delete).with_id(&g.id),
                ops: vec![Op::DeleteRoute { route_table: t.id.clone() }],
            });
        }
        let mut ops = Vec::new();
        if here {
            ops.push(Op::DetachGateway { id: g.id.clone() });
        }
        ops.push(Op::DeleteGateway { id: g.id.clone() });
        let name = if here { vpc.id.clone() } else { g.id.clone() };
        plan.steps.push(Step { change: Change::new("internet-gateway", name, Action::Delete).with_id(&g.id), ops });
    }
    plan
}

pub fn plan(d: &Deployment, desired: &Desired, o: &Observed, destroy_run: bool) -> anyhow::Result<Plan> {
    let vpc = o.vpc.as_ref().ok_or_else(|| anyhow::anyhow!("no VPC observed"))?;
    if destroy_run {
        check_subnets(desired, &vpc.id, &o.subnets)?;
        Ok(destroy(d, vpc, o))
    } else {
        ensure(d, desired, vpc, o)
    }
}

impl Plan {
    /// `subnet_id -> route_table_id`, for the report.
    pub fn route_table_ids(&self) -> BTreeMap<String, String> {
        self.subnet_route_tables.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ClientName;
    use network::VpcChoice;

    const VPC: &str = "vpc-00000001";

    fn d() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-vpc", extra_tags: vec![] }
    }

    fn want(subnets: &[&str]) -> Desired {
        Desired { vpc: VpcChoice::Default, subnet_ids: subnets.iter().map(std::string::ToString::to_string).collect() }
    }

    fn table(id: &str, main: bool, subnets: &[&str], default_route: Option<&str>) -> RouteTable {
        RouteTable {
            id: id.into(),
            main,
            subnet_ids: subnets.iter().map(std::string::ToString::to_string).collect(),
            default_route: default_route.map(str::to_owned),
        }
    }

    fn subnet(id: &str, vpc: &str) -> ObservedSubnet {
        ObservedSubnet { id: id.into(), vpc_id: vpc.into() }
    }

    fn igw(id: &str, attached: Option<&str>, tags: Vec<(String, String)>) -> InternetGateway {
        InternetGateway { id: id.into(), attached_to: attached.into_iter().map(str::to_owned).collect(), tags }
    }

    /// A VPC as moto makes it: DNS on, no gateway, a main table with no route out.
    fn fresh() -> Observed {
        Observed {
            vpc: Some(ObservedVpc { id: VPC.into(), dns_support: true, dns_hostnames: true }),
            subnets: vec![subnet("subnet-a", VPC), subnet("subnet-b", VPC), subnet("subnet-x", "vpc-other")],
            route_tables: vec![table("rtb-main", true, &[], None), table("rtb-b", false, &["subnet-b"], None)],
            gateways: vec![],
        }
    }

    fn actions(p: &Plan) -> Vec<(String, Action)> {
        p.steps.iter().map(|s| (format!("{} {}", s.change.kind, s.change.name), s.change.action)).collect()
    }

    fn ops(p: &Plan) -> Vec<Op> {
        p.steps.iter().flat_map(|s| s.ops.clone()).collect()
    }

    #[test]
    fn route_table_is_the_explicit_one_else_main() {
        let o = fresh();
        assert_eq!(route_table_for("subnet-b", &o.route_tables).unwrap().id, "rtb-b");
        assert_eq!(route_table_for("subnet-a", &o.route_tables).unwrap().id, "rtb-main");
        assert_eq!(route_table_for("subnet-a", &[table("rtb-b", false, &["subnet-b"], None)]), None);
    }

    #[test]
    fn fresh_vpc_gets_a_gateway_and_a_route_in_the_main_table() {
        let p = plan(&d(), &want(&[]), &fresh(), false).unwrap();
        assert_eq!(
            ops(&p),
            [
                Op::CreateGateway { tags: d().tags() },
                Op::AttachGateway(GatewayRef::New),
                Op::CreateRoute { route_table: "rtb-main".into(), gateway: GatewayRef::New },
            ]
        );
        assert_eq!(p.route_table_id.as_deref(), Some("rtb-main"));
        assert_eq!(p.steps[0].change.action, Action::Unchanged);
        assert_eq!(p.steps[0].change.name, format!("{VPC}:enableDnsSupport"));
        assert_eq!(p.steps[2].change.kind, "internet-gateway");
        assert_eq!(p.steps[3].change.name, "rtb-main:0.0.0.0/0");
    }

    #[test]
    fn dns_support_is_enabled_before_hostnames() {
        let mut o = fresh();
        o.vpc = Some(ObservedVpc { id: VPC.into(), dns_support: false, dns_hostnames: false });
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert_eq!(ops(&p)[..2], [Op::EnableDnsSupport, Op::EnableDnsHostnames]);
        o.vpc = Some(ObservedVpc { id: VPC.into(), dns_support: true, dns_hostnames: false });
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert_eq!(ops(&p)[0], Op::EnableDnsHostnames);
        assert_eq!(p.steps[1].change.action, Action::Update);
    }

    #[test]
    fn subnets_share_a_table_once() {
        let p = plan(&d(), &want(&["subnet-a", "subnet-b"]), &fresh(), false).unwrap();
        let routes: Vec<_> = ops(&p)
            .into_iter()
            .filter_map(|o| match o {
                Op::CreateRoute { route_table, .. } => Some(route_table),
                _ => None,
            })
            .collect();
        assert_eq!(routes, ["rtb-main", "rtb-b"]);
        assert_eq!(p.route_table_id.as_deref(), Some("rtb-main"));
        assert_eq!(p.route_table_ids()["subnet-b"], "rtb-b");
    }

    #[test]
    fn an_attached_gateway_and_its_route_are_adopted() {
        let mut o = fresh();
        o.gateways = vec![igw("igw-1", Some(VPC), vec![])];
        o.route_tables[0].default_route = Some("igw-1".into());
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert!(ops(&p).is_empty(), "{:?}", ops(&p));
        assert!(p.steps.iter().all(|s| s.change.action == Action::Unchanged));
        assert_eq!(p.gateway, Some(GatewayRef::Existing("igw-1".into())));
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity, Severity::Info);
        assert!(p.findings[0].message.contains("igw-1") && p.findings[0].message.contains("adopted"));
    }

    #[test]
    fn a_route_elsewhere_is_a_finding_not_overwritten() {
        let mut o = fresh();
        o.gateways = vec![igw("igw-1", Some(VPC), vec![])];
        o.route_tables[0].default_route = Some("nat-0123".into());
        o.gateways[0].tags = d().tags();
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert!(ops(&p).is_empty());
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert!(p.findings[0].message.contains("nat-0123") && p.findings[0].message.contains("rtb-main"));
    }

    #[test]
    fn a_detached_gateway_of_ours_is_attached_not_duplicated() {
        let mut o = fresh();
        o.gateways = vec![igw("igw-2", None, d().tags())];
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        let g = GatewayRef::Existing("igw-2".into());
        assert_eq!(
            ops(&p),
            [Op::AttachGateway(g.clone()), Op::CreateRoute { route_table: "rtb-main".into(), gateway: g }]
        );
        // Someone else's detached gateway is not ours to take.
        o.gateways = vec![igw("igw-3", None, vec![])];
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert!(matches!(ops(&p)[0], Op::CreateGateway { .. }));
    }

    #[test]
    fn bad_subnets_are_named() {
        for (s, needle) in [("subnet-nope", "subnet-nope does not exist"), ("subnet-x", "belongs to vpc-other")] {
            let e = plan(&d(), &want(&["subnet-a", s]), &fresh(), false).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
            assert!(e.to_string().contains(needle), "{e}");
            let e = plan(&d(), &want(&[s]), &fresh(), true).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2);
        }
    }

    #[test]
    fn destroy_removes_only_our_gateway_and_its_routes() {
        let mut o = fresh();
        o.gateways = vec![igw("igw-1", Some(VPC), d().tags())];
        o.route_tables[0].default_route = Some("igw-1".into());
        o.route_tables[1].default_route = Some("nat-1".into());
        let p = plan(&d(), &want(&[]), &o, true).unwrap();
        assert_eq!(
            ops(&p),
            [
                Op::DeleteRoute { route_table: "rtb-main".into() },
                Op::DetachGateway { id: "igw-1".into() },
                Op::DeleteGateway { id: "igw-1".into() },
            ]
        );
        assert!(actions(&p).iter().all(|(_, a)| *a == Action::Delete));
        assert!(!ops(&p).iter().any(|o| matches!(o, Op::EnableDnsSupport | Op::EnableDnsHostnames)));

        o.gateways = vec![igw("igw-1", Some(VPC), vec![])];
        let p = plan(&d(), &want(&[]), &o, true).unwrap();
        assert!(p.steps.is_empty(), "an adopted gateway is never removed");
    }
}
