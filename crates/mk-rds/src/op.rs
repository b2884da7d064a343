//! The plan's vocabulary, shared by converging ([`crate::ensure`]) and
//! destroying ([`crate::destroy`]): the kinds of resource in the report,
//! the phases, and the RDS calls ([`Op`]) with what they carry.

use common::Deployment;
use common::deployment::TAG_CLIENT;

pub const KIND_INSTANCE: &str = "rds-instance";
pub const KIND_SUBNET_GROUP: &str = "rds-subnet-group";
pub const KIND_MEMBERSHIP: &str = "rds-security-group-membership";

/// Converging, first: the DB subnet group the instance is created in.
pub const ENSURE_SUBNET_GROUP: u8 = 0;
/// Converging, then: the instance (created in that group, or modified).
pub const ENSURE_INSTANCE: u8 = 1;
/// Converging, last: other instances join the EMR-RDS group (`--join-sg`).
pub const ENSURE_MEMBERSHIPS: u8 = 2;
/// Destroying, first: the memberships (the EMR-RDS group cannot go while
/// in use).
pub const DESTROY_MEMBERSHIPS: u8 = 0;
/// Destroying, then: the instance (with its final snapshot).
pub const DESTROY_INSTANCE: u8 = 1;
/// Destroying, last: the subnet group, once no instance is in it.
pub const DESTROY_SUBNET_GROUP: u8 = 2;

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
    /// `EngineLifecycleSupport` ([`crate::support::create_lifecycle`]).
    pub lifecycle: &'static str,
}

/// The fields of one `ModifyDBInstance`; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modification {
    pub class: Option<String>,
    pub storage_gb: Option<i32>,
    pub storage_type: Option<String>,
    pub backup_days: Option<i32>,
    pub group_ids: Option<Vec<String>>,
    pub public: Option<bool>,
    /// `ApplyImmediately`: true for our own instance; for a `--join-sg`
    /// instance only with `--apply-immediately` (it also applies that
    /// instance's pending modifications at once).
    pub apply_immediately: bool,
}

impl Modification {
    /// Whether it changes nothing (when it would apply is no change).
    pub fn is_empty(&self) -> bool {
        Modification { apply_immediately: false, ..self.clone() } == Modification::default()
    }

    /// What it changes, in the report's words.
    pub fn details(&self) -> Vec<String> {
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

/// One RDS call (a create also waits out a lost answer; a delete may wait
/// for the instance to be gone).
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

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// Whether the plan creates the instance.
pub fn creates_instance(plan: &Plan) -> bool {
    plan.steps.iter().flat_map(|s| &s.ops).any(|op| matches!(op, Op::CreateInstance(_)))
}

/// Whether the instance itself is created or modified (tags alone give it
/// nothing to process; joining another instance is not a change of ours).
pub fn changes_instance(plan: &Plan) -> bool {
    plan.steps
        .iter()
        .filter(|s| s.changes.iter().any(|c| c.kind == KIND_INSTANCE))
        .flat_map(|s| &s.ops)
        .any(|op| matches!(op, Op::CreateInstance(_) | Op::ModifyInstance { .. }))
}

pub fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The client a resource is tagged for, when it is another one.
pub fn other_client<'a>(d: &Deployment, tags: &'a [(String, String)]) -> Option<&'a str> {
    tags.iter().find(|(k, v)| k == TAG_CLIENT && v != d.client.as_str()).map(|(_, v)| v.as_str())
}

/// `<instance>/<EMR-RDS group name>`: a `--join-sg` membership's name.
pub fn membership_name(instance: &str, emr_rds_group: &str) -> String {
    format!("{instance}/{emr_rds_group}")
}
