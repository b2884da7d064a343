//! The domain's settings, as wanted and as read back, and how two compare
//! section by section. Pure.
//!
//! `UpdateDomainConfig` gets only the sections that differ, each one whole
//! (the emulator replaces a whole section; AWS would merge, so whole is
//! right for both).

use std::collections::BTreeMap;

use common::wait::WaitState;
use serde_json::Value;

use crate::desired::{DesiredDomain, Features};

/// The advanced option the pipeline's bulk loads need (a string).
pub const EXPLICIT_INDEX: (&str, &str) = ("rest.action.multi.allow_explicit_index", "true");
/// The TLS policy asked for when HTTPS is enforced.
pub const TLS_POLICY: &str = "Policy-Min-TLS-1-2-2019-07";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSection {
    pub instance_type: String,
    pub instance_count: i32,
    pub dedicated_master: bool,
    pub zone_awareness: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EbsSection {
    pub enabled: bool,
    pub volume_type: Option<String>,
    pub volume_gb: Option<i32>,
    /// gp3 tuning, carried over from the domain when the type is kept.
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomEndpoint {
    pub enabled: bool,
    pub endpoint: Option<String>,
    pub certificate_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSection {
    pub enforce_https: bool,
    pub tls_policy: Option<String>,
    /// Carried over from the domain, never decided here.
    pub custom: Option<CustomEndpoint>,
}

/// The settings this tool manages, as wanted or as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSettings {
    pub cluster: ClusterSection,
    pub ebs: EbsSection,
    pub snapshot_hour: Option<i32>,
    pub encryption_at_rest: bool,
    pub node_to_node: bool,
    pub endpoint: EndpointSection,
    pub advanced_options: BTreeMap<String, String>,
    /// Parsed; `None` when the domain has none (or not valid JSON).
    pub access_policy: Option<Value>,
}

/// Where a domain is in its life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainState {
    pub endpoint: Option<String>,
    pub processing: bool,
    pub deleted: bool,
}

/// Ready once it has an endpoint and is not processing a change.
pub fn readiness(s: &DomainState) -> WaitState<String> {
    match (&s.endpoint, s.processing, s.deleted) {
        (_, _, true) => WaitState::Failed("the domain is being deleted".into()),
        (Some(e), false, _) => WaitState::Ready(e.clone()),
        (None, _, _) => WaitState::Pending("creating, no endpoint yet".into()),
        (Some(_), true, _) => WaitState::Pending("processing a configuration change".into()),
    }
}

/// A domain as read from AWS.
#[derive(Debug, Clone)]
pub struct ObservedDomain {
    pub arn: String,
    pub engine_version: Option<String>,
    pub settings: DomainSettings,
    pub state: DomainState,
    pub tags: Vec<(String, String)>,
}

/// One section of `UpdateDomainConfig`, sent whole.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Cluster(ClusterSection),
    Ebs(EbsSection),
    Snapshot(i32),
    EncryptionAtRest,
    NodeToNode,
    Endpoint(EndpointSection),
    AdvancedOptions(BTreeMap<String, String>),
    AccessPolicy(Value),
}

impl Section {
    pub fn label(&self) -> &'static str {
        match self {
            Section::Cluster(_) => "cluster config",
            Section::Ebs(_) => "EBS volume",
            Section::Snapshot(_) => "snapshot hour",
            Section::EncryptionAtRest => "encryption at rest",
            Section::NodeToNode => "node-to-node encryption",
            Section::Endpoint(_) => "HTTPS only",
            Section::AdvancedOptions(_) => "advanced options",
            Section::AccessPolicy(_) => "access policy",
        }
    }
}

/// The settings for this version and instance type.
pub fn desired_settings(want: &DesiredDomain, features: &Features, access_policy: Value) -> DomainSettings {
    DomainSettings {
        cluster: ClusterSection {
            instance_type: want.instance_type.clone(),
            instance_count: 1,
            dedicated_master: false,
            zone_awareness: false,
        },
        ebs: EbsSection {
            enabled: true,
            volume_type: Some(if features.gp3 { "gp3" } else { "gp2" }.to_owned()),
            volume_gb: Some(want.volume_gb),
            iops: None,
            throughput: None,
        },
        snapshot_hour: Some(0),
        encryption_at_rest: features.encryption_at_rest,
        node_to_node: features.node_to_node,
        endpoint: EndpointSection {
            enforce_https: features.enforce_https,
            tls_policy: features.enforce_https.then(|| TLS_POLICY.to_owned()),
            custom: None,
        },
        advanced_options: [(EXPLICIT_INDEX.0.to_owned(), EXPLICIT_INDEX.1.to_owned())].into(),
        access_policy: Some(access_policy),
    }
}

fn general_purpose(volume_type: Option<&str>) -> bool {
    matches!(volume_type, Some("gp2" | "gp3"))
}

fn tls_1_2(policy: Option<&str>) -> bool {
    policy.is_some_and(|p| p.starts_with("Policy-Min-TLS-1-2"))
}

/// The sections of `have` that differ from `want`, each as it should be
/// sent. Encryption is only ever turned on (AWS cannot turn it off); a gp2
/// volume is as good as gp3; a stronger TLS policy is kept.
pub fn diff(want: &DomainSettings, have: &DomainSettings) -> Vec<Section> {
    let mut out = Vec::new();
    if want.cluster != have.cluster {
        out.push(Section::Cluster(want.cluster.clone()));
    }
    let ebs_ok = have.ebs.enabled
        && general_purpose(have.ebs.volume_type.as_deref())
        && have.ebs.volume_gb == want.ebs.volume_gb;
    if !ebs_ok {
        let keep_type = general_purpose(have.ebs.volume_type.as_deref());
        out.push(Section::Ebs(EbsSection {
            enabled: true,
            volume_type: if keep_type { have.ebs.volume_type.clone() } else { want.ebs.volume_type.clone() },
            volume_gb: want.ebs.volume_gb,
            iops: if keep_type { have.ebs.iops } else { None },
            throughput: if keep_type { have.ebs.throughput } else { None },
        }));
    }
    if let Some(hour) = want.snapshot_hour
        && have.snapshot_hour.unwrap_or(hour) != hour
    {
        out.push(Section::Snapshot(hour));
    }
    if want.encryption_at_rest && !have.encryption_at_rest {
        out.push(Section::EncryptionAtRest);
    }
    if want.node_to_node && !have.node_to_node {
        out.push(Section::NodeToNode);
    }
    if want.endpoint.enforce_https && !(have.endpoint.enforce_https && tls_1_2(have.endpoint.tls_policy.as_deref())) {
        let tls = if tls_1_2(have.endpoint.tls_policy.as_deref()) {
            have.endpoint.tls_policy.clone()
        } else {
            want.endpoint.tls_policy.clone()
        };
        out.push(Section::Endpoint(EndpointSection {
            enforce_https: true,
            tls_policy: tls,
            custom: have.endpoint.custom.clone(),
        }));
    }
    if want.advanced_options.iter().any(|(k, v)| have.advanced_options.get(k) != Some(v)) {
        let mut merged = have.advanced_options.clone();
        merged.extend(want.advanced_options.clone());
        out.push(Section::AdvancedOptions(merged));
    }
    if let Some(p) = &want.access_policy
        && !have.access_policy.as_ref().is_some_and(|h| common::policy::same(p, h))
    {
        out.push(Section::AccessPolicy(p.clone()));
    }
    out
}

/// Whether a domain found after a create whose answer was lost (or that
/// answered "already exists") is the one this run's create made: it is not
/// being deleted and carries every tag the create sent (the client's
/// among them). Anyone else's domain of that name is not taken as created.
pub fn made_by_our_create(found: &ObservedDomain, sent_tags: &[(String, String)]) -> bool {
    !found.state.deleted && sent_tags.iter().all(|t| found.tags.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{EngineVersion, supports};
    use common::deployment::TAG_CLIENT;

    fn tags() -> Vec<(String, String)> {
        vec![(TAG_CLIENT.into(), "acme".into()), ("analytics:managed-by".into(), "mk-es".into())]
    }

    fn ours() -> ObservedDomain {
        let w = DesiredDomain {
            name: "acme-analytics-es".into(),
            engine_version: EngineVersion::parse("Elasticsearch_7.10").unwrap(),
            instance_type: "t2.small.search".into(),
            volume_gb: 10,
            grant_arns: vec![],
        };
        let features = supports(&w.engine_version, &w.instance_type);
        ObservedDomain {
            arn: "arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es".into(),
            engine_version: Some(w.engine_version.to_string()),
            settings: desired_settings(&w, &features, serde_json::json!({})),
            state: DomainState { endpoint: Some("search-x.es.amazonaws.com".into()), ..Default::default() },
            tags: tags(),
        }
    }

    #[test]
    fn ready_needs_an_endpoint_and_no_processing() {
        let s = |endpoint: Option<&str>, processing, deleted| DomainState {
            endpoint: endpoint.map(str::to_owned),
            processing,
            deleted,
        };
        assert!(matches!(readiness(&s(Some("e"), false, false)), WaitState::Ready(e) if e == "e"));
        assert!(matches!(readiness(&s(Some("e"), true, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(None, false, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(None, true, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(Some("e"), false, true)), WaitState::Failed(_)));
    }

    #[test]
    fn a_found_domain_is_our_create_only_with_every_tag_it_sent() {
        let sent = tags();
        let mut found = ours();
        assert!(made_by_our_create(&found, &sent));
        found.tags.push(("team".into(), "search".into()));
        assert!(made_by_our_create(&found, &sent), "tags added since are fine");
        found.tags = vec![(TAG_CLIENT.into(), "other".into())];
        assert!(!made_by_our_create(&found, &sent), "another client's domain of that name");
        found.tags = vec![];
        assert!(!made_by_our_create(&found, &sent), "an untagged domain");
        let mut deleted = ours();
        deleted.state.deleted = true;
        assert!(!made_by_our_create(&deleted, &sent), "a domain on its way out");
    }
}
