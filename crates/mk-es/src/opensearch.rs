//! Reading and changing the domain through the OpenSearch API, and finding
//! the grantee and the account. Thin: the decisions are in `plan`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_opensearch::Client;
use aws_sdk_opensearch::types::{
    ClusterConfig, DomainEndpointOptions, DomainStatus, EbsOptions, EncryptionAtRestOptions,
    NodeToNodeEncryptionOptions, OpenSearchPartitionInstanceType, SnapshotOptions, Tag, TlsSecurityPolicy, VolumeType,
};
use common::retry::eventually;
use common::wait::{WaitState, wait_until};
use common::{AwsResultExt, aws_error_code};

use crate::domain::{
    ClusterSection, CustomEndpoint, DomainSettings, DomainState, EbsSection, EndpointSection, ObservedDomain, Section,
    made_by_our_create, missing_domain, readiness, readiness_after_change,
};
use crate::plan::Op;

const NOT_FOUND: &str = "ResourceNotFoundException";
const ALREADY_EXISTS: &str = "ResourceAlreadyExistsException";

/// The domain's status, `None` when there is no such domain.
pub async fn describe(es: &Client, name: &str) -> anyhow::Result<Option<DomainStatus>> {
    let out =
        es.describe_domain().domain_name(name).send().await.none_if(NOT_FOUND, format!("describing domain {name}"))?;
    Ok(out.and_then(|o| o.domain_status().cloned()))
}

pub fn state(s: &DomainStatus) -> DomainState {
    let endpoint = s
        .endpoint()
        .or_else(|| s.endpoints().and_then(|e| e.get("vpc")).map(String::as_str))
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let change = s.change_progress_details();
    DomainState {
        endpoint,
        processing: s.processing().unwrap_or(false),
        deleted: s.deleted().unwrap_or(false),
        processing_status: s.domain_processing_status().map(|p| p.as_str().to_owned()),
        change_status: change.and_then(|c| c.config_change_status()).map(|c| c.as_str().to_owned()),
        change_message: change.and_then(|c| c.message()).map(str::to_owned),
    }
}

fn settings(s: &DomainStatus) -> DomainSettings {
    let c = s.cluster_config();
    let ebs = s.ebs_options();
    let ep = s.domain_endpoint_options();
    let custom =
        ep.filter(|e| e.custom_endpoint_enabled().is_some() || e.custom_endpoint().is_some()).map(|e| CustomEndpoint {
            enabled: e.custom_endpoint_enabled().unwrap_or(false),
            endpoint: e.custom_endpoint().map(str::to_owned),
            certificate_arn: e.custom_endpoint_certificate_arn().map(str::to_owned),
        });
    DomainSettings {
        cluster: ClusterSection {
            instance_type: c.and_then(|c| c.instance_type()).map(|t| t.as_str().to_owned()).unwrap_or_default(),
            instance_count: c.and_then(aws_sdk_opensearch::types::ClusterConfig::instance_count).unwrap_or(0),
            dedicated_master: c
                .and_then(aws_sdk_opensearch::types::ClusterConfig::dedicated_master_enabled)
                .unwrap_or(false),
            zone_awareness: c
                .and_then(aws_sdk_opensearch::types::ClusterConfig::zone_awareness_enabled)
                .unwrap_or(false),
        },
        ebs: EbsSection {
            enabled: ebs.and_then(aws_sdk_opensearch::types::EbsOptions::ebs_enabled).unwrap_or(false),
            volume_type: ebs.and_then(|e| e.volume_type()).map(|t| t.as_str().to_owned()),
            volume_gb: ebs.and_then(aws_sdk_opensearch::types::EbsOptions::volume_size),
            iops: ebs.and_then(aws_sdk_opensearch::types::EbsOptions::iops),
            throughput: ebs.and_then(aws_sdk_opensearch::types::EbsOptions::throughput),
        },
        snapshot_hour: s
            .snapshot_options()
            .and_then(aws_sdk_opensearch::types::SnapshotOptions::automated_snapshot_start_hour),
        encryption_at_rest: s
            .encryption_at_rest_options()
            .and_then(aws_sdk_opensearch::types::EncryptionAtRestOptions::enabled)
            .unwrap_or(false),
        node_to_node: s
            .node_to_node_encryption_options()
            .and_then(aws_sdk_opensearch::types::NodeToNodeEncryptionOptions::enabled)
            .unwrap_or(false),
        endpoint: EndpointSection {
            enforce_https: ep
                .and_then(aws_sdk_opensearch::types::DomainEndpointOptions::enforce_https)
                .unwrap_or(false),
            tls_policy: ep.and_then(|e| e.tls_security_policy()).map(|p| p.as_str().to_owned()),
            custom,
        },
        advanced_options: s.advanced_options().map(|m| m.clone().into_iter().collect()).unwrap_or_default(),
        access_policy: s.access_policies().filter(|p| !p.trim().is_empty()).and_then(|p| serde_json::from_str(p).ok()),
    }
}

/// Reads the domain and its tags.
pub async fn observe(es: &Client, name: &str) -> anyhow::Result<Option<ObservedDomain>> {
    let Some(status) = describe(es, name).await? else { return Ok(None) };
    let arn = status.arn().to_owned();
    let tags = es.list_tags().arn(&arn).send().await.aws_context(format!("reading the tags of domain {name}"))?;
    Ok(Some(ObservedDomain {
        arn,
        engine_version: status.engine_version().map(str::to_owned),
        settings: settings(&status),
        state: state(&status),
        tags: tags.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
    }))
}

fn cluster_config(c: &ClusterSection) -> ClusterConfig {
    ClusterConfig::builder()
        .instance_type(OpenSearchPartitionInstanceType::from(c.instance_type.as_str()))
        .instance_count(c.instance_count)
        .dedicated_master_enabled(c.dedicated_master)
        .zone_awareness_enabled(c.zone_awareness)
        .build()
}

fn ebs_options(e: &EbsSection) -> EbsOptions {
    EbsOptions::builder()
        .ebs_enabled(e.enabled)
        .set_volume_type(e.volume_type.as_deref().map(VolumeType::from))
        .set_volume_size(e.volume_gb)
        .set_iops(e.iops)
        .set_throughput(e.throughput)
        .build()
}

fn endpoint_options(e: &EndpointSection) -> DomainEndpointOptions {
    let custom = e.custom.clone().unwrap_or_default();
    DomainEndpointOptions::builder()
        .enforce_https(e.enforce_https)
        .set_tls_security_policy(e.tls_policy.as_deref().map(TlsSecurityPolicy::from))
        .set_custom_endpoint_enabled(e.custom.as_ref().map(|_| custom.enabled))
        .set_custom_endpoint(custom.endpoint)
        .set_custom_endpoint_certificate_arn(custom.certificate_arn)
        .build()
}

fn snapshot_options(hour: i32) -> SnapshotOptions {
    SnapshotOptions::builder().automated_snapshot_start_hour(hour).build()
}

fn tag_list(tags: &[(String, String)]) -> anyhow::Result<Vec<Tag>> {
    Ok(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect::<Result<Vec<_>, _>>()?)
}

fn advanced(options: &BTreeMap<String, String>) -> std::collections::HashMap<String, String> {
    options.clone().into_iter().collect()
}

/// What a try of `CreateDomain` gave.
enum Made {
    Created(String),
    /// ResourceAlreadyExistsException: ours or not, to be looked at.
    Exists(String),
}

/// The ARN of the domain of that name when it is the one our create made
/// (see [`made_by_our_create`]).
async fn made_by_us(es: &Client, name: &str, tags: &[(String, String)]) -> anyhow::Result<Option<String>> {
    Ok(observe(es, name).await?.filter(|o| made_by_our_create(o, tags)).map(|o| o.arn))
}

fn create_request(
    es: &Client,
    name: &str,
    engine_version: &str,
    s: &DomainSettings,
    tags: &[Tag],
) -> aws_sdk_opensearch::operation::create_domain::builders::CreateDomainFluentBuilder {
    es.create_domain()
        .domain_name(name)
        .engine_version(engine_version)
        .cluster_config(cluster_config(&s.cluster))
        .ebs_options(ebs_options(&s.ebs))
        .set_snapshot_options(s.snapshot_hour.map(snapshot_options))
        .encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(s.encryption_at_rest).build())
        .node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(s.node_to_node).build())
        .domain_endpoint_options(endpoint_options(&s.endpoint))
        .set_advanced_options(Some(advanced(&s.advanced_options)))
        .set_access_policies(s.access_policy.as_ref().map(std::string::ToString::to_string))
        .set_tag_list(Some(tags.to_vec()))
}

/// Creates the domain; returns its ARN. A name AWS deduplicates, but the
/// SDK's retry of a create whose answer was lost would answer "already
/// exists": so each try is sent once, and after a transient failure (or an
/// "already exists") the domain counts as created if it now exists with
/// this deployment's tags.
async fn create(
    es: &Client,
    name: &str,
    engine_version: &str,
    s: &DomainSettings,
    tags: &[(String, String)],
) -> anyhow::Result<String> {
    // Named in the error: what AWS may refuse in a region.
    let what = format!("creating domain {name} ({engine_version} on {})", s.cluster.instance_type);
    let tag_list = tag_list(tags)?;
    let no_retries = aws_sdk_opensearch::config::Config::builder().retry_config(common::once::no_retries());
    let made = common::once::at_most_once(
        &what,
        || async {
            // A policy naming a just-made IAM user is refused until IAM
            // has told OpenSearch of it: sent again while that lasts.
            let sent = eventually(|| {
                create_request(es, name, engine_version, s, &tag_list)
                    .customize()
                    .config_override(no_retries.clone())
                    .send()
            })
            .await;
            match sent {
                Ok(out) => Ok(Made::Created(out.domain_status().map(|d| d.arn().to_owned()).unwrap_or_default())),
                Err(e) if aws_error_code(&e) == Some(ALREADY_EXISTS) => {
                    let detail = e.as_service_error().and_then(|se| se.meta().message()).unwrap_or_default();
                    Ok(Made::Exists(detail.to_owned()))
                }
                Err(e) => Err(e),
            }
        },
        || async { Ok(made_by_us(es, name, tags).await?.map(Made::Created)) },
    )
    .await?;
    let arn = match made {
        Made::Created(arn) if !arn.is_empty() => arn,
        Made::Created(_) => anyhow::bail!("{what}: no status in the answer"),
        Made::Exists(detail) => match made_by_us(es, name, tags).await? {
            Some(arn) => {
                tracing::info!("{what}: it exists already, with this deployment's tags (an earlier try took effect)");
                arn
            }
            None => anyhow::bail!(
                "{what}: {ALREADY_EXISTS}: {detail} (a domain of that name appeared meanwhile, not tagged for this \
                 deployment)"
            ),
        },
    };
    Ok(arn)
}

async fn update(es: &Client, name: &str, sections: &[Section]) -> anyhow::Result<()> {
    let mut req = es.update_domain_config().domain_name(name);
    for s in sections {
        req = match s {
            Section::Cluster(c) => req.cluster_config(cluster_config(c)),
            Section::Ebs(e) => req.ebs_options(ebs_options(e)),
            Section::Snapshot(h) => req.snapshot_options(snapshot_options(*h)),
            Section::EncryptionAtRest => {
                req.encryption_at_rest_options(EncryptionAtRestOptions::builder().enabled(true).build())
            }
            Section::NodeToNode => {
                req.node_to_node_encryption_options(NodeToNodeEncryptionOptions::builder().enabled(true).build())
            }
            Section::Endpoint(e) => req.domain_endpoint_options(endpoint_options(e)),
            Section::AdvancedOptions(o) => req.set_advanced_options(Some(advanced(o))),
            Section::AccessPolicy(p) => req.access_policies(p.to_string()),
        };
    }
    // A policy naming a just-made IAM user, or a domain still processing
    // its last change, is refused for a while: sent again while that lasts.
    eventually(|| req.clone().send()).await.aws_context(format!("updating domain {name}"))?;
    Ok(())
}

/// Sends one planned call on domain `name` (whose ARN is `arn` when it
/// exists); returns the ARN of a domain it created.
pub async fn apply_op(es: &Client, name: &str, arn: Option<&str>, op: &Op) -> anyhow::Result<Option<String>> {
    match op {
        Op::Create { engine_version, settings, tags } => {
            return create(es, name, engine_version, settings, tags).await.map(Some);
        }
        Op::Update(sections) => update(es, name, sections).await?,
        Op::AddTags(tags) => {
            es.add_tags()
                .arn(arn.unwrap_or_default())
                .set_tag_list(Some(tag_list(tags)?))
                .send()
                .await
                .aws_context(format!("tagging domain {name}"))?;
        }
        Op::Delete => {
            // Not found: gone already (the SDK's retry of a delete whose answer was lost).
            es.delete_domain().domain_name(name).send().await.none_if(NOT_FOUND, format!("deleting domain {name}"))?;
        }
    }
    Ok(None)
}

/// What the wait follows: this run's create, its update, or neither (a
/// domain found busy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Create,
    Update,
    Nothing,
}

/// Waits until the domain has an endpoint and processes no change; stops
/// at once, with AWS's reason, when it never will (see
/// [`crate::domain::readiness`]). Right after a create, a domain not
/// found yet is waited for (bounded).
pub async fn wait_ready(es: &Client, name: &str, after: After, timeout: Duration) -> anyhow::Result<DomainStatus> {
    let start = tokio::time::Instant::now();
    let seen = std::cell::Cell::new(false);
    wait_until(&format!("domain {name}"), timeout, || async {
        let Some(s) = describe(es, name).await? else {
            return Ok(match missing_domain(after == After::Create, seen.get(), start.elapsed()) {
                WaitState::Pending(p) => WaitState::Pending(p),
                WaitState::Failed(f) | WaitState::Ready(f) => WaitState::Failed(f),
            });
        };
        seen.set(true);
        let st = state(&s);
        let r = if after == After::Nothing { readiness(&st) } else { readiness_after_change(&st) };
        Ok(match r {
            WaitState::Ready(_) => WaitState::Ready(s),
            WaitState::Pending(p) => WaitState::Pending(p),
            WaitState::Failed(f) => WaitState::Failed(f),
        })
    })
    .await
}

/// Waits until the domain is gone.
pub async fn wait_deleted(es: &Client, name: &str, timeout: Duration) -> anyhow::Result<()> {
    wait_until(&format!("deletion of domain {name}"), timeout, || async {
        Ok(match describe(es, name).await? {
            None => WaitState::Ready(()),
            Some(_) => WaitState::Pending("deleting".into()),
        })
    })
    .await
}

/// The ARN of the IAM user the policy grants; a missing user is a clear
/// failure that says which tool makes it.
pub async fn user_arn(iam: &aws_sdk_iam::Client, user: &str, client: &str) -> anyhow::Result<String> {
    match iam.get_user().user_name(user).send().await {
        Ok(out) => Ok(out.user().map(|u| u.arn().to_owned()).unwrap_or_default()),
        Err(e) if aws_error_code(&e) == Some("NoSuchEntity") => Err(anyhow::anyhow!(
            "IAM user {user} does not exist: run `mk-iam --client {client}` first (it makes the user the \
             domain grants), or name the principals with --grant-arn"
        )),
        Err(e) => Err(e).aws_context(format!("looking up IAM user {user}")),
    }
}

/// The partition and account of the credentials in use.
pub async fn caller(sts: &aws_sdk_sts::Client) -> anyhow::Result<(String, String)> {
    let me = sts.get_caller_identity().send().await.aws_context("reading the caller's account (STS)")?;
    let partition = me.arn().and_then(|a| a.split(':').nth(1)).unwrap_or("aws").to_owned();
    let account = me.account().ok_or_else(|| anyhow::anyhow!("STS returned no account id"))?.to_owned();
    Ok((partition, account))
}
