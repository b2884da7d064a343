//! The SDK call for a request: the one place the request's types and the
//! SDK's meet.

use std::collections::HashMap;

use aws_sdk_emr::operation::run_job_flow::builders::RunJobFlowFluentBuilder;
use aws_sdk_emr::types as emr;

use super::types::{
    Application, BootstrapAction, Configuration, EbsConfiguration, InstanceFleet, InstanceGroup, Instances,
    RunJobFlowRequest, Step,
};

fn sdk_instances(i: &Instances) -> emr::JobFlowInstancesConfig {
    emr::JobFlowInstancesConfig::builder()
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
        .build()
}

fn sdk_bootstrap_action(b: &BootstrapAction) -> emr::BootstrapActionConfig {
    emr::BootstrapActionConfig::builder()
        .name(&b.name)
        .script_bootstrap_action(
            emr::ScriptBootstrapActionConfig::builder()
                .path(&b.script_bootstrap_action.path)
                .set_args(non_empty(b.script_bootstrap_action.args.clone()))
                .build(),
        )
        .build()
}

fn sdk_application(a: &Application) -> emr::Application {
    emr::Application::builder().name(&a.name).set_args(non_empty(a.args.clone())).build()
}

fn sdk_supported_product(a: &Application) -> emr::SupportedProductConfig {
    emr::SupportedProductConfig::builder().name(&a.name).set_args(non_empty(a.args.clone())).build()
}

/// The SDK call for a request.
pub fn to_sdk(r: &RunJobFlowRequest, call: RunJobFlowFluentBuilder) -> RunJobFlowFluentBuilder {
    call.name(&r.name)
        .set_log_uri(r.log_uri.clone())
        .set_release_label(r.release_label.clone())
        .set_ami_version(r.ami_version.clone())
        .instances(sdk_instances(&r.instances))
        .set_steps(non_empty(r.steps.iter().map(sdk_step).collect()))
        .set_bootstrap_actions(non_empty(r.bootstrap_actions.iter().map(sdk_bootstrap_action).collect()))
        .set_applications(non_empty(r.applications.iter().map(sdk_application).collect()))
        .set_new_supported_products(non_empty(r.new_supported_products.iter().map(sdk_supported_product).collect()))
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
