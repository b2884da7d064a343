//! Reading the typed variables' values the way the old module did: text
//! that is present, integers in range, instance roles, EBS volumes; and the
//! notes (findings) the mapping collects on the way.

use common::Finding;
use common::error::bad_input;

use super::types::{EbsBlockDeviceConfig, EbsConfiguration, VolumeSpecification};
use crate::vars::{Text, VolumeType};

/// The roles of `instance_groups` / `instance_fleets`, in request order.
pub const ROLES: [&str; 3] = ["master", "core", "task"];

/// What the operator should know about how the request was built.
#[derive(Debug, Default)]
pub struct Notes(pub Vec<Finding>);

impl Notes {
    pub fn warn(&mut self, message: String) {
        self.0.push(Finding::warning(message));
    }
    pub fn info(&mut self, message: String) {
        self.0.push(Finding::info(message));
    }
}

/// The text, `None` when unset or empty.
pub fn text(t: &Option<Text>) -> Option<String> {
    Text::present(t).map(str::to_owned)
}

pub fn texts(v: &[Text]) -> Vec<String> {
    v.iter().map(|t| t.0.clone()).collect()
}

/// An `i32` of at least `min`, or bad input naming `key`.
pub fn int32(value: i64, key: &str, min: i64) -> anyhow::Result<i32> {
    i32::try_from(value)
        .ok()
        .filter(|v| i64::from(*v) >= min)
        .ok_or_else(|| bad_input(format!("{key}: {value} is out of range (at least {min})")))
}

/// A role key of `instance_groups` / `instance_fleets`, checked.
pub fn role(key: &str, section: &str) -> anyhow::Result<&'static str> {
    ROLES
        .iter()
        .find(|r| r.eq_ignore_ascii_case(key))
        .copied()
        .ok_or_else(|| bad_input(format!("{section}.{key}: unknown role (expected master, core or task)")))
}

/// One EBS volume per instance (default 32 GB gp2, EBS-optimized) when a
/// size or type is given.
pub fn ebs(size: Option<i64>, volume_type: Option<VolumeType>, key: &str) -> anyhow::Result<Option<EbsConfiguration>> {
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
