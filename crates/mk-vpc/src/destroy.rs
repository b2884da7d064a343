//! Planning `--destroy`: the internet gateways this tool created for the
//! client in the VPC, and the routes to them. Pure. DNS stays on.

use common::{Action, Change, Deployment, Finding};

use crate::observed::{Observed, ObservedVpc, pairs};
use crate::op::{DESTROY_GATEWAYS, DESTROY_ROUTES, Op, Step, VpcPlan, route_name};

/// What to remove: each gateway of ours attached here (or detached) and
/// the routes that go to it; ours attached elsewhere are left, with a note.
pub fn destroy(d: &Deployment, vpc: &ObservedVpc, o: &Observed) -> VpcPlan {
    let mut out = VpcPlan { vpc_id: vpc.id.clone(), ..Default::default() };
    let plan = &mut out.plan;
    plan.finding(
        Finding::info(format!(
            "DNS support and DNS hostnames stay enabled on {}: destroy never turns them off",
            vpc.id
        ))
        .with_code("dns-kept")
        .about(&vpc.id),
    );
    for g in o.gateways.iter().filter(|g| d.owns(pairs(&g.tags))) {
        let here = g.attached_to.iter().any(|v| v == &vpc.id);
        if !here && !g.attached_to.is_empty() {
            plan.finding(
                Finding::info(format!(
                    "internet gateway {} of {} is attached to {}, not to {}: left alone",
                    g.id,
                    d.client,
                    g.attached_to.join(", "),
                    vpc.id
                ))
                .with_code("attached-elsewhere")
                .about(&g.id),
            );
            continue;
        }
        // A route has no tags: it is ours when it goes to our gateway.
        for t in o.route_tables.iter().filter(|t| t.default_route.as_deref() == Some(g.id.as_str())) {
            let c = Change::new("route", route_name(&t.id), Action::Delete).with_id(&g.id);
            plan.step(Step::new(c, vec![Op::DeleteRoute { route_table: t.id.clone() }]).in_phase(DESTROY_ROUTES));
        }
        let mut ops = Vec::new();
        if here {
            ops.push(Op::DetachGateway { id: g.id.clone() });
        }
        ops.push(Op::DeleteGateway { id: g.id.clone() });
        let name = if here { vpc.id.clone() } else { g.id.clone() };
        let c = Change::new("internet-gateway", name, Action::Delete).with_id(&g.id);
        plan.step(Step::new(c, ops).in_phase(DESTROY_GATEWAYS));
    }
    out
}
