//! The hosts, key pairs and address we want, from the flags and the public
//! key file ([`crate::public_key`]). Pure apart from reading that one file.

use common::Deployment;
use common::error::bad_input;

use crate::args::Args;
use crate::image::{ImageChoice, UbuntuRelease, canonical_owner};
pub use crate::public_key::{public_key_body, read_public_key};

/// Tag saying which of the deployment's hosts a resource belongs to.
pub const TAG_ROLE: &str = "analytics:role";

/// Tag saying who holds a key pair's private key, set when mk-ec2 imports
/// it: see [`KeySource`].
pub const TAG_PRIVATE_KEY: &str = "analytics:private-key";

/// Where the public key of an import comes from, and so who holds the
/// private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Made by mk-ec2: the private key is in the secrets directory.
    SecretsDir,
    /// `--public-key`: the operator holds the private key.
    Operator,
}

impl KeySource {
    /// The value of the `analytics:private-key` tag.
    pub fn tag(self) -> &'static str {
        match self {
            KeySource::SecretsDir => "secrets-dir",
            KeySource::Operator => "operator",
        }
    }
}

/// The two kinds of host; also the value of the `analytics:role` tag and
/// the key under `outputs.instances`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Analytics,
    Director,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Analytics, Role::Director];

    pub fn tag(self) -> &'static str {
        match self {
            Role::Analytics => "analytics",
            Role::Director => "director",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.tag() == tag)
    }
}

/// Where new hosts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkChoice {
    /// The region's default VPC and one of its default subnets.
    DefaultVpc,
    Vpc(String),
    /// `--subnet-id`, and `--vpc-id` when given too (checked to match).
    Subnet {
        id: String,
        vpc: Option<String>,
    },
}

/// The analytics host's type when none is given (SPEC: current types).
pub const DEFAULT_ANALYTICS_TYPE: &str = "t3.medium";
/// The director's type when none is given.
pub const DEFAULT_DIRECTOR_TYPE: &str = "t3.micro";

/// One kind of host and how many of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub role: Role,
    pub count: u32,
    pub instance_type: String,
    /// The flag that sets the type, and whether it was given another
    /// value than its default.
    pub type_flag: &'static str,
    pub type_given: bool,
    pub root_volume_gb: i32,
    /// Besides the VPC's `default` group.
    pub group_name: String,
    pub key_name: String,
    pub instance_profile: Option<String>,
}

impl HostSpec {
    /// `analytics-3`.
    pub fn host_name(&self, index: u32) -> String {
        format!("{}-{index}", self.role.tag())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairSpec {
    pub role: Role,
    pub name: String,
}

impl KeyPairSpec {
    /// The private key's file in the secrets directory.
    pub fn file_name(&self) -> String {
        format!("{}.pem", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub hosts: Vec<HostSpec>,
    pub key_pairs: Vec<KeyPairSpec>,
    pub image: ImageChoice,
    pub network: NetworkChoice,
    /// The OpenSSH public key line to import instead of creating keys.
    pub public_key: Option<String>,
    /// The Elastic IP's `Name` tag.
    pub address_name: String,
    pub instance_profile: String,
}

impl Desired {
    pub fn host(&self, role: Role) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.role == role)
    }

    /// The image looked up from Canonical's account in `partition`
    /// (`common::aws::partition` of the region).
    pub fn in_partition(mut self, partition: &str) -> Desired {
        if let ImageChoice::Lookup { owner, .. } = &mut self.image {
            *owner = canonical_owner(partition);
        }
        self
    }
}

/// EC2 instance type names: a family (`t2`, `m7i-flex`, `u-6tb1`), a dot,
/// a size (`medium`, `16xlarge`, `metal-24xl`).
pub fn validate_instance_type(flag: &str, t: &str) -> anyhow::Result<()> {
    let ok = t.split_once('.').is_some_and(|(family, size)| {
        let word = |s: &str| {
            !s.is_empty()
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        word(family)
            && family.starts_with(|c: char| c.is_ascii_lowercase())
            && family.chars().any(|c| c.is_ascii_digit())
            && word(size)
    });
    if ok {
        Ok(())
    } else {
        Err(bad_input(format!("invalid {flag} {t:?}: expected an EC2 instance type such as t3.medium or m7i.large")))
    }
}

/// `ami-` and 8 or 17 hex digits.
pub fn validate_ami_id(id: &str) -> anyhow::Result<()> {
    let ok =
        id.strip_prefix("ami-").is_some_and(|h| matches!(h.len(), 8 | 17) && h.chars().all(|c| c.is_ascii_hexdigit()));
    if ok { Ok(()) } else { Err(bad_input(format!("invalid --ami-id {id:?}: expected ami- and 8 or 17 hex digits"))) }
}

/// What this run wants. On destroy every role counts, whatever the flags.
pub fn desired(args: &Args, d: &Deployment) -> anyhow::Result<Desired> {
    validate_instance_type("--analytics-type", &args.analytics_type)?;
    validate_instance_type("--director-type", &args.director_type)?;
    let image = match &args.ami_id {
        Some(id) => {
            validate_ami_id(id)?;
            ImageChoice::Given(id.clone())
        }
        None => {
            let release = UbuntuRelease::parse(&args.ubuntu_release)?;
            // The partition's owner is set once the region is known (Desired::in_partition).
            ImageChoice::Lookup { release, pattern: release.image_name_pattern(), owner: canonical_owner("aws") }
        }
    };
    let network = match (&args.subnet_id, &args.vpc_id) {
        (Some(s), _) => {
            network::validate_id("--subnet-id", "subnet", s)?;
            if let Some(v) = &args.vpc_id {
                network::validate_id("--vpc-id", "vpc", v)?;
            }
            NetworkChoice::Subnet { id: s.clone(), vpc: args.vpc_id.clone() }
        }
        (None, Some(v)) => {
            network::validate_id("--vpc-id", "vpc", v)?;
            NetworkChoice::Vpc(v.clone())
        }
        (None, None) => NetworkChoice::DefaultVpc,
    };
    let public_key = match (&args.public_key, args.destroy()) {
        (Some(p), false) => Some(read_public_key(p)?),
        _ => None,
    };
    let instance_profile = args.instance_profile.clone().unwrap_or_else(|| d.name("edxanalytics"));
    let mut hosts = vec![HostSpec {
        role: Role::Analytics,
        count: args.analytics_count,
        instance_type: args.analytics_type.clone(),
        type_flag: "--analytics-type",
        type_given: args.analytics_type != DEFAULT_ANALYTICS_TYPE,
        root_volume_gb: 50,
        group_name: args.analytics_group.clone().unwrap_or_else(|| d.name("analytics")),
        key_name: args.analytics_key.clone().unwrap_or_else(|| d.name("analytics")),
        instance_profile: Some(instance_profile.clone()),
    }];
    if !args.no_director || args.destroy() {
        hosts.push(HostSpec {
            role: Role::Director,
            count: 1,
            instance_type: args.director_type.clone(),
            type_flag: "--director-type",
            type_given: args.director_type != DEFAULT_DIRECTOR_TYPE,
            root_volume_gb: 8,
            group_name: args.director_group.clone().unwrap_or_else(|| d.name("director")),
            key_name: args.director_key.clone().unwrap_or_else(|| d.name("director")),
            instance_profile: None,
        });
    }
    let key_pairs: Vec<KeyPairSpec> =
        hosts.iter().map(|h| KeyPairSpec { role: h.role, name: h.key_name.clone() }).collect();
    if key_pairs.len() == 2 && key_pairs[0].name == key_pairs[1].name {
        return Err(bad_input(format!("key pair {:?} is named for both hosts", key_pairs[0].name)));
    }
    for k in &key_pairs {
        if k.name.is_empty() || k.name.len() > 255 || k.name.contains('/') || !k.name.is_ascii() {
            return Err(bad_input(format!("invalid key pair name {:?}", k.name)));
        }
    }
    Ok(Desired { hosts, key_pairs, image, network, public_key, address_name: d.name("analytics"), instance_profile })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> (Args, Deployment) {
        let mut v = vec!["mk-ec2", "--client", "acme"];
        v.extend_from_slice(extra);
        let a = Args::try_parse_from(v).unwrap();
        let d = Deployment::from_args(&a.converge.deployment, "mk-ec2").unwrap();
        (a, d)
    }

    #[test]
    fn instance_types() {
        for ok in ["t2.medium", "t3a.micro", "m7i-flex.large", "c6gn.16xlarge", "u-6tb1.metal", "mac2-m2pro.metal"] {
            validate_instance_type("--analytics-type", ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in
            ["", "t2", "medium", "T2.medium", "t2.", ".medium", "t2.medium.x", "t2 .medium", "tt.medium", "t2.-a"]
        {
            let e = validate_instance_type("--analytics-type", bad).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{bad}");
        }
    }

    #[test]
    fn ids() {
        validate_ami_id("ami-785db401").unwrap();
        validate_ami_id("ami-0123456789abcdef0").unwrap();
        for bad in ["ami-xyz", "785db401", "ami-123", "subnet-785db401"] {
            assert!(validate_ami_id(bad).is_err(), "{bad}");
        }
        let (a, d) = args(&["--subnet-id", "vpc-12345678"]);
        assert!(desired(&a, &d).unwrap_err().to_string().contains("--subnet-id"));
    }

    #[test]
    fn default_hosts() {
        let (a, d) = args(&[]);
        let w = desired(&a, &d).unwrap();
        let an = w.host(Role::Analytics).unwrap();
        assert_eq!(
            (an.instance_type.as_str(), an.root_volume_gb, an.group_name.as_str(), an.key_name.as_str()),
            ("t3.medium", 50, "acme-analytics", "acme-analytics")
        );
        assert_eq!(an.instance_profile.as_deref(), Some("acme-edxanalytics"));
        assert_eq!(an.host_name(1), "analytics-1");
        let dir = w.host(Role::Director).unwrap();
        assert_eq!(
            (dir.instance_type.as_str(), dir.root_volume_gb, dir.group_name.as_str(), dir.key_name.as_str()),
            ("t3.micro", 8, "acme-director", "acme-director")
        );
        assert_eq!(dir.instance_profile, None);
        assert_eq!(w.key_pairs[1].file_name(), "acme-director.pem");
        assert_eq!(w.network, NetworkChoice::DefaultVpc);
        assert!(matches!(&w.image, ImageChoice::Lookup { release, .. } if release.codename == "noble"));
        assert_eq!(w.address_name, "acme-analytics");
    }

    #[test]
    fn no_director_except_on_destroy() {
        let (a, d) = args(&["--no-director"]);
        assert_eq!(desired(&a, &d).unwrap().hosts.len(), 1);
        assert_eq!(desired(&a, &d).unwrap().key_pairs.len(), 1);
        let (a, d) = args(&["--no-director", "--destroy"]);
        assert_eq!(desired(&a, &d).unwrap().hosts.len(), 2);
    }

    #[test]
    fn bad_flags_are_bad_input() {
        for (flags, needle) in [
            (&["--analytics-type", "huge"][..], "--analytics-type"),
            (&["--director-type", "t2"][..], "--director-type"),
            (&["--ubuntu-release", "12.04"][..], "--ubuntu-release"),
            (&["--ami-id", "ubuntu"][..], "--ami-id"),
            (&["--public-key", "/nonexistent/key.pub"][..], "--public-key"),
            (&["--analytics-key", "same", "--director-key", "same"][..], "both hosts"),
        ] {
            let (a, d) = args(flags);
            let e = desired(&a, &d).unwrap_err();
            assert_eq!(common::error::exit_status(&e), 2, "{flags:?}");
            assert!(e.to_string().contains(needle), "{flags:?}: {e}");
        }
    }
}
