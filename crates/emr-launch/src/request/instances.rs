//! The request's `Instances`: key pair, subnet(s) or zone, security groups,
//! and the instance fleets or groups.

use common::error::bad_input;

use super::fleets::instance_fleets;
use super::groups::instance_groups;
use super::types::{Instances, Placement};
use super::values::{Notes, text, texts};
use crate::vars::{EmrVars, Subnets};

/// `Ec2SubnetId` (one) or `Ec2SubnetIds` (a list, as the old module took
/// it), and the placement when a zone is given instead.
struct Network {
    ec2_subnet_id: Option<String>,
    ec2_subnet_ids: Vec<String>,
    placement: Option<Placement>,
}

fn network(vars: &EmrVars) -> anyhow::Result<Network> {
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
    Ok(Network {
        ec2_subnet_id,
        ec2_subnet_ids,
        placement: zone.map(|availability_zone| Placement { availability_zone }),
    })
}

/// `Instances` for these variables; `release` says whether a release label
/// is set (then the label decides the Hadoop version).
pub fn instances(
    vars: &EmrVars,
    env_keypair: Option<&str>,
    release: bool,
    notes: &mut Notes,
) -> anyhow::Result<Instances> {
    let ec2_key_name = text(&vars.keypair_name).or_else(|| env_keypair.filter(|k| !k.is_empty()).map(str::to_owned));
    if ec2_key_name.is_none() {
        return Err(bad_input(
            "no key pair: set keypair_name in the file or AWS_KEYPAIR_NAME in the environment (the pipeline SSHes to the master)",
        ));
    }
    let network = network(vars)?;

    let fleets = if vars.instance_fleets.0.is_empty() { Vec::new() } else { instance_fleets(vars, notes)? };
    let groups = if vars.instance_fleets.0.is_empty() {
        instance_groups(vars, notes)?
    } else {
        if vars.instance_groups.as_ref().is_some_and(|g| !g.0.is_empty()) {
            notes.info("instance_groups ignored: instance_fleets is set".into());
        }
        Vec::new()
    };
    if network.ec2_subnet_ids.len() > 1 && fleets.is_empty() {
        notes.warn(
            "vpc_subnet_id lists several subnets: EMR chooses among them only for instance fleets; \
             with instance groups give one subnet"
                .into(),
        );
    }

    let hadoop_version = match (text(&vars.hadoop_version), release) {
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
        placement: network.placement,
        keep_job_flow_alive_when_no_steps: true,
        termination_protected: false,
        hadoop_version,
        ec2_subnet_id: network.ec2_subnet_id,
        ec2_subnet_ids: network.ec2_subnet_ids,
        emr_managed_master_security_group: text(&vars.emr_managed_master_security_group),
        emr_managed_slave_security_group: text(&vars.emr_managed_slave_security_group),
        additional_master_security_groups: texts(&vars.additional_master_security_groups),
        additional_slave_security_groups: texts(&vars.additional_slave_security_groups),
    })
}
