//! Instances: RunInstances, the wait until they run (or are terminated),
//! and what goes on a host right after its launch (the instance profile,
//! the Elastic IP). Right after a launch EC2 may not know the instance or
//! see the profile yet: those calls go through [`common::retry::eventually`].

use aws_sdk_ec2::operation::run_instances::builders::RunInstancesFluentBuilder;
use aws_sdk_ec2::types::{
    BlockDeviceMapping, DomainType, EbsBlockDevice, HttpTokensState, IamInstanceProfileSpecification,
    InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceType, ResourceType, VolumeType,
};
use common::retry::eventually;
use common::{AwsResultExt, WaitState};
use network::tag_spec;

use crate::desired::Role;
use crate::ec2::{describe_hosts, host_of, observe_addresses};
use crate::ledger::Ctx;
use crate::observed::{Address, Host, Tags};
use crate::op::{Launch, Slot};

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

/// RunInstances of one host, not yet sent: the image, subnet and groups
/// observe found, a gp3 root volume, IMDSv2 required, the tags.
fn run_instances(ctx: &Ctx<'_>, l: &Launch, token: &str) -> anyhow::Result<RunInstancesFluentBuilder> {
    let (spec, name) = (&l.spec, &l.name);
    let o = ctx.o;
    let image = o.image.as_ref().ok_or_else(|| anyhow::anyhow!("no image to launch {name} from"))?;
    let network = o.network.as_ref().ok_or_else(|| anyhow::anyhow!("no subnet to launch {name} in"))?;
    let group = |g: &str| {
        o.groups.get(g).cloned().ok_or_else(|| anyhow::anyhow!("security group {g} not found: run mk-sg first"))
    };
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
    let mut req = ctx
        .ec2
        .run_instances()
        .image_id(&image.id)
        .instance_type(InstanceType::from(spec.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .key_name(&spec.key_name)
        .set_security_group_ids(Some(vec![group("default")?, group(&spec.group_name)?]))
        .subnet_id(&network.subnet_id)
        .block_device_mappings(root)
        .metadata_options(metadata)
        .tag_specifications(tag_spec(ResourceType::Instance, &l.tags))
        .tag_specifications(tag_spec(ResourceType::Volume, &l.tags))
        .client_token(token);
    if let Some(profile) = &spec.instance_profile {
        req = req.iam_instance_profile(IamInstanceProfileSpecification::builder().name(profile).build());
    }
    Ok(req)
}

/// RunInstances for one host; returns its id. The token makes a retry
/// return the same instance, so it is sent at most once per host; a token
/// EC2 answers with a dead instance is salted. A just-made group or
/// instance profile EC2 does not see yet is waited for.
pub async fn launch(ctx: &Ctx<'_>, l: &Launch) -> anyhow::Result<Option<String>> {
    let (spec, name) = (&l.spec, &l.name);
    let key_pair_id = ctx.ledger.key_pair(spec.role).id.unwrap_or_else(|| spec.key_name.clone());
    let mut salt: Option<String> = None;
    for _ in 0..3 {
        let token = client_token(ctx.d.client.as_str(), spec.role, l.index, &key_pair_id, salt.as_deref());
        let req = run_instances(ctx, l, &token)?;
        let out = eventually(|| req.clone().send())
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
        let id = host.id.clone();
        ctx.ledger.set_host(l.slot, Host { name: Some(name.to_owned()), tags: l.tags.clone(), ..host });
        return Ok(Some(id));
    }
    anyhow::bail!("launching {name}: EC2 kept answering with terminated instances")
}

/// Polls until every host of `ids` reached `target` (at once under
/// `--no-wait`); returns them as DescribeInstances tells them then.
pub async fn wait_for(ctx: &Ctx<'_>, ids: &[String], target: Target) -> anyhow::Result<Vec<Host>> {
    let Some(timeout) = ctx.wait else { return Ok(Vec::new()) };
    let what = match target {
        Target::Running => format!("instances {} running", ids.join(", ")),
        Target::Terminated => format!("instances {} terminated", ids.join(", ")),
    };
    common::wait::wait_until(&what, timeout, || async {
        let hosts = describe_hosts(ctx.ec2, ids).await?;
        let states: Vec<(String, Option<String>)> =
            ids.iter().map(|id| (id.clone(), hosts.iter().find(|h| &h.id == id).map(|h| h.state.clone()))).collect();
        Ok(match readiness(&states, target) {
            WaitState::Ready(()) => WaitState::Ready(hosts),
            WaitState::Pending(s) => WaitState::Pending(s),
            WaitState::Failed(s) => WaitState::Failed(s),
        })
    })
    .await
}

/// Waits for the hosts that are starting.
pub async fn wait_running(ctx: &Ctx<'_>) -> anyhow::Result<Option<String>> {
    let starting: Vec<String> = ctx.ledger.hosts().into_iter().filter(|h| h.state == "pending").map(|h| h.id).collect();
    if !starting.is_empty() && ctx.wait.is_some() {
        tracing::info!("waiting for instances {} to be running", starting.join(", "));
        let fresh = wait_for(ctx, &starting, Target::Running).await?;
        ctx.ledger.refresh(fresh);
    }
    Ok(None)
}

/// AssociateIamInstanceProfile; returns the association's id.
pub async fn associate_profile(ctx: &Ctx<'_>, slot: Slot, profile: &str) -> anyhow::Result<Option<String>> {
    let h = ctx.ledger.host(slot)?;
    let spec = IamInstanceProfileSpecification::builder().name(profile).build();
    let out = eventually(|| {
        ctx.ec2.associate_iam_instance_profile().instance_id(&h.id).iam_instance_profile(spec.clone()).send()
    })
    .await
    .aws_context(format!("associating instance profile {profile} with {}", h.label()))?;
    tracing::info!("associated instance profile {profile} with {}", h.label());
    Ok(out.iam_instance_profile_association().and_then(|a| a.association_id()).map(str::to_owned))
}

/// The ARN of the instance profile a host was launched with.
pub fn profile_of_launch(ctx: &Ctx<'_>, slot: Slot) -> anyhow::Result<Option<String>> {
    Ok(ctx.ledger.host(slot)?.profile_arn)
}

/// AllocateAddress, tagged; returns the allocation id. Nothing
/// deduplicates an allocation, and each address costs money: sent once
/// per try, and after a lost answer the address is looked for by its tags
/// (the plan allocates only when none of the client's exists).
pub async fn allocate_address(ctx: &Ctx<'_>, tags: &Tags) -> anyhow::Result<Option<String>> {
    let no_retries = aws_sdk_ec2::config::Config::builder().retry_config(common::once::no_retries());
    let a = common::once::at_most_once(
        "allocating an Elastic IP",
        || async {
            let out = ctx
                .ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(ResourceType::ElasticIp, tags))
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await?;
            Ok(Address {
                allocation_id: out.allocation_id().unwrap_or_default().to_owned(),
                public_ip: out.public_ip().unwrap_or_default().to_owned(),
                tags: tags.clone(),
                ..Default::default()
            })
        },
        || async {
            let found = observe_addresses(ctx.ec2, ctx.d).await?;
            Ok(found.into_iter().find(|a| a.association_id.is_none()))
        },
    )
    .await?;
    tracing::info!("allocated Elastic IP {} ({})", a.public_ip, a.allocation_id);
    let id = a.allocation_id.clone();
    ctx.ledger.set_address(a);
    Ok(Some(id))
}

/// AssociateAddress of the run's address with the host in `slot`, which
/// may have just been launched, and the address just allocated.
pub async fn associate_address(ctx: &Ctx<'_>, slot: Slot) -> anyhow::Result<Option<String>> {
    let h = ctx.ledger.host(slot)?;
    let mut a = ctx.ledger.address().ok_or_else(|| anyhow::anyhow!("no Elastic IP to associate with {}", h.label()))?;
    let out = eventually(|| ctx.ec2.associate_address().allocation_id(&a.allocation_id).instance_id(&h.id).send())
        .await
        .aws_context(format!("associating Elastic IP {} with {}", a.public_ip, h.label()))?;
    a.association_id = out.association_id().map(str::to_owned);
    a.instance_id = Some(h.id.clone());
    tracing::info!("associated Elastic IP {} with {}", a.public_ip, h.label());
    ctx.ledger.set_address(a);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn what_is_waited_for_after_a_launch() {
        // What real EC2 answers right after a launch, and before IAM has
        // told EC2 of a new instance profile: "not yet", waited out (the
        // table's deadlines cover IAM's propagation, tens of seconds).
        let aws = "Value (acme-edxanalytics) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name";
        let rule = |op: &str, code: &str, msg: &str| common::retry::eventual_rule("ec2", op, code, msg);
        for op in ["RunInstances", "AssociateIamInstanceProfile"] {
            let r = rule(op, "InvalidParameterValue", aws).unwrap_or_else(|| panic!("{op}"));
            assert!(r.deadline.as_secs() >= 45, "IAM takes tens of seconds to propagate");
        }
        assert!(rule("RunInstances", "InvalidParameterValue", "Invalid value 't2.huge' for InstanceType").is_none());
        assert!(rule("RunInstances", "UnauthorizedOperation", aws).is_none());
        assert!(rule("RunInstances", "InvalidGroup.NotFound", "").is_some());
        for op in ["AssociateAddress", "AssociateIamInstanceProfile"] {
            assert!(rule(op, "IncorrectInstanceState", "").is_some(), "{op}");
        }
    }
}
