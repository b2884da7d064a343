//! Comparing the network we want with what exists: a `common::Plan` of
//! [`Op`]s, by pure code. Converging is planned here, destroying in
//! [`crate::destroy`]; the calls and phases they share are in [`crate::op`].
//!
//! The phases keep the calls in the order AWS needs them, one after the
//! other: DNS support, then DNS hostnames (refused without support), then
//! the internet gateway (created and attached), then the routes to it.
//! Destroying: the routes to our gateway, then the gateway.

use common::error::bad_input;
use common::{Action, Change, Deployment, Finding};

use crate::desired::Desired;
use crate::observed::{
    ANYWHERE, InternetGateway, Observed, ObservedSubnet, ObservedVpc, RouteTable, main_table, pairs, route_table_for,
};
use crate::op::{DNS_HOSTNAMES, DNS_SUPPORT, GATEWAY, ROUTES, route_name};
pub use crate::op::{GatewayRef, Op, Plan, Step, VpcPlan};

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

fn attribute_step(vpc_id: &str, attribute: &str, enabled: bool, op: Op, phase: u8) -> Step {
    let name = format!("{vpc_id}:{attribute}");
    let step = if enabled {
        Step::unchanged(Change::new("vpc-attribute", name, Action::Unchanged).with_id(vpc_id))
    } else {
        let change =
            Change::new("vpc-attribute", name, Action::Update).with_id(vpc_id).with_diff(attribute, false, true);
        Step::new(change, vec![op])
    };
    step.in_phase(phase)
}

/// Which gateway the VPC will use, and the step that gets it there.
fn ensure_gateway(d: &Deployment, vpc_id: &str, gateways: &[InternetGateway], plan: &mut Plan) -> (GatewayRef, Step) {
    let change = |action| Change::new("internet-gateway", vpc_id, action);
    if let Some(g) = gateways.iter().find(|g| g.attached_to.iter().any(|v| v == vpc_id)) {
        let ours = d.owns(pairs(&g.tags));
        if !ours {
            plan.finding(
                Finding::info(format!(
                    "internet gateway {} of {vpc_id} was not created by mk-vpc for {}: adopted as it is; \
                     destroy leaves it and its routes",
                    g.id, d.client
                ))
                .with_code("foreign-resource")
                .about(&g.id),
            );
        }
        let missing = d.missing_tags(pairs(&g.tags));
        let step = if ours && !missing.is_empty() {
            let c = change(Action::Update).with_id(&g.id).with_details(vec!["tags".into()]);
            Step::new(c, vec![Op::TagGateway { id: g.id.clone(), tags: missing }])
        } else {
            Step::unchanged(change(Action::Unchanged).with_id(&g.id))
        };
        return (GatewayRef::Existing(g.id.clone()), step.in_phase(GATEWAY));
    }
    // Ours, created by a run that stopped before attaching it.
    if let Some(g) = gateways.iter().find(|g| g.attached_to.is_empty() && d.owns(pairs(&g.tags))) {
        let r = GatewayRef::Existing(g.id.clone());
        let c = change(Action::Update).with_id(&g.id).with_diff("attached", serde_json::Value::Null, vpc_id);
        return (r.clone(), Step::new(c, vec![Op::AttachGateway(r)]).in_phase(GATEWAY));
    }
    let ops = vec![Op::CreateGateway { tags: d.tags() }, Op::AttachGateway(GatewayRef::New)];
    (GatewayRef::New, Step::new(change(Action::Create), ops).in_phase(GATEWAY))
}

/// The route to the gateway in one table: created when the table has no
/// `0.0.0.0/0`, adopted when it goes to the gateway, else a warning.
fn ensure_route(t: &RouteTable, gateway: &GatewayRef, plan: &mut Plan) {
    let change = |action| Change::new("route", route_name(&t.id), action);
    match (&t.default_route, gateway) {
        (None, g) => {
            let mut c = change(Action::Create);
            if let GatewayRef::Existing(id) = g {
                c.id = Some(id.clone());
            }
            let op = Op::CreateRoute { route_table: t.id.clone(), gateway: g.clone() };
            plan.step(Step::new(c, vec![op]).in_phase(ROUTES));
        }
        (Some(target), GatewayRef::Existing(id)) if target == id => {
            plan.step(Step::unchanged(change(Action::Unchanged).with_id(id)).in_phase(ROUTES));
        }
        (Some(target), _) => plan.finding(
            Finding::warning(format!(
                "route table {} sends {ANYWHERE} to {target}, not to the internet gateway: left as it is \
                 (mk-vpc never overwrites a route); EMR needs a route to the internet, so point it to the \
                 gateway or check that {target} reaches the internet",
                t.id
            ))
            .with_code("route-elsewhere")
            .about(route_name(&t.id)),
        ),
    }
}

fn ensure(d: &Deployment, desired: &Desired, vpc: &ObservedVpc, o: &Observed) -> anyhow::Result<VpcPlan> {
    check_subnets(desired, &vpc.id, &o.subnets)?;
    let mut out = VpcPlan { vpc_id: vpc.id.clone(), ..Default::default() };
    let no_main = || anyhow::anyhow!("VPC {} has no main route table", vpc.id);
    let plan = &mut out.plan;

    // Hostnames need DNS support first: one attribute per call, in this order.
    plan.step(attribute_step(&vpc.id, "enableDnsSupport", vpc.dns_support, Op::EnableDnsSupport, DNS_SUPPORT));
    plan.step(attribute_step(&vpc.id, "enableDnsHostnames", vpc.dns_hostnames, Op::EnableDnsHostnames, DNS_HOSTNAMES));

    let (gateway, step) = ensure_gateway(d, &vpc.id, &o.gateways, plan);
    plan.step(step);

    let mut tables: Vec<&RouteTable> = Vec::new();
    if desired.subnet_ids.is_empty() {
        tables.push(main_table(&o.route_tables).ok_or_else(no_main)?);
    }
    for s in &desired.subnet_ids {
        let t = route_table_for(s, &o.route_tables).ok_or_else(no_main)?;
        out.subnet_route_tables.push((s.clone(), t.id.clone()));
        if !tables.iter().any(|x| x.id == t.id) {
            tables.push(t);
        }
    }
    out.route_table_id = tables.first().map(|t| t.id.clone());
    for t in tables {
        ensure_route(t, &gateway, &mut out.plan);
    }
    out.gateway = Some(gateway);
    Ok(out)
}

/// Plans the run: converge the VPC, or remove what this tool made in it.
pub fn plan(d: &Deployment, desired: &Desired, o: &Observed, destroy_run: bool) -> anyhow::Result<VpcPlan> {
    let vpc = o.vpc.as_ref().ok_or_else(|| anyhow::anyhow!("no VPC observed"))?;
    if destroy_run {
        check_subnets(desired, &vpc.id, &o.subnets)?;
        Ok(crate::destroy::destroy(d, vpc, o))
    } else {
        ensure(d, desired, vpc, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{ClientName, Severity};
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

    fn actions(p: &VpcPlan) -> Vec<(String, Action)> {
        p.plan.steps.iter().map(|s| (format!("{} {}", s.change().kind, s.change().name), s.change().action)).collect()
    }

    fn ops(p: &VpcPlan) -> Vec<Op> {
        p.plan.steps.iter().flat_map(|s| s.ops.clone()).collect()
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
        assert_eq!(p.plan.steps[0].change().action, Action::Unchanged);
        assert_eq!(p.plan.steps[0].change().name, format!("{VPC}:enableDnsSupport"));
        assert_eq!(p.plan.steps[2].change().kind, "internet-gateway");
        assert_eq!(p.plan.steps[3].change().name, "rtb-main:0.0.0.0/0");
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
        assert_eq!(p.plan.steps[1].change().action, Action::Update);
    }

    #[test]
    fn each_phase_needs_only_what_an_earlier_one_made() {
        let mut o = fresh();
        o.vpc = Some(ObservedVpc { id: VPC.into(), dns_support: false, dns_hostnames: false });
        let p = plan(&d(), &want(&["subnet-a", "subnet-b"]), &o, false).unwrap();
        let phases: Vec<(u8, &str)> = p.plan.steps.iter().map(|s| (s.phase, s.change().kind)).collect();
        assert_eq!(
            phases,
            [(0, "vpc-attribute"), (1, "vpc-attribute"), (2, "internet-gateway"), (3, "route"), (3, "route")]
        );
        let diff = &p.plan.steps[0].change().diff[0];
        assert_eq!(
            (diff.attribute.as_str(), &diff.before, &diff.after),
            ("enableDnsSupport", &false.into(), &true.into())
        );
        assert_eq!(p.plan.totals(), common::plan::Totals { create: 3, update: 2, delete: 0, unchanged: 0 });
        assert!(p.plan.steps[2].change().id.is_none(), "a new gateway's id is known after apply");

        let mut o = fresh();
        o.gateways = vec![igw("igw-1", Some(VPC), d().tags())];
        o.route_tables[0].default_route = Some("igw-1".into());
        let p = plan(&d(), &want(&[]), &o, true).unwrap();
        let phases: Vec<(u8, &str)> = p.plan.steps.iter().map(|s| (s.phase, s.change().kind)).collect();
        assert_eq!(phases, [(0, "route"), (1, "internet-gateway")], "the route goes before its gateway");
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
        assert!(p.plan.steps.iter().all(|s| s.change().action == Action::Unchanged));
        assert_eq!(p.gateway, Some(GatewayRef::Existing("igw-1".into())));
        assert_eq!(p.plan.findings.len(), 1);
        assert_eq!(p.plan.findings[0].severity, Severity::Info);
        assert!(p.plan.findings[0].message.contains("igw-1") && p.plan.findings[0].message.contains("adopted"));
    }

    #[test]
    fn a_route_elsewhere_is_a_finding_not_overwritten() {
        let mut o = fresh();
        o.gateways = vec![igw("igw-1", Some(VPC), vec![])];
        o.route_tables[0].default_route = Some("nat-0123".into());
        o.gateways[0].tags = d().tags();
        let p = plan(&d(), &want(&[]), &o, false).unwrap();
        assert!(ops(&p).is_empty());
        assert_eq!(p.plan.findings.len(), 1);
        assert_eq!(p.plan.findings[0].severity, Severity::Warning);
        assert!(p.plan.findings[0].message.contains("nat-0123") && p.plan.findings[0].message.contains("rtb-main"));
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
        assert!(p.plan.steps.is_empty(), "an adopted gateway is never removed");
    }
}
