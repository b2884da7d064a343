//! Comparing the instance, subnet group and memberships we want with what
//! exists, into steps of calls. Pure.

use common::deployment::TAG_CLIENT;
use common::error::bad_input;
use common::wait::WaitState;
use common::{Action, Change, Deployment, Finding};

use crate::desired::{DesiredInstance, ENGINE, STORAGE_TYPE};

/// The VPC the instance lives in, as read from EC2.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub vpc_id: String,
    /// `(subnet id, availability zone)`.
    pub subnets: Vec<(String, String)>,
    /// Id of the `<c>-emr-rds` group in this VPC.
    pub emr_rds_group: Option<String>,
    /// Id of the VPC's `default` group.
    pub default_group: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedSubnetGroup {
    pub arn: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// An instance as read from RDS. Class, storage and backup days are the
/// values it is headed for (a pending modification counts as done).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedInstance {
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub class: String,
    pub storage_gb: i32,
    pub storage_type: String,
    pub encrypted: bool,
    pub public: bool,
    pub backup_days: i32,
    /// VPC security groups it is (or is becoming) a member of.
    pub groups: Vec<String>,
    pub vpc_id: Option<String>,
    pub subnet_group: Option<String>,
    pub master_username: String,
    pub endpoint: Option<(String, i32)>,
    pub tags: Vec<(String, String)>,
    /// A change to class, storage or backups is still pending.
    pub pending: bool,
}

/// An instance that should join the EMR-RDS group (`--join-sg`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedJoin {
    pub id: String,
    pub vpc_id: Option<String>,
    pub groups: Vec<String>,
    /// The EMR-RDS group of the instance's VPC, if it has one.
    pub emr_rds_group: Option<String>,
}

/// Everything `CreateDBInstance` gets but the password, which is generated
/// and written to the secrets directory right before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub id: String,
    pub engine_version: String,
    pub class: String,
    pub storage_gb: i32,
    pub backup_days: i32,
    pub master_username: String,
    pub subnet_group: String,
    pub group_ids: Vec<String>,
    pub tags: Vec<(String, String)>,
}

/// The fields of one `ModifyDBInstance` (applied immediately); `None`
/// leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modification {
    pub class: Option<String>,
    pub storage_gb: Option<i32>,
    pub storage_type: Option<String>,
    pub backup_days: Option<i32>,
    pub group_ids: Option<Vec<String>>,
    pub public: Option<bool>,
}

impl Modification {
    pub fn is_empty(&self) -> bool {
        *self == Modification::default()
    }

    fn details(&self) -> Vec<String> {
        [
            (self.class.is_some(), "instance class"),
            (self.storage_gb.is_some(), "storage size"),
            (self.storage_type.is_some(), "storage type"),
            (self.backup_days.is_some(), "backup retention"),
            (self.group_ids.is_some(), "security groups"),
            (self.public.is_some(), "public access"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, label)| label.to_owned())
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    CreateSubnetGroup { name: String, subnet_ids: Vec<String>, tags: Vec<(String, String)> },
    SetSubnets { name: String, subnet_ids: Vec<String> },
    AddTags { arn: String, tags: Vec<(String, String)> },
    CreateInstance(Box<InstanceSpec>),
    ModifyInstance { id: String, modification: Modification },
    DeleteInstance { id: String, final_snapshot: Option<String> },
    DeleteSubnetGroup { name: String },
}

/// One resource's change and the calls that make it.
#[derive(Debug, Clone)]
pub struct Step {
    pub change: Change,
    pub ops: Vec<Op>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
}

impl Plan {
    fn warn(&mut self, message: String) {
        self.findings.push(Finding::warning(message));
    }

    fn info(&mut self, message: String) {
        self.findings.push(Finding::info(message));
    }

    pub fn creates_instance(&self) -> bool {
        self.steps.iter().flat_map(|s| &s.ops).any(|op| matches!(op, Op::CreateInstance(_)))
    }

    /// Whether the instance itself is created or modified (tags alone
    /// give it nothing to process).
    pub fn changes_instance(&self) -> bool {
        self.steps
            .iter()
            .filter(|s| s.change.kind == KIND_INSTANCE)
            .flat_map(|s| &s.ops)
            .any(|op| matches!(op, Op::CreateInstance(_) | Op::ModifyInstance { .. }))
    }
}

pub const KIND_INSTANCE: &str = "rds-instance";
pub const KIND_SUBNET_GROUP: &str = "rds-subnet-group";
pub const KIND_MEMBERSHIP: &str = "rds-security-group-membership";

/// Statuses from which waiting will not bring `available`.
const HOPELESS: [&str; 10] = [
    "failed",
    "deleting",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "restore-error",
    "storage-full",
    "stopped",
];

/// Ready when `available` with no change of ours pending.
pub fn readiness(status: &str, pending: bool) -> WaitState<()> {
    match status {
        "available" if !pending => WaitState::Ready(()),
        "available" => WaitState::Pending("available, applying a modification".into()),
        s if HOPELESS.contains(&s) => WaitState::Failed(format!("its status is {s}")),
        s => WaitState::Pending(s.to_owned()),
    }
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn other_client<'a>(d: &Deployment, tags: &'a [(String, String)]) -> Option<&'a str> {
    tags.iter().find(|(k, v)| k == TAG_CLIENT && v != d.client.as_str()).map(|(_, v)| v.as_str())
}

fn subnet_group_step(
    d: &Deployment,
    want: &DesiredInstance,
    net: &Network,
    o: Option<&ObservedSubnetGroup>,
    plan: &mut Plan,
) -> anyhow::Result<Step> {
    let name = &want.subnet_group;
    let mut zones: Vec<&str> = net.subnets.iter().map(|(_, az)| az.as_str()).collect();
    zones.sort();
    zones.dedup();
    let Some(o) = o else {
        if zones.len() < 2 {
            anyhow::bail!(
                "VPC {} has subnets in {} availability zone(s): an RDS subnet group needs two; add a subnet \
                 in another zone or pass --vpc-id",
                net.vpc_id,
                zones.len()
            );
        }
        let subnet_ids = net.subnets.iter().map(|(id, _)| id.clone()).collect();
        return Ok(Step {
            change: Change::new(KIND_SUBNET_GROUP, name, Action::Create),
            ops: vec![Op::CreateSubnetGroup { name: name.clone(), subnet_ids, tags: d.tags() }],
        });
    };
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
        plan.info(format!("DB subnet group {name} exists and was not created by mk-rds: used as it is"));
        return Ok(Step { change: change(Action::Unchanged), ops: vec![] });
    }
    let mut ops = Vec::new();
    let mut details = Vec::new();
    // Subnets are only added: one in use by the instance cannot be removed.
    let missing: Vec<&String> = net.subnets.iter().map(|(id, _)| id).filter(|id| !o.subnet_ids.contains(id)).collect();
    if !missing.is_empty() {
        let mut all = o.subnet_ids.clone();
        all.extend(missing.into_iter().cloned());
        ops.push(Op::SetSubnets { name: name.clone(), subnet_ids: all });
        details.push("subnets".to_owned());
    }
    let tags = d.missing_tags(pairs(&o.tags));
    if !tags.is_empty() {
        ops.push(Op::AddTags { arn: o.arn.clone(), tags });
        details.push("tags".to_owned());
    }
    let action = if ops.is_empty() { Action::Unchanged } else { Action::Update };
    Ok(Step { change: change(action).with_details(details), ops })
}

fn instance_step(
    d: &Deployment,
    want: &DesiredInstance,
    group_ids: &[String],
    net: &Network,
    o: Option<&ObservedInstance>,
    plan: &mut Plan,
) -> anyhow::Result<Step> {
    let Some(o) = o else {
        return Ok(Step {
            change: Change::new(KIND_INSTANCE, &want.id, Action::Create),
            ops: vec![Op::CreateInstance(Box::new(InstanceSpec {
                id: want.id.clone(),
                engine_version: want.engine_version.clone(),
                class: want.class.clone(),
                storage_gb: want.storage_gb,
                backup_days: want.backup_days,
                master_username: want.master_username.clone(),
                subnet_group: want.subnet_group.clone(),
                group_ids: group_ids.to_vec(),
                tags: d.tags(),
            }))],
        });
    };
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
    let mut m = Modification::default();
    if o.class != want.class {
        m.class = Some(want.class.clone());
    }
    if o.storage_gb < want.storage_gb {
        m.storage_gb = Some(want.storage_gb);
    } else if o.storage_gb > want.storage_gb {
        plan.info(format!(
            "DB instance {} has {} GB of storage, more than --storage-gb {}: RDS storage never shrinks",
            want.id, o.storage_gb, want.storage_gb
        ));
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
    let mut notes = Vec::new();
    if !o.encrypted {
        notes.push(format!(
            "DB instance {} is not encrypted, and RDS cannot encrypt it in place: snapshot it, copy the \
             snapshot encrypted, and restore",
            want.id
        ));
    }
    if o.engine != ENGINE || !want.version_matches(&o.engine_version) {
        notes.push(format!(
            "DB instance {} runs {} {}, not {ENGINE} {}: mk-rds does not change engines or versions",
            want.id, o.engine, o.engine_version, want.engine_version
        ));
    }
    if o.master_username != want.master_username {
        notes.push(format!(
            "DB instance {} has master user {}, not {}: RDS cannot rename it",
            want.id, o.master_username, want.master_username
        ));
    }
    if o.subnet_group.as_deref().is_some_and(|g| g != want.subnet_group) {
        notes.push(format!(
            "DB instance {} uses DB subnet group {}, not {}",
            want.id,
            o.subnet_group.as_deref().unwrap_or_default(),
            want.subnet_group
        ));
    }
    for n in notes {
        plan.warn(n);
    }
    if !d.owns(pairs(&o.tags)) {
        let mut msg = format!("DB instance {} exists and was not created by mk-rds: adopted as it is", want.id);
        if !m.is_empty() {
            msg.push_str(&format!("; it differs in {}", m.details().join(", ")));
        }
        plan.warn(msg);
        return Ok(Step { change: change(Action::Unchanged), ops: vec![] });
    }
    let mut details = m.details();
    let mut ops = Vec::new();
    if !m.is_empty() {
        ops.push(Op::ModifyInstance { id: want.id.clone(), modification: m });
    }
    let tags = d.missing_tags(pairs(&o.tags));
    if !tags.is_empty() {
        ops.push(Op::AddTags { arn: o.arn.clone(), tags });
        details.push("tags".to_owned());
    }
    let action = if ops.is_empty() { Action::Unchanged } else { Action::Update };
    Ok(Step { change: change(action).with_details(details), ops })
}

fn membership_name(j: &ObservedJoin, want: &DesiredInstance) -> String {
    format!("{}/{}", j.id, want.emr_rds_group)
}

fn join_step(want: &DesiredInstance, j: &ObservedJoin) -> anyhow::Result<Step> {
    let Some(group) = &j.emr_rds_group else {
        anyhow::bail!(
            "--join-sg {}: no security group {} in its VPC {}: run mk-sg for that VPC first",
            j.id,
            want.emr_rds_group,
            j.vpc_id.as_deref().unwrap_or("(none)")
        );
    };
    let change = |action| Change::new(KIND_MEMBERSHIP, membership_name(j, want), action).with_id(group);
    if j.groups.contains(group) {
        return Ok(Step { change: change(Action::Unchanged), ops: vec![] });
    }
    let mut all = j.groups.clone();
    all.push(group.clone());
    let modification = Modification { group_ids: Some(all), ..Default::default() };
    Ok(Step { change: change(Action::Create), ops: vec![Op::ModifyInstance { id: j.id.clone(), modification }] })
}

/// What exists, for [`plan_ensure`] and [`plan_destroy`].
#[derive(Debug, Default)]
pub struct Observed {
    pub network: Network,
    pub instance: Option<ObservedInstance>,
    pub subnet_group: Option<ObservedSubnetGroup>,
    pub joins: Vec<ObservedJoin>,
}

pub fn plan_ensure(d: &Deployment, want: &DesiredInstance, o: &Observed) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let net = &o.network;
    let Some(emr_rds) = &net.emr_rds_group else {
        anyhow::bail!(
            "security group {} not found in {}: run `mk-sg --client {}` first (it makes the group EMR reaches \
             MySQL through)",
            want.emr_rds_group,
            net.vpc_id,
            d.client
        );
    };
    let group_ids: Vec<String> = std::iter::once(emr_rds.clone()).chain(net.default_group.clone()).collect();
    let sg = subnet_group_step(d, want, net, o.subnet_group.as_ref(), &mut plan)?;
    let inst = instance_step(d, want, &group_ids, net, o.instance.as_ref(), &mut plan)?;
    let joins = o.joins.iter().map(|j| join_step(want, j)).collect::<anyhow::Result<Vec<_>>>()?;
    plan.steps.push(sg);
    plan.steps.push(inst);
    plan.steps.extend(joins);
    Ok(plan)
}

/// `YYYYMMDDHHMMSS` in UTC for a Unix time.
pub fn utc_stamp(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400).cast_signed();
    let secs = unix_secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Options of the destroy path.
#[derive(Debug, Clone, Copy)]
pub struct DestroyOptions {
    pub skip_final_snapshot: bool,
    /// The run waits for the instance to be gone, so the subnet group can go too.
    pub waits: bool,
    pub now_unix: u64,
}

pub fn plan_destroy(d: &Deployment, want: &DesiredInstance, o: &Observed, opts: DestroyOptions) -> Plan {
    let mut plan = Plan::default();
    // Memberships first: the EMR-RDS group cannot be deleted while in use.
    for j in &o.joins {
        let Some(group) = &j.emr_rds_group else { continue };
        if !j.groups.contains(group) {
            continue;
        }
        let rest: Vec<String> = j.groups.iter().filter(|g| *g != group).cloned().collect();
        if rest.is_empty() {
            plan.warn(format!(
                "DB instance {} has no security group but {}: left as it is (an instance needs one)",
                j.id, want.emr_rds_group
            ));
            continue;
        }
        plan.steps.push(Step {
            change: Change::new(KIND_MEMBERSHIP, membership_name(j, want), Action::Delete).with_id(group),
            ops: vec![Op::ModifyInstance {
                id: j.id.clone(),
                modification: Modification { group_ids: Some(rest), ..Default::default() },
            }],
        });
    }
    let mut instance_remains = false;
    if let Some(i) = &o.instance {
        if d.owns(pairs(&i.tags)) {
            let final_snapshot =
                (!opts.skip_final_snapshot).then(|| format!("{}-final-{}", want.id, utc_stamp(opts.now_unix)));
            let mut change = Change::new(KIND_INSTANCE, &want.id, Action::Delete).with_id(&i.arn);
            if let Some(s) = &final_snapshot {
                change = change.with_details(vec![format!("final snapshot {s}")]);
            }
            plan.steps.push(Step { change, ops: vec![Op::DeleteInstance { id: want.id.clone(), final_snapshot }] });
            instance_remains = !opts.waits;
        } else {
            plan.info(format!("DB instance {} was not created by mk-rds for {}: left alone", want.id, d.client));
            instance_remains = true;
        }
    }
    if let Some(g) = &o.subnet_group {
        if !d.owns(pairs(&g.tags)) {
            plan.info(format!(
                "DB subnet group {} was not created by mk-rds for {}: left alone",
                want.subnet_group, d.client
            ));
        } else if instance_remains {
            plan.info(format!(
                "DB subnet group {} stays while DB instance {} exists: re-run --destroy once it is gone",
                want.subnet_group, want.id
            ));
        } else {
            plan.steps.push(Step {
                change: Change::new(KIND_SUBNET_GROUP, &want.subnet_group, Action::Delete).with_id(&g.arn),
                ops: vec![Op::DeleteSubnetGroup { name: want.subnet_group.clone() }],
            });
        }
    }
    plan
}

/// Whether a subnet group or instance found after a create whose answer
/// was lost (or that answered "already exists") is the one this run's
/// create made: it carries every tag the create sent, the client's among
/// them. Anyone else's of that name is not taken as created.
pub fn made_by_our_create(found_tags: &[(String, String)], sent_tags: &[(String, String)]) -> bool {
    sent_tags.iter().all(|t| found_tags.contains(t))
}

/// Whether an instance whose DeleteDBInstance answered "invalid state" is
/// being deleted already (`None`: gone; `Some(status)`), as after the SDK's
/// retry of a delete whose answer was lost.
pub fn deletion_under_way(instance: Option<Option<&str>>) -> bool {
    matches!(instance, None | Some(Some("deleting")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ClientName;

    fn d() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-rds", extra_tags: vec![] }
    }

    fn want() -> DesiredInstance {
        DesiredInstance {
            id: "acme-analytics".into(),
            engine_version: "8.0".into(),
            class: "db.t3.medium".into(),
            storage_gb: 20,
            backup_days: 7,
            master_username: "admin".into(),
            subnet_group: "acme-analytics".into(),
            emr_rds_group: "acme-emr-rds".into(),
            vpc_id: None,
            join: vec![],
        }
    }

    fn net() -> Network {
        Network {
            vpc_id: "vpc-1".into(),
            subnets: vec![("subnet-a".into(), "us-east-1a".into()), ("subnet-b".into(), "us-east-1b".into())],
            emr_rds_group: Some("sg-emr".into()),
            default_group: Some("sg-default".into()),
        }
    }

    fn our_instance() -> ObservedInstance {
        ObservedInstance {
            arn: "arn:aws:rds:us-east-1:1:db:acme-analytics".into(),
            status: "available".into(),
            engine: "mysql".into(),
            engine_version: "8.0.39".into(),
            class: "db.t3.medium".into(),
            storage_gb: 20,
            storage_type: "gp3".into(),
            encrypted: true,
            public: false,
            backup_days: 7,
            groups: vec!["sg-emr".into(), "sg-default".into()],
            vpc_id: Some("vpc-1".into()),
            subnet_group: Some("acme-analytics".into()),
            master_username: "admin".into(),
            endpoint: Some(("acme-analytics.x.rds.amazonaws.com".into(), 3306)),
            tags: d().tags(),
            pending: false,
        }
    }

    fn our_subnet_group() -> ObservedSubnetGroup {
        ObservedSubnetGroup {
            arn: "arn:aws:rds:us-east-1:1:subgrp:acme-analytics".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            tags: d().tags(),
        }
    }

    fn converged() -> Observed {
        Observed {
            network: net(),
            instance: Some(our_instance()),
            subnet_group: Some(our_subnet_group()),
            joins: vec![],
        }
    }

    fn actions(p: &Plan) -> Vec<(&str, &str, Action)> {
        p.steps.iter().map(|s| (s.change.kind, s.change.name.as_str(), s.change.action)).collect()
    }

    #[test]
    fn empty_account_creates_subnet_group_then_instance() {
        let o = Observed { network: net(), ..Default::default() };
        let p = plan_ensure(&d(), &want(), &o).unwrap();
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
        let Op::CreateInstance(spec) = &p.steps[1].ops[0] else { panic!() };
        assert_eq!(spec.group_ids, ["sg-emr", "sg-default"]);
        assert_eq!((spec.class.as_str(), spec.storage_gb, spec.backup_days), ("db.t3.medium", 20, 7));
        assert!(p.creates_instance() && p.changes_instance());
    }

    #[test]
    fn converged_is_unchanged() {
        let p = plan_ensure(&d(), &want(), &converged()).unwrap();
        assert!(p.steps.iter().all(|s| s.ops.is_empty() && s.change.action == Action::Unchanged));
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert!(!p.changes_instance());
    }

    #[test]
    fn drift_is_one_modification_of_what_differs() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.class = "db.t3.large".into();
        i.public = true;
        i.groups = vec!["sg-default".into(), "sg-bastion".into()];
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        let s = &p.steps[1];
        assert_eq!(s.change.action, Action::Update);
        assert_eq!(s.change.details, ["instance class", "security groups", "public access"]);
        let Op::ModifyInstance { modification: m, .. } = &s.ops[0] else { panic!() };
        assert_eq!(m.class.as_deref(), Some("db.t3.medium"));
        assert_eq!(m.public, Some(false));
        assert_eq!(m.group_ids.as_deref().unwrap(), ["sg-default", "sg-bastion", "sg-emr"], "other groups kept");
        assert_eq!((m.storage_gb, m.backup_days, &m.storage_type), (None, None, &None));
    }

    #[test]
    fn storage_and_backups_only_grow() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.storage_gb = 100;
        i.backup_days = 14;
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert!(p.steps[1].ops.is_empty());
        assert!(p.findings.iter().any(|f| f.message.contains("never shrinks")));
        let i = o.instance.as_mut().unwrap();
        i.storage_gb = 10;
        i.backup_days = 1;
        i.storage_type = "gp2".into();
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        let Op::ModifyInstance { modification: m, .. } = &p.steps[1].ops[0] else { panic!() };
        assert_eq!((m.storage_gb, m.backup_days, m.storage_type.as_deref()), (Some(20), Some(7), Some("gp3")));
    }

    #[test]
    fn what_cannot_change_is_a_warning() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.encrypted = false;
        i.engine_version = "8.4.3".into();
        i.master_username = "root".into();
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert!(p.steps[1].ops.is_empty());
        assert_eq!(p.findings.len(), 3, "{:?}", p.findings);
        assert!(p.findings.iter().all(|f| f.severity == common::Severity::Warning));
    }

    #[test]
    fn prerequisites() {
        let mut o = Observed { network: net(), ..Default::default() };
        o.network.emr_rds_group = None;
        let e = plan_ensure(&d(), &want(), &o).unwrap_err().to_string();
        assert!(e.contains("acme-emr-rds") && e.contains("mk-sg"), "{e}");
        let mut o = Observed { network: net(), ..Default::default() };
        o.network.subnets.truncate(1);
        let e = plan_ensure(&d(), &want(), &o).unwrap_err().to_string();
        assert!(e.contains("two"), "{e}");
        let mut o = converged();
        o.instance.as_mut().unwrap().vpc_id = Some("vpc-2".into());
        assert!(plan_ensure(&d(), &want(), &o).unwrap_err().to_string().contains("--vpc-id vpc-2"));
    }

    #[test]
    fn foreign_resources() {
        let mut o = converged();
        let i = o.instance.as_mut().unwrap();
        i.tags.clear();
        i.class = "db.m5.large".into();
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert!(p.steps[1].ops.is_empty());
        assert!(p.findings.iter().any(|f| f.message.contains("adopted") && f.message.contains("instance class")));
        o.instance.as_mut().unwrap().tags = vec![(TAG_CLIENT.into(), "other".into())];
        assert_eq!(common::error::exit_status(&plan_ensure(&d(), &want(), &o).unwrap_err()), 2);
    }

    #[test]
    fn subnet_group_gains_new_subnets_and_tags() {
        let mut o = converged();
        o.network.subnets.push(("subnet-c".into(), "us-east-1c".into()));
        o.subnet_group.as_mut().unwrap().tags.truncate(1);
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert_eq!(p.steps[0].change.details, ["subnets", "tags"]);
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
        };
        o.joins.push(j.clone());
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert_eq!(p.steps[2].change.name, "edxapp/acme-emr-rds");
        assert_eq!(p.steps[2].change.action, Action::Create);
        let Op::ModifyInstance { id, modification } = &p.steps[2].ops[0] else { panic!() };
        assert_eq!(id, "edxapp");
        assert_eq!(modification.group_ids.as_deref().unwrap(), ["sg-edxapp", "sg-emr"]);
        assert!(!p.changes_instance(), "joining another instance is not a change of ours to wait for");

        o.joins[0].groups.push("sg-emr".into());
        let p = plan_ensure(&d(), &want(), &o).unwrap();
        assert_eq!(p.steps[2].change.action, Action::Unchanged);

        o.joins[0].emr_rds_group = None;
        assert!(plan_ensure(&d(), &want(), &o).unwrap_err().to_string().contains("--join-sg edxapp"));
    }

    const T: u64 = 1_700_000_000;

    #[test]
    fn destroy_in_reverse_order_with_a_final_snapshot() {
        let mut o = converged();
        o.joins.push(ObservedJoin {
            id: "edxapp".into(),
            vpc_id: Some("vpc-1".into()),
            groups: vec!["sg-edxapp".into(), "sg-emr".into()],
            emr_rds_group: Some("sg-emr".into()),
        });
        let opts = DestroyOptions { skip_final_snapshot: false, waits: true, now_unix: T };
        let p = plan_destroy(&d(), &want(), &o, opts);
        assert_eq!(
            actions(&p),
            [
                (KIND_MEMBERSHIP, "edxapp/acme-emr-rds", Action::Delete),
                (KIND_INSTANCE, "acme-analytics", Action::Delete),
                (KIND_SUBNET_GROUP, "acme-analytics", Action::Delete)
            ]
        );
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
        let opts = DestroyOptions { skip_final_snapshot: false, waits: false, now_unix: T };
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
        let opts = DestroyOptions { skip_final_snapshot: false, waits: true, now_unix: T };
        let p = plan_destroy(&d(), &want(), &o, opts);
        assert!(p.steps.is_empty());
        assert_eq!(p.findings.len(), 2);
    }

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(T), "20231114221320");
        assert_eq!(utc_stamp(951_782_400), "20000229000000");
        assert_eq!(utc_stamp(4_102_444_799), "20991231235959");
    }

    #[test]
    fn ready_when_available_and_nothing_pending() {
        assert!(matches!(readiness("available", false), WaitState::Ready(())));
        assert!(matches!(readiness("available", true), WaitState::Pending(_)));
        for s in ["creating", "backing-up", "modifying", "configuring-enhanced-monitoring", "rebooting"] {
            assert!(matches!(readiness(s, false), WaitState::Pending(_)), "{s}");
        }
        for s in ["failed", "incompatible-parameters", "storage-full", "deleting"] {
            assert!(matches!(readiness(s, false), WaitState::Failed(_)), "{s}");
        }
    }

    #[test]
    fn a_found_resource_is_our_create_only_with_every_tag_it_sent() {
        let sent = d().tags();
        assert!(made_by_our_create(&sent, &sent));
        let mut more = sent.clone();
        more.push(("team".into(), "data".into()));
        assert!(made_by_our_create(&more, &sent), "tags added since are fine");
        let other = vec![(TAG_CLIENT.to_owned(), "other".to_owned())];
        assert!(!made_by_our_create(&other, &sent), "another client's of that name");
        assert!(!made_by_our_create(&[], &sent), "an untagged one");
        assert!(!made_by_our_create(&sent[..1], &sent), "some of the tags only");
    }

    #[test]
    fn a_repeated_delete_is_done_only_when_the_instance_is_going() {
        assert!(deletion_under_way(None), "gone");
        assert!(deletion_under_way(Some(Some("deleting"))));
        assert!(!deletion_under_way(Some(Some("backing-up"))), "a real invalid state");
        assert!(!deletion_under_way(Some(Some("available"))));
        assert!(!deletion_under_way(Some(None)));
    }
}
