//! `--join-sg`: the EMR-RDS group added to other instances (converging) or
//! taken from them (destroying), such as the edxapp production database.
//! Pure.
//!
//! Such an instance is someone else's production database, so its
//! ModifyDBInstance carries `ApplyImmediately=false` unless
//! `--apply-immediately`: `true` would also apply at once every
//! modification queued on it for its maintenance window
//! (`PendingModifiedValues`; a class or storage-type change restarts it).
//! RDS applies a change of VPC security groups "asynchronously ... as soon
//! as possible" whatever ApplyImmediately says (ModifyDBInstance API
//! reference), without a restart; the rest waits for the window. Either
//! way the document says when (finding `not-applied-immediately` or
//! `applied-immediately`, with the window and what is queued).
//!
//! A re-run does not send the change again: from the moment RDS accepts it
//! the instance lists the group in `VpcSecurityGroups` (status `adding`,
//! then `active`), which is what is compared; `PendingModifiedValues` has no
//! field for security groups. Should RDS ever not list it yet, a re-run
//! sends the same group list again, with the same ApplyImmediately: the
//! same request, harmless.

use common::{Action, Change, Finding};
use serde_json::json;
use time::Date;

use crate::desired::DesiredInstance;
use crate::observed::ObservedJoin;
use crate::op::{KIND_MEMBERSHIP, Modification, Op, Plan, Step, membership_name};
use crate::support;

/// How the modification of `j` applies, for its change's details.
fn timing_details(apply_immediately: bool, j: &ObservedJoin) -> Vec<String> {
    let mut details = vec![format!("ApplyImmediately={apply_immediately}")];
    if let Some(w) = &j.maintenance_window {
        details.push(format!("maintenance window {w} (UTC)"));
    }
    details
}

/// What the document says about when the change to `j` applies.
fn timing_finding(want: &DesiredInstance, j: &ObservedJoin, group: &str, adding: bool) -> Finding {
    let what = format!(
        "DB instance {}: {} ({group}) {} with ApplyImmediately={}",
        j.id,
        want.emr_rds_group,
        if adding { "added to its security groups" } else { "taken from its security groups" },
        want.apply_immediately
    );
    let queued = if j.pending.is_empty() { "nothing".to_owned() } else { j.pending.join(", ") };
    let window = j.maintenance_window.as_deref().unwrap_or("(not reported)");
    let finding = if !want.apply_immediately {
        Finding::info(format!(
            "{what} (no --apply-immediately): what is queued on it ({queued}) stays for its maintenance window \
             {window} (UTC); RDS applies the security group change itself as soon as possible, without a restart \
             (ModifyDBInstance applies VpcSecurityGroupIds asynchronously whatever ApplyImmediately says)"
        ))
        .with_code("not-applied-immediately")
    } else if j.pending.is_empty() {
        Finding::info(format!(
            "{what} (--apply-immediately): nothing else was queued on it for its maintenance window {window}"
        ))
        .with_code("applied-immediately")
    } else {
        Finding::warning(format!(
            "{what} (--apply-immediately): RDS also applies now what was queued on it for its maintenance window \
             {window}: {queued} (some changes restart the database)"
        ))
        .with_code("applied-immediately")
    };
    finding.about(&j.id)
}

/// Converging: `j` joins the EMR-RDS group of its VPC, keeping its other
/// groups; a version past RDS standard support is a finding.
pub fn join_step(want: &DesiredInstance, j: &ObservedJoin, today: Date, plan: &mut Plan) -> anyhow::Result<Step> {
    let Some(group) = &j.emr_rds_group else {
        anyhow::bail!(
            "--join-sg {}: no security group {} in its VPC {}: run mk-sg for that VPC first",
            j.id,
            want.emr_rds_group,
            j.vpc_id.as_deref().unwrap_or("(none)")
        );
    };
    if let Some(f) = support::running_finding(&j.id, &j.engine, &j.engine_version, j.lifecycle.as_deref(), today) {
        plan.finding(f);
    }
    let change =
        |action| Change::new(KIND_MEMBERSHIP, membership_name(&j.id, &want.emr_rds_group), action).with_id(group);
    if j.groups.contains(group) {
        return Ok(Step::unchanged(change(Action::Unchanged)));
    }
    let mut all = j.groups.clone();
    all.push(group.clone());
    let mut c = change(Action::Create).with_diff("security groups", json!(j.groups), json!(all));
    c.details.extend(timing_details(want.apply_immediately, j));
    plan.finding(timing_finding(want, j, group, true));
    let modification =
        Modification { group_ids: Some(all), apply_immediately: want.apply_immediately, ..Default::default() };
    Ok(Step::new(c, vec![Op::ModifyInstance { id: j.id.clone(), modification }]))
}

/// Destroying: the EMR-RDS group taken from `j`, keeping its other groups
/// (`None` when it is not a member, or when it is its only group).
pub fn leave_step(want: &DesiredInstance, j: &ObservedJoin, plan: &mut Plan) -> Option<Step> {
    let group = j.emr_rds_group.as_ref().filter(|g| j.groups.contains(g))?;
    let rest: Vec<String> = j.groups.iter().filter(|g| *g != group).cloned().collect();
    if rest.is_empty() {
        plan.finding(
            Finding::warning(format!(
                "DB instance {} has no security group but {}: left as it is (an instance needs one)",
                j.id, want.emr_rds_group
            ))
            .with_code("membership-kept")
            .about(&j.id),
        );
        return None;
    }
    let mut change =
        Change::new(KIND_MEMBERSHIP, membership_name(&j.id, &want.emr_rds_group), Action::Delete).with_id(group);
    change.details = timing_details(want.apply_immediately, j);
    plan.finding(timing_finding(want, j, group, false));
    let modification =
        Modification { group_ids: Some(rest), apply_immediately: want.apply_immediately, ..Default::default() };
    Some(Step::new(change, vec![Op::ModifyInstance { id: j.id.clone(), modification }]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{today, want};

    fn edxapp() -> ObservedJoin {
        ObservedJoin {
            id: "edxapp".into(),
            vpc_id: Some("vpc-1".into()),
            groups: vec!["sg-edxapp".into()],
            emr_rds_group: Some("sg-emr".into()),
            engine: "mysql".into(),
            engine_version: "8.4.3".into(),
            lifecycle: None,
            maintenance_window: Some("sun:05:00-sun:05:30".into()),
            pending: vec![],
        }
    }

    fn modification(s: &Step) -> &Modification {
        let Op::ModifyInstance { modification, .. } = &s.ops[0] else { panic!("{:?}", s.ops) };
        modification
    }

    #[test]
    fn a_production_database_is_not_modified_immediately_by_default() {
        let mut p = Plan::default();
        let s = join_step(&want(), &edxapp(), today(), &mut p).unwrap();
        assert!(!modification(&s).apply_immediately);
        assert_eq!(modification(&s).group_ids.as_deref().unwrap(), ["sg-edxapp", "sg-emr"]);
        assert_eq!(
            s.change().details,
            ["security groups", "ApplyImmediately=false", "maintenance window sun:05:00-sun:05:30 (UTC)"]
        );
        let f = &p.findings[0];
        assert_eq!(
            (f.code, f.severity, f.resource.as_deref()),
            (Some("not-applied-immediately"), common::Severity::Info, Some("edxapp"))
        );
        for needle in ["ApplyImmediately=false", "sun:05:00-sun:05:30", "acme-emr-rds (sg-emr)", "as soon as possible"]
        {
            assert!(f.message.contains(needle), "{needle}: {}", f.message);
        }
    }

    #[test]
    fn apply_immediately_says_what_else_it_applies_now() {
        let mut w = want();
        w.apply_immediately = true;
        let mut j = edxapp();
        let mut p = Plan::default();
        let s = join_step(&w, &j, today(), &mut p).unwrap();
        assert!(modification(&s).apply_immediately);
        assert_eq!((p.findings[0].code, p.findings[0].severity), (Some("applied-immediately"), common::Severity::Info));
        j.pending = vec!["instance class db.m5.large".into()];
        let mut p = Plan::default();
        join_step(&w, &j, today(), &mut p).unwrap();
        assert_eq!(p.findings[0].severity, common::Severity::Warning);
        assert!(p.findings[0].message.contains("instance class db.m5.large"), "{}", p.findings[0].message);
    }

    #[test]
    fn a_member_is_unchanged_and_an_old_version_is_reported_each_run() {
        let mut j = edxapp();
        j.groups.push("sg-emr".into());
        j.engine_version = "8.0.39".into();
        let mut p = Plan::default();
        let s = join_step(&want(), &j, today(), &mut p).unwrap();
        assert!(s.ops.is_empty() && s.change().action == Action::Unchanged);
        assert_eq!(p.findings.iter().map(|f| f.code).collect::<Vec<_>>(), [Some("extended-support")]);
    }

    #[test]
    fn leaving_follows_the_same_rule() {
        let mut j = edxapp();
        j.groups.push("sg-emr".into());
        let mut p = Plan::default();
        let s = leave_step(&want(), &j, &mut p).unwrap();
        assert_eq!(modification(&s).group_ids.as_deref().unwrap(), ["sg-edxapp"]);
        assert!(!modification(&s).apply_immediately);
        assert_eq!(p.findings[0].code, Some("not-applied-immediately"));
        j.groups = vec!["sg-emr".into()];
        assert!(leave_step(&want(), &j, &mut Plan::default()).is_none(), "its only group stays");
    }
}
