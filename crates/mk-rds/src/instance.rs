//! Planning the instance: created when missing (with the
//! `EngineLifecycleSupport` of [`crate::support`]); else the one
//! modification that corrects its drift, tags it lacks, and warnings for
//! what RDS cannot change in place (encryption, engine, master user) and
//! for a version past RDS standard support. An instance not tagged for the
//! client is adopted as it is; one tagged for another client is bad input.
//! Pure.

use common::error::bad_input;
use common::{Action, Change, Deployment, Finding};
use serde_json::json;
use time::Date;

use crate::desired::{DesiredInstance, ENGINE, STORAGE_TYPE};
use crate::observed::{Network, ObservedInstance};
use crate::op::{InstanceSpec, KIND_INSTANCE, Modification, Op, Plan, Step, other_client, pairs};
use crate::support;

/// The groups the instance is in: the VPC's EMR-RDS group (`None` when the
/// VPC has none) and its default group.
pub fn group_ids(net: &Network) -> Option<Vec<String>> {
    let emr_rds = net.emr_rds_group.clone()?;
    Some(std::iter::once(emr_rds).chain(net.default_group.clone()).collect())
}

fn create_instance(d: &Deployment, want: &DesiredInstance, group_ids: &[String], today: Date, plan: &mut Plan) -> Step {
    if let Some(f) = support::create_finding(&want.id, &want.engine_version, &want.class, today) {
        plan.finding(f);
    }
    Step::new(
        Change::new(KIND_INSTANCE, &want.id, Action::Create),
        vec![Op::CreateInstance(Box::new(InstanceSpec {
            id: want.id.clone(),
            engine_version: want.engine_version.clone(),
            class: want.class.clone(),
            storage_gb: want.storage_gb,
            backup_days: want.backup_days,
            master_username: want.master_username.clone(),
            subnet_group: want.subnet_group.clone(),
            group_ids: group_ids.to_vec(),
            tags: d.tags(),
            lifecycle: support::create_lifecycle(&want.engine_version, today),
        }))],
    )
}

/// The one modification that corrects what differs and can be corrected,
/// applied immediately (our own instance: nothing else is queued on it).
fn modification(want: &DesiredInstance, group_ids: &[String], o: &ObservedInstance, plan: &mut Plan) -> Modification {
    let mut m = Modification { apply_immediately: true, ..Default::default() };
    if o.class != want.class {
        m.class = Some(want.class.clone());
    }
    if o.storage_gb < want.storage_gb {
        m.storage_gb = Some(want.storage_gb);
    } else if o.storage_gb > want.storage_gb {
        plan.finding(
            Finding::info(format!(
                "DB instance {} has {} GB of storage, more than --storage-gb {}: RDS storage never shrinks",
                want.id, o.storage_gb, want.storage_gb
            ))
            .with_code("storage-kept")
            .about(&want.id),
        );
    }
    if o.storage_type != STORAGE_TYPE {
        m.storage_type = Some(STORAGE_TYPE.to_owned());
    }
    // More days of backups than asked is kept: fewer would drop backups.
    if o.backup_days < want.backup_days {
        m.backup_days = Some(want.backup_days);
    }
    if o.public {
        m.public = Some(false);
    }
    if group_ids.iter().any(|g| !o.groups.contains(g)) {
        let mut all = o.groups.clone();
        all.extend(group_ids.iter().filter(|g| !o.groups.contains(g)).cloned());
        m.group_ids = Some(all);
    }
    m
}

/// `change` with each field of `m` as before -> after.
fn with_modification(mut change: Change, o: &ObservedInstance, m: &Modification) -> Change {
    if let Some(class) = &m.class {
        change = change.with_diff("instance class", o.class.as_str(), class.as_str());
    }
    if let Some(gb) = m.storage_gb {
        change = change.with_diff("storage size", o.storage_gb, gb);
    }
    if let Some(t) = &m.storage_type {
        change = change.with_diff("storage type", o.storage_type.as_str(), t.as_str());
    }
    if let Some(days) = m.backup_days {
        change = change.with_diff("backup retention", o.backup_days, days);
    }
    if let Some(groups) = &m.group_ids {
        change = change.with_diff("security groups", json!(o.groups), json!(groups));
    }
    if let Some(public) = m.public {
        change = change.with_diff("public access", o.public, public);
    }
    change
}

/// Warnings for what RDS cannot change in place.
fn unchangeable(want: &DesiredInstance, o: &ObservedInstance, plan: &mut Plan) {
    let mut warn = |code: &'static str, message: String| {
        plan.finding(Finding::warning(message).with_code(code).about(&want.id));
    };
    if !o.encrypted {
        warn(
            "unencrypted-instance",
            format!(
                "DB instance {} is not encrypted, and RDS cannot encrypt it in place: snapshot it, copy the \
                 snapshot encrypted, and restore",
                want.id
            ),
        );
    }
    if o.engine != ENGINE || !want.version_matches(&o.engine_version) {
        warn(
            "engine-differs",
            format!(
                "DB instance {} runs {} {}, not {ENGINE} {}: mk-rds does not change engines or versions",
                want.id, o.engine, o.engine_version, want.engine_version
            ),
        );
    }
    if o.master_username != want.master_username {
        warn(
            "master-user-differs",
            format!(
                "DB instance {} has master user {}, not {}: RDS cannot rename it",
                want.id, o.master_username, want.master_username
            ),
        );
    }
    if let Some(g) = o.subnet_group.as_deref().filter(|g| *g != want.subnet_group) {
        warn(
            "subnet-group-differs",
            format!("DB instance {} uses DB subnet group {g}, not {}", want.id, want.subnet_group),
        );
    }
}

pub fn instance_step(
    d: &Deployment,
    want: &DesiredInstance,
    group_ids: &[String],
    net: &Network,
    o: Option<&ObservedInstance>,
    today: Date,
    plan: &mut Plan,
) -> anyhow::Result<Step> {
    let Some(o) = o else { return Ok(create_instance(d, want, group_ids, today, plan)) };
    let change = |action| Change::new(KIND_INSTANCE, &want.id, action).with_id(&o.arn);
    if let Some(other) = other_client(d, &o.tags) {
        return Err(bad_input(format!(
            "DB instance {} belongs to deployment {other:?}: choose another --db-instance-id",
            want.id
        )));
    }
    if let Some(vpc) = &o.vpc_id
        && *vpc != net.vpc_id
    {
        anyhow::bail!("DB instance {} is in {vpc}, not {}: pass --vpc-id {vpc}", want.id, net.vpc_id);
    }
    if o.status == "deleting" {
        anyhow::bail!("DB instance {} is being deleted: re-run once it is gone", want.id);
    }
    let m = modification(want, group_ids, o, plan);
    unchangeable(want, o, plan);
    if let Some(f) = support::running_finding(&want.id, &o.engine, &o.engine_version, o.lifecycle.as_deref(), today) {
        plan.finding(f);
    }
    if !d.owns(pairs(&o.tags)) {
        let mut msg = format!("DB instance {} exists and was not created by mk-rds: adopted as it is", want.id);
        if !m.is_empty() {
            msg.push_str(&format!("; it differs in {}", m.details().join(", ")));
        }
        plan.finding(Finding::warning(msg).with_code("foreign-resource").about(&want.id));
        return Ok(Step::unchanged(change(Action::Unchanged)));
    }
    let mut c = with_modification(change(Action::Update), o, &m);
    let mut ops = Vec::new();
    if !m.is_empty() {
        ops.push(Op::ModifyInstance { id: want.id.clone(), modification: m });
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

#[cfg(test)]
mod tests {
    use common::deployment::TAG_CLIENT;

    use super::*;
    use crate::fixtures::{converged, d, today, want};
    use crate::observed::Observed;

    /// The instance's step alone, in a plan with its findings.
    fn planned(o: &Observed) -> anyhow::Result<Plan> {
        let mut p = Plan::default();
        let groups = group_ids(&o.network).unwrap();
        let step = instance_step(&d(), &want(), &groups, &o.network, o.instance.as_ref(), today(), &mut p)?;
        p.step(step);
        Ok(p)
    }

    #[test]
    fn drift_is_one_modification_of_what_differs() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.class = "db.t3.large".into();
        i.public = true;
        i.groups = vec!["sg-default".into(), "sg-bastion".into()];
        let p = planned(&o).unwrap();
        let s = &p.steps[0];
        assert_eq!(s.change().action, Action::Update);
        assert_eq!(s.change().details, ["instance class", "security groups", "public access"]);
        let Op::ModifyInstance { modification: m, .. } = &s.ops[0] else { panic!() };
        assert_eq!(m.class.as_deref(), Some("db.t3.medium"));
        assert_eq!(m.public, Some(false));
        assert_eq!(m.group_ids.as_deref().unwrap(), ["sg-default", "sg-bastion", "sg-emr"], "other groups kept");
        assert_eq!((m.storage_gb, m.backup_days, &m.storage_type), (None, None, &None));
        let diff: Vec<_> = s.change().diff.iter().map(|a| (a.attribute.as_str(), &a.before, &a.after)).collect();
        assert_eq!(diff[0], ("instance class", &json!("db.t3.large"), &json!("db.t3.medium")));
        assert_eq!(diff[2], ("public access", &json!(true), &json!(false)));
    }

    #[test]
    fn storage_and_backups_only_grow() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.storage_gb = 100;
        i.backup_days = 14;
        let p = planned(&o).unwrap();
        assert!(p.steps[0].ops.is_empty());
        assert!(p.findings.iter().any(|f| f.message.contains("never shrinks")));
        let i = o.instance.as_mut().unwrap();
        i.storage_gb = 10;
        i.backup_days = 1;
        i.storage_type = "gp2".into();
        let p = planned(&o).unwrap();
        let Op::ModifyInstance { modification: m, .. } = &p.steps[0].ops[0] else { panic!() };
        assert_eq!((m.storage_gb, m.backup_days, m.storage_type.as_deref()), (Some(20), Some(7), Some("gp3")));
    }

    #[test]
    fn what_cannot_change_is_a_warning() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.encrypted = false;
        i.engine_version = "9.1.0".into(); // not the 8.4 asked for, in standard support
        i.master_username = "root".into();
        let p = planned(&o).unwrap();
        assert!(p.steps[0].ops.is_empty());
        assert_eq!(p.findings.len(), 3, "{:?}", p.findings);
        assert!(p.findings.iter().all(|f| f.severity == common::Severity::Warning));
    }

    #[test]
    fn old_versions_say_what_they_cost() {
        let mut o = converged();
        o.instance.as_mut().unwrap().engine_version = "8.0.39".into();
        o.instance.as_mut().unwrap().tags.clear();
        o.instance.as_mut().unwrap().lifecycle = None; // not reported: the API's default, enrolled
        let p = planned(&o).unwrap();
        let f = p.findings.iter().find(|f| f.code == Some("extended-support")).expect("adopted 8.0");
        assert!(f.message.contains("8.0.39") && f.message.contains("per vCPU-hour"), "{}", f.message);

        let mut p = Plan::default();
        let mut w = want();
        let groups = group_ids(&o.network).unwrap();
        let step = instance_step(&d(), &w, &groups, &o.network, None, today(), &mut p).unwrap();
        let Op::CreateInstance(spec) = &step.ops[0] else { panic!() };
        assert_eq!(spec.lifecycle, "open-source-rds-extended-support-disabled");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        w.engine_version = "8.0".into();
        let step = instance_step(&d(), &w, &groups, &o.network, None, today(), &mut p).unwrap();
        let Op::CreateInstance(spec) = &step.ops[0] else { panic!() };
        assert_eq!(spec.lifecycle, "open-source-rds-extended-support", "AWS refuses 8.0 with it disabled");
        assert_eq!(p.findings[0].code, Some("extended-support"));
    }

    #[test]
    fn foreign_resources() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.tags.clear();
        i.class = "db.m5.large".into();
        let p = planned(&o).unwrap();
        assert!(p.steps[0].ops.is_empty());
        assert!(p.findings.iter().any(|f| f.message.contains("adopted") && f.message.contains("instance class")));
        assert!(p.findings.iter().any(|f| f.code == Some("foreign-resource")));
        o.instance.as_mut().unwrap().tags = vec![(TAG_CLIENT.into(), "other".into())];
        assert_eq!(common::error::exit_status(&planned(&o).unwrap_err()), 2);
    }
}
