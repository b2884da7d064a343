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
    /// `DomainProcessingStatus`: `Creating`, `Active`, `Modifying`,
    /// `Isolated`...
    pub processing_status: Option<String>,
    /// The last change's `ChangeProgressDetails`: its
    /// `ConfigChangeStatus` and `Message`.
    pub change_status: Option<String>,
    pub change_message: Option<String>,
}

impl DomainState {
    /// Why the last change failed, when it did (AWS refused it after the
    /// call that asked for it had succeeded).
    fn failed_change(&self) -> Option<String> {
        (self.change_status.as_deref() == Some("ValidationFailed")).then(|| {
            let why = self.change_message.as_deref().filter(|m| !m.trim().is_empty());
            format!("its last change failed (ValidationFailed): {}", why.unwrap_or("AWS gave no reason"))
        })
    }
}

/// Ready once it has an endpoint and is not processing a change. A domain
/// that stopped with no endpoint, its change refused or the domain
/// isolated, will never be: that is a failure with AWS's reason, not a
/// wait until the timeout.
pub fn readiness(s: &DomainState) -> WaitState<String> {
    if s.deleted {
        return WaitState::Failed("the domain is being deleted".into());
    }
    if s.endpoint.is_none() && !s.processing {
        if let Some(why) = s.failed_change() {
            return WaitState::Failed(why);
        }
        if s.processing_status.as_deref() == Some("Isolated") {
            return WaitState::Failed("the domain is isolated (no endpoint, nothing processing)".into());
        }
    }
    match (&s.endpoint, s.processing) {
        (Some(e), false) => WaitState::Ready(e.clone()),
        (None, _) => WaitState::Pending("creating, no endpoint yet".into()),
        (Some(_), true) => WaitState::Pending("processing a configuration change".into()),
    }
}

/// [`readiness`] right after this run changed the domain: a refused change
/// fails the run even though the domain keeps serving (with its former
/// settings).
pub fn readiness_after_change(s: &DomainState) -> WaitState<String> {
    match (readiness(s), s.failed_change()) {
        (WaitState::Ready(_), Some(why)) => WaitState::Failed(why),
        (r, _) => r,
    }
}

/// For a while after `CreateDomain` answered, `DescribeDomain` may not
/// know the domain yet (AWS's reads lag its writes).
pub const NOT_VISIBLE_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

/// What a poll that found no domain means: "not visible yet" right after
/// this run created it, as long as it was never seen and for
/// [`NOT_VISIBLE_GRACE`] at most; else the domain is gone.
pub fn missing_domain(just_created: bool, seen: bool, waited: std::time::Duration) -> WaitState<String> {
    if just_created && !seen && waited < NOT_VISIBLE_GRACE {
        WaitState::Pending("created, not visible yet".into())
    } else {
        WaitState::Failed("it no longer exists".into())
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
            ..Default::default()
        };
        assert!(matches!(readiness(&s(Some("e"), false, false)), WaitState::Ready(e) if e == "e"));
        assert!(matches!(readiness(&s(Some("e"), true, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(None, false, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(None, true, false)), WaitState::Pending(_)));
        assert!(matches!(readiness(&s(Some("e"), false, true)), WaitState::Failed(_)));
    }

    #[test]
    fn an_asynchronous_failure_stops_the_wait_with_its_reason() {
        // What es-async-failure (and AWS) shows once a create failed.
        let failed = DomainState {
            processing_status: Some("Isolated".into()),
            change_status: Some("ValidationFailed".into()),
            change_message: Some("Insufficient free IP addresses in subnet".into()),
            ..Default::default()
        };
        let WaitState::Failed(why) = readiness(&failed) else { panic!("{:?}", readiness(&failed)) };
        assert!(why.contains("ValidationFailed") && why.contains("Insufficient free IP addresses"), "{why}");
        let isolated = DomainState { processing_status: Some("Isolated".into()), ..Default::default() };
        assert!(matches!(readiness(&isolated), WaitState::Failed(w) if w.contains("isolated")));
        // Still processing, or validating: not yet.
        let validating = DomainState { processing: true, change_status: Some("Validating".into()), ..failed.clone() };
        assert!(matches!(readiness(&validating), WaitState::Pending(_)));
        let creating =
            DomainState { processing: true, processing_status: Some("Creating".into()), ..Default::default() };
        assert!(matches!(readiness(&creating), WaitState::Pending(_)));
        // A refused update leaves a serving domain: ready, unless this run made the change.
        let refused = DomainState { endpoint: Some("e".into()), ..failed };
        assert!(matches!(readiness(&refused), WaitState::Ready(_)));
        assert!(matches!(readiness_after_change(&refused), WaitState::Failed(w) if w.contains("Insufficient")));
        let fine =
            DomainState { endpoint: Some("e".into()), change_status: Some("Completed".into()), ..Default::default() };
        assert!(matches!(readiness_after_change(&fine), WaitState::Ready(_)));
    }

    #[test]
    fn a_domain_just_created_may_not_be_visible_yet() {
        use std::time::Duration;
        assert!(matches!(missing_domain(true, false, Duration::from_secs(5)), WaitState::Pending(_)));
        assert!(matches!(missing_domain(true, false, NOT_VISIBLE_GRACE), WaitState::Failed(_)), "bounded");
        assert!(matches!(missing_domain(true, true, Duration::ZERO), WaitState::Failed(_)), "seen, then gone");
        assert!(matches!(missing_domain(false, false, Duration::ZERO), WaitState::Failed(_)), "not ours to expect");
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
