//! Comparing the hosts, key pairs and address we want with what exists.
//! Pure: no I/O. The decisions live here; `ec2` only carries them out.

use std::collections::{BTreeMap, BTreeSet};

use common::{Action, Change, Deployment, Finding, WaitState};

use crate::desired::{Desired, HostSpec, ImageChoice, KeyPairSpec, KeySource, Role, TAG_PRIVATE_KEY, TAG_ROLE};

pub const KIND_KEY_PAIR: &str = "ec2-key-pair";
pub const KIND_INSTANCE: &str = "ec2-instance";
pub const KIND_ADDRESS: &str = "elastic-ip";
pub const KIND_PROFILE: &str = "iam-instance-profile-association";

/// Instance states in which a host counts as existing: a terminated or
/// terminating one is gone.
pub const LIVE_STATES: [&str; 4] = ["pending", "running", "stopping", "stopped"];

pub type Tags = Vec<(String, String)>;

/// An image as DescribeImages tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    pub name: String,
    /// ISO 8601, so that text order is time order.
    pub creation_date: String,
    pub root_device_name: Option<String>,
}

/// The newest image: latest creation date, then the greatest name (names
/// end in the build date) when two were made in the same second.
pub fn newest_image(images: Vec<Image>) -> Option<Image> {
    images.into_iter().max_by(|a, b| (&a.creation_date, &a.name).cmp(&(&b.creation_date, &b.name)))
}

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

/// A private key file found in the secrets directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateKeyFile {
    /// Its public key line.
    PublicKey(String),
    /// Why its public key cannot be read.
    Unreadable(String),
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

/// The instance profile's name in its ARN (`...:instance-profile/path/NAME`).
pub fn profile_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The `count` smallest indexes from 1 that `used` does not hold.
pub fn next_free_indexes(used: &[u32], count: usize) -> Vec<u32> {
    (1..).filter(|i| !used.contains(i)).take(count).collect()
}

/// The `ClientToken` of a launch: the same for the same host of the same
/// deployment, so a retried RunInstances (a lost answer, a re-run after a
/// crash) returns the instance it launched rather than a second one. The
/// key pair's id changes when a deployment is destroyed and made again,
/// and a token EC2 remembers for a terminated host is salted with that
/// host's id, so neither makes EC2 answer with a dead instance.
pub fn client_token(client: &str, role: Role, index: u32, key_pair_id: &str, salt: Option<&str>) -> String {
    // FNV-1a: stable across Rust releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [client, role.tag(), &index.to_string(), key_pair_id, salt.unwrap_or("")] {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{client}-{}-{index}-{:08x}", role.tag(), (h >> 32) ^ (h & 0xffff_ffff))
}

/// What the wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Running,
    Terminated,
}

/// Whether the hosts reached the target. `states` gives each id's state,
/// `None` when DescribeInstances does not show it (yet, right after a
/// launch; or any more, long after a termination).
pub fn readiness(states: &[(String, Option<String>)], target: Target) -> WaitState<()> {
    let mut waiting = Vec::new();
    for (id, state) in states {
        match (target, state.as_deref()) {
            (Target::Running, Some("running")) => {}
            (Target::Running, None | Some("pending")) => {
                waiting.push(format!("{id} {}", state.as_deref().unwrap_or("not visible yet")));
            }
            (Target::Running, Some(other)) => {
                return WaitState::Failed(format!("instance {id} is {other} instead of running"));
            }
            (Target::Terminated, None | Some("terminated")) => {}
            (Target::Terminated, Some(other)) => waiting.push(format!("{id} {other}")),
        }
    }
    if waiting.is_empty() { WaitState::Ready(()) } else { WaitState::Pending(waiting.join(", ")) }
}

// ---------------------------------------------------------------- plan

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOp {
    /// Generate a key here, write its private key file, then import its
    /// public key.
    Generate,
    /// Our key pair whose private key was never stored: delete it, then
    /// as [`KeyOp::Generate`].
    Replace,
    /// Import this public key line: the operator's `--public-key`, or that
    /// of the private key file already in the secrets directory.
    Import(String, KeySource),
    Tag(Tags),
    Keep,
}

#[derive(Debug, Clone)]
pub struct KeyPairStep {
    pub spec: KeyPairSpec,
    pub existing: Option<KeyPair>,
    pub op: KeyOp,
    /// Whether, once the step is done, the private key file in the secrets
    /// directory is this key pair's (and so named in the outputs).
    pub holds_private_key: bool,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFix {
    Tag(Tags),
    RequireImdsv2,
}

#[derive(Debug, Clone)]
pub enum HostOp {
    Keep(Box<Host>, Vec<HostFix>),
    Launch { index: u32, name: String, tags: Tags },
}

#[derive(Debug, Clone)]
pub struct HostStep {
    pub spec: HostSpec,
    pub op: HostOp,
    pub change: Change,
}

impl HostStep {
    pub fn existing(&self) -> Option<&Host> {
        match &self.op {
            HostOp::Keep(h, _) => Some(h),
            HostOp::Launch { .. } => None,
        }
    }

    pub fn name(&self) -> &str {
        &self.change.name
    }
}

#[derive(Debug, Clone)]
pub struct ProfileStep {
    /// Index into [`Plan::hosts`].
    pub host: usize,
    pub profile: String,
    /// Associate on an existing host; a launch carries the profile itself.
    pub associate: bool,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub struct AddressStep {
    /// `None`: allocate one.
    pub existing: Option<Address>,
    pub tags: Tags,
    /// Index into [`Plan::hosts`] of the host to associate with, if the
    /// address is not on it yet.
    pub associate_with: Option<usize>,
    pub change: Change,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub key_pairs: Vec<KeyPairStep>,
    pub hosts: Vec<HostStep>,
    pub profiles: Vec<ProfileStep>,
    pub address: Option<AddressStep>,
    pub findings: Vec<Finding>,
    /// Missing prerequisites: fatal in a real run, warnings under dry-run.
    pub missing: Vec<String>,
}

impl Plan {
    pub fn changes(&self) -> Vec<Change> {
        let mut v: Vec<Change> = self.key_pairs.iter().map(|s| s.change.clone()).collect();
        v.extend(self.hosts.iter().map(|s| s.change.clone()));
        v.extend(self.profiles.iter().map(|s| s.change.clone()));
        v.extend(self.address.iter().map(|s| s.change.clone()));
        v
    }

    pub fn launches(&self) -> impl Iterator<Item = &HostStep> {
        self.hosts.iter().filter(|h| matches!(h.op, HostOp::Launch { .. }))
    }
}

fn warning(message: String) -> Finding {
    Finding::warning(message)
}

fn info(message: String) -> Finding {
    Finding::info(message)
}

/// The tags a key pair gets when mk-ec2 imports it.
pub fn key_pair_tags(d: &Deployment, role: Role, source: KeySource) -> Tags {
    let mut t = role_tags(d, role, None);
    t.push((TAG_PRIVATE_KEY.to_owned(), source.tag().to_owned()));
    t
}

/// One key pair. The private key is made here and written before EC2
/// hears of it, so the cases are: no key pair and no file (make both); a
/// file and no key pair (a run stopped before the import: import the
/// file's public key, never a new key over the file); both (compare); a
/// key pair of ours and no file (made by CreateKeyPair whose answer was
/// lost, before mk-ec2 made keys itself, or the file was removed: made
/// again, unless a host uses it or the operator imported it).
fn plan_key_pair(
    d: &Deployment,
    w: &Desired,
    spec: &KeyPairSpec,
    o: &Observed,
    findings: &mut Vec<Finding>,
    missing: &mut Vec<String>,
) -> KeyPairStep {
    let name = &spec.name;
    let file = spec.file_name();
    let pem = o.private_key_files.get(&file);
    let pem_public = match pem {
        Some(PrivateKeyFile::PublicKey(pk)) => Some(pk.as_str()),
        _ => None,
    };
    let existing = o.key_pairs.iter().find(|k| &k.name == name).cloned();
    let Some(k) = &existing else {
        let change = Change::new(KIND_KEY_PAIR, name, Action::Create);
        let (op, holds_private_key) = match (&w.public_key, pem) {
            (Some(pk), _) => {
                let holds = pem_public
                    .is_some_and(|have| crate::desired::public_key_body(have) == crate::desired::public_key_body(pk));
                (KeyOp::Import(pk.clone(), KeySource::Operator), holds)
            }
            (None, None) => (KeyOp::Generate, true),
            (None, Some(PrivateKeyFile::PublicKey(pk))) => {
                findings.push(info(format!(
                    "key pair {name} is not in EC2 but its private key {file} is in the secrets directory (a run \
                     stopped before importing it, or the key pair was deleted): its public key is imported"
                )));
                (KeyOp::Import(pk.clone(), KeySource::SecretsDir), true)
            }
            (None, Some(PrivateKeyFile::Unreadable(why))) => {
                missing.push(format!(
                    "key pair {name} is not in EC2 and its private key file {file} in the secrets directory cannot \
                     be read ({why}); it is never written over: import its public key (ssh-keygen -y -f {file} > \
                     {name}.pub, then --public-key {name}.pub), or move the file away to have a new key pair made"
                ));
                (KeyOp::Generate, false)
            }
        };
        return KeyPairStep { spec: spec.clone(), existing, op, holds_private_key, change };
    };
    let mut change = Change::new(KIND_KEY_PAIR, name, Action::Unchanged);
    if let Some(id) = &k.id {
        change = change.with_id(id);
    }
    let mut op = KeyOp::Keep;
    let ours = d.owns(pairs(&k.tags));
    if ours {
        let missing = missing_tags(&role_tags(d, spec.role, None), &k.tags);
        if !missing.is_empty() {
            op = KeyOp::Tag(missing);
            change.action = Action::Update;
            change.details = vec!["tags".into()];
        }
    } else {
        findings.push(info(format!(
            "key pair {name} exists and was not created by mk-ec2 for {}: used as it is, never deleted",
            d.client
        )));
    }
    // `None` when EC2 tells neither the public key nor a comparable
    // fingerprint: the file is taken to be the key pair's.
    let matches_file =
        pem_public.map(|pk| crate::keys::same_key(k.public_key.as_deref(), k.fingerprint.as_deref(), pk));
    let mut holds_private_key = matches_file.is_some_and(|m| m != Some(false));
    match (&w.public_key, pem) {
        (Some(pk), _) => {
            let same = k
                .public_key
                .as_deref()
                .is_some_and(|have| crate::desired::public_key_body(have) == crate::desired::public_key_body(pk));
            if k.public_key.is_some() && !same {
                findings.push(warning(format!(
                    "key pair {name} holds another public key than --public-key: it is kept (never replaced \
                     silently); delete it (aws ec2 delete-key-pair --key-name {name}) and re-run to import yours"
                )));
            }
        }
        (None, Some(PrivateKeyFile::PublicKey(_))) if !holds_private_key => {
            findings.push(warning(format!(
                "key pair {name} holds another public key than its private key file {file}: both are kept (never \
                 replaced silently); to use the file's key, delete the key pair (aws ec2 delete-key-pair \
                 --key-name {name}) and re-run to import it"
            )));
        }
        (None, Some(PrivateKeyFile::PublicKey(_))) => {}
        (None, Some(PrivateKeyFile::Unreadable(why))) => {
            findings.push(warning(format!(
                "the private key file {file} of key pair {name} cannot be read ({why}): both are kept as they are"
            )));
        }
        (None, None) => {
            let imported = k.tags.iter().any(|(tk, v)| tk == TAG_PRIVATE_KEY && v == KeySource::Operator.tag());
            let used_by: Vec<String> =
                o.hosts.iter().filter(|h| h.key_name.as_deref() == Some(name.as_str())).map(Host::label).collect();
            if ours && !imported && used_by.is_empty() {
                findings.push(warning(format!(
                    "key pair {name} was made for {} but its private key {file} was never stored (a run stopped \
                     while making it, or the file was removed), and no host uses it: it is deleted and made again",
                    d.client
                )));
                op = KeyOp::Replace;
                holds_private_key = true;
                change.action = Action::Update;
                change.details = vec!["replaced: no private key".into()];
            } else {
                let why = if imported {
                    "imported from --public-key: the operator holds its private key".to_owned()
                } else if !used_by.is_empty() {
                    format!("{} use it, and a new key pair would not reach them", used_by.join(", "))
                } else {
                    "imported, or made elsewhere".to_owned()
                };
                findings.push(warning(format!(
                    "key pair {name} exists but its private key {file} is not in the secrets directory ({why}): it \
                     is kept, never re-created silently; SSH in with the key you hold, or delete the key pair and \
                     re-run to make a new one"
                )));
            }
        }
    }
    KeyPairStep { spec: spec.clone(), existing, op, holds_private_key, change }
}

fn sort_key(h: &Host) -> (u32, String) {
    (h.index().unwrap_or(u32::MAX), h.id.clone())
}

fn plan_hosts(d: &Deployment, spec: &HostSpec, o: &Observed, findings: &mut Vec<Finding>) -> Vec<HostStep> {
    let mut found: Vec<&Host> = o.hosts.iter().filter(|h| h.role == spec.role).collect();
    found.sort_by_key(|h| sort_key(h));
    let mut steps = Vec::new();
    for h in &found {
        let mut fixes = Vec::new();
        let mut details = Vec::new();
        let missing = missing_tags(&role_tags(d, spec.role, h.name.as_deref()), &h.tags);
        if !missing.is_empty() {
            fixes.push(HostFix::Tag(missing));
            details.push("tags".to_owned());
        }
        if h.http_tokens.as_deref() != Some("required") {
            fixes.push(HostFix::RequireImdsv2);
            details.push("IMDSv2 required".to_owned());
        }
        if h.instance_type != spec.instance_type {
            findings.push(warning(format!(
                "{} ({}) is a {}, not a {}: left as it is, since changing the type needs the host stopped \
                 (aws ec2 stop-instances, modify-instance-attribute --instance-type, start-instances)",
                h.label(),
                h.id,
                h.instance_type,
                spec.instance_type
            )));
        }
        if matches!(h.state.as_str(), "stopped" | "stopping") {
            findings.push(warning(format!(
                "{} ({}) is {}: left so; start it with aws ec2 start-instances --instance-ids {}",
                h.label(),
                h.id,
                h.state,
                h.id
            )));
        }
        let action = if fixes.is_empty() { Action::Unchanged } else { Action::Update };
        let change = Change::new(KIND_INSTANCE, h.label(), action).with_id(&h.id).with_details(details);
        steps.push(HostStep { spec: spec.clone(), op: HostOp::Keep(Box::new((*h).clone()), fixes), change });
    }
    let wanted = spec.count as usize;
    if found.len() < wanted {
        let used: Vec<u32> = found.iter().filter_map(|h| h.index()).collect();
        for index in next_free_indexes(&used, wanted - found.len()) {
            let name = spec.host_name(index);
            let tags = role_tags(d, spec.role, Some(&name));
            let change = Change::new(KIND_INSTANCE, &name, Action::Create);
            steps.push(HostStep { spec: spec.clone(), op: HostOp::Launch { index, name, tags }, change });
        }
    } else if found.len() > wanted {
        findings.push(info(format!(
            "{} {} hosts exist where {} are wanted: none is terminated (only --destroy terminates)",
            found.len(),
            spec.role.tag(),
            wanted
        )));
    }
    steps
}

fn plan_profiles(w: &Desired, hosts: &[HostStep], findings: &mut Vec<Finding>) -> Vec<ProfileStep> {
    let mut steps = Vec::new();
    for (i, step) in hosts.iter().enumerate() {
        let Some(profile) = &step.spec.instance_profile else { continue };
        let name = format!("{}/{}", step.name(), profile);
        match step.existing() {
            None => steps.push(ProfileStep {
                host: i,
                profile: profile.clone(),
                associate: false,
                change: Change::new(KIND_PROFILE, name, Action::Create),
            }),
            Some(h) => match &h.profile_arn {
                None => steps.push(ProfileStep {
                    host: i,
                    profile: profile.clone(),
                    associate: true,
                    change: Change::new(KIND_PROFILE, name, Action::Create),
                }),
                Some(arn) if profile_name(arn) == w.instance_profile => steps.push(ProfileStep {
                    host: i,
                    profile: profile.clone(),
                    associate: false,
                    change: Change::new(KIND_PROFILE, name, Action::Unchanged).with_id(arn),
                }),
                Some(arn) => findings.push(warning(format!(
                    "{} ({}) runs with instance profile {arn}, not {profile}: left as it is (replace it with \
                     aws ec2 replace-iam-instance-profile-association)",
                    h.label(),
                    h.id
                ))),
            },
        }
    }
    steps
}

fn plan_address(
    d: &Deployment,
    w: &Desired,
    o: &Observed,
    hosts: &[HostStep],
    findings: &mut Vec<Finding>,
) -> Option<AddressStep> {
    // The first analytics host (hosts are in index order) carries the address.
    let target = hosts.iter().position(|h| h.spec.role == Role::Analytics)?;
    let target_id = hosts[target].existing().map(|h| h.id.clone());
    let tags = role_tags(d, Role::Analytics, Some(&w.address_name));
    let mut ours: Vec<&Address> = o.addresses.iter().collect();
    ours.sort_by_key(|a| (a.instance_id.is_none() || a.instance_id != target_id, a.allocation_id.clone()));
    let Some(a) = ours.first() else {
        return Some(AddressStep {
            existing: None,
            tags,
            associate_with: Some(target),
            change: Change::new(KIND_ADDRESS, &w.address_name, Action::Create),
        });
    };
    for extra in &ours[1..] {
        findings.push(warning(format!(
            "Elastic IP {} ({}) is also tagged for {}: only {} is used; release the other (aws ec2 release-address)",
            extra.public_ip, extra.allocation_id, d.client, a.public_ip
        )));
    }
    let mut details = Vec::new();
    let missing = missing_tags(&tags, &a.tags);
    if !missing.is_empty() {
        details.push("tags".to_owned());
    }
    let mut associate_with = None;
    match (&a.instance_id, &target_id) {
        (Some(on), Some(t)) if on == t => {}
        (None, _) => {
            associate_with = Some(target);
            details.push("association".to_owned());
        }
        (Some(on), _) => findings.push(warning(format!(
            "Elastic IP {} is associated with {on}, not with {}: left as it is",
            a.public_ip,
            hosts[target].name()
        ))),
    }
    let action = if details.is_empty() { Action::Unchanged } else { Action::Update };
    Some(AddressStep {
        existing: Some((*a).clone()),
        tags: missing,
        associate_with,
        change: Change::new(KIND_ADDRESS, &w.address_name, action).with_id(&a.allocation_id).with_details(details),
    })
}

/// Whether the plan will need the instance profile: a launch of an
/// analytics host, or one running without a profile. Observe looks the
/// profile up only then.
pub fn needs_instance_profile(w: &Desired, o: &Observed) -> bool {
    w.hosts.iter().filter(|s| s.instance_profile.is_some()).any(|s| {
        let found: Vec<&Host> = o.hosts.iter().filter(|h| h.role == s.role).collect();
        found.len() < s.count as usize || found.iter().any(|h| h.profile_arn.is_none())
    })
}

/// The plan for a converging run.
pub fn plan(d: &Deployment, w: &Desired, o: &Observed) -> Plan {
    let mut p = Plan::default();
    for spec in &w.key_pairs {
        let step = plan_key_pair(d, w, spec, o, &mut p.findings, &mut p.missing);
        p.key_pairs.push(step);
    }
    for spec in &w.hosts {
        let steps = plan_hosts(d, spec, o, &mut p.findings);
        p.hosts.extend(steps);
    }
    for role in Role::ALL.into_iter().filter(|r| w.host(*r).is_none()) {
        for h in o.hosts.iter().filter(|h| h.role == role) {
            p.findings.push(info(format!(
                "{} ({}) exists and is not managed by this run (--no-{}): left as it is",
                h.label(),
                h.id,
                role.tag()
            )));
        }
    }
    p.profiles = plan_profiles(w, &p.hosts, &mut p.findings);
    p.address = plan_address(d, w, o, &p.hosts, &mut p.findings);

    let launching: BTreeSet<Role> = p.launches().map(|h| h.spec.role).collect();
    if !launching.is_empty() && o.image.is_none() {
        p.missing.push(match &w.image {
            ImageChoice::Lookup { pattern, .. } => format!(
                "no available image named {pattern} owned by Canonical ({}) in this region: choose another \
                 --ubuntu-release or pass --ami-id",
                crate::desired::CANONICAL_OWNER
            ),
            ImageChoice::Given(id) => format!("image {id} not found in this region"),
        });
    }
    if let Some(n) = o.network.as_ref().filter(|_| !launching.is_empty()) {
        let mut groups = vec!["default".to_owned()];
        groups.extend(w.hosts.iter().filter(|h| launching.contains(&h.role)).map(|h| h.group_name.clone()));
        for g in groups {
            if !o.groups.contains_key(&g) {
                p.missing.push(format!("security group {g} not found in {}: run mk-sg first", n.vpc_id));
            }
        }
    }
    let profile_needed = p.profiles.iter().any(|s| s.change.action == Action::Create);
    if profile_needed && o.instance_profile_exists == Some(false) {
        p.missing.push(format!("instance profile {} not found: run mk-iam first", w.instance_profile));
    }
    p
}

// ---------------------------------------------------------------- destroy

#[derive(Debug, Clone, Default)]
pub struct DestroyPlan {
    pub addresses: Vec<(Address, Change)>,
    pub hosts: Vec<(Host, Change)>,
    /// Key pairs to delete, with their private key files.
    pub key_pairs: Vec<(KeyPairSpec, Change)>,
    /// Private key files whose key pair is already gone.
    pub stale_files: Vec<String>,
    pub findings: Vec<Finding>,
}

impl DestroyPlan {
    pub fn changes(&self) -> Vec<Change> {
        let mut v: Vec<Change> = self.addresses.iter().map(|(_, c)| c.clone()).collect();
        v.extend(self.hosts.iter().map(|(_, c)| c.clone()));
        v.extend(self.key_pairs.iter().map(|(_, c)| c.clone()));
        v
    }
}

/// What destroy removes: only what carries this deployment's tag.
pub fn plan_destroy(d: &Deployment, w: &Desired, o: &Observed) -> DestroyPlan {
    let mut p = DestroyPlan::default();
    for a in o.addresses.iter().filter(|a| d.owns(pairs(&a.tags))) {
        let name = a.tags.iter().find(|(k, _)| k == "Name").map(|(_, v)| v.clone()).unwrap_or(a.public_ip.clone());
        p.addresses.push((a.clone(), Change::new(KIND_ADDRESS, name, Action::Delete).with_id(&a.allocation_id)));
    }
    let mut hosts: Vec<&Host> = o.hosts.iter().filter(|h| d.owns(pairs(&h.tags))).collect();
    hosts.sort_by_key(|h| (h.role, sort_key(h)));
    for h in hosts {
        p.hosts.push((h.clone(), Change::new(KIND_INSTANCE, h.label(), Action::Delete).with_id(&h.id)));
    }
    for spec in &w.key_pairs {
        match o.key_pairs.iter().find(|k| k.name == spec.name) {
            Some(k) if d.owns(pairs(&k.tags)) => {
                let mut c = Change::new(KIND_KEY_PAIR, &spec.name, Action::Delete);
                if let Some(id) = &k.id {
                    c = c.with_id(id);
                }
                p.key_pairs.push((spec.clone(), c));
            }
            Some(_) => p
                .findings
                .push(info(format!("key pair {} was not created by mk-ec2 for {}: left alone", spec.name, d.client))),
            None if o.private_key_files.contains_key(&spec.file_name()) => p.stale_files.push(spec.file_name()),
            None => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{NetworkChoice, UbuntuRelease};
    use common::ClientName;

    fn dep() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-ec2", extra_tags: vec![] }
    }

    fn want(count: u32, director: bool) -> Desired {
        let release = UbuntuRelease::parse("24.04").unwrap();
        let mut hosts = vec![HostSpec {
            role: Role::Analytics,
            count,
            instance_type: "t2.medium".into(),
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
                root_volume_gb: 8,
                group_name: "acme-director".into(),
                key_name: "acme-director".into(),
                instance_profile: None,
            });
        }
        Desired {
            key_pairs: hosts.iter().map(|h| KeyPairSpec { role: h.role, name: h.key_name.clone() }).collect(),
            hosts,
            image: ImageChoice::Lookup { release, pattern: release.image_name_pattern() },
            network: NetworkChoice::DefaultVpc,
            public_key: None,
            address_name: "acme-analytics".into(),
            instance_profile: "acme-edxanalytics".into(),
        }
    }

    fn image() -> Image {
        Image {
            id: "ami-11111111".into(),
            name: "n".into(),
            creation_date: "2026-01-01T00:00:00.000Z".into(),
            root_device_name: None,
        }
    }

    fn empty_account() -> Observed {
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

    fn host(role: Role, n: u32, id: &str) -> Host {
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
    fn public(name: &str) -> String {
        format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5{} {name}", name.replace('-', ""))
    }

    fn key(name: &str, role: Role) -> KeyPair {
        KeyPair {
            name: name.into(),
            id: Some(format!("key-{name}")),
            public_key: Some(public(name)),
            tags: key_pair_tags(&dep(), role, KeySource::SecretsDir),
            ..Default::default()
        }
    }

    fn pem(name: &str) -> (String, PrivateKeyFile) {
        (format!("{name}.pem"), PrivateKeyFile::PublicKey(public(name)))
    }

    fn converged() -> Observed {
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

    fn actions(p: &Plan) -> Vec<String> {
        p.changes().iter().map(|c| format!("{} {} {}", c.kind, c.name, c.action.word(false))).collect()
    }

    #[test]
    fn newest_image_wins() {
        let img = |id: &str, name: &str, date: &str| Image {
            id: id.into(),
            name: name.into(),
            creation_date: date.into(),
            root_device_name: None,
        };
        let got = newest_image(vec![
            img("ami-1", "ubuntu-noble-24.04-amd64-server-20250601", "2025-06-01T10:00:00.000Z"),
            img("ami-2", "ubuntu-noble-24.04-amd64-server-20240423", "2025-07-01T10:00:00.000Z"),
            img("ami-3", "ubuntu-noble-24.04-amd64-server-20250101", "2025-01-01T10:00:00.000Z"),
        ]);
        assert_eq!(got.unwrap().id, "ami-2", "creation date decides, not the name");
        let tie = newest_image(vec![
            img("ami-1", "x-20250601", "2025-06-01T10:00:00.000Z"),
            img("ami-2", "x-20250602", "2025-06-01T10:00:00.000Z"),
        ]);
        assert_eq!(tie.unwrap().id, "ami-2");
        assert_eq!(newest_image(vec![]), None);
    }

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

    #[test]
    fn client_tokens_are_deterministic_and_distinct() {
        let t = client_token("acme", Role::Analytics, 1, "key-0abc", None);
        assert_eq!(t, client_token("acme", Role::Analytics, 1, "key-0abc", None));
        assert!(t.starts_with("acme-analytics-1-"), "{t}");
        assert_eq!(t.len(), "acme-analytics-1-".len() + 8);
        assert!(t[t.len() - 8..].chars().all(|c| c.is_ascii_hexdigit()));
        let others = [
            client_token("acme", Role::Analytics, 2, "key-0abc", None),
            client_token("acme", Role::Director, 1, "key-0abc", None),
            client_token("acmf", Role::Analytics, 1, "key-0abc", None),
            client_token("acme", Role::Analytics, 1, "key-0abd", None),
            client_token("acme", Role::Analytics, 1, "key-0abc", Some("i-dead")),
        ];
        for o in &others {
            assert_ne!(&t, o);
        }
        // Fixed value: the token must not change between releases of the tool.
        assert_eq!(t, "acme-analytics-1-fcfa039e");
        let longest = client_token(&"a".repeat(32), Role::Analytics, 20, "key-0123456789abcdef0", None);
        assert!(longest.len() <= 64, "EC2 takes at most 64 characters: {longest}");
    }

    #[test]
    fn free_indexes() {
        assert_eq!(next_free_indexes(&[], 1), [1]);
        assert_eq!(next_free_indexes(&[1], 2), [2, 3]);
        assert_eq!(next_free_indexes(&[2, 4], 3), [1, 3, 5]);
        assert_eq!(next_free_indexes(&[1, 2], 0), Vec::<u32>::new());
    }

    #[test]
    fn readiness_predicate() {
        let s = |v: &[(&str, Option<&str>)]| -> Vec<(String, Option<String>)> {
            v.iter().map(|(i, s)| (i.to_string(), s.map(str::to_owned))).collect()
        };
        assert!(matches!(
            readiness(&s(&[("i-1", Some("running")), ("i-2", Some("running"))]), Target::Running),
            WaitState::Ready(())
        ));
        match readiness(&s(&[("i-1", Some("running")), ("i-2", Some("pending")), ("i-3", None)]), Target::Running) {
            WaitState::Pending(m) => assert_eq!(m, "i-2 pending, i-3 not visible yet"),
            other => panic!("{other:?}"),
        }
        match readiness(&s(&[("i-1", Some("pending")), ("i-2", Some("terminated"))]), Target::Running) {
            WaitState::Failed(m) => assert!(m.contains("i-2 is terminated"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            readiness(&s(&[("i-1", Some("terminated")), ("i-2", None)]), Target::Terminated),
            WaitState::Ready(())
        ));
        assert!(matches!(readiness(&s(&[("i-1", Some("shutting-down"))]), Target::Terminated), WaitState::Pending(_)));
        assert!(matches!(readiness(&[], Target::Running), WaitState::Ready(())));
    }

    #[test]
    fn host_index_from_name() {
        let mut h = host(Role::Analytics, 3, "i-1");
        assert_eq!(h.index(), Some(3));
        h.name = Some("director-2".into());
        assert_eq!(h.index(), None);
        h.name = Some("analytics-0".into());
        assert_eq!(h.index(), None);
        h.name = None;
        assert_eq!(h.index(), None);
        assert_eq!(h.label(), "i-1");
        assert_eq!(profile_name("arn:aws:iam::1:instance-profile/path/acme-edxanalytics"), "acme-edxanalytics");
    }

    #[test]
    fn empty_account_creates_everything() {
        let p = plan(&dep(), &want(1, true), &empty_account());
        assert_eq!(
            actions(&p),
            [
                "ec2-key-pair acme-analytics created",
                "ec2-key-pair acme-director created",
                "ec2-instance analytics-1 created",
                "ec2-instance director-1 created",
                "iam-instance-profile-association analytics-1/acme-edxanalytics created",
                "elastic-ip acme-analytics created",
            ]
        );
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        assert_eq!(p.key_pairs[0].op, KeyOp::Generate);
        assert!(p.key_pairs.iter().all(|k| k.holds_private_key));
        let HostOp::Launch { tags, .. } = &p.hosts[0].op else { panic!() };
        assert!(tags.contains(&("Name".into(), "analytics-1".into())));
        assert!(tags.contains(&("analytics:role".into(), "analytics".into())));
        assert!(tags.contains(&("analytics:managed-by".into(), "mk-ec2".into())));
        assert!(!p.profiles[0].associate, "the launch carries the profile");
        assert_eq!(p.address.as_ref().unwrap().associate_with, Some(0));
    }

    #[test]
    fn public_key_imports() {
        let mut w = want(1, false);
        w.public_key = Some("ssh-ed25519 AAAA me".into());
        let p = plan(&dep(), &w, &empty_account());
        assert_eq!(p.key_pairs[0].op, KeyOp::Import("ssh-ed25519 AAAA me".into(), KeySource::Operator));
        assert!(!p.key_pairs[0].holds_private_key, "the operator holds it");
        assert_eq!(key_pair_tags(&dep(), Role::Analytics, KeySource::Operator).last().unwrap().1, "operator");
        assert_eq!(p.hosts.len(), 1);
    }

    #[test]
    fn converged_is_unchanged() {
        let p = plan(&dep(), &want(1, true), &converged());
        assert!(p.changes().iter().all(|c| c.action == Action::Unchanged), "{:?}", actions(&p));
        assert_eq!(p.changes().len(), 6);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
    }

    #[test]
    fn more_analytics_hosts_take_free_indexes() {
        let mut o = converged();
        o.hosts.push(host(Role::Analytics, 3, "i-a3"));
        let p = plan(&dep(), &want(3, true), &o);
        let launched: Vec<&str> = p.launches().map(super::HostStep::name).collect();
        assert_eq!(launched, ["analytics-2"]);
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.launches().count(), 0);
        assert!(p.findings.iter().any(|f| f.message.contains("2 analytics hosts exist")), "{:?}", p.findings);
    }

    #[test]
    fn a_host_without_profile_gets_it_associated() {
        let mut o = converged();
        o.hosts[0].profile_arn = None;
        let p = plan(&dep(), &want(1, true), &o);
        assert!(p.profiles[0].associate);
        assert_eq!(p.profiles[0].change.action, Action::Create);
        assert!(needs_instance_profile(&want(1, true), &o));
        assert!(!needs_instance_profile(&want(1, true), &converged()));
        o.instance_profile_exists = Some(false);
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.missing, ["instance profile acme-edxanalytics not found: run mk-iam first"]);
    }

    #[test]
    fn drift_fixes_and_findings() {
        let mut o = converged();
        o.hosts[0].instance_type = "t2.small".into();
        o.hosts[0].http_tokens = Some("optional".into());
        o.hosts[1].tags.retain(|(k, _)| k != "analytics:managed-by");
        o.hosts[1].state = "stopped".into();
        o.hosts[0].profile_arn = Some("arn:aws:iam::1:instance-profile/other".into());
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.hosts[0].change.action, Action::Update);
        assert_eq!(p.hosts[0].change.details, ["IMDSv2 required"]);
        let HostOp::Keep(_, fixes) = &p.hosts[1].op else { panic!() };
        assert_eq!(fixes, &[HostFix::Tag(vec![("analytics:managed-by".into(), "mk-ec2".into())])]);
        let msgs: Vec<&str> = p.findings.iter().map(|f| f.message.as_str()).collect();
        assert!(msgs.iter().any(|m| m.contains("is a t2.small, not a t2.medium")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("director-1 (i-d1) is stopped")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("instance-profile/other")), "{msgs:?}");
        assert!(p.profiles.is_empty(), "a foreign profile is not replaced");
    }

    #[test]
    fn elastic_ip_cases() {
        let mut o = converged();
        o.addresses[0].instance_id = None;
        o.addresses[0].association_id = None;
        let a = plan(&dep(), &want(1, true), &o).address.unwrap();
        assert_eq!((a.change.action, a.associate_with), (Action::Update, Some(0)));
        o.addresses[0].instance_id = Some("i-elsewhere".into());
        let p = plan(&dep(), &want(1, true), &o);
        let a = p.address.unwrap();
        assert_eq!((a.change.action, a.associate_with), (Action::Unchanged, None));
        assert!(p.findings.iter().any(|f| f.message.contains("associated with i-elsewhere")), "{:?}", p.findings);
    }

    #[test]
    fn converged_key_pairs_name_their_private_key_files() {
        let p = plan(&dep(), &want(1, true), &converged());
        assert!(p.key_pairs.iter().all(|k| k.op == KeyOp::Keep && k.holds_private_key));
        // EC2 without the public key: the fingerprint of the import decides.
        let mut o = converged();
        o.key_pairs[0].public_key = None;
        o.key_pairs[0].fingerprint = Some("1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca".into());
        let p = plan(&dep(), &want(1, true), &o);
        assert!(p.key_pairs[0].holds_private_key, "cannot tell: the file is taken to be the key pair's");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
    }

    #[test]
    fn a_key_pair_of_ours_without_its_private_key_is_made_again() {
        let mut o = converged();
        o.private_key_files.clear();
        let p = plan(&dep(), &want(1, true), &o);
        assert!(p.key_pairs.iter().all(|k| k.op == KeyOp::Replace), "{:?}", p.key_pairs);
        assert!(p.key_pairs.iter().all(|k| k.holds_private_key));
        assert_eq!(actions(&p)[..2], ["ec2-key-pair acme-analytics updated", "ec2-key-pair acme-director updated"]);
        assert_eq!(p.key_pairs[0].change.details, ["replaced: no private key"]);
        let warnings: Vec<&str> =
            p.findings.iter().filter(|f| f.severity == common::Severity::Warning).map(|f| f.message.as_str()).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("acme-analytics.pem was never stored"), "{}", warnings[0]);
        assert!(warnings[0].contains("deleted and made again"), "{}", warnings[0]);
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        // Made before mk-ec2 tagged where the private key is: the same.
        o.key_pairs[0].tags = role_tags(&dep(), Role::Analytics, None);
        assert_eq!(plan(&dep(), &want(1, true), &o).key_pairs[0].op, KeyOp::Replace);
    }

    #[test]
    fn a_key_pair_without_private_key_is_kept_when_in_use_imported_or_foreign() {
        // A host uses it: a new key pair would not reach the host.
        let mut o = converged();
        o.private_key_files.clear();
        o.hosts[0].key_name = Some("acme-analytics".into());
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!((&p.key_pairs[0].op, p.key_pairs[0].change.action), (&KeyOp::Keep, Action::Unchanged));
        assert!(!p.key_pairs[0].holds_private_key);
        assert!(p.findings[0].message.contains("analytics-1 use it"), "{}", p.findings[0].message);
        assert!(p.findings[0].message.contains("never re-created silently"), "{}", p.findings[0].message);
        assert_eq!(p.key_pairs[1].op, KeyOp::Replace, "no host uses the director's");
        // Imported from --public-key: the operator holds the private key.
        let mut o = converged();
        o.private_key_files.clear();
        o.key_pairs[0].tags = key_pair_tags(&dep(), Role::Analytics, KeySource::Operator);
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.key_pairs[0].op, KeyOp::Keep);
        assert!(p.findings[0].message.contains("the operator holds its private key"), "{}", p.findings[0].message);
        // Not this client's: adopted untouched.
        let mut o = converged();
        o.private_key_files.clear();
        o.key_pairs[0].tags.clear();
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.key_pairs[0].change.action, Action::Unchanged, "a foreign key pair is adopted untouched");
        assert_eq!(p.key_pairs[0].op, KeyOp::Keep);
        assert!(p.findings[0].message.contains("not created by mk-ec2"));
        assert!(p.findings[1].message.contains("imported, or made elsewhere"), "{}", p.findings[1].message);
    }

    #[test]
    fn a_private_key_file_of_another_key_is_kept_and_said() {
        let mut o = converged();
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::PublicKey(public("other")));
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.key_pairs[0].op, KeyOp::Keep);
        assert!(!p.key_pairs[0].holds_private_key, "the outputs do not name a file of another key");
        assert!(p.findings[0].message.contains("holds another public key than its private key file"));
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::Unreadable("not OpenSSH".into()));
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.key_pairs[0].op, KeyOp::Keep);
        assert!(p.findings[0].message.contains("cannot be read (not OpenSSH)"), "{}", p.findings[0].message);
    }

    #[test]
    fn a_private_key_file_without_key_pair_is_imported_never_overwritten() {
        let mut o = empty_account();
        o.private_key_files = [pem("acme-analytics")].into();
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.key_pairs[0].op, KeyOp::Import(public("acme-analytics"), KeySource::SecretsDir));
        assert_eq!(p.key_pairs[0].change.action, Action::Create);
        assert!(p.key_pairs[0].holds_private_key);
        assert_eq!(p.key_pairs[1].op, KeyOp::Generate);
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        assert!(p.findings[0].message.contains("its public key is imported"), "{}", p.findings[0].message);
        // A file whose public key cannot be read stops the run.
        o.private_key_files.insert("acme-analytics.pem".into(), PrivateKeyFile::Unreadable("not OpenSSH".into()));
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.missing.len(), 1, "{:?}", p.missing);
        assert!(p.missing[0].contains("ssh-keygen -y -f acme-analytics.pem"), "{}", p.missing[0]);
        assert!(p.missing[0].contains("never written over"), "{}", p.missing[0]);
        // --public-key imports the operator's key and writes no file.
        let mut w = want(1, true);
        w.public_key = Some("ssh-ed25519 AAAA me".into());
        let p = plan(&dep(), &w, &o);
        assert!(p.missing.is_empty(), "importing writes no file");
        assert!(!p.key_pairs[0].holds_private_key);
    }

    #[test]
    fn an_unwanted_director_is_left_alone() {
        let p = plan(&dep(), &want(1, false), &converged());
        assert_eq!(p.hosts.len(), 1);
        assert!(p.findings.iter().any(|f| f.message.contains("director-1 (i-d1) exists and is not managed")));
    }

    #[test]
    fn missing_prerequisites_only_when_launching() {
        let mut o = empty_account();
        o.groups.remove("acme-director");
        o.image = None;
        o.instance_profile_exists = Some(false);
        let p = plan(&dep(), &want(1, true), &o);
        assert_eq!(p.missing.len(), 3, "{:?}", p.missing);
        assert!(p.missing[0].contains("ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*"));
        assert!(p.missing[1].contains("acme-director not found in vpc-1: run mk-sg first"));
        let mut o = converged();
        o.groups.clear();
        o.image = None;
        assert!(plan(&dep(), &want(1, true), &o).missing.is_empty());
    }

    #[test]
    fn destroy_takes_only_ours() {
        let mut o = converged();
        o.key_pairs[1].tags.clear();
        o.private_key_files = [pem("acme-analytics")].into();
        let mut foreign = host(Role::Analytics, 1, "i-other");
        foreign.tags = vec![("analytics:client".into(), "other".into())];
        o.hosts.push(foreign);
        let p = plan_destroy(&dep(), &want(1, true), &o);
        let names: Vec<String> = p.changes().iter().map(|c| format!("{} {}", c.kind, c.name)).collect();
        assert_eq!(
            names,
            [
                "elastic-ip acme-analytics",
                "ec2-instance analytics-1",
                "ec2-instance director-1",
                "ec2-key-pair acme-analytics"
            ]
        );
        assert!(p.changes().iter().all(|c| c.action == Action::Delete));
        assert!(p.findings[0].message.contains("acme-director was not created by mk-ec2"));
    }
}
