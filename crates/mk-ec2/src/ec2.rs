//! Reading and changing EC2 (and one IAM read). Thin: the decisions are in
//! `plan`.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, DomainType, EbsBlockDevice, HttpTokensState, IamInstanceProfileSpecification, Instance,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceType, ResourceType, VolumeType,
};
use common::error::bad_input;
use common::{AwsResultExt, Deployment, Report, SecretsDir, WaitState, aws_error_code};

use network::{filter, sdk_tags, tag_spec, tags_of};

use crate::desired::{Desired, ImageChoice, KeySource, NetworkChoice, Role, TAG_ROLE};
use crate::outputs::{Built, KeyPairOut};
use crate::plan::{
    self, Address, DestroyPlan, Host, HostFix, HostOp, Image, KeyOp, KeyPair, KeyPairStep, LIVE_STATES, Network,
    Observed, Plan, PrivateKeyFile, Subnet, Target,
};

/// A host from DescribeInstances or RunInstances; `role` when the answer
/// may lack the tags (RunInstances).
fn host_of(i: &Instance, role: Option<Role>) -> Option<Host> {
    let tags = tags_of(i.tags());
    let tag = |k: &str| tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone());
    let role = tag(TAG_ROLE).and_then(|r| Role::from_tag(&r)).or(role)?;
    Some(Host {
        id: i.instance_id()?.to_owned(),
        role,
        name: tag("Name"),
        state: i.state().and_then(|s| s.name()).map(|n| n.as_str().to_owned()).unwrap_or_default(),
        instance_type: i.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        profile_arn: i.iam_instance_profile().and_then(|p| p.arn()).map(str::to_owned),
        http_tokens: i.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str().to_owned()),
        group_ids: i.security_groups().iter().filter_map(|g| g.group_id()).map(str::to_owned).collect(),
        key_name: i.key_name().map(str::to_owned),
        private_ip: i.private_ip_address().map(str::to_owned),
        public_ip: i.public_ip_address().map(str::to_owned),
        private_dns: i.private_dns_name().filter(|s| !s.is_empty()).map(str::to_owned),
        public_dns: i.public_dns_name().filter(|s| !s.is_empty()).map(str::to_owned),
        subnet_id: i.subnet_id().map(str::to_owned),
        tags,
    })
}

/// Every live host of the deployment, by its tags.
async fn observe_hosts(ec2: &Client, d: &Deployment) -> anyhow::Result<Vec<Host>> {
    let mut hosts = Vec::new();
    let mut token = None;
    loop {
        let out = ec2
            .describe_instances()
            .filters(filter(&format!("tag:{}", common::deployment::TAG_CLIENT), [d.client.as_str()]))
            .filters(filter(&format!("tag:{TAG_ROLE}"), Role::ALL.map(Role::tag)))
            .filters(filter("instance-state-name", LIVE_STATES))
            .set_next_token(token)
            .send()
            .await
            .aws_context("listing the deployment's instances")?;
        hosts.extend(
            out.reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .filter_map(|i| host_of(i, None)),
        );
        token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(hosts);
        }
    }
}

/// The hosts of these ids, whatever their state; none while EC2 does not
/// know them yet (just launched).
async fn describe_hosts(ec2: &Client, ids: &[String]) -> anyhow::Result<Vec<Host>> {
    match ec2.describe_instances().set_instance_ids(Some(ids.to_vec())).send().await {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .filter_map(|i| host_of(i, None))
            .collect()),
        Err(e) if aws_error_code(&e) == Some("InvalidInstanceID.NotFound") => Ok(Vec::new()),
        Err(e) => Err(e).aws_context("reading instances"),
    }
}

async fn observe_key_pairs(ec2: &Client, w: &Desired) -> anyhow::Result<Vec<KeyPair>> {
    let names: Vec<String> = w.key_pairs.iter().map(|k| k.name.clone()).collect();
    let out = ec2
        .describe_key_pairs()
        .filters(filter("key-name", names))
        .include_public_key(true)
        .send()
        .await
        .aws_context("listing key pairs")?;
    Ok(out
        .key_pairs()
        .iter()
        .filter_map(|k| {
            Some(KeyPair {
                name: k.key_name()?.to_owned(),
                id: k.key_pair_id().map(str::to_owned),
                fingerprint: k.key_fingerprint().map(str::to_owned),
                public_key: k.public_key().map(str::to_owned),
                tags: tags_of(k.tags()),
            })
        })
        .collect())
}

async fn observe_addresses(ec2: &Client, d: &Deployment) -> anyhow::Result<Vec<Address>> {
    let out = ec2
        .describe_addresses()
        .filters(filter(&format!("tag:{}", common::deployment::TAG_CLIENT), [d.client.as_str()]))
        .filters(filter(&format!("tag:{TAG_ROLE}"), [Role::Analytics.tag()]))
        .send()
        .await
        .aws_context("listing Elastic IPs")?;
    Ok(out
        .addresses()
        .iter()
        .filter_map(|a| {
            Some(Address {
                allocation_id: a.allocation_id()?.to_owned(),
                public_ip: a.public_ip().unwrap_or_default().to_owned(),
                association_id: a.association_id().map(str::to_owned),
                instance_id: a.instance_id().filter(|s| !s.is_empty()).map(str::to_owned),
                tags: tags_of(a.tags()),
            })
        })
        .collect())
}

async fn observe_network(ec2: &Client, choice: &NetworkChoice) -> anyhow::Result<Network> {
    let req = ec2.describe_subnets();
    let req = match choice {
        NetworkChoice::DefaultVpc => req.filters(filter("default-for-az", ["true"])),
        NetworkChoice::Vpc(v) => req.filters(filter("vpc-id", [v.as_str()])),
        NetworkChoice::Subnet { id, .. } => req.subnet_ids(id),
    };
    let out = match req.send().await {
        Err(e) if aws_error_code(&e) == Some("InvalidSubnetID.NotFound") => {
            let NetworkChoice::Subnet { id, .. } = choice else { unreachable!("only subnet ids are looked up by id") };
            return Err(bad_input(format!("--subnet-id {id} not found in this region")));
        }
        r => r.aws_context("listing subnets")?,
    };
    let subnets: Vec<Subnet> = out
        .subnets()
        .iter()
        .filter_map(|s| {
            Some(Subnet {
                id: s.subnet_id()?.to_owned(),
                vpc_id: s.vpc_id()?.to_owned(),
                availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
                default_for_az: s.default_for_az().unwrap_or(false),
                map_public_ip: s.map_public_ip_on_launch().unwrap_or(false),
            })
        })
        .collect();
    let chosen = plan::choose_subnet(&subnets).ok_or_else(|| match choice {
        NetworkChoice::DefaultVpc => anyhow::anyhow!(
            "this region has no default VPC (or it has no default subnets): pass --vpc-id or --subnet-id"
        ),
        NetworkChoice::Vpc(v) => bad_input(format!("--vpc-id {v} not found in this region, or it has no subnets")),
        NetworkChoice::Subnet { id, .. } => bad_input(format!("--subnet-id {id} not found in this region")),
    })?;
    if let NetworkChoice::Subnet { id, vpc: Some(v) } = choice
        && &chosen.vpc_id != v
    {
        return Err(bad_input(format!("--subnet-id {id} is in {}, not in --vpc-id {v}", chosen.vpc_id)));
    }
    Ok(Network { vpc_id: chosen.vpc_id.clone(), subnet_id: chosen.id.clone() })
}

async fn observe_groups(ec2: &Client, vpc_id: &str, w: &Desired) -> anyhow::Result<BTreeMap<String, String>> {
    let mut names = vec!["default".to_owned()];
    names.extend(w.hosts.iter().map(|h| h.group_name.clone()));
    let out = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", [vpc_id]))
        .filters(filter("group-name", names))
        .send()
        .await
        .aws_context(format!("listing security groups of {vpc_id}"))?;
    Ok(out
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.group_name()?.to_owned(), g.group_id()?.to_owned())))
        .collect())
}

fn image_of(i: &aws_sdk_ec2::types::Image) -> Option<Image> {
    Some(Image {
        id: i.image_id()?.to_owned(),
        name: i.name().unwrap_or_default().to_owned(),
        creation_date: i.creation_date().unwrap_or_default().to_owned(),
        root_device_name: i.root_device_name().map(str::to_owned),
    })
}

async fn observe_image(ec2: &Client, choice: &ImageChoice) -> anyhow::Result<Option<Image>> {
    match choice {
        ImageChoice::Lookup { pattern, .. } => {
            let out = ec2
                .describe_images()
                .owners(crate::desired::CANONICAL_OWNER)
                .filters(filter("name", [pattern.as_str()]))
                .filters(filter("state", ["available"]))
                .send()
                .await
                .aws_context("looking up Ubuntu images")?;
            let found = plan::newest_image(out.images().iter().filter_map(image_of).collect());
            if let Some(i) = &found {
                tracing::debug!("newest image for {pattern}: {} {} ({})", i.id, i.name, i.creation_date);
            }
            Ok(found)
        }
        ImageChoice::Given(id) => match ec2.describe_images().image_ids(id).send().await {
            Ok(out) => match out.images().iter().find_map(image_of) {
                Some(i) => Ok(Some(i)),
                None => Err(bad_input(format!("--ami-id {id} not found in this region"))),
            },
            Err(e) if aws_error_code(&e).is_some_and(|c| c.starts_with("InvalidAMIID")) => {
                Err(bad_input(format!("--ami-id {id} not found in this region ({})", aws_error_code(&e).unwrap_or(""))))
            }
            Err(e) => Err(e).aws_context(format!("reading image {id}")),
        },
    }
}

pub async fn instance_profile_exists(iam: &aws_sdk_iam::Client, name: &str) -> anyhow::Result<bool> {
    match iam.get_instance_profile().instance_profile_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if aws_error_code(&e) == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(e).aws_context(format!("reading instance profile {name}")),
    }
}

/// Reads what exists: hosts, key pairs and address always; on a
/// converging run also the network, groups and image.
pub async fn observe(
    ec2: &Client,
    d: &Deployment,
    w: &Desired,
    secrets: &SecretsDir,
    destroy: bool,
) -> anyhow::Result<Observed> {
    let (hosts, key_pairs, addresses, setting) =
        tokio::try_join!(observe_hosts(ec2, d), observe_key_pairs(ec2, w), observe_addresses(ec2, d), async {
            if destroy {
                return Ok(None);
            }
            let (network, image) = tokio::try_join!(
                async {
                    let n = observe_network(ec2, &w.network).await?;
                    let groups = observe_groups(ec2, &n.vpc_id, w).await?;
                    Ok::<_, anyhow::Error>((n, groups))
                },
                observe_image(ec2, &w.image),
            )?;
            Ok(Some((network, image)))
        },)?;
    let private_key_files = w
        .key_pairs
        .iter()
        .map(super::desired::KeyPairSpec::file_name)
        .filter(|f| secrets.file(f).is_file())
        .map(|f| {
            // Read for its public key only; the text is dropped here.
            let found = match std::fs::read_to_string(secrets.file(&f)) {
                Ok(text) => crate::keys::private_key_file(&text),
                Err(e) => PrivateKeyFile::Unreadable(e.to_string()),
            };
            (f, found)
        })
        .collect();
    let mut o = Observed { hosts, key_pairs, addresses, private_key_files, ..Default::default() };
    if let Some(((network, groups), image)) = setting {
        o.network = Some(network);
        o.groups = groups;
        o.image = image;
    }
    Ok(o)
}

// ---------------------------------------------------------------- apply

/// How long to keep retrying while IAM propagates a fresh instance
/// profile to EC2 (seconds between tries; about a minute in all).
pub const PROFILE_PROPAGATION_DELAYS: [u64; 6] = [1, 2, 4, 8, 15, 30];

/// EC2's answer while it does not see an instance profile yet:
/// `InvalidParameterValue: Value (x) for parameter iamInstanceProfile.name
/// is invalid. Invalid IAM Instance Profile name`.
pub fn is_profile_propagation(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("InvalidParameterValue")
        && message.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("iaminstanceprofile") || m.contains("instance profile")
        })
}

async fn retry_profile_propagation<T, E, F, Fut>(what: &str, mut call: F) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut delays = PROFILE_PROPAGATION_DELAYS.into_iter();
    loop {
        match call().await {
            Err(e) if is_profile_propagation(aws_error_code(&e), e.as_service_error().and_then(|s| s.message())) => {
                let Some(secs) = delays.next() else { return Err(e) };
                tracing::info!("{what}: the instance profile is not visible to EC2 yet; retrying in {secs}s");
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
            r => return r,
        }
    }
}

pub struct Apply<'a> {
    pub ec2: &'a Client,
    pub d: &'a Deployment,
    pub o: &'a Observed,
    pub secrets: &'a SecretsDir,
    pub wait: Option<Duration>,
}

impl Apply<'_> {
    async fn key_pairs(&self, p: &Plan, report: &mut Report) -> anyhow::Result<Vec<KeyPairOut>> {
        let mut out = Vec::new();
        for step in &p.key_pairs {
            let name = &step.spec.name;
            let file = step.spec.file_name();
            let mut change = step.change.clone();
            let (id, fingerprint) = match &step.op {
                KeyOp::Generate | KeyOp::Replace => {
                    if step.op == KeyOp::Replace {
                        self.ec2
                            .delete_key_pair()
                            .key_name(name)
                            .send()
                            .await
                            .aws_context(format!("deleting key pair {name}, whose private key was never stored"))?;
                        tracing::info!("deleted key pair {name}, whose private key was never stored");
                    }
                    // The private key is on disk before EC2 hears of the
                    // key: a stop from here on leaves a file to import.
                    let public_key = crate::keys::write_new_key(self.secrets, &file, name)?;
                    tracing::info!("generated key {name}; private key in {}", self.secrets.file(&file).display());
                    self.import(step, &public_key, KeySource::SecretsDir).await?
                }
                KeyOp::Import(public_key, source) => self.import(step, public_key, *source).await?,
                KeyOp::Tag(tags) => {
                    let k = step.existing.as_ref().expect("tagging an existing key pair");
                    let id = k.id.clone().ok_or_else(|| anyhow::anyhow!("key pair {name} has no id to tag"))?;
                    self.tag(&id, tags).await?;
                    (k.id.clone(), k.fingerprint.clone())
                }
                KeyOp::Keep => {
                    let k = step.existing.as_ref();
                    (k.and_then(|k| k.id.clone()), k.and_then(|k| k.fingerprint.clone()))
                }
            };
            if let Some(id) = &id {
                change = change.with_id(id);
            }
            report.change(change);
            let private_key_file = self.secrets.file(&file);
            out.push(KeyPairOut {
                role: step.spec.role,
                name: name.clone(),
                id,
                fingerprint,
                private_key_file: (step.holds_private_key && private_key_file.is_file()).then_some(private_key_file),
            });
        }
        Ok(out)
    }

    /// ImportKeyPair of `public_key`, tagged. The SDK retries a lost answer,
    /// and the retry finds the key pair there: taken as done when it is
    /// this client's and holds this very key.
    async fn import(
        &self,
        step: &KeyPairStep,
        public_key: &str,
        source: KeySource,
    ) -> anyhow::Result<(Option<String>, Option<String>)> {
        let name = &step.spec.name;
        let tags = plan::key_pair_tags(self.d, step.spec.role, source);
        let what = format!("importing key pair {name}");
        let call = self
            .ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(Blob::new(public_key.as_bytes()))
            .tag_specifications(tag_spec(ResourceType::KeyPair, &tags))
            .send();
        match call.await {
            Ok(imported) => {
                tracing::info!("imported key pair {name}");
                Ok((imported.key_pair_id().map(str::to_owned), imported.key_fingerprint().map(str::to_owned)))
            }
            Err(e) if aws_error_code(&e) == Some("InvalidKeyPair.Duplicate") => match self.key_pair(name).await? {
                Some(k)
                    if self.is_ours(&k.tags)
                        && crate::keys::same_key(k.public_key.as_deref(), k.fingerprint.as_deref(), public_key)
                            != Some(false) =>
                {
                    Ok((k.id, k.fingerprint))
                }
                _ => {
                    Err(e).aws_context(format!("{what} (one of that name appeared, not this client's or another key)"))
                }
            },
            Err(e) => Err(e).aws_context(what),
        }
    }

    /// One key pair by name, if it exists.
    async fn key_pair(&self, name: &str) -> anyhow::Result<Option<KeyPair>> {
        let out = self
            .ec2
            .describe_key_pairs()
            .filters(filter("key-name", [name]))
            .include_public_key(true)
            .send()
            .await
            .aws_context(format!("reading key pair {name}"))?;
        Ok(out.key_pairs().iter().find(|k| k.key_name() == Some(name)).map(|k| KeyPair {
            name: name.to_owned(),
            id: k.key_pair_id().map(str::to_owned),
            fingerprint: k.key_fingerprint().map(str::to_owned),
            public_key: k.public_key().map(str::to_owned),
            tags: tags_of(k.tags()),
        }))
    }

    /// Whether tags say this client's.
    fn is_ours(&self, tags: &[(String, String)]) -> bool {
        tags.iter().any(|(k, v)| k == common::deployment::TAG_CLIENT && v == self.d.client.as_str())
    }

    async fn tag(&self, id: &str, tags: &[(String, String)]) -> anyhow::Result<()> {
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .aws_context(format!("tagging {id}"))?;
        Ok(())
    }

    /// RunInstances for one host. The token makes a retry return the same
    /// instance; a token EC2 answers with a dead instance is salted.
    async fn launch(
        &self,
        step: &plan::HostStep,
        index: u32,
        name: &str,
        tags: &[(String, String)],
        key_pair_id: &str,
    ) -> anyhow::Result<Host> {
        let spec = &step.spec;
        let image = self.o.image.as_ref().ok_or_else(|| anyhow::anyhow!("no image to launch {name} from"))?;
        let network = self.o.network.as_ref().ok_or_else(|| anyhow::anyhow!("no subnet to launch {name} in"))?;
        let group = |g: &str| {
            self.o
                .groups
                .get(g)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("security group {g} not found: run mk-sg first"))
        };
        let groups = vec![group("default")?, group(&spec.group_name)?];
        let root = BlockDeviceMapping::builder()
            .device_name(image.root_device_name.as_deref().unwrap_or("/dev/sda1"))
            .ebs(
                EbsBlockDevice::builder()
                    .volume_size(spec.root_volume_gb)
                    .volume_type(VolumeType::Gp3)
                    .delete_on_termination(true)
                    .encrypted(true)
                    .build(),
            )
            .build();
        let metadata = InstanceMetadataOptionsRequest::builder()
            .http_tokens(HttpTokensState::Required)
            .http_endpoint(InstanceMetadataEndpointState::Enabled)
            .build();
        let mut salt: Option<String> = None;
        for _ in 0..3 {
            let token = plan::client_token(self.d.client.as_str(), spec.role, index, key_pair_id, salt.as_deref());
            let out = retry_profile_propagation(&format!("launching {name}"), || {
                let mut req = self
                    .ec2
                    .run_instances()
                    .image_id(&image.id)
                    .instance_type(InstanceType::from(spec.instance_type.as_str()))
                    .min_count(1)
                    .max_count(1)
                    .key_name(&spec.key_name)
                    .set_security_group_ids(Some(groups.clone()))
                    .subnet_id(&network.subnet_id)
                    .block_device_mappings(root.clone())
                    .metadata_options(metadata.clone())
                    .tag_specifications(tag_spec(ResourceType::Instance, tags))
                    .tag_specifications(tag_spec(ResourceType::Volume, tags))
                    .client_token(&token);
                if let Some(profile) = &spec.instance_profile {
                    req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().name(profile).build());
                }
                req.send()
            })
            .await
            .aws_context(format!("launching {name} ({})", spec.instance_type))?;
            let host = out
                .instances()
                .first()
                .and_then(|i| host_of(i, Some(spec.role)))
                .ok_or_else(|| anyhow::anyhow!("RunInstances for {name} returned no instance"))?;
            if matches!(host.state.as_str(), "shutting-down" | "terminated") {
                tracing::info!("client token {token} names the terminated {}; launching with a new one", host.id);
                salt = Some(host.id);
                continue;
            }
            tracing::info!("launched {name}: {} ({})", host.id, spec.instance_type);
            return Ok(Host { name: Some(name.to_owned()), tags: tags.to_vec(), ..host });
        }
        anyhow::bail!("launching {name}: EC2 kept answering with terminated instances")
    }

    async fn wait_for(&self, ids: &[String], target: Target) -> anyhow::Result<Vec<Host>> {
        let Some(timeout) = self.wait else { return Ok(Vec::new()) };
        let what = match target {
            Target::Running => format!("instances {} running", ids.join(", ")),
            Target::Terminated => format!("instances {} terminated", ids.join(", ")),
        };
        common::wait::wait_until(&what, timeout, || async {
            let hosts = describe_hosts(self.ec2, ids).await?;
            let states: Vec<(String, Option<String>)> = ids
                .iter()
                .map(|id| (id.clone(), hosts.iter().find(|h| &h.id == id).map(|h| h.state.clone())))
                .collect();
            Ok(match plan::readiness(&states, target) {
                WaitState::Ready(()) => WaitState::Ready(hosts),
                WaitState::Pending(s) => WaitState::Pending(s),
                WaitState::Failed(s) => WaitState::Failed(s),
            })
        })
        .await
    }

    /// Carries out a converging plan, recording each change as it is done.
    pub async fn converge(&self, p: &Plan, report: &mut Report) -> anyhow::Result<Built> {
        let key_pairs = self.key_pairs(p, report).await?;
        let mut mutated = p.key_pairs.iter().any(|k| k.op != KeyOp::Keep);

        // Hosts, in plan order.
        let mut hosts: Vec<Host> = Vec::new();
        for step in &p.hosts {
            let mut change = step.change.clone();
            match &step.op {
                HostOp::Keep(h, fixes) => {
                    for fix in fixes {
                        match fix {
                            HostFix::Tag(tags) => self.tag(&h.id, tags).await?,
                            HostFix::RequireImdsv2 => {
                                self.ec2
                                    .modify_instance_metadata_options()
                                    .instance_id(&h.id)
                                    .http_tokens(HttpTokensState::Required)
                                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                                    .send()
                                    .await
                                    .aws_context(format!("requiring IMDSv2 on {}", h.label()))?;
                            }
                        }
                        mutated = true;
                    }
                    hosts.push((**h).clone());
                }
                HostOp::Launch { index, name, tags } => {
                    let key = key_pairs.iter().find(|k| k.role == step.spec.role);
                    let key_id = key.and_then(|k| k.id.clone()).unwrap_or_else(|| step.spec.key_name.clone());
                    let h = self.launch(step, *index, name, tags, &key_id).await?;
                    change = change.with_id(&h.id);
                    hosts.push(h);
                    mutated = true;
                }
            }
            report.change(change);
        }

        // Wait for what is starting.
        let starting: Vec<String> = hosts.iter().filter(|h| h.state == "pending").map(|h| h.id.clone()).collect();
        if self.wait.is_none() {
            // Not waited for (--no-wait): its profile and address follow
            // in the run that waits.
            for h in hosts.iter().filter(|h| h.state == "pending") {
                report.pending(plan::KIND_INSTANCE, h.label(), &h.state);
            }
        } else if !starting.is_empty() {
            for fresh in self.wait_for(&starting, Target::Running).await? {
                if let Some(h) = hosts.iter_mut().find(|h| h.id == fresh.id) {
                    *h = Host { name: h.name.clone().or(fresh.name.clone()), ..fresh };
                }
            }
        }
        let settled = |h: &Host| matches!(h.state.as_str(), "running" | "stopped");

        for step in &p.profiles {
            let h = &hosts[step.host];
            let mut change = step.change.clone();
            if step.associate {
                if !settled(h) {
                    report.info(format!(
                        "{} ({}) is {}: instance profile {} is associated by a run once it is running",
                        h.label(),
                        h.id,
                        h.state,
                        step.profile
                    ));
                    continue;
                }
                let out =
                    retry_profile_propagation(&format!("associating {} with {}", step.profile, h.label()), || {
                        self.ec2
                            .associate_iam_instance_profile()
                            .instance_id(&h.id)
                            .iam_instance_profile(
                                IamInstanceProfileSpecification::builder().name(&step.profile).build(),
                            )
                            .send()
                    })
                    .await
                    .aws_context(format!(
                        "associating instance profile {} with {}",
                        step.profile,
                        h.label()
                    ))?;
                if let Some(id) = out.iam_instance_profile_association().and_then(|a| a.association_id()) {
                    change = change.with_id(id);
                }
                tracing::info!("associated instance profile {} with {}", step.profile, h.label());
                mutated = true;
            } else if change.id.is_none()
                && let Some(arn) = &h.profile_arn
            {
                change = change.with_id(arn);
            }
            report.change(change);
        }

        let mut address = None;
        if let Some(step) = &p.address {
            let mut change = step.change.clone();
            let mut a = match &step.existing {
                Some(a) => {
                    if !step.tags.is_empty() {
                        self.tag(&a.allocation_id, &step.tags).await?;
                        mutated = true;
                    }
                    a.clone()
                }
                None => {
                    // Nothing deduplicates an allocation, and each address
                    // costs money: sent once per try, and after a lost
                    // answer the address is looked for by its tags (the plan
                    // allocates only when none of the client's exists).
                    let no_retries = aws_sdk_ec2::config::Config::builder().retry_config(common::once::no_retries());
                    let a = common::once::at_most_once(
                        "allocating an Elastic IP",
                        || async {
                            let out = self
                                .ec2
                                .allocate_address()
                                .domain(DomainType::Vpc)
                                .tag_specifications(tag_spec(ResourceType::ElasticIp, &step.tags))
                                .customize()
                                .config_override(no_retries.clone())
                                .send()
                                .await?;
                            Ok(Address {
                                allocation_id: out.allocation_id().unwrap_or_default().to_owned(),
                                public_ip: out.public_ip().unwrap_or_default().to_owned(),
                                tags: step.tags.clone(),
                                ..Default::default()
                            })
                        },
                        || async {
                            let found = observe_addresses(self.ec2, self.d).await?;
                            Ok(found.into_iter().find(|a| a.association_id.is_none()))
                        },
                    )
                    .await?;
                    mutated = true;
                    tracing::info!("allocated Elastic IP {} ({})", a.public_ip, a.allocation_id);
                    change = change.with_id(&a.allocation_id);
                    a
                }
            };
            if let Some(i) = step.associate_with {
                let h = &hosts[i];
                if settled(h) {
                    let out = self
                        .ec2
                        .associate_address()
                        .allocation_id(&a.allocation_id)
                        .instance_id(&h.id)
                        .send()
                        .await
                        .aws_context(format!("associating Elastic IP {} with {}", a.public_ip, h.label()))?;
                    a.association_id = out.association_id().map(str::to_owned);
                    a.instance_id = Some(h.id.clone());
                    tracing::info!("associated Elastic IP {} with {}", a.public_ip, h.label());
                    mutated = true;
                } else {
                    report.info(format!(
                        "{} ({}) is {}: Elastic IP {} is associated by a run once it is running",
                        h.label(),
                        h.id,
                        h.state,
                        a.public_ip
                    ));
                    change.details.retain(|d| d != "association");
                    if change.action == common::Action::Update && change.details.is_empty() {
                        change.action = common::Action::Unchanged;
                    }
                }
            }
            report.change(change);
            address = Some(a);
        }

        // Addresses moved: read the hosts once more for the outputs.
        if mutated && !hosts.is_empty() {
            let ids: Vec<String> = hosts.iter().map(|h| h.id.clone()).collect();
            for fresh in describe_hosts(self.ec2, &ids).await? {
                if let Some(h) = hosts.iter_mut().find(|h| h.id == fresh.id) {
                    *h = Host { name: h.name.clone().or(fresh.name.clone()), ..fresh };
                }
            }
        }
        Ok(Built {
            hosts,
            key_pairs,
            address,
            image_id: self.o.image.as_ref().map(|i| i.id.clone()),
            network: self.o.network.clone(),
        })
    }

    /// Removes the deployment's address, hosts and key pairs, in that order.
    pub async fn destroy(&self, p: &DestroyPlan, report: &mut Report) -> anyhow::Result<()> {
        for (a, change) in &p.addresses {
            if let Some(assoc) = &a.association_id {
                self.ec2
                    .disassociate_address()
                    .association_id(assoc)
                    .send()
                    .await
                    .aws_context(format!("disassociating Elastic IP {}", a.public_ip))?;
            }
            self.ec2
                .release_address()
                .allocation_id(&a.allocation_id)
                .send()
                .await
                .aws_context(format!("releasing Elastic IP {}", a.public_ip))?;
            tracing::info!("released Elastic IP {} ({})", a.public_ip, a.allocation_id);
            report.change(change.clone());
        }
        if !p.hosts.is_empty() {
            let ids: Vec<String> = p.hosts.iter().map(|(h, _)| h.id.clone()).collect();
            self.ec2
                .terminate_instances()
                .set_instance_ids(Some(ids.clone()))
                .send()
                .await
                .aws_context(format!("terminating {}", ids.join(", ")))?;
            tracing::info!("terminating {}", ids.join(", "));
            for (_, change) in &p.hosts {
                report.change(change.clone());
            }
            self.wait_for(&ids, Target::Terminated).await?;
        }
        for (spec, change) in &p.key_pairs {
            self.ec2
                .delete_key_pair()
                .key_name(&spec.name)
                .send()
                .await
                .aws_context(format!("deleting key pair {}", spec.name))?;
            self.secrets.remove(&spec.file_name())?;
            tracing::info!("deleted key pair {} and its private key file", spec.name);
            report.change(change.clone());
        }
        for f in &p.stale_files {
            self.secrets.remove(f)?;
            tracing::info!("removed {}, whose key pair no longer exists", self.secrets.file(f).display());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_propagation_errors() {
        let aws = "Value (acme-edxanalytics) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name";
        assert!(is_profile_propagation(Some("InvalidParameterValue"), Some(aws)));
        assert!(!is_profile_propagation(
            Some("InvalidParameterValue"),
            Some("Invalid value 't2.huge' for InstanceType")
        ));
        assert!(!is_profile_propagation(Some("UnauthorizedOperation"), Some(aws)));
        assert!(!is_profile_propagation(None, None));
        assert!(PROFILE_PROPAGATION_DELAYS.iter().sum::<u64>() >= 45, "IAM takes tens of seconds to propagate");
    }

    #[test]
    fn hosts_from_instances() {
        let i = Instance::builder()
            .instance_id("i-1")
            .tags(network::tag("Name", "analytics-2"))
            .tags(network::tag(TAG_ROLE, "analytics"))
            .state(aws_sdk_ec2::types::InstanceState::builder().name("running".into()).build())
            .instance_type(InstanceType::T2Medium)
            .build();
        let h = host_of(&i, None).unwrap();
        assert_eq!(
            (h.role, h.index(), h.state.as_str(), h.instance_type.as_str()),
            (Role::Analytics, Some(2), "running", "t2.medium")
        );
        let untagged = Instance::builder().instance_id("i-2").build();
        assert_eq!(host_of(&untagged, None), None, "an instance without a role is not ours");
        assert_eq!(host_of(&untagged, Some(Role::Director)).unwrap().role, Role::Director);
    }
}
