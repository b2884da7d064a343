//! The domain's plan: the one step (create, update or delete the domain)
//! and the calls that make it, computed from the domain we want and the
//! one that exists. Pure.

use common::deployment::TAG_CLIENT;
use common::error::bad_input;
use common::{Action, Change, Deployment, Finding};
use serde_json::Value;

use crate::desired::{DesiredDomain, EngineVersion, Features, supports};
use crate::domain::{DomainSettings, ObservedDomain, Section, desired_settings, diff};
use crate::support::{self, Day};

/// One call on the domain.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// CreateDomain, the whole domain at once (access policy and tags included).
    Create {
        engine_version: String,
        settings: Box<DomainSettings>,
        tags: Vec<(String, String)>,
    },
    /// UpdateDomainConfig with the sections that differ (the access policy among them).
    Update(Vec<Section>),
    AddTags(Vec<(String, String)>),
    Delete,
}

impl Op {
    /// Whether the domain has a change to process once this is sent (tags
    /// alone change nothing it has to process).
    pub fn reconfigures(&self) -> bool {
        matches!(self, Op::Create { .. } | Op::Update(_))
    }
}

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

pub const KIND: &str = "opensearch-domain";

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The client another deployment's tag names, if any.
fn other_client<'a>(d: &Deployment, tags: &'a [(String, String)]) -> Option<&'a str> {
    tags.iter().find(|(k, v)| k == TAG_CLIENT && v != d.client.as_str()).map(|(_, v)| v.as_str())
}

/// Notes about what the version and instance type allow.
fn feature_findings(version: &EngineVersion, instance_type: &str, features: &Features, plan: &mut Plan) {
    let mut missing = Vec::new();
    if !features.encryption_at_rest {
        missing.push("encryption at rest");
    }
    if !features.node_to_node {
        missing.push("node-to-node encryption");
    }
    if !missing.is_empty() {
        plan.finding(
            Finding::info(format!(
                "{version} on {instance_type} does not support {}: a current version on t3.small.search \
                 or larger gets it",
                missing.join(" or ")
            ))
            .with_code("feature-unsupported"),
        );
    }
}

/// The create of a domain that does not exist yet; its change carries the
/// ARN it will have (known from the account and the name).
fn create(d: &Deployment, want: &DesiredDomain, domain_arn: &str, access_policy: Value, today: Day) -> Plan {
    let mut plan = Plan::default();
    plan.findings.extend(support::finding(&want.name, &want.engine_version, today));
    let features = supports(&want.engine_version, &want.instance_type);
    feature_findings(&want.engine_version, &want.instance_type, &features, &mut plan);
    let op = Op::Create {
        engine_version: want.engine_version.to_string(),
        settings: Box::new(desired_settings(want, &features, access_policy)),
        tags: d.tags(),
    };
    plan.step(Step::new(Change::new(KIND, &want.name, Action::Create).with_id(domain_arn), vec![op]));
    plan
}

/// Plans the ensure path. `access_policy` is the document for this
/// domain's ARN (`domain_arn`) and grantees; `today` dates the support
/// findings.
pub fn plan_ensure(
    d: &Deployment,
    want: &DesiredDomain,
    domain_arn: &str,
    access_policy: Value,
    observed: Option<&ObservedDomain>,
    today: Day,
) -> anyhow::Result<Plan> {
    let Some(o) = observed else { return Ok(create(d, want, domain_arn, access_policy, today)) };
    let mut plan = Plan::default();
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
        plan.finding(
            Finding::warning(format!(
                "domain {} runs {version}, not {}: mk-es does not upgrade a domain (use the console or \
                 UpgradeDomain, then re-run)",
                want.name, want.engine_version
            ))
            .with_code("version-kept")
            .about(&want.name),
        );
    }
    // Ours or adopted, the domain runs the version it runs.
    plan.findings.extend(support::finding(&want.name, &version, today));
    let features = supports(&version, &want.instance_type);
    feature_findings(&version, &want.instance_type, &features, &mut plan);
    let sections = diff(&desired_settings(want, &features, access_policy), &o.settings);

    if !d.owns(pairs(&o.tags)) {
        let mut msg = format!("domain {} exists and was not created by mk-es: adopted as it is", want.name);
        if !sections.is_empty() {
            let labels: Vec<&str> = sections.iter().map(Section::label).collect();
            msg.push_str(&format!("; it differs in {}", labels.join(", ")));
        }
        plan.finding(Finding::warning(msg).with_code("foreign-resource").about(&want.name));
        plan.step(Step::unchanged(change(Action::Unchanged)));
        return Ok(plan);
    }
    let mut details: Vec<String> = sections.iter().map(|s| s.label().to_owned()).collect();
    let mut ops = Vec::new();
    if !sections.is_empty() {
        ops.push(Op::Update(sections));
    }
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        details.push("tags".to_owned());
        ops.push(Op::AddTags(missing));
    }
    let action = if ops.is_empty() { Action::Unchanged } else { Action::Update };
    plan.step(Step::new(change(action).with_details(details), ops));
    Ok(plan)
}

/// Plans the destroy path: only a domain tagged for this client goes.
pub fn plan_destroy(d: &Deployment, name: &str, observed: Option<&ObservedDomain>) -> Plan {
    let mut plan = Plan::default();
    let Some(o) = observed else { return plan };
    if !d.owns(pairs(&o.tags)) {
        plan.finding(
            Finding::info(format!("domain {name} was not created by mk-es for {}: left alone", d.client))
                .with_code("foreign-resource")
                .about(name),
        );
        return plan;
    }
    plan.step(Step::new(Change::new(KIND, name, Action::Delete).with_id(&o.arn), vec![Op::Delete]));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClusterSection, CustomEndpoint, DomainState, EbsSection, TLS_POLICY};
    use crate::policy;
    use common::{ClientName, Severity};

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
    /// The day the plans are made on: support findings depend on it.
    const TODAY: Day = Day::ymd(2026, 12, 3);

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

    fn ops(p: &Plan) -> Vec<Op> {
        p.steps.iter().flat_map(|s| s.ops.clone()).collect()
    }

    fn change(p: &Plan) -> Option<Change> {
        assert!(p.steps.len() <= 1, "one step at most: {:?}", p.steps);
        p.steps.first().map(|s| s.change().clone())
    }

    fn sections(p: &Plan) -> Vec<Section> {
        ops(p)
            .into_iter()
            .find_map(|op| match op {
                Op::Update(s) => Some(s),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn missing_domain_is_created_whole_and_tagged() {
        let w = want("Elasticsearch_7.10", "t3.small.search");
        let p = plan_ensure(&d(), &w, ARN, doc("es"), None, TODAY).unwrap();
        assert_eq!(change(&p).unwrap().action, Action::Create);
        assert_eq!(change(&p).unwrap().id.as_deref(), Some(ARN), "the ARN it will have");
        let ops = ops(&p);
        let Op::Create { engine_version, settings, tags } = &ops[0] else { panic!("{ops:?}") };
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
        // Once Extended Support of 1.5 is over (2027-11-07).
        let p = plan_ensure(&d(), &w, ARN, doc("es"), None, Day::ymd(2027, 12, 1)).unwrap();
        let ops = ops(&p);
        let Op::Create { settings, .. } = &ops[0] else { panic!() };
        assert!(!settings.encryption_at_rest && !settings.node_to_node);
        assert_eq!(settings.ebs.volume_type.as_deref(), Some("gp2"));
        assert!(p.findings.iter().any(|f| f.message.contains("past the end of AWS support")));
        assert!(p.findings.iter().any(|f| f.severity == Severity::Warning));
        assert!(p.findings.iter().any(|f| f.message.contains("encryption at rest or node-to-node encryption")));
    }

    #[test]
    fn converged_domain_is_unchanged() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&ours(&w)), TODAY).unwrap();
        assert_eq!(change(&p).unwrap().action, Action::Unchanged);
        assert!(ops(&p).is_empty());
    }

    #[test]
    fn each_drifted_section_is_sent_alone_and_whole() {
        let w = want("Elasticsearch_7.10", "t3.small.search");
        let mut o = ours(&w);
        o.settings.ebs.volume_gb = Some(20);
        o.settings.ebs.iops = Some(3000);
        o.settings.advanced_options.insert("indices.fielddata.cache.size".into(), "20".into());
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap();
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
        assert_eq!(change(&p).unwrap().details, ["EBS volume"]);

        let mut o = ours(&w);
        o.settings.access_policy = Some(doc("someone-else"));
        o.settings.cluster.instance_count = 3;
        o.settings.advanced_options.clear();
        o.settings.advanced_options.insert("other".into(), "1".into());
        let s = sections(&plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap());
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
        assert!(sections(&plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap()).is_empty());

        o.settings.ebs.volume_type = Some("standard".into());
        o.settings.endpoint.enforce_https = false;
        o.settings.endpoint.custom =
            Some(CustomEndpoint { enabled: true, endpoint: Some("s.x".into()), ..Default::default() });
        o.settings.encryption_at_rest = false;
        o.settings.node_to_node = false;
        o.settings.snapshot_hour = Some(5);
        let s = sections(&plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap());
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
        assert!(sections(&plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap()).is_empty());
    }

    #[test]
    fn existing_version_wins_with_a_warning() {
        let w = want("Elasticsearch_7.10", "m5.large.search");
        let old = want("Elasticsearch_5.6", "m5.large.search");
        let o = ours(&old);
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap();
        assert!(sections(&p).is_empty(), "no node-to-node asked of 5.6: {:?}", sections(&p));
        assert!(p.findings.iter().any(|f| f.message.contains("does not upgrade")));
        let codes: Vec<&str> = p.findings.iter().filter_map(|f| f.code).collect();
        assert_eq!(codes[..2], ["version-kept", "extended-support"], "5.6 is in paid Extended Support: said");
    }

    #[test]
    fn missing_tags_are_added() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let mut o = ours(&w);
        o.tags.retain(|(k, _)| k == TAG_CLIENT);
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap();
        assert_eq!(ops(&p), vec![Op::AddTags(vec![("analytics:managed-by".into(), "mk-es".into())])]);
        assert_eq!(change(&p).unwrap().action, Action::Update);
    }

    #[test]
    fn foreign_domains() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let mut o = ours(&w);
        o.tags.clear();
        o.settings.ebs.volume_gb = Some(30);
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap();
        assert!(ops(&p).is_empty(), "an adopted domain is never changed");
        assert!(p.findings.iter().any(|f| f.message.contains("adopted") && f.message.contains("EBS volume")));
        let old = ours(&want("Elasticsearch_6.7", "t3.small.search"));
        let p = plan_ensure(&d(), &w, ARN, doc("es"), Some(&ObservedDomain { tags: vec![], ..old }), TODAY).unwrap();
        assert!(ops(&p).is_empty() && p.findings.iter().any(|f| f.code == Some("extended-support")), "adopted too");
        assert!(ops(&plan_destroy(&d(), &w.name, Some(&o))).is_empty());

        o.tags = vec![(TAG_CLIENT.into(), "other".into())];
        let e = plan_ensure(&d(), &w, ARN, doc("es"), Some(&o), TODAY).unwrap_err();
        assert_eq!(common::error::exit_status(&e), 2);
        assert!(ops(&plan_destroy(&d(), &w.name, Some(&o))).is_empty());
    }

    #[test]
    fn destroy_only_ours() {
        let w = want("Elasticsearch_7.10", "t2.small.search");
        let p = plan_destroy(&d(), &w.name, Some(&ours(&w)));
        assert_eq!(ops(&p), vec![Op::Delete]);
        assert_eq!(change(&p).unwrap().action, Action::Delete);
        let p = plan_destroy(&d(), &w.name, None);
        assert!(change(&p).is_none() && ops(&p).is_empty());
    }
}
