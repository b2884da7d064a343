//! The RunJobFlow request: built from [`EmrVars`] by a pure function
//! ([`build`]) the way the old playbook's module built it, shown as JSON
//! under `--dry-run` (field names are the API's, as in the AWS CLI's
//! `--cli-input-json`), and turned into the SDK call in one place
//! ([`to_sdk`]).

use std::collections::HashMap;

use aws_sdk_emr::operation::run_job_flow::builders::RunJobFlowFluentBuilder;
use aws_sdk_emr::types as emr;
use serde::Serialize;

use anyhow::Context as _;
use common::Finding;
use common::aws::validate_region;
use common::error::bad_input;

use crate::vars::{
    ActionOnFailure, ConfigurationVar, EmrVars, Flag, InstanceFleetVar, InstanceGroupVar, Int, Market, StepType,
    StepVar, Subnets, Text, VolumeType,
};

/// The tag the old playbook put on every cluster; the pipeline's launcher
/// finds the master's instances through it.
pub const TAG_EMR_NAME: &str = "ansible:emr:name";
pub const DEFAULT_JOB_FLOW_ROLE: &str = "EMR_EC2_DefaultRole";
pub const DEFAULT_SERVICE_ROLE: &str = "EMR_DefaultRole";
const ROLES: [&str; 3] = ["master", "core", "task"];

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunJobFlowRequest {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ami_version: Option<String>,
    pub instances: Instances,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_actions: Vec<BootstrapAction>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<Application>,
    /// Applications of a legacy (`ami_version`) cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_supported_products: Vec<Application>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
    pub visible_to_all_users: bool,
    pub job_flow_role: String,
    pub service_role: String,
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_root_volume_size: Option<i32>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Instances {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_groups: Vec<InstanceGroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instance_fleets: Vec<InstanceFleet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_key_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    pub keep_job_flow_alive_when_no_steps: bool,
    pub termination_protected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hadoop_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_subnet_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ec2_subnet_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emr_managed_master_security_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emr_managed_slave_security_group: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_master_security_groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_slave_security_groups: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    pub availability_zone: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceGroup {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    pub instance_role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_price: Option<String>,
    pub instance_type: String,
    pub instance_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_configuration: Option<EbsConfiguration>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EbsConfiguration {
    pub ebs_block_device_configs: Vec<EbsBlockDeviceConfig>,
    pub ebs_optimized: bool,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EbsBlockDeviceConfig {
    pub volume_specification: VolumeSpecification,
    pub volumes_per_instance: i32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct VolumeSpecification {
    #[serde(rename = "VolumeType")]
    pub volume_type: String,
    #[serde(rename = "SizeInGB")]
    pub size_in_gb: i32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceFleet {
    pub name: String,
    pub instance_fleet_type: String,
    pub target_on_demand_capacity: i32,
    pub target_spot_capacity: i32,
    pub instance_type_configs: Vec<InstanceTypeConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_specifications: Option<LaunchSpecifications>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeConfig {
    pub instance_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_capacity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_price_as_percentage_of_on_demand_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_configuration: Option<EbsConfiguration>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LaunchSpecifications {
    pub spot_specification: SpotSpecification,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SpotSpecification {
    pub timeout_duration_minutes: i32,
    pub timeout_action: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Step {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_on_failure: Option<String>,
    pub hadoop_jar_step: HadoopJarStep,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct HadoopJarStep {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Tag>,
    pub jar: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_class: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BootstrapAction {
    pub name: String,
    pub script_bootstrap_action: ScriptBootstrapAction,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ScriptBootstrapAction {
    pub path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Application {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Configuration {
    pub classification: String,
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "as_map")]
    pub properties: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub configurations: Vec<Configuration>,
}

fn as_map<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    fn new(key: &str, value: &str) -> Self {
        Tag { key: key.to_owned(), value: value.to_owned() }
    }
}

/// What the request depends on besides the file.
#[derive(Debug, Clone)]
pub struct Context {
    /// The region the cluster runs in (script-runner jars are per region).
    pub region: String,
    /// `AWS_KEYPAIR_NAME`, used when the file gives no `keypair_name`.
    pub env_keypair: Option<String>,
    /// This tool's tags (`analytics:managed-by`, `analytics:client`).
    pub tags: Vec<(String, String)>,
}

/// The request, and what the operator should know about how it was built.
#[derive(Debug)]
pub struct Desired {
    pub request: RunJobFlowRequest,
    pub findings: Vec<Finding>,
}

/// The region's script-runner, which runs a script from S3 as a step.
pub fn script_runner(region: &str) -> String {
    format!("s3://{region}.elasticmapreduce/libs/script-runner/script-runner.jar")
}

struct Notes(Vec<Finding>);

impl Notes {
    fn warn(&mut self, message: String) {
        self.0.push(Finding::warning(message));
    }
    fn info(&mut self, message: String) {
        self.0.push(Finding::info(message));
    }
}

fn text(t: &Option<Text>) -> Option<String> {
    Text::present(t).map(str::to_owned)
}

fn texts(v: &[Text]) -> Vec<String> {
    v.iter().map(|t| t.0.clone()).collect()
}

fn int32(value: i64, key: &str, min: i64) -> anyhow::Result<i32> {
    i32::try_from(value)
        .ok()
        .filter(|v| i64::from(*v) >= min)
        .ok_or_else(|| bad_input(format!("{key}: {value} is out of range (at least {min})")))
}

/// Builds the request the old module sent for these variables, or says
/// (exit 2) what in the file cannot work.
pub fn build(vars: &EmrVars, ctx: &Context) -> anyhow::Result<Desired> {
    let mut notes = Notes(Vec::new());
    let name = text(&vars.name).ok_or_else(|| {
        bad_input("`name` is required: the cluster's name, by which the pipeline finds the cluster (or pass --name)")
    })?;
    if name.len() > 256 {
        return Err(bad_input(format!("name: {} characters is too long (at most 256)", name.len())));
    }

    if let Some(region) = text(&vars.region) {
        validate_region(&region).context("region")?;
    }
    let log_uri = text(&vars.log_uri);
    if let Some(uri) = &log_uri
        && !(uri.starts_with("s3://") || uri.starts_with("s3n://"))
    {
        return Err(bad_input(format!("log_uri: {uri:?} is not an s3:// URI")));
    }

    let (release_label, ami_version) = match (text(&vars.release_label), text(&vars.ami_version)) {
        (Some(label), ami) => {
            if ami.is_some() {
                notes.info("ami_version ignored: release_label is set".into());
            }
            (Some(label), None)
        }
        (None, Some(ami)) => {
            let too_old = ami.starts_with("1.") || ami.starts_with("2.");
            notes.warn(format!(
                "ami_version {ami}: legacy EMR AMIs are deprecated{}; set release_label (e.g. emr-5.36.2)",
                if too_old { " and AWS no longer launches 1.x/2.x" } else { "" }
            ));
            (None, Some(ami))
        }
        (None, None) => {
            return Err(bad_input("release_label is required (e.g. emr-5.36.2); legacy files may set ami_version"));
        }
    };

    let instances = instances(vars, ctx, release_label.is_some(), &mut notes)?;
    let steps = vars
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("steps[{i}]"), ctx, release_label.is_some(), &mut notes))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut bootstrap_actions = Vec::new();
    for b in &vars.bootstrap_actions.0 {
        if b.path.0.is_empty() {
            return Err(bad_input(format!("bootstrap_actions.{}: the script path is empty", b.name)));
        }
        bootstrap_actions.push(BootstrapAction {
            name: b.name.clone(),
            script_bootstrap_action: ScriptBootstrapAction { path: b.path.0.clone(), args: texts(&b.args) },
        });
    }

    let apps: Vec<Application> =
        vars.applications.iter().map(|a| Application { name: a.name.0.clone(), args: texts(&a.args) }).collect();
    let configurations = vars.configurations.iter().map(configuration).collect::<Vec<_>>();
    // With a release label, applications and configurations are sent as
    // such; a legacy AMI cluster takes applications as "supported
    // products" and has no configurations.
    let (applications, new_supported_products, configurations) = if release_label.is_some() {
        (apps, Vec::new(), configurations)
    } else {
        if !configurations.is_empty() {
            notes.warn("configurations ignored: they need release_label".into());
        }
        (Vec::new(), apps, Vec::new())
    };

    let job_flow_role = match (text(&vars.role), text(&vars.job_flow_role)) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad_input(format!("role ({a}) and job_flow_role ({b}) disagree: they are the same setting")));
        }
        (Some(r), _) | (None, Some(r)) => r,
        (None, None) => DEFAULT_JOB_FLOW_ROLE.to_owned(),
    };

    let mut tags: Vec<Tag> = Vec::new();
    let ours: Vec<(String, String)> =
        ctx.tags.iter().cloned().chain([(TAG_EMR_NAME.to_owned(), name.clone())]).collect();
    for (k, v) in &vars.tags.0 {
        if k.is_empty() {
            return Err(bad_input("tags: a tag has an empty Key"));
        }
        if ours.iter().any(|(ok, _)| ok == k) {
            notes.info(format!("tag {k} from the file replaced by emr-launch's own"));
            continue;
        }
        tags.push(Tag::new(k, v));
    }
    tags.extend(ours.iter().map(|(k, v)| Tag::new(k, v)));

    let ebs_root_volume_size =
        Int::value(&vars.ebs_root_volume_size).map(|v| int32(v, "ebs_root_volume_size", 1)).transpose()?;

    let request = RunJobFlowRequest {
        name,
        log_uri,
        release_label,
        ami_version,
        instances,
        steps,
        bootstrap_actions,
        applications,
        new_supported_products,
        configurations,
        visible_to_all_users: Flag::value(&vars.visible_to_all_users, true),
        job_flow_role,
        service_role: text(&vars.service_role).unwrap_or_else(|| DEFAULT_SERVICE_ROLE.to_owned()),
        tags,
        ebs_root_volume_size,
    };
    Ok(Desired { request, findings: notes.0 })
}

fn instances(vars: &EmrVars, ctx: &Context, release: bool, notes: &mut Notes) -> anyhow::Result<Instances> {
    let ec2_key_name = text(&vars.keypair_name).or_else(|| ctx.env_keypair.clone().filter(|k| !k.is_empty()));
    if ec2_key_name.is_none() {
        return Err(bad_input(
            "no key pair: set keypair_name in the file or AWS_KEYPAIR_NAME in the environment (the pipeline SSHes to the master)",
        ));
    }
    let subnets = match &vars.vpc_subnet_id {
        Some(Subnets::One(s)) if !s.is_empty() => vec![s.clone()],
        Some(Subnets::Many(list)) => list.iter().filter(|s| !s.is_empty()).cloned().collect(),
        _ => Vec::new(),
    };
    let zone = text(&vars.availability_zone);
    if !subnets.is_empty() && zone.is_some() {
        return Err(bad_input(
            "vpc_subnet_id and availability_zone cannot be used together: the subnet already decides the zone",
        ));
    }
    let (ec2_subnet_id, ec2_subnet_ids) = match &vars.vpc_subnet_id {
        Some(Subnets::Many(_)) => (None, subnets),
        _ => (subnets.into_iter().next(), Vec::new()),
    };

    let fleets = if vars.instance_fleets.0.is_empty() { Vec::new() } else { instance_fleets(vars, notes)? };
    let groups = if vars.instance_fleets.0.is_empty() {
        instance_groups(vars, notes)?
    } else {
        if vars.instance_groups.as_ref().is_some_and(|g| !g.0.is_empty()) {
            notes.info("instance_groups ignored: instance_fleets is set".into());
        }
        Vec::new()
    };
    if ec2_subnet_ids.len() > 1 && fleets.is_empty() {
        notes.warn(
            "vpc_subnet_id lists several subnets: EMR chooses among them only for instance fleets; \
             with instance groups give one subnet"
                .into(),
        );
    }

    let hadoop_version = text(&vars.hadoop_version);
    let hadoop_version = match (hadoop_version, release) {
        (Some(_), true) => {
            notes.info("hadoop_version ignored: the release label decides the Hadoop version".into());
            None
        }
        (v, _) => v,
    };

    Ok(Instances {
        instance_groups: groups,
        instance_fleets: fleets,
        ec2_key_name,
        placement: zone.map(|availability_zone| Placement { availability_zone }),
        keep_job_flow_alive_when_no_steps: true,
        termination_protected: false,
        hadoop_version,
        ec2_subnet_id,
        ec2_subnet_ids,
        emr_managed_master_security_group: text(&vars.emr_managed_master_security_group),
        emr_managed_slave_security_group: text(&vars.emr_managed_slave_security_group),
        additional_master_security_groups: texts(&vars.additional_master_security_groups),
        additional_slave_security_groups: texts(&vars.additional_slave_security_groups),
    })
}

/// A role key of `instance_groups` / `instance_fleets`, checked.
fn role(key: &str, section: &str) -> anyhow::Result<&'static str> {
    ROLES
        .iter()
        .find(|r| r.eq_ignore_ascii_case(key))
        .copied()
        .ok_or_else(|| bad_input(format!("{section}.{key}: unknown role (expected master, core or task)")))
}

/// A group's settings from the old playbook's scalar variables
/// (`core_instance_num`, `task_instance_bid`, ...).
fn scalars(vars: &EmrVars, role: &str) -> InstanceGroupVar {
    let (num, ty, market, bid) = match role {
        "master" => (
            vars.master_instance_num,
            &vars.master_instance_type,
            vars.master_instance_market,
            &vars.master_instance_bid,
        ),
        "core" => {
            (vars.core_instance_num, &vars.core_instance_type, vars.core_instance_market, &vars.core_instance_bid)
        }
        _ => (vars.task_instance_num, &vars.task_instance_type, vars.task_instance_market, &vars.task_instance_bid),
    };
    InstanceGroupVar {
        num_instances: num,
        instance_type: ty.clone(),
        market,
        bidprice: bid.clone(),
        ..Default::default()
    }
}

/// The old playbook's (provision.yml) default groups: one m1.medium each,
/// the task group on spot at 0.03.
fn playbook_default(role: &str) -> InstanceGroupVar {
    let spot = role == "task";
    InstanceGroupVar {
        num_instances: Some(Int(Some(1))),
        instance_type: Some(Text("m1.medium".into())),
        market: Some(if spot { Market::Spot } else { Market::OnDemand }),
        bidprice: spot.then(|| Text("0.03".into())),
        ..Default::default()
    }
}

/// `group`, with what it leaves out (or leaves empty) taken from `fallback`.
fn fill(group: &InstanceGroupVar, fallback: &InstanceGroupVar) -> InstanceGroupVar {
    let text = |t: &Option<Text>, f: &Option<Text>| t.clone().filter(|t| !t.0.is_empty()).or_else(|| f.clone());
    InstanceGroupVar {
        num_instances: group.num_instances.filter(|n| n.0.is_some()).or(fallback.num_instances),
        instance_type: text(&group.instance_type, &fallback.instance_type),
        market: group.market.or(fallback.market),
        bidprice: text(&group.bidprice, &fallback.bidprice),
        volume_size: group.volume_size.or(fallback.volume_size),
        volume_type: group.volume_type.or(fallback.volume_type),
    }
}

fn ebs(size: Option<i64>, volume_type: Option<VolumeType>, key: &str) -> anyhow::Result<Option<EbsConfiguration>> {
    if size.is_none() && volume_type.is_none() {
        return Ok(None);
    }
    Ok(Some(EbsConfiguration {
        ebs_block_device_configs: vec![EbsBlockDeviceConfig {
            volume_specification: VolumeSpecification {
                volume_type: volume_type.unwrap_or(VolumeType::Gp2).as_str().to_owned(),
                size_in_gb: int32(size.unwrap_or(32), &format!("{key}.volume_size"), 1)?,
            },
            volumes_per_instance: 1,
        }],
        ebs_optimized: true,
    }))
}

fn instance_groups(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<Vec<InstanceGroup>> {
    let specs: Vec<(&'static str, InstanceGroupVar)> = match &vars.instance_groups {
        Some(groups) if !groups.0.is_empty() => {
            let mut specs: Vec<(&'static str, InstanceGroupVar)> = Vec::new();
            for (key, g) in &groups.0 {
                let r = role(key, "instance_groups")?;
                if specs.iter().any(|(seen, _)| *seen == r) {
                    return Err(bad_input(format!("instance_groups.{key}: the {r} group is given twice")));
                }
                specs.push((r, fill(g, &scalars(vars, r))));
            }
            specs
        }
        _ => {
            notes.info(
                "instance_groups not set: using the old playbook's default groups and its *_instance_* variables"
                    .into(),
            );
            ROLES.iter().map(|r| (*r, fill(&scalars(vars, r), &playbook_default(r)))).collect()
        }
    };
    let mut groups = Vec::new();
    for (r, g) in specs {
        let key = format!("instance_groups.{r}");
        let count = Int::value(&g.num_instances)
            .ok_or_else(|| bad_input(format!("{key}.num_instances is required (or {r}_instance_num)")))?;
        let count = int32(count, &format!("{key}.num_instances"), 0)?;
        if count == 0 {
            continue;
        }
        let instance_type = Text::present(&g.instance_type)
            .ok_or_else(|| bad_input(format!("{key}.type is required (or {r}_instance_type)")))?
            .to_owned();
        let bid_price = match (g.market, Text::present(&g.bidprice)) {
            (Some(_), Some(bid)) => {
                if !bid.parse::<f64>().is_ok_and(|b| b > 0.0) {
                    return Err(bad_input(format!("{key}.bidprice: {bid:?} is not a price in USD such as 0.10")));
                }
                Some(bid.to_owned())
            }
            (None, Some(_)) => {
                notes.warn(format!("{key}.bidprice ignored: it needs market: SPOT"));
                None
            }
            _ => None,
        };
        groups.push(InstanceGroup {
            name: r.to_owned(),
            market: g.market.map(|m| m.as_str().to_owned()),
            instance_role: r.to_ascii_uppercase(),
            bid_price,
            instance_type,
            instance_count: count,
            ebs_configuration: ebs(Int::value(&g.volume_size), g.volume_type, &key)?,
        });
    }
    if !groups.iter().any(|g| g.instance_role == "MASTER") {
        return Err(bad_input("instance_groups: a master group with num_instances of at least 1 is required"));
    }
    Ok(groups)
}

fn instance_fleets(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<Vec<InstanceFleet>> {
    let mut fleets = Vec::new();
    let mut seen = Vec::new();
    for (key, f) in &vars.instance_fleets.0 {
        let r = role(key, "instance_fleets")?;
        if seen.contains(&r) {
            return Err(bad_input(format!("instance_fleets.{key}: the {r} fleet is given twice")));
        }
        seen.push(r);
        if let Some(fleet) = instance_fleet(r, f, notes)? {
            fleets.push(fleet);
        }
    }
    if !fleets.iter().any(|f| f.instance_fleet_type == "MASTER") {
        return Err(bad_input("instance_fleets: a master fleet with a capacity of at least 1 is required"));
    }
    Ok(fleets)
}

fn instance_fleet(r: &str, f: &InstanceFleetVar, notes: &mut Notes) -> anyhow::Result<Option<InstanceFleet>> {
    let key = format!("instance_fleets.{r}");
    let mut on_demand = int32(Int::value(&f.on_demand_capacity).unwrap_or(0), &format!("{key}.on_demand_capacity"), 0)?;
    let mut spot = int32(Int::value(&f.spot_capacity).unwrap_or(0), &format!("{key}.spot_capacity"), 0)?;
    // use_spot: false keeps the fleet's size but buys all of it on demand.
    if !Flag::value(&f.use_spot, true) && spot > 0 {
        notes.info(format!("{key}: use_spot is false, so its spot capacity ({spot}) is bought on demand"));
        on_demand += spot;
        spot = 0;
    }
    if on_demand + spot == 0 {
        return Ok(None);
    }
    if f.instance_types.is_empty() {
        return Err(bad_input(format!("{key}.instance_types: at least one instance type is required")));
    }
    let pct = f.bid_price_pct.map_or(25.0, |p| p.0);
    let ebs = ebs(Int::value(&f.volume_size), f.volume_type, &key)?;
    let mut configs = Vec::new();
    for (i, t) in f.instance_types.iter().enumerate() {
        let tkey = format!("{key}.instance_types[{i}]");
        if t.instance_type.0.is_empty() {
            return Err(bad_input(format!("{tkey}.type is empty")));
        }
        let pct = t.bid_price_pct.map_or(pct, |p| p.0);
        if spot > 0 && !(pct > 0.0 && pct <= 1000.0) {
            return Err(bad_input(format!("{tkey}: bid_price_pct {pct} is out of range (0 to 1000)")));
        }
        configs.push(InstanceTypeConfig {
            instance_type: t.instance_type.0.clone(),
            weighted_capacity: Int::value(&t.weight).map(|w| int32(w, &format!("{tkey}.weight"), 1)).transpose()?,
            bid_price_as_percentage_of_on_demand_price: (spot > 0).then_some(pct),
            ebs_configuration: ebs.clone(),
        });
    }
    let launch_specifications = (spot > 0)
        .then(|| -> anyhow::Result<_> {
            Ok(LaunchSpecifications {
                spot_specification: SpotSpecification {
                    timeout_duration_minutes: int32(
                        Int::value(&f.bid_timeout_after).unwrap_or(15),
                        &format!("{key}.bid_timeout_after"),
                        5,
                    )?,
                    timeout_action: if Flag::value(&f.on_demand_fallback, false) {
                        "SWITCH_TO_ON_DEMAND"
                    } else {
                        "TERMINATE_CLUSTER"
                    }
                    .to_owned(),
                },
            })
        })
        .transpose()?;
    Ok(Some(InstanceFleet {
        name: r.to_owned(),
        instance_fleet_type: r.to_ascii_uppercase(),
        target_on_demand_capacity: on_demand,
        target_spot_capacity: spot,
        instance_type_configs: configs,
        launch_specifications,
    }))
}

// The old Hive and Pig installers: scripts in the global EMR bucket, run by
// script-runner, which only AMI 2.x/3.x clusters understand.
const HIVE_SCRIPT: &str = "s3://elasticmapreduce/libs/hive/hive-script";
const HIVE_BASE: &str = "s3://elasticmapreduce/libs/hive/";
const PIG_SCRIPT: &str = "s3://elasticmapreduce/libs/pig/pig-script";
const PIG_BASE: &str = "s3://elasticmapreduce/libs/pig/";

/// One step, as the old module mapped its type:
/// - `jar`: the given jar (the region's script-runner when none), `main_class`
///   and `step_args` as they are;
/// - `script`: the region's script-runner jar (unless `jar` is given), whose
///   first argument is the script to run, then its arguments;
/// - `streaming`: `command-runner.jar` with `hadoop-streaming` and the
///   `step_args` (the old `/home/hadoop/contrib/streaming/hadoop-streaming.jar`
///   exists only on AMI 2.x/3.x); a given `jar` is used as it is;
/// - `hive_install`: script-runner running the old `hive-script
///   --install-hive --hive-versions V [--hive-site=S]` (default `latest`);
/// - `pig_install`: script-runner running `pig-script --install-pig
///   --pig-versions V` (default `latest`).
fn step(s: &StepVar, key: &str, ctx: &Context, release: bool, notes: &mut Notes) -> anyhow::Result<Step> {
    let jar = text(&s.jar);
    let step_args = texts(&s.step_args);
    let runner = || jar.clone().unwrap_or_else(|| script_runner(&ctx.region));
    let (jar, args) = match s.step_type {
        StepType::Jar | StepType::Script => (runner(), step_args),
        StepType::Streaming => match &jar {
            Some(j) => (j.clone(), step_args),
            None => (
                "command-runner.jar".to_owned(),
                std::iter::once("hadoop-streaming".to_owned()).chain(step_args).collect(),
            ),
        },
        StepType::HiveInstall | StepType::PigInstall => {
            if !step_args.is_empty() {
                notes.warn(format!("{key}.step_args ignored for type {}", s.step_type.as_str()));
            }
            if release {
                notes.warn(format!(
                    "{key}: type {} works only on legacy AMI clusters; with release_label install it as an application",
                    s.step_type.as_str()
                ));
            }
            let args = if s.step_type == StepType::HiveInstall {
                let mut a: Vec<String> = [HIVE_SCRIPT, "--base-path", HIVE_BASE, "--install-hive", "--hive-versions"]
                    .map(str::to_owned)
                    .into();
                a.push(text(&s.hive_version).unwrap_or_else(|| "latest".to_owned()));
                if let Some(site) = text(&s.hive_site) {
                    a.push(format!("--hive-site={site}"));
                }
                a
            } else {
                let mut a: Vec<String> =
                    [PIG_SCRIPT, "--base-path", PIG_BASE, "--install-pig", "--pig-versions"].map(str::to_owned).into();
                a.push(text(&s.pig_version).unwrap_or_else(|| "latest".to_owned()));
                a
            };
            (runner(), args)
        }
    };
    Ok(Step {
        name: text(&s.name).unwrap_or_else(|| s.step_type.as_str().to_owned()),
        action_on_failure: s.action_on_failure.map(|a: ActionOnFailure| a.as_str().to_owned()),
        hadoop_jar_step: HadoopJarStep {
            properties: s.properties.0.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            jar,
            main_class: text(&s.main_class),
            args,
        },
    })
}

fn configuration(c: &ConfigurationVar) -> Configuration {
    Configuration {
        classification: c.classification.0.clone(),
        properties: c.properties.0.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
        configurations: c.configurations.iter().map(configuration).collect(),
    }
}

/// The SDK call for a request: the one place the two meet.
pub fn to_sdk(r: &RunJobFlowRequest, call: RunJobFlowFluentBuilder) -> RunJobFlowFluentBuilder {
    let i = &r.instances;
    let instances = emr::JobFlowInstancesConfig::builder()
        .set_instance_groups(non_empty(i.instance_groups.iter().map(sdk_group).collect()))
        .set_instance_fleets(non_empty(i.instance_fleets.iter().map(sdk_fleet).collect()))
        .set_ec2_key_name(i.ec2_key_name.clone())
        .set_placement(
            i.placement.as_ref().map(|p| emr::PlacementType::builder().availability_zone(&p.availability_zone).build()),
        )
        .keep_job_flow_alive_when_no_steps(i.keep_job_flow_alive_when_no_steps)
        .termination_protected(i.termination_protected)
        .set_hadoop_version(i.hadoop_version.clone())
        .set_ec2_subnet_id(i.ec2_subnet_id.clone())
        .set_ec2_subnet_ids(non_empty(i.ec2_subnet_ids.clone()))
        .set_emr_managed_master_security_group(i.emr_managed_master_security_group.clone())
        .set_emr_managed_slave_security_group(i.emr_managed_slave_security_group.clone())
        .set_additional_master_security_groups(non_empty(i.additional_master_security_groups.clone()))
        .set_additional_slave_security_groups(non_empty(i.additional_slave_security_groups.clone()))
        .build();
    call.name(&r.name)
        .set_log_uri(r.log_uri.clone())
        .set_release_label(r.release_label.clone())
        .set_ami_version(r.ami_version.clone())
        .instances(instances)
        .set_steps(non_empty(r.steps.iter().map(sdk_step).collect()))
        .set_bootstrap_actions(non_empty(
            r.bootstrap_actions
                .iter()
                .map(|b| {
                    emr::BootstrapActionConfig::builder()
                        .name(&b.name)
                        .script_bootstrap_action(
                            emr::ScriptBootstrapActionConfig::builder()
                                .path(&b.script_bootstrap_action.path)
                                .set_args(non_empty(b.script_bootstrap_action.args.clone()))
                                .build(),
                        )
                        .build()
                })
                .collect(),
        ))
        .set_applications(non_empty(
            r.applications
                .iter()
                .map(|a| emr::Application::builder().name(&a.name).set_args(non_empty(a.args.clone())).build())
                .collect(),
        ))
        .set_new_supported_products(non_empty(
            r.new_supported_products
                .iter()
                .map(|a| {
                    emr::SupportedProductConfig::builder().name(&a.name).set_args(non_empty(a.args.clone())).build()
                })
                .collect(),
        ))
        .set_configurations(non_empty(r.configurations.iter().map(sdk_configuration).collect()))
        .visible_to_all_users(r.visible_to_all_users)
        .job_flow_role(&r.job_flow_role)
        .service_role(&r.service_role)
        .set_tags(Some(r.tags.iter().map(|t| emr::Tag::builder().key(&t.key).value(&t.value).build()).collect()))
        .set_ebs_root_volume_size(r.ebs_root_volume_size)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn sdk_ebs(e: &EbsConfiguration) -> emr::EbsConfiguration {
    emr::EbsConfiguration::builder()
        .set_ebs_block_device_configs(Some(
            e.ebs_block_device_configs
                .iter()
                .map(|d| {
                    emr::EbsBlockDeviceConfig::builder()
                        .volume_specification(
                            emr::VolumeSpecification::builder()
                                .volume_type(&d.volume_specification.volume_type)
                                .size_in_gb(d.volume_specification.size_in_gb)
                                .build(),
                        )
                        .volumes_per_instance(d.volumes_per_instance)
                        .build()
                })
                .collect(),
        ))
        .ebs_optimized(e.ebs_optimized)
        .build()
}

fn sdk_group(g: &InstanceGroup) -> emr::InstanceGroupConfig {
    emr::InstanceGroupConfig::builder()
        .name(&g.name)
        .set_market(g.market.as_deref().map(emr::MarketType::from))
        .instance_role(emr::InstanceRoleType::from(g.instance_role.as_str()))
        .set_bid_price(g.bid_price.clone())
        .instance_type(&g.instance_type)
        .instance_count(g.instance_count)
        .set_ebs_configuration(g.ebs_configuration.as_ref().map(sdk_ebs))
        .build()
}

fn sdk_fleet(f: &InstanceFleet) -> emr::InstanceFleetConfig {
    emr::InstanceFleetConfig::builder()
        .name(&f.name)
        .instance_fleet_type(emr::InstanceFleetType::from(f.instance_fleet_type.as_str()))
        .target_on_demand_capacity(f.target_on_demand_capacity)
        .target_spot_capacity(f.target_spot_capacity)
        .set_instance_type_configs(Some(
            f.instance_type_configs
                .iter()
                .map(|t| {
                    emr::InstanceTypeConfig::builder()
                        .instance_type(&t.instance_type)
                        .set_weighted_capacity(t.weighted_capacity)
                        .set_bid_price_as_percentage_of_on_demand_price(t.bid_price_as_percentage_of_on_demand_price)
                        .set_ebs_configuration(t.ebs_configuration.as_ref().map(sdk_ebs))
                        .build()
                })
                .collect(),
        ))
        .set_launch_specifications(f.launch_specifications.as_ref().map(|l| {
            emr::InstanceFleetProvisioningSpecifications::builder()
                .spot_specification(
                    emr::SpotProvisioningSpecification::builder()
                        .timeout_duration_minutes(l.spot_specification.timeout_duration_minutes)
                        .timeout_action(emr::SpotProvisioningTimeoutAction::from(
                            l.spot_specification.timeout_action.as_str(),
                        ))
                        .build(),
                )
                .build()
        }))
        .build()
}

fn sdk_step(s: &Step) -> emr::StepConfig {
    let h = &s.hadoop_jar_step;
    emr::StepConfig::builder()
        .name(&s.name)
        .set_action_on_failure(s.action_on_failure.as_deref().map(emr::ActionOnFailure::from))
        .hadoop_jar_step(
            emr::HadoopJarStepConfig::builder()
                .set_properties(non_empty(
                    h.properties.iter().map(|p| emr::KeyValue::builder().key(&p.key).value(&p.value).build()).collect(),
                ))
                .jar(&h.jar)
                .set_main_class(h.main_class.clone())
                .set_args(non_empty(h.args.clone()))
                .build(),
        )
        .build()
}

fn sdk_configuration(c: &Configuration) -> emr::Configuration {
    emr::Configuration::builder()
        .classification(&c.classification)
        .set_properties(non_empty(c.properties.clone()).map(|p| p.into_iter().collect::<HashMap<_, _>>()))
        .set_configurations(non_empty(c.configurations.iter().map(sdk_configuration).collect()))
        .build()
}
