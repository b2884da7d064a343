//! `EmrVars`: an emr-vars.yml file, typed (emr-vars.md), read from the
//! rendered YAML. Scalars are read the way Ansible's module arguments were
//! converted: a number may be written as text (`"2"`), a boolean as
//! `yes`/`no`, and text may be written as a number (`bidprice: 0.10`).
//! Anything that is not such a value is an error naming its key path.

mod forms;
mod scalars;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::template::{self, EnvLookup};
use crate::yaml::{self, Node, UnknownKeys};
use common::error::bad_input;

pub use forms::{ApplicationVar, BootstrapActions, BootstrapVar, Ordered, Pairs, Subnets, Tags};
pub use scalars::{Flag, Int, Number, Text};

/// Keys other playbooks of the old pipeline read; RunJobFlow has no place
/// for them.
pub const IGNORED_KEYS: [&str; 2] = ["user_info", "ec2_attributes"];

#[derive(Deserialize, Debug, Default)]
pub struct EmrVars {
    pub name: Option<Text>,
    pub region: Option<Text>,
    pub keypair_name: Option<Text>,
    pub vpc_subnet_id: Option<Subnets>,
    pub availability_zone: Option<Text>,
    pub log_uri: Option<Text>,
    pub role: Option<Text>,
    pub job_flow_role: Option<Text>,
    pub service_role: Option<Text>,
    pub release_label: Option<Text>,
    pub ami_version: Option<Text>,
    pub hadoop_version: Option<Text>,
    #[serde(default)]
    pub applications: Vec<ApplicationVar>,
    #[serde(default)]
    pub configurations: Vec<ConfigurationVar>,
    pub instance_groups: Option<Ordered<InstanceGroupVar>>,
    #[serde(default)]
    pub instance_fleets: Ordered<InstanceFleetVar>,
    pub ebs_root_volume_size: Option<Int>,
    pub emr_managed_master_security_group: Option<Text>,
    pub emr_managed_slave_security_group: Option<Text>,
    #[serde(default)]
    pub additional_master_security_groups: Vec<Text>,
    #[serde(default)]
    pub additional_slave_security_groups: Vec<Text>,
    #[serde(default)]
    pub bootstrap_actions: BootstrapActions,
    #[serde(default)]
    pub steps: Vec<StepVar>,
    #[serde(default)]
    pub tags: Tags,
    pub visible_to_all_users: Option<Flag>,
    // The old playbook's scalars, which fill in its default instance groups.
    pub master_instance_num: Option<Int>,
    pub master_instance_type: Option<Text>,
    pub master_instance_market: Option<Market>,
    pub master_instance_bid: Option<Text>,
    pub core_instance_num: Option<Int>,
    pub core_instance_type: Option<Text>,
    pub core_instance_market: Option<Market>,
    pub core_instance_bid: Option<Text>,
    pub task_instance_num: Option<Int>,
    pub task_instance_type: Option<Text>,
    pub task_instance_market: Option<Market>,
    pub task_instance_bid: Option<Text>,
}

/// What `--terminate` needs: the cluster's name, and where it runs.
#[derive(Deserialize, Debug, Default)]
pub struct ClusterRef {
    pub name: Option<Text>,
    pub region: Option<Text>,
}

#[derive(Deserialize, Debug, Default, Clone)]
pub struct InstanceGroupVar {
    pub num_instances: Option<Int>,
    #[serde(rename = "type")]
    pub instance_type: Option<Text>,
    pub market: Option<Market>,
    pub bidprice: Option<Text>,
    pub volume_size: Option<Int>,
    pub volume_type: Option<VolumeType>,
}

#[derive(Deserialize, Debug, Default)]
pub struct InstanceFleetVar {
    #[serde(default)]
    pub instance_types: Vec<InstanceTypeVar>,
    pub on_demand_capacity: Option<Int>,
    pub spot_capacity: Option<Int>,
    pub use_spot: Option<Flag>,
    pub on_demand_fallback: Option<Flag>,
    pub bid_timeout_after: Option<Int>,
    pub bid_price_pct: Option<Number>,
    pub volume_size: Option<Int>,
    pub volume_type: Option<VolumeType>,
}

#[derive(Deserialize, Debug)]
pub struct InstanceTypeVar {
    #[serde(rename = "type")]
    pub instance_type: Text,
    pub weight: Option<Int>,
    pub bid_price_pct: Option<Number>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Market {
    OnDemand,
    Spot,
}

impl Market {
    pub fn as_str(self) -> &'static str {
        match self {
            Market::OnDemand => "ON_DEMAND",
            Market::Spot => "SPOT",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Gp2,
    Gp3,
    Io1,
    Io2,
    St1,
    Sc1,
    Standard,
}

impl VolumeType {
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Gp2 => "gp2",
            VolumeType::Gp3 => "gp3",
            VolumeType::Io1 => "io1",
            VolumeType::Io2 => "io2",
            VolumeType::St1 => "st1",
            VolumeType::Sc1 => "sc1",
            VolumeType::Standard => "standard",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepType {
    #[default]
    Jar,
    Script,
    Streaming,
    HiveInstall,
    PigInstall,
}

impl StepType {
    pub fn as_str(self) -> &'static str {
        match self {
            StepType::Jar => "jar",
            StepType::Script => "script",
            StepType::Streaming => "streaming",
            StepType::HiveInstall => "hive_install",
            StepType::PigInstall => "pig_install",
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOnFailure {
    TerminateJobFlow,
    TerminateCluster,
    CancelAndWait,
    Continue,
}

impl ActionOnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionOnFailure::TerminateJobFlow => "TERMINATE_JOB_FLOW",
            ActionOnFailure::TerminateCluster => "TERMINATE_CLUSTER",
            ActionOnFailure::CancelAndWait => "CANCEL_AND_WAIT",
            ActionOnFailure::Continue => "CONTINUE",
        }
    }
}

#[derive(Deserialize, Debug, Default)]
pub struct StepVar {
    #[serde(rename = "type", default)]
    pub step_type: StepType,
    pub name: Option<Text>,
    pub jar: Option<Text>,
    pub main_class: Option<Text>,
    #[serde(default)]
    pub step_args: Vec<Text>,
    #[serde(default)]
    pub properties: Pairs,
    pub action_on_failure: Option<ActionOnFailure>,
    pub hive_version: Option<Text>,
    pub hive_site: Option<Text>,
    pub pig_version: Option<Text>,
}

#[derive(Deserialize, Debug)]
pub struct ConfigurationVar {
    pub classification: Text,
    #[serde(default)]
    pub properties: Ordered<Text>,
    #[serde(default)]
    pub configurations: Vec<ConfigurationVar>,
}

/// Renders the keys of `T` found in `vars` (with what they refer to) and
/// reads them as a `T`. Returns the keys nobody reads, as warnings: at the
/// top level when `warn_top_level` (files carry variables for other
/// playbooks), and anywhere inside the keys read.
pub fn load<T: DeserializeOwned>(
    vars: &Node,
    env: EnvLookup,
    warn_top_level: bool,
) -> anyhow::Result<(T, Vec<String>)> {
    let fields = yaml::struct_fields::<T>();
    let mut warnings = Vec::new();
    if let (Node::Map(entries), true) = (vars, warn_top_level) {
        for (k, _) in entries {
            if !fields.contains(&k.as_str()) && !IGNORED_KEYS.contains(&k.as_str()) {
                warnings.push(format!("unknown key `{k}` ignored"));
            }
        }
    }
    let rendered = template::render(vars, fields, env)?;
    let unknown = UnknownKeys::default();
    let typed = yaml::from_node(&rendered, "", &unknown).map_err(|e| bad_input(e.to_string()))?;
    warnings.extend(unknown.into_inner().into_iter().map(|k| format!("unknown key `{k}` ignored")));
    Ok((typed, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::fixed_env;

    fn read(yaml: &str) -> Result<(EmrVars, Vec<String>), String> {
        load::<EmrVars>(&yaml::parse(yaml, "t.yml").unwrap(), fixed_env([]), true).map_err(|e| e.to_string())
    }

    #[test]
    fn scalars_are_read_as_ansible_converted_them() {
        let (v, _) = read(
            "core_instance_num: \"3\"\ntask_instance_bid: 0.25\nvisible_to_all_users: \"no\"\nebs_root_volume_size: ''\nname: 42\n",
        )
        .unwrap();
        assert_eq!(v.core_instance_num, Some(Int(Some(3))));
        assert_eq!(v.task_instance_bid, Some(Text("0.25".into())));
        assert_eq!(v.visible_to_all_users, Some(Flag(false)));
        assert_eq!(Int::value(&v.ebs_root_volume_size), None);
        assert_eq!(v.name, Some(Text("42".into())));
        assert_eq!(read("core_instance_num: 2.5\n").unwrap_err(), "core_instance_num: expected an integer, got 2.5");
        assert_eq!(read("name: [a]\n").unwrap_err(), "name: expected a string, got a list");
    }

    #[test]
    fn either_forms_of_bootstrap_actions_tags_and_applications() {
        let (v, _) = read(
            "bootstrap_actions: [{name: a, path: s3://b/a}]\ntags: {team: data}\napplications: [Hive, {name: Spark, args: [x]}]\n",
        )
        .unwrap();
        assert_eq!(
            v.bootstrap_actions.0,
            [BootstrapVar { name: "a".into(), path: Text("s3://b/a".into()), args: vec![] }]
        );
        assert_eq!(v.tags, Tags(vec![("team".into(), "data".into())]));
        assert_eq!(v.applications[1], ApplicationVar { name: Text("Spark".into()), args: vec![Text("x".into())] });
        let e = read("bootstrap_actions: {a: {path: s3://b/a, args: [1, [2]]}}\n").unwrap_err();
        assert_eq!(e, "bootstrap_actions.a.args[1]: expected a string, got a list");
    }

    #[test]
    fn unknown_keys_are_warnings_at_any_depth() {
        let (_, warnings) =
            read("name: x\nother_playbook_var: 1\nuser_info: []\ninstance_groups: {core: {num_instance: 2}}\n")
                .unwrap();
        assert_eq!(
            warnings,
            ["unknown key `other_playbook_var` ignored", "unknown key `instance_groups.core.num_instance` ignored"]
        );
    }
}
