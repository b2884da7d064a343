//! The RunJobFlow request's types, as the API names their fields (the AWS
//! CLI's `--cli-input-json` shape): what `--dry-run` prints under
//! `outputs.request`, and what `sdk.rs` turns into the SDK call.

use serde::Serialize;

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
    pub fn new(key: &str, value: &str) -> Self {
        Tag { key: key.to_owned(), value: value.to_owned() }
    }
}
