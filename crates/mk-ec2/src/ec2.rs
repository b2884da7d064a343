//! Reading EC2 (and one IAM read): the deployment's hosts, key pairs and
//! addresses, the network, groups and image a launch needs, and the
//! private key files in the secrets directory. Thin: the decisions are in
//! `plan`; the writes in `apply` and `launch`.

use std::collections::BTreeMap;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::Instance;
use common::error::bad_input;
use common::secrets::Secret;
use common::{AwsResultExt, Deployment, SecretsDir, aws_error_code};
use network::{filter, tags_of};

use crate::desired::{Desired, NetworkChoice, Role, TAG_ROLE};
use crate::image::{Image, ImageChoice, newest_image};
use crate::keys::PrivateKeyFile;
use crate::observed::{Address, Host, KeyPair, LIVE_STATES, Network, Observed, Subnet, choose_subnet};

pub fn host_of(i: &Instance, role: Option<Role>) -> Option<Host> {
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
pub async fn describe_hosts(ec2: &Client, ids: &[String]) -> anyhow::Result<Vec<Host>> {
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

pub async fn observe_addresses(ec2: &Client, d: &Deployment) -> anyhow::Result<Vec<Address>> {
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
    let chosen = choose_subnet(&subnets).ok_or_else(|| match choice {
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
        ImageChoice::Lookup { pattern, owner, .. } => {
            // Deprecated images of older releases are still valid ones:
            // without IncludeDeprecated, EC2 hides them after two years.
            let out = ec2
                .describe_images()
                .owners(*owner)
                .include_deprecated(true)
                .filters(filter("name", [pattern.as_str()]))
                .filters(filter("state", ["available"]))
                .send()
                .await
                .aws_context("looking up Ubuntu images")?;
            let found = newest_image(out.images().iter().filter_map(image_of).collect());
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
            let found = match secrets.read(&f).map(|t| t.map(Secret::new)) {
                Ok(Some(text)) => crate::keys::private_key_file(text.expose()),
                Ok(None) => PrivateKeyFile::Unreadable("it is gone".to_owned()),
                Err(e) => PrivateKeyFile::Unreadable(format!("{e:#}")),
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

/// One key pair by name, if it exists.
pub async fn key_pair(ec2: &Client, name: &str) -> anyhow::Result<Option<KeyPair>> {
    let out = ec2
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

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::InstanceType;

    use super::*;

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
