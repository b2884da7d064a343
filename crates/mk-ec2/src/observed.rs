//! What exists, as observe reads it: the network, the hosts, key pairs
//! and addresses, and the private key files in the secrets directory; and
//! the pure helpers that read those. No I/O.

use std::collections::BTreeMap;

use common::Deployment;

use crate::desired::{KeySource, Role, TAG_PRIVATE_KEY, TAG_ROLE};
use crate::image::Image;
use crate::keys::PrivateKeyFile;

/// Instance states in which a host counts as existing: a terminated or
/// terminating one is gone.
pub const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

pub type Tags = Vec<(String, String)>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    pub default_for_az: bool,
    pub map_public_ip: bool,
}

/// The subnet new hosts go to: a default one, else one that gives public
/// addresses, else any; the first zone in name order breaks ties, so every
/// run picks the same.
pub fn choose_subnet(subnets: &[Subnet]) -> Option<&Subnet> {
    subnets.iter().min_by_key(|s| (!s.default_for_az, !s.map_public_ip, s.availability_zone.clone(), s.id.clone()))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    pub vpc_id: String,
    pub subnet_id: String,
}

/// One of the deployment's instances as DescribeInstances tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub id: String,
    pub role: Role,
    pub name: Option<String>,
    pub state: String,
    pub instance_type: String,
    pub profile_arn: Option<String>,
    pub http_tokens: Option<String>,
    pub group_ids: Vec<String>,
    pub key_name: Option<String>,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub private_dns: Option<String>,
    pub public_dns: Option<String>,
    pub subnet_id: Option<String>,
    pub tags: Tags,
}

impl Host {
    /// N of a `Name` tag `<role>-N`.
    pub fn index(&self) -> Option<u32> {
        self.name.as_deref()?.strip_prefix(self.role.tag())?.strip_prefix('-')?.parse().ok().filter(|n| *n > 0)
    }

    /// Hosts in index order, unnamed ones last, by id.
    pub fn sort_key(&self) -> (u32, String) {
        (self.index().unwrap_or(u32::MAX), self.id.clone())
    }

    /// The `Name` tag, else the id.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPair {
    pub name: String,
    pub id: Option<String>,
    pub fingerprint: Option<String>,
    pub public_key: Option<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub association_id: Option<String>,
    pub instance_id: Option<String>,
    pub tags: Tags,
}

/// Everything observe read.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// `None` on destroy, which launches nothing.
    pub network: Option<Network>,
    /// Security groups of the VPC by name.
    pub groups: BTreeMap<String, String>,
    /// `None`: no image matched (or, on destroy, none was looked up).
    pub image: Option<Image>,
    pub key_pairs: Vec<KeyPair>,
    pub hosts: Vec<Host>,
    pub addresses: Vec<Address>,
    /// The private key files present in the secrets directory, of those
    /// we would write, by name.
    pub private_key_files: BTreeMap<String, PrivateKeyFile>,
    /// `None`: not looked up, since nothing needs it.
    pub instance_profile_exists: Option<bool>,
}

pub fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The tags of `want` that `have` lacks or holds with another value.
pub fn missing_tags(want: &[(String, String)], have: &[(String, String)]) -> Tags {
    want.iter().filter(|(k, v)| !have.iter().any(|(hk, hv)| hk == k && hv == v)).cloned().collect()
}

/// The deployment's tags, the role, and a `Name` when given.
pub fn role_tags(d: &Deployment, role: Role, name: Option<&str>) -> Tags {
    let mut t = Vec::new();
    if let Some(n) = name {
        t.push(("Name".to_owned(), n.to_owned()));
    }
    t.extend(d.tags());
    t.push((TAG_ROLE.to_owned(), role.tag().to_owned()));
    t
}

/// The tags a key pair gets when mk-ec2 imports it.
pub fn key_pair_tags(d: &Deployment, role: Role, source: KeySource) -> Tags {
    let mut t = role_tags(d, role, None);
    t.push((TAG_PRIVATE_KEY.to_owned(), source.tag().to_owned()));
    t
}

/// The instance profile's name in its ARN (`...:instance-profile/path/NAME`).
pub fn profile_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_choice_is_stable() {
        let s = |id: &str, az: &str, def: bool, public: bool| Subnet {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            availability_zone: az.into(),
            default_for_az: def,
            map_public_ip: public,
        };
        let subnets = [
            s("subnet-c", "us-east-1c", true, true),
            s("subnet-a", "us-east-1a", false, true),
            s("subnet-b", "us-east-1b", true, true),
        ];
        assert_eq!(choose_subnet(&subnets).unwrap().id, "subnet-b");
        let subnets = [s("subnet-c", "us-east-1c", false, false), s("subnet-d", "us-east-1d", false, true)];
        assert_eq!(choose_subnet(&subnets).unwrap().id, "subnet-d");
        assert_eq!(choose_subnet(&[]), None);
    }
}
