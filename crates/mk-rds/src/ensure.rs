//! Planning a converge: the subnet group, the instance ([`crate::instance`])
//! and the `--join-sg` memberships, from what exists. Pure.
//!
//! A subnet group of that name tagged for another client is bad input; one
//! not tagged at all is used as it is, with a finding; ours gains the
//! VPC's new subnets (never loses one) and the tags it lacks.

use common::error::bad_input;
use common::{Action, Change, Deployment, Finding};
use serde_json::json;
use time::Date;

use crate::desired::DesiredInstance;
use crate::instance::{group_ids, instance_step};
use crate::join::join_step;
use crate::observed::{Network, Observed, ObservedSubnetGroup};
use crate::op::{
    ENSURE_INSTANCE, ENSURE_MEMBERSHIPS, ENSURE_SUBNET_GROUP, KIND_SUBNET_GROUP, Op, Plan, Step, other_client, pairs,
};

fn create_subnet_group(d: &Deployment, want: &DesiredInstance, net: &Network) -> anyhow::Result<Step> {
    let mut zones: Vec<&str> = net.subnets.iter().map(|(_, az)| az.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    if zones.len() < 2 {
        anyhow::bail!(
            "VPC {} has subnets in {} availability zone(s): an RDS subnet group needs two; add a subnet \
             in another zone or pass --vpc-id",
            net.vpc_id,
            zones.len()
        );
    }
    let name = &want.subnet_group;
    let subnet_ids = net.subnets.iter().map(|(id, _)| id.clone()).collect();
    Ok(Step::new(
        Change::new(KIND_SUBNET_GROUP, name, Action::Create),
        vec![Op::CreateSubnetGroup { name: name.clone(), subnet_ids, tags: d.tags() }],
    ))
}

fn subnet_group_step(
    d: &Deployment,
    want: &DesiredInstance,
    net: &Network,
    o: Option<&ObservedSubnetGroup>,
    plan: &mut Plan,
) -> anyhow::Result<Step> {
    let Some(o) = o else { return create_subnet_group(d, want, net) };
    let name = &want.subnet_group;
    let change = |action| Change::new(KIND_SUBNET_GROUP, name, action).with_id(&o.arn);
    if o.vpc_id != net.vpc_id {
        anyhow::bail!(
            "DB subnet group {name} is in {}, not {}: pass --vpc-id {} or another --subnet-group",
            o.vpc_id,
            net.vpc_id,
            o.vpc_id
        );
    }
    if let Some(other) = other_client(d, &o.tags) {
        return Err(bad_input(format!(
            "DB subnet group {name} belongs to deployment {other:?}: choose another --subnet-group"
        )));
    }
    if !d.owns(pairs(&o.tags)) {
        plan.finding(
            Finding::info(format!("DB subnet group {name} exists and was not created by mk-rds: used as it is"))
                .with_code("foreign-resource")
                .about(name),
        );
        return Ok(Step::unchanged(change(Action::Unchanged)));
    }
    let mut ops = Vec::new();
    let mut c = change(Action::Update);
    // Subnets are only added: one in use by the instance cannot be removed.
    let missing: Vec<&String> = net.subnets.iter().map(|(id, _)| id).filter(|id| !o.subnet_ids.contains(id)).collect();
    if !missing.is_empty() {
        let mut all = o.subnet_ids.clone();
        all.extend(missing.into_iter().cloned());
        c = c.with_diff("subnets", json!(o.subnet_ids), json!(all));
        ops.push(Op::SetSubnets { name: name.clone(), subnet_ids: all });
    }
    let tags = d.missing_tags(pairs(&o.tags));
    if !tags.is_empty() {
        ops.push(Op::AddTags { arn: o.arn.clone(), tags });
        c.details.push("tags".to_owned());
    }
    if ops.is_empty() {
        return Ok(Step::unchanged(change(Action::Unchanged)));
    }
    Ok(Step::new(c, ops))
}

/// The converge: subnet group, then the instance in it, then the
/// memberships of other instances ([`crate::join`]); `today` dates the
/// findings on versions past RDS standard support.
pub fn plan_ensure(d: &Deployment, want: &DesiredInstance, o: &Observed, today: Date) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let net = &o.network;
    let Some(group_ids) = group_ids(net) else {
        anyhow::bail!(
            "security group {} not found in {}: run `mk-sg --client {}` first (it makes the group EMR reaches \
             MySQL through)",
            want.emr_rds_group,
            net.vpc_id,
            d.client
        );
    };
    let sg = subnet_group_step(d, want, net, o.subnet_group.as_ref(), &mut plan)?;
    let inst = instance_step(d, want, &group_ids, net, o.instance.as_ref(), today, &mut plan)?;
    let joins = o.joins.iter().map(|j| join_step(want, j, today, &mut plan)).collect::<anyhow::Result<Vec<_>>>()?;
    plan.step(sg.in_phase(ENSURE_SUBNET_GROUP));
    plan.step(inst.in_phase(ENSURE_INSTANCE));
    for j in joins {
        plan.step(j.in_phase(ENSURE_MEMBERSHIPS));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{actions, converged, d, net, today, want};
    use crate::observed::ObservedJoin;
    use crate::op::{KIND_INSTANCE, changes_instance, creates_instance};

    #[test]
    fn empty_account_creates_subnet_group_then_instance() {
        let o = Observed { network: net(), ..Default::default() };
        let p = plan_ensure(&d(), &want(), &o, today()).unwrap();
        assert_eq!(
            actions(&p),
            [(KIND_SUBNET_GROUP, "acme-analytics", Action::Create), (KIND_INSTANCE, "acme-analytics", Action::Create)]
        );
        assert_eq!(
            p.steps[0].ops,
            [Op::CreateSubnetGroup {
                name: "acme-analytics".into(),
                subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
                tags: d().tags()
            }]
        );
        assert!(p.steps[0].phase < p.steps[1].phase, "the instance is created in the subnet group");
        let Op::CreateInstance(spec) = &p.steps[1].ops[0] else { panic!() };
        assert_eq!(spec.group_ids, ["sg-emr", "sg-default"]);
        assert_eq!((spec.class.as_str(), spec.storage_gb, spec.backup_days), ("db.t3.medium", 20, 7));
        assert!(creates_instance(&p) && changes_instance(&p));
    }

    #[test]
    fn converged_is_unchanged() {
        let p = plan_ensure(&d(), &want(), &converged(), today()).unwrap();
        assert!(p.steps.iter().all(|s| s.ops.is_empty() && s.change().action == Action::Unchanged));
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert!(!changes_instance(&p));
    }

    #[test]
    fn prerequisites() {
        let mut o = Observed { network: net(), ..Default::default() };
        o.network.emr_rds_group = None;
        let e = plan_ensure(&d(), &want(), &o, today()).unwrap_err().to_string();
        assert!(e.contains("acme-emr-rds") && e.contains("mk-sg"), "{e}");
        let mut o = Observed { network: net(), ..Default::default() };
        o.network.subnets.truncate(1);
        let e = plan_ensure(&d(), &want(), &o, today()).unwrap_err().to_string();
        assert!(e.contains("two"), "{e}");
        let mut o = converged();
        o.instance.as_mut().unwrap().vpc_id = Some("vpc-2".into());
        assert!(plan_ensure(&d(), &want(), &o, today()).unwrap_err().to_string().contains("--vpc-id vpc-2"));
    }

    #[test]
    fn subnet_group_gains_new_subnets_and_tags() {
        let mut o = converged();
        o.network.subnets.push(("subnet-c".into(), "us-east-1c".into()));
        o.subnet_group.as_mut().unwrap().tags.truncate(1);
        let p = plan_ensure(&d(), &want(), &o, today()).unwrap();
        assert_eq!(p.steps[0].change().details, ["subnets", "tags"]);
        assert_eq!(
            p.steps[0].ops[0],
            Op::SetSubnets {
                name: "acme-analytics".into(),
                subnet_ids: vec!["subnet-a".into(), "subnet-b".into(), "subnet-c".into()]
            }
        );
    }

    #[test]
    fn join_adds_the_group_and_keeps_the_others() {
        let mut o = converged();
        let j = ObservedJoin {
            id: "edxapp".into(),
            vpc_id: Some("vpc-1".into()),
            groups: vec!["sg-edxapp".into()],
            emr_rds_group: Some("sg-emr".into()),
            ..Default::default()
        };
        o.joins.push(j.clone());
        let p = plan_ensure(&d(), &want(), &o, today()).unwrap();
        assert_eq!(p.steps[2].change().name, "edxapp/acme-emr-rds");
        assert_eq!(p.steps[2].change().action, Action::Create);
        assert_eq!(p.steps[2].phase, ENSURE_MEMBERSHIPS);
        let Op::ModifyInstance { id, modification, .. } = &p.steps[2].ops[0] else { panic!() };
        assert_eq!(id, "edxapp");
        assert_eq!(modification.group_ids.as_deref().unwrap(), ["sg-edxapp", "sg-emr"]);
        assert!(!changes_instance(&p), "joining another instance is not a change of ours to wait for");

        o.joins[0].groups.push("sg-emr".into());
        let p = plan_ensure(&d(), &want(), &o, today()).unwrap();
        assert_eq!(p.steps[2].change().action, Action::Unchanged);

        o.joins[0].emr_rds_group = None;
        assert!(plan_ensure(&d(), &want(), &o, today()).unwrap_err().to_string().contains("--join-sg edxapp"));
    }
}
