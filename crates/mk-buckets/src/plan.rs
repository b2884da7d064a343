//! Comparing desired buckets with what exists. Pure.

use common::error::bad_input;
use common::{Action, Change, Deployment, Finding, Severity};

use crate::desired::{BucketSpec, GradesStatement};
use crate::policy::{self, PolicyPlan};

/// What exists of one bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObservedBucket {
    pub exists: bool,
    pub tags: Vec<(String, String)>,
    pub public_access_blocked: bool,
    pub encrypted: bool,
    /// Known only on destroy.
    pub empty: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Observed {
    /// Same order as the desired buckets.
    pub buckets: Vec<ObservedBucket>,
    /// The grades bucket's policy, parsed; `None` when it has none.
    pub grades_policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BucketOp {
    Create,
    Tag(Vec<(String, String)>),
    BlockPublicAccess,
    Encrypt,
    DeleteObjects,
    DeleteBucket,
    PutPolicy(serde_json::Value),
    DeletePolicy,
}

/// One call on one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub bucket: String,
    pub call: BucketOp,
}

pub type Step = common::Step<Op>;
pub type Plan = common::Plan<Op>;

/// The buckets' phase: the policy statement goes after them (before them
/// on destroy, the reverse order of creation).
const BUCKETS: u8 = 0;
const STATEMENT_ENSURE: u8 = 1;
const STATEMENT_DESTROY: u8 = 0;
const BUCKETS_DESTROY: u8 = 1;

fn on(bucket: &str, calls: Vec<BucketOp>) -> Vec<Op> {
    calls.into_iter().map(|call| Op { bucket: bucket.to_owned(), call }).collect()
}

fn pairs(tags: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> + Clone {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

fn arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn ensure_bucket(d: &Deployment, spec: &BucketSpec, o: &ObservedBucket, findings: &mut Vec<Finding>) -> Step {
    let step = |action, ops| {
        Step::new(Change::new("s3-bucket", &spec.name, action).with_id(arn(&spec.name)), on(&spec.name, ops))
            .in_phase(BUCKETS)
    };
    if !o.exists {
        // Tag right after creating, so an interrupted run leaves a bucket
        // that the next run recognises as its own.
        let ops = vec![BucketOp::Create, BucketOp::Tag(d.tags()), BucketOp::BlockPublicAccess, BucketOp::Encrypt];
        return step(Action::Create, ops);
    }
    if !d.owns(pairs(&o.tags)) {
        let mut msg = format!("bucket {} exists and was not created by mk-buckets: adopted as it is", spec.name);
        if !o.public_access_blocked || !o.encrypted {
            let missing: Vec<&str> =
                [(!o.public_access_blocked, "public access block"), (!o.encrypted, "default encryption")]
                    .into_iter()
                    .filter_map(|(m, s)| m.then_some(s))
                    .collect();
            msg.push_str(&format!("; it lacks {}", missing.join(" and ")));
            findings.push(Finding::new(Severity::Warning, msg));
        } else {
            findings.push(Finding::new(Severity::Info, msg));
        }
        return step(Action::Unchanged, vec![]);
    }
    let mut ops = Vec::new();
    let mut details = Vec::new();
    let missing = d.missing_tags(pairs(&o.tags));
    if !missing.is_empty() {
        // PutBucketTagging replaces the set: keep the bucket's other tags.
        let mut merged: Vec<(String, String)> =
            o.tags.iter().filter(|(k, _)| !missing.iter().any(|(mk, _)| mk == k)).cloned().collect();
        merged.extend(missing);
        ops.push(BucketOp::Tag(merged));
        details.push("tags".to_owned());
    }
    if !o.public_access_blocked {
        ops.push(BucketOp::BlockPublicAccess);
        details.push("public access block".to_owned());
    }
    if !o.encrypted {
        ops.push(BucketOp::Encrypt);
        details.push("default encryption".to_owned());
    }
    let action = if ops.is_empty() { Action::Unchanged } else { Action::Update };
    let mut s = step(action, ops);
    s.changes[0].details = details;
    s
}

fn destroy_bucket(
    d: &Deployment,
    spec: &BucketSpec,
    o: &ObservedBucket,
    force: bool,
    findings: &mut Vec<Finding>,
) -> Option<Step> {
    if !o.exists {
        return None;
    }
    if !d.owns(pairs(&o.tags)) {
        findings.push(Finding::new(
            Severity::Info,
            format!("bucket {} was not created by mk-buckets for {}: left alone", spec.name, d.client),
        ));
        return None;
    }
    let mut ops = Vec::new();
    if o.empty == Some(false) && force {
        ops.push(BucketOp::DeleteObjects);
    }
    ops.push(BucketOp::DeleteBucket);
    Some(
        Step::new(Change::new("s3-bucket", &spec.name, Action::Delete).with_id(arn(&spec.name)), on(&spec.name, ops))
            .in_phase(BUCKETS_DESTROY),
    )
}

fn grades_step(g: &GradesStatement, existing: Option<&serde_json::Value>, destroy: bool) -> Option<Step> {
    let name = format!("{}/{}", g.bucket, g.sid);
    let (p, action) = match (&g.principal, destroy) {
        (_, true) => (policy::remove(existing, &g.sid), Action::Delete),
        (Some(principal), false) => {
            let p = policy::merge(existing, policy::grades_statement(g, principal));
            let action = if existing.is_some_and(|e| policy::remove(Some(e), &g.sid) != PolicyPlan::Unchanged) {
                Action::Update
            } else {
                Action::Create
            };
            (p, action)
        }
        (None, false) => return None,
    };
    let ops = match p {
        PolicyPlan::Unchanged if destroy => return None,
        PolicyPlan::Unchanged => vec![],
        PolicyPlan::Put(doc) => vec![BucketOp::PutPolicy(doc)],
        PolicyPlan::Delete => vec![BucketOp::DeletePolicy],
    };
    let action = if ops.is_empty() { Action::Unchanged } else { action };
    let phase = if destroy { STATEMENT_DESTROY } else { STATEMENT_ENSURE };
    Some(Step::new(Change::new("s3-bucket-policy-statement", name, action), on(&g.bucket, ops)).in_phase(phase))
}

pub fn plan(
    d: &Deployment,
    buckets: &[BucketSpec],
    grades: Option<&GradesStatement>,
    observed: &Observed,
    destroy: bool,
    force: bool,
) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    if destroy {
        let full: Vec<&str> = buckets
            .iter()
            .zip(&observed.buckets)
            .filter(|(_, o)| o.exists && o.empty == Some(false) && d.owns(pairs(&o.tags)))
            .map(|(b, _)| b.name.as_str())
            .collect();
        if !full.is_empty() && !force {
            return Err(bad_input(format!(
                "refusing to delete non-empty bucket(s) {}: empty them first or pass --force",
                full.join(", ")
            )));
        }
        plan.steps.extend(grades.and_then(|g| grades_step(g, observed.grades_policy.as_ref(), true)));
        for (spec, o) in buckets.iter().zip(&observed.buckets) {
            plan.steps.extend(destroy_bucket(d, spec, o, force, &mut plan.findings));
        }
    } else {
        for (spec, o) in buckets.iter().zip(&observed.buckets) {
            plan.steps.push(ensure_bucket(d, spec, o, &mut plan.findings));
        }
        plan.steps.extend(grades.and_then(|g| grades_step(g, observed.grades_policy.as_ref(), false)));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::BucketRole;
    use common::ClientName;
    use serde_json::json;

    fn d() -> Deployment {
        Deployment { client: ClientName::parse("acme").unwrap(), tool: "mk-buckets", extra_tags: vec![] }
    }

    fn spec(name: &str) -> BucketSpec {
        BucketSpec { role: BucketRole::Emr, name: name.into() }
    }

    fn calls(s: &Step) -> Vec<BucketOp> {
        s.ops.iter().map(|o| o.call.clone()).collect()
    }

    fn ours() -> ObservedBucket {
        ObservedBucket {
            exists: true,
            tags: d().tags(),
            public_access_blocked: true,
            encrypted: true,
            empty: Some(true),
        }
    }

    fn one(o: ObservedBucket, destroy: bool, force: bool) -> anyhow::Result<Plan> {
        plan(
            &d(),
            &[spec("acme-analytics-emr")],
            None,
            &Observed { buckets: vec![o], grades_policy: None },
            destroy,
            force,
        )
    }

    #[test]
    fn missing_bucket_is_created_tagged_first() {
        let p = one(ObservedBucket::default(), false, false).unwrap();
        assert_eq!(p.steps[0].change().action, Action::Create);
        assert_eq!(calls(&p.steps[0])[0], BucketOp::Create);
        assert!(matches!(calls(&p.steps[0])[1], BucketOp::Tag(_)));
        assert!(calls(&p.steps[0]).contains(&BucketOp::BlockPublicAccess));
        assert!(calls(&p.steps[0]).contains(&BucketOp::Encrypt));
    }

    #[test]
    fn converged_bucket_is_unchanged() {
        let p = one(ours(), false, false).unwrap();
        assert_eq!(p.steps[0].change().action, Action::Unchanged);
        assert!(p.steps[0].ops.is_empty());
    }

    #[test]
    fn drift_is_corrected_keeping_foreign_tags() {
        let mut o = ours();
        o.encrypted = false;
        o.tags = vec![("analytics:client".into(), "acme".into()), ("cost-center".into(), "42".into())];
        let p = one(o, false, false).unwrap();
        let s = &p.steps[0];
        assert_eq!(s.change().action, Action::Update);
        assert!(calls(s).contains(&BucketOp::Encrypt));
        let BucketOp::Tag(t) = &calls(s)[0] else { panic!("{:?}", s.ops) };
        assert!(t.contains(&("cost-center".into(), "42".into())));
        assert!(t.contains(&("analytics:managed-by".into(), "mk-buckets".into())));
    }

    #[test]
    fn foreign_bucket_is_adopted_untouched() {
        let o = ObservedBucket { exists: true, ..Default::default() };
        let p = one(o.clone(), false, false).unwrap();
        assert_eq!(p.steps[0].change().action, Action::Unchanged);
        assert!(p.steps[0].ops.is_empty());
        assert_eq!(p.findings[0].severity, Severity::Warning);
        let p = one(o, true, true).unwrap();
        assert!(p.steps.is_empty(), "destroy never deletes a foreign bucket");
    }

    #[test]
    fn destroy_refuses_full_buckets_without_force() {
        let mut o = ours();
        o.empty = Some(false);
        let e = one(o.clone(), true, false).unwrap_err();
        assert!(e.to_string().contains("acme-analytics-emr"));
        let p = one(o, true, true).unwrap();
        assert_eq!(calls(&p.steps[0]), vec![BucketOp::DeleteObjects, BucketOp::DeleteBucket]);
    }

    #[test]
    fn grades_statement_lifecycle() {
        let g = GradesStatement {
            bucket: "edx".into(),
            principal: Some("arn:aws:iam::123456789012:user/e".into()),
            sid: "AnalyticsGradesDownloadAcme".into(),
        };
        let s = grades_step(&g, None, false).unwrap();
        assert_eq!(s.change().action, Action::Create);
        let BucketOp::PutPolicy(doc) = &calls(&s)[0] else { panic!() };
        let s = grades_step(&g, Some(doc), false).unwrap();
        assert_eq!(s.change().action, Action::Unchanged);
        let foreign = json!({"Version": "2012-10-17", "Statement": [{"Sid": "X", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::edx/pub/*"}]});
        assert_eq!(grades_step(&g, Some(&foreign), false).unwrap().change().action, Action::Create);
        assert!(grades_step(&g, Some(&foreign), true).is_none());
        let s = grades_step(&g, Some(doc), true).unwrap();
        assert_eq!(calls(&s), vec![BucketOp::DeletePolicy]);
    }
}
