//! Hand-made desired and observed states for the unit tests: an empty
//! account with the prerequisites, and a converged deployment.

use std::collections::BTreeMap;

use common::{ClientName, Deployment};

use crate::converge::{Converge, Step};
use crate::desired::{Desired, HostSpec, KeyPairSpec, KeySource, NetworkChoice, Role};
use crate::image::{Image, ImageChoice, UbuntuRelease};
use crate::keys::PrivateKeyFile;
use crate::observed::key_pair_tags;
use crate::observed::{Address, Host, KeyPair, Network, Observed, role_tags};
use crate::op::{ADDRESS, Op};

pub fn dep() -> Deployment {
    Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-ec2", extra_tags: vec![] }
}

pub fn want(count: u32, director: bool) -> Desired {
    let release = UbuntuRelease::parse("24.04").unwrap();
    let mut hosts = vec![HostSpec {
        role: Role::Analytics,
        count,
        instance_type: "t2.medium".into(),
        type_flag: "--analytics-type",
        type_given: true,
        root_volume_gb: 50,
        group_name: "acme-analytics".into(),
        key_name: "acme-analytics".into(),
        instance_profile: Some("acme-edxanalytics".into()),
    }];
    if director {
        hosts.push(HostSpec {
            role: Role::Director,
            count: 1,
            instance_type: "t2.micro".into(),
            type_flag: "--director-type",
            type_given: true,
            root_volume_gb: 8,
            group_name: "acme-director".into(),
            key_name: "acme-director".into(),
            instance_profile: None,
        });
    }
    Desired {
        key_pairs: hosts.iter().map(|h| KeyPairSpec { role: h.role, name: h.key_name.clone() }).collect(),
        hosts,
        image: ImageChoice::Lookup { release, pattern: release.image_name_pattern(), owner: "099720109477" },
        network: NetworkChoice::DefaultVpc,
        public_key: None,
        address_name: "acme-analytics".into(),
        instance_profile: "acme-edxanalytics".into(),
    }
}

pub fn image() -> Image {
    Image {
        id: "ami-11111111".into(),
        name: "n".into(),
        creation_date: "2026-01-01T00:00:00.000Z".into(),
        root_device_name: None,
    }
}

pub fn empty_account() -> Observed {
    let mut groups = BTreeMap::new();
    for (n, id) in [("default", "sg-1"), ("acme-analytics", "sg-2"), ("acme-director", "sg-3")] {
        groups.insert(n.to_owned(), id.to_owned());
    }
    Observed {
        network: Some(Network { vpc_id: "vpc-1".into(), subnet_id: "subnet-1".into() }),
        groups,
        image: Some(image()),
        instance_profile_exists: Some(true),
        ..Default::default()
    }
}

pub fn host(role: Role, n: u32, id: &str) -> Host {
    let name = format!("{}-{n}", role.tag());
    Host {
        id: id.into(),
        role,
        name: Some(name.clone()),
        state: "running".into(),
        instance_type: if role == Role::Analytics { "t2.medium" } else { "t2.micro" }.into(),
        profile_arn: (role == Role::Analytics)
            .then(|| "arn:aws:iam::123456789012:instance-profile/acme-edxanalytics".to_owned()),
        http_tokens: Some("required".into()),
        group_ids: vec![],
        key_name: None,
        private_ip: None,
        public_ip: None,
        private_dns: None,
        public_dns: None,
        subnet_id: None,
        tags: role_tags(&dep(), role, Some(&name)),
    }
}

/// A public key line of its own for each name.
pub fn public(name: &str) -> String {
    format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{} {name}", name.replace('-', ""))
}

pub fn key(name: &str, role: Role) -> KeyPair {
    KeyPair {
        name: name.into(),
        id: Some(format!("key-{name}")),
        public_key: Some(public(name)),
        tags: key_pair_tags(&dep(), role, KeySource::SecretsDir),
        ..Default::default()
    }
}

pub fn pem(name: &str) -> (String, PrivateKeyFile) {
    (format!("{name}.pem"), PrivateKeyFile::PublicKey(public(name)))
}

pub fn converged() -> Observed {
    let mut o = empty_account();
    o.hosts = vec![host(Role::Analytics, 1, "i-a1"), host(Role::Director, 1, "i-d1")];
    o.key_pairs = vec![key("acme-analytics", Role::Analytics), key("acme-director", Role::Director)];
    o.private_key_files = [pem("acme-analytics"), pem("acme-director")].into();
    o.addresses = vec![Address {
        allocation_id: "eipalloc-1".into(),
        public_ip: "203.0.113.7".into(),
        association_id: Some("eipassoc-1".into()),
        instance_id: Some("i-a1".into()),
        tags: role_tags(&dep(), Role::Analytics, Some("acme-analytics")),
    }];
    o
}

pub fn actions(c: &Converge) -> Vec<String> {
    c.plan.changes().map(|c| format!("{} {} {}", c.kind, c.name, c.action.word(false))).collect()
}

/// The step whose (first) change is of this kind and name.
pub fn step<'a>(c: &'a Converge, kind: &str, name: &str) -> &'a Step {
    c.plan
        .steps
        .iter()
        .find(|s| s.changes.first().is_some_and(|ch| ch.kind == kind && ch.name == name))
        .unwrap_or_else(|| panic!("no step for {kind} {name}: {:?}", actions(c)))
}

pub fn ops<'a>(c: &'a Converge, kind: &str, name: &str) -> &'a [Op] {
    &step(c, kind, name).ops
}

pub fn in_phase(c: &Converge, phase: u8) -> Vec<&Step> {
    c.plan.steps.iter().filter(|s| s.phase == phase).collect()
}

pub fn address_step(c: &Converge) -> Option<&Step> {
    in_phase(c, ADDRESS).into_iter().next()
}
