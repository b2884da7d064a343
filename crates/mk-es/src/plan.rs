//! Comparing the domain we want with the one that exists, section by
//! section, into the calls that converge it. Pure.
//!
//! `UpdateDomainConfig` gets only the sections that differ, each one whole
//! (the emulator replaces a whole section; AWS would merge, so whole is
//! right for both).

use std::collections::BTreeMap;

use common::deployment::TAG_CLIENT;
use common::error::bad_input;
use common::wait::WaitState;
use common::{Action, Change, Deployment, Finding, Severity};
use serde_json::Value;

use crate::desired::{DesiredDomain, EngineVersion, Features, supports};

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

#[derive(Debug, Clone, PartialEq)]
pub enum DomainOp {
    Create { engine_version: String, settings: Box<DomainSettings>, tags: Vec<(String, String)> },
    Update(Vec<Section>),
    AddTags(Vec<(String, String)>),
    Delete,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// `None` when there is nothing to report (destroying what is absent).
    pub change: Option<Change>,
    pub ops: Vec<DomainOp>,
    pub findings: Vec<Finding>,
}

const KIND: &str = "opensearch-domain";

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

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The client another deployment's tag names, if any.
fn other_client<'a>(d: &Deployment, tags: &'a [(String, String)]) -> Option<&'a str> {
    tags.iter().find(|(k, v)| k == TAG_CLIENT && v != d.client.as_str()).map(|(_, v)| v.as_str())
}

fn warn(findings: &mut Vec<Finding>, message: String) {
    findings.push(Finding::warning(message));
}

/// Notes about what the version and instance type allow.
fn feature_findings(version: &EngineVersion, instance_type: &str, features: &Features, out: &mut Vec<Finding>) {
    if version.support_ended() {
        warn(
            out,
            format!(
                "{version} is past the end of AWS support (standard support ended 2025-11-07, extended \
                 support ends 2026-11-07); the pipeline's client is 7.x: prefer Elasticsearch_7.10"
            ),
        );
    }
    let mut missing = Vec::new();
    if !features.encryption_at_rest {
        missing.push("encryption at rest");
    }
    if !features.node_to_node {
        missing.push("node-to-node encryption");
    }
    if !missing.is_empty() {
        out.push(Finding::new(
            Severity::Info,
            format!(
                "{version} on {instance_type} does not support {}: a current version on t3.small.search \
                 or larger gets it",
                missing.join(" or ")
            ),
        ));
    }
}

/// Plans the ensure path. `access_policy` is the document for this
/// domain's ARN and grantees.
pub fn plan_ensure(
    d: &Deployment,
    want: &DesiredDomain,
    access_policy: Value,
    observed: Option<&ObservedDomain>,
) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let Some(o) = observed else {
        let features = supports(&want.engine_version, &want.instance_type);
        feature_findings(&want.engine_version, &want.instance_type, &features, &mut plan.findings);
        plan.change = Some(Change::new(KIND, &want.name, Action::Create));
        plan.ops.push(DomainOp::Create {
            engine_version: want.engine_version.to_string(),
            settings: Box::new(desired_settings(want, &features, access_policy)),
            tags: d.tags(),
        });
        return Ok(plan);
    };
    let change = |action| Change::new(KIND, &want.name, action).with_id(&o.arn);
    if let Some(other) = other_client(d, &o.tags) {
        return Err(bad_input(format!(
            "domain {} belongs to deployment {other:?}, not {}: choose another --domain-name",
            want.name, d.client
        )));
    }
    if o.state.deleted {
        anyhow::bail!("domain {} is being deleted: re-run once it is gone", want.name);
    }
    // An existing domain keeps its version: upgrades are deliberate.
    let version = match o.engine_version.as_deref().map(EngineVersion::parse) {
        Some(Ok(v)) => v,
        _ => want.engine_version,
    };
    if version != want.engine_version {
        warn(
            &mut plan.findings,
            format!(
                "domain {} runs {version}, not {}: mk-es does not upgrade a domain (use the console or \
                 UpgradeDomain, then re-run)",
                want.name, want.engine_version
            ),
        );
    }
    let features = supports(&version, &want.instance_type);
    feature_findings(&version, &want.instance_type, &features, &mut plan.findings);
    let sections = diff(&desired_settings(want, &features, access_policy), &o.settings);

    if !d.owns(pairs(&o.tags)) {
        let mut msg = format!("domain {} exists and was not created by mk-es: adopted as it is", want.name);
        if !sections.is_empty() {
            let labels: Vec<&str> = sections.iter().map(Section::label).collect();
            msg.push_str(&format!("; it differs in {}", labels.join(", ")));
        }
        warn(&mut plan.findings, msg);
        plan.change = Some(change(Action::Unchanged));
        return Ok(plan);
    }
    let mut details: Vec<String> = sections.iter().map(|s| s.label().to_owned()).collect();
    if !sections.is_empty() {
        plan.ops.push(DomainOp::Update(sections));
    }
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        details.push("tags".to_owned());
        plan.ops.push(DomainOp::AddTags(missing));
    }
    let action = if plan.ops.is_empty() { Action::Unchanged } else { Action::Update };
    plan.change = Some(change(action).with_details(details));
    Ok(plan)
}

/// Plans the destroy path: only a domain tagged for this client goes.
pub fn plan_destroy(d: &Deployment, name: &str, observed: Option<&ObservedDomain>) -> Plan {
    let mut plan = Plan::default();
    let Some(o) = observed else { return plan };
    if !d.owns(pairs(&o.tags)) {
        plan.findings.push(Finding::new(
            Severity::Info,
            format!("domain {name} was not created by mk-es for {}: left alone", d.client),
        ));
        return plan;
    }
    plan.change = Some(Change::new(KIND, name, Action::Delete).with_id(&o.arn));
    plan.ops.push(DomainOp::Delete);
    plan
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
    use crate::policy;
    use common::ClientName;

    fn d() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-es", extra_tags: vec![] }
    }

    fn want(version: &str, instance_type: &str) -> DesiredDomain {
        DesiredDomain {
            name: "acme-analytics-es".into(),
            engine_version: EngineVersion::parse(version).unwrap(),
            instance_type: instance_type.into(),
            volume_gb: 10,
            grant_arns: vec![],
        }
    }

    const ARN: &str = "arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es";

    fn doc(user: &str) -> Value {
        policy::access_policy(&[format!("arn:aws:iam::123456789012:user/{user}")], ARN)
    }

    /// A domain exactly as we would have created it.
    fn ours(w: &DesiredDomain) -> ObservedDomain {
        let features = supports(&w.engine_version, &w.instance_type);
        ObservedDomain {
            arn: ARN.into(),
            engine_version: Some(w.engine_version.to_string()),
            settings: desired_settings(w, &features, doc("es")),
            state: DomainState { endpoint: Some("search-x.es.amazonaws.com".into()), ..Default::default() },
            tags: d().tags(),
        }
    }

    fn sections(p: &Plan) -> Vec<Section> {
        p.ops
            .iter()
            .find_map(|op| match op {
                DomainOp::Update(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn missing_domain_is_created_whole_and_tagged() {
        let w = want("Elasticsearch_7.10", "t3.small.search");
        let p = plan_ensure(&d(), &w, doc("es"), None).unwrap();
        assert_eq!(p.change.as_ref().unwrap().action, Action::Create);
        let DomainOp::Create { engine_version, settings, tags } = &p.ops[0] else { panic!("{:?}", p.ops) };
        assert_eq!(engine_version, "Elasticsearch_7.10");
        assert_eq!(tags, &d().tags());
        assert_eq!(
            settings.cluster,
            ClusterSection {
                instance_type: "t3.small.search".into(),
                instance_count: 1,
                dedicated_master: false,
                zone_awareness: false
            }
        );
        assert_eq!((settings.ebs.volume_type.as_deref(), settings.ebs.volume_gb), (Some("gp3"), Some(10)));
        assert_eq!(settings.snapshot_hour, Some(0));
        assert!(settings.encryption_at_rest && settings.node_to_node && settings.endpoint.enforce_https);
        assert_eq!(settings.endpoint.tls_policy.as_deref(), Some(TLS_POLICY));
        assert_eq!(settings.advanced_options["rest.action.multi.allow_explicit_index"], "true");
        assert!(p.findings.is_empty(), "{:?}", p.findings);
    }

    #[test]
    fn old_versions_and_t2_warn_and_leave_out_what_they_lack() {
        let w = want("Elasticsearch_1.5", "t2.small.search");
        let p = plan_ensure(&d(), &w, doc("es"), None).unwrap();
        let DomainOp::Create { settings, .. } = &p.ops[0] else { panic!() };
        assert!(!settings.encryption_at_rest && !settings.node_to_node);
        assert_eq!(settings.ebs.volume_type.as_deref(), Some("gp2"));
        assert!(p.findings.iter().any(|f| f.message.contains("past the end of AWS support")));
        assert!(p.findings.iter().any(|f| f.severity == Severity::Warning));
        assert!(p.findings.iter().any(|f| f.message.contains("encryption at rest or node-to-node encryption")));
    }

    #[test]
    fn converged_domain_is_unchanged() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let p = plan_ensure(&d(), &w, doc("es"), Some(&ours(&w))).unwrap();
        assert_eq!(p.change.unwrap().action, Action::Unchanged);
        assert!(p.ops.is_empty());
    }

    #[test]
    fn each_drifted_section_is_sent_alone_and_whole() {
        let w = want("Elasticsearch_7.10", "t3.small.search");
        let mut o = ours(&w);
        o.settings.ebs.volume_gb = Some(20);
        o.settings.ebs.iops = Some(3000);
        o.settings.advanced_options.insert("indices.fielddata.cache.size".into(), "20".into());
        let p = plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap();
        let s = sections(&p);
        assert_eq!(
            s,
            vec![Section::Ebs(EbsSection {
                enabled: true,
                volume_type: Some("gp3".into()),
                volume_gb: Some(10),
                iops: Some(3000),
                throughput: None
            })]
        );
        assert_eq!(p.change.unwrap().details, ["EBS volume"]);

        let mut o = ours(&w);
        o.settings.access_policy = Some(doc("someone-else"));
        o.settings.cluster.instance_count = 3;
        o.settings.advanced_options.clear();
        o.settings.advanced_options.insert("other".into(), "1".into());
        let s = sections(&plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap());
        assert_eq!(s.len(), 3, "{s:?}");
        assert!(matches!(&s[0], Section::Cluster(c) if c.instance_count == 1 && c.instance_type == "t3.small.search"));
        let Section::AdvancedOptions(adv) = &s[1] else { panic!("{s:?}") };
        assert_eq!(adv.get("other").map(String::as_str), Some("1"), "the section keeps the domain's other options");
        assert_eq!(adv["rest.action.multi.allow_explicit_index"], "true");
        assert_eq!(s[2], Section::AccessPolicy(doc("es")));
    }

    #[test]
    fn gp2_and_stronger_tls_are_kept_encryption_is_only_turned_on() {
        let w = want("Elasticsearch_7.10", "t3.small.search");
        let mut o = ours(&w);
        o.settings.ebs.volume_type = Some("gp2".into());
        o.settings.endpoint.tls_policy = Some("Policy-Min-TLS-1-2-PFS-2023-10".into());
        assert!(sections(&plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap()).is_empty());

        o.settings.ebs.volume_type = Some("standard".into());
        o.settings.endpoint.enforce_https = false;
        o.settings.endpoint.custom =
            Some(CustomEndpoint { enabled: true, endpoint: Some("s.x".into()), ..Default::default() });
        o.settings.encryption_at_rest = false;
        o.settings.node_to_node = false;
        o.settings.snapshot_hour = Some(5);
        let s = sections(&plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap());
        let labels: Vec<&str> = s.iter().map(Section::label).collect();
        assert_eq!(
            labels,
            ["EBS volume", "snapshot hour", "encryption at rest", "node-to-node encryption", "HTTPS only"]
        );
        assert!(matches!(&s[0], Section::Ebs(e) if e.volume_type.as_deref() == Some("gp3")));
        let Section::Endpoint(e) = &s[4] else { panic!() };
        assert_eq!(e.tls_policy.as_deref(), Some("Policy-Min-TLS-1-2-PFS-2023-10"));
        assert!(e.custom.as_ref().is_some_and(|c| c.enabled), "a custom endpoint is carried over");

        // A t2 domain never gets encryption at rest asked for.
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let mut o = ours(&w);
        o.settings.encryption_at_rest = false;
        assert!(sections(&plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap()).is_empty());
    }

    #[test]
    fn existing_version_wins_with_a_warning() {
        let w = want("Elasticsearch_7.10", "m5.large.search");
        let old = want("Elasticsearch_5.6", "m5.large.search");
        let o = ours(&old);
        let p = plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap();
        assert!(sections(&p).is_empty(), "no node-to-node asked of 5.6: {:?}", sections(&p));
        assert!(p.findings.iter().any(|f| f.message.contains("does not upgrade")));
    }

    #[test]
    fn missing_tags_are_added() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let mut o = ours(&w);
        o.tags.retain(|(k, _)| k == TAG_CLIENT);
        let p = plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap();
        assert_eq!(p.ops, vec![DomainOp::AddTags(vec![("analytics:managed-by".into(), "mk-es".into())])]);
        assert_eq!(p.change.unwrap().action, Action::Update);
    }

    #[test]
    fn foreign_domains() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let mut o = ours(&w);
        o.tags.clear();
        o.settings.ebs.volume_gb = Some(30);
        let p = plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap();
        assert!(p.ops.is_empty(), "an adopted domain is never changed");
        assert!(p.findings.iter().any(|f| f.message.contains("adopted") && f.message.contains("EBS volume")));
        assert!(plan_destroy(&d(), &w.name, Some(&o)).ops.is_empty());

        o.tags = vec![(TAG_CLIENT.into(), "other".into())];
        let e = plan_ensure(&d(), &w, doc("es"), Some(&o)).unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(plan_destroy(&d(), &w.name, Some(&o)).ops.is_empty());
    }

    #[test]
    fn destroy_only_ours() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let p = plan_destroy(&d(), &w.name, Some(&ours(&w)));
        assert_eq!(p.ops, vec![DomainOp::Delete]);
        assert_eq!(p.change.unwrap().action, Action::Delete);
        let p = plan_destroy(&d(), &w.name, None);
        assert!(p.change.is_none() && p.ops.is_empty());
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
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let sent = d().tags();
        let mut found = ours(&w);
        assert!(made_by_our_create(&found, &sent));
        found.tags.push(("team".into(), "search".into()));
        assert!(made_by_our_create(&found, &sent), "tags added since are fine");
        found.tags = vec![(TAG_CLIENT.into(), "other".into())];
        assert!(!made_by_our_create(&found, &sent), "another client's domain of that name");
        found.tags = vec![];
        assert!(!made_by_our_create(&found, &sent), "an untagged domain");
        let mut deleted = ours(&w);
        deleted.state.deleted = true;
        assert!(!made_by_our_create(&deleted, &sent), "a domain on its way out");
    }
}
