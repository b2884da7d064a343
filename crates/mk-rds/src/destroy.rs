//! Planning `--destroy`: the memberships, then the instance (with a final
//! snapshot unless `--skip-final-snapshot`), then the subnet group. Pure.
//!
//! Only what carries the client's tag goes; anything else is left with a
//! finding. The subnet group goes only in a run that waits for the
//! instance to be gone: RDS refuses to delete it while the instance is in it.

use common::{Action, Change, Deployment, Finding};
use time::OffsetDateTime;

use crate::desired::DesiredInstance;
use crate::observed::Observed;
use crate::op::{
    DESTROY_INSTANCE, DESTROY_MEMBERSHIPS, DESTROY_SUBNET_GROUP, KIND_INSTANCE, KIND_SUBNET_GROUP, Op, Plan, Step,
    pairs,
};

/// Options of the destroy path.
#[derive(Debug, Clone, Copy)]
pub struct DestroyOptions {
    pub skip_final_snapshot: bool,
    /// The run waits for the instance to be gone, so the subnet group can go too.
    pub waits: bool,
    /// When the run started: it names the final snapshot.
    pub now: OffsetDateTime,
}

/// `YYYYMMDDHHMMSS` in UTC.
pub fn utc_stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// The EMR-RDS group taken away from the `--join-sg` instances, keeping
/// their other groups ([`crate::join::leave_step`]).
fn memberships(want: &DesiredInstance, o: &Observed, plan: &mut Plan) {
    for j in &o.joins {
        if let Some(step) = crate::join::leave_step(want, j, plan) {
            plan.step(step.in_phase(DESTROY_MEMBERSHIPS));
        }
    }
}

/// The instance, when it is the client's; returns whether an instance
/// remains once this run is done.
fn instance(d: &Deployment, want: &DesiredInstance, o: &Observed, opts: DestroyOptions, plan: &mut Plan) -> bool {
    let Some(i) = &o.instance else { return false };
    if !d.owns(pairs(&i.tags)) {
        plan.finding(
            Finding::info(format!("DB instance {} was not created by mk-rds for {}: left alone", want.id, d.client))
                .with_code("foreign-resource")
                .about(&want.id),
        );
        return true;
    }
    let final_snapshot = (!opts.skip_final_snapshot).then(|| format!("{}-final-{}", want.id, utc_stamp(opts.now)));
    let mut change = Change::new(KIND_INSTANCE, &want.id, Action::Delete).with_id(&i.arn);
    if let Some(s) = &final_snapshot {
        change = change.with_details(vec![format!("final snapshot {s}")]);
    }
    let op = Op::DeleteInstance { id: want.id.clone(), final_snapshot };
    plan.step(Step::new(change, vec![op]).in_phase(DESTROY_INSTANCE));
    !opts.waits
}

pub fn plan_destroy(d: &Deployment, want: &DesiredInstance, o: &Observed, opts: DestroyOptions) -> Plan {
    let mut plan = Plan::default();
    memberships(want, o, &mut plan);
    let instance_remains = instance(d, want, o, opts, &mut plan);
    let Some(g) = &o.subnet_group else { return plan };
    let name = &want.subnet_group;
    if !d.owns(pairs(&g.tags)) {
        plan.finding(
            Finding::info(format!("DB subnet group {name} was not created by mk-rds for {}: left alone", d.client))
                .with_code("foreign-resource")
                .about(name),
        );
    } else if instance_remains {
        plan.finding(
            Finding::info(format!(
                "DB subnet group {name} stays while DB instance {} exists: re-run --destroy once it is gone",
                want.id
            ))
            .with_code("subnet-group-kept")
            .about(name),
        );
    } else {
        let change = Change::new(KIND_SUBNET_GROUP, name, Action::Delete).with_id(&g.arn);
        plan.step(Step::new(change, vec![Op::DeleteSubnetGroup { name: name.clone() }]).in_phase(DESTROY_SUBNET_GROUP));
    }
    plan
}

#[cfg(test)]
mod tests {
    use common::deployment::TAG_CLIENT;

    use super::*;
    use crate::fixtures::{actions, converged, d, want};
    use crate::observed::ObservedJoin;
    use crate::op::KIND_MEMBERSHIP;

    const T: i64 = 1_700_000_000;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn destroy_in_reverse_order_with_a_final_snapshot() {
        let mut o = converged();
        o.joins.push(ObservedJoin {
            id: "edxapp".into(),
            vpc_id: Some("vpc-1".into()),
            groups: vec!["sg-edxapp".into(), "sg-emr".into()],
            emr_rds_group: Some("sg-emr".into()),
            ..Default::default()
        });
        let opts = DestroyOptions { skip_final_snapshot: false, waits: true, now: at(T) };
        let p = plan_destroy(&d(), &want(), &o, opts);
        assert_eq!(
            actions(&p),
            [
                (KIND_MEMBERSHIP, "edxapp/acme-emr-rds", Action::Delete),
                (KIND_INSTANCE, "acme-analytics", Action::Delete),
                (KIND_SUBNET_GROUP, "acme-analytics", Action::Delete)
            ]
        );
        assert!(p.steps.windows(2).all(|w| w[0].phase < w[1].phase), "one after the other");
        let Op::ModifyInstance { modification, .. } = &p.steps[0].ops[0] else { panic!() };
        assert_eq!(modification.group_ids.as_deref().unwrap(), ["sg-edxapp"]);
        assert_eq!(
            p.steps[1].ops[0],
            Op::DeleteInstance {
                id: "acme-analytics".into(),
                final_snapshot: Some("acme-analytics-final-20231114221320".into())
            }
        );
        let p = plan_destroy(&d(), &want(), &o, DestroyOptions { skip_final_snapshot: true, ..opts });
        assert_eq!(p.steps[1].ops[0], Op::DeleteInstance { id: "acme-analytics".into(), final_snapshot: None });
    }

    #[test]
    fn destroy_without_waiting_keeps_the_subnet_group_for_later() {
        let o = converged();
        let opts = DestroyOptions { skip_final_snapshot: false, waits: false, now: at(T) };
        let p = plan_destroy(&d(), &want(), &o, opts);
        assert_eq!(actions(&p), [(KIND_INSTANCE, "acme-analytics", Action::Delete)]);
        assert!(p.findings.iter().any(|f| f.message.contains("re-run --destroy")));
        let later = Observed { instance: None, ..converged() };
        let p = plan_destroy(&d(), &want(), &later, opts);
        assert_eq!(actions(&p), [(KIND_SUBNET_GROUP, "acme-analytics", Action::Delete)]);
    }

    #[test]
    fn destroy_leaves_what_is_not_ours() {
        let mut o = converged();
        o.instance.as_mut().unwrap().tags.clear();
        o.subnet_group.as_mut().unwrap().tags = vec![(TAG_CLIENT.into(), "other".into())];
        let opts = DestroyOptions { skip_final_snapshot: false, waits: true, now: at(T) };
        let p = plan_destroy(&d(), &want(), &o, opts);
        assert!(p.steps.is_empty());
        assert_eq!(p.findings.len(), 2);
    }

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(at(0)), "19700101000000");
        assert_eq!(utc_stamp(at(T)), "20231114221320");
        assert_eq!(utc_stamp(at(951_782_400)), "20000229000000");
        assert_eq!(utc_stamp(at(4_102_444_799)), "20991231235959");
    }
}
