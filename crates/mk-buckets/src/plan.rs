//! Comparing desired buckets with what exists. Pure.
//!
//! A bucket is ours when it carries the client's tag, or when our own
//! create was interrupted before tagging it: this account's bucket (the
//! observation made sure), without any tag, with our pending marker
//! ([`crate::pending`]). Such a bucket is finished (tagged, public access
//! blocked, encrypted) with a finding; the same bucket without a marker is
//! someone else's, adopted as it is and never deleted.

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
    /// Our pending marker is in the secrets directory.
    pub pending: bool,
    /// In another region or account: why it cannot be used (then nothing
    /// else is known of it).
    pub elsewhere: Option<String>,
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
    /// Writes the pending marker, then creates the bucket.
    Create,
    Tag(Vec<(String, String)>),
    BlockPublicAccess,
    Encrypt,
    DeleteObjects,
    DeleteBucket,
    PutPolicy(serde_json::Value),
    DeletePolicy,
    /// Removes the pending marker (no AWS call).
    ClearPending,
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

/// `arn:<partition>:s3:::<bucket>`.
pub fn arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// Left by an interrupted create of ours (see the module's doc).
fn interrupted(o: &ObservedBucket) -> bool {
    o.exists && o.pending && o.tags.is_empty()
}

fn ours(d: &Deployment, o: &ObservedBucket) -> bool {
    d.owns(pairs(&o.tags)) || interrupted(o)
}

/// A foreign bucket: adopted as it is, with a finding.
fn adopted(spec: &BucketSpec, o: &ObservedBucket) -> Finding {
    let msg = format!("bucket {} exists and was not created by mk-buckets: adopted as it is", spec.name);
    let missing: Vec<&str> = [(!o.public_access_blocked, "public access block"), (!o.encrypted, "default encryption")]
        .into_iter()
        .filter_map(|(m, s)| m.then_some(s))
        .collect();
    if missing.is_empty() {
        Finding::new(Severity::Info, msg)
    } else {
        Finding::new(Severity::Warning, format!("{msg}; it lacks {}", missing.join(" and ")))
    }
}

fn ensure_bucket(
    d: &Deployment,
    partition: &str,
    spec: &BucketSpec,
    o: &ObservedBucket,
    findings: &mut Vec<Finding>,
) -> Step {
    let step = |action, ops| {
        Step::new(Change::new("s3-bucket", &spec.name, action).with_id(arn(partition, &spec.name)), on(&spec.name, ops))
            .in_phase(BUCKETS)
    };
    if !o.exists {
        // Tag right after creating, so an interrupted run leaves a bucket
        // that the next run recognises as its own; the marker covers the
        // moment in between.
        let ops = vec![
            BucketOp::Create,
            BucketOp::Tag(d.tags()),
            BucketOp::ClearPending,
            BucketOp::BlockPublicAccess,
            BucketOp::Encrypt,
        ];
        return step(Action::Create, ops);
    }
    // A marker of a bucket that has tags is stale (the run stopped after
    // tagging): it goes, whoever the tags name.
    let clear = if o.pending { vec![BucketOp::ClearPending] } else { vec![] };
    if !ours(d, o) {
        findings.push(adopted(spec, o));
        return step(Action::Unchanged, clear);
    }
    if interrupted(o) {
        findings.push(
            Finding::info(format!(
                "bucket {} was created by an interrupted run of mk-buckets and never tagged (its pending marker is in the secrets directory): finishing it",
                spec.name
            ))
            .with_code("interrupted-create")
            .about(&spec.name),
        );
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
    ops.extend(clear);
    if !o.public_access_blocked {
        ops.push(BucketOp::BlockPublicAccess);
        details.push("public access block".to_owned());
    }
    if !o.encrypted {
        ops.push(BucketOp::Encrypt);
        details.push("default encryption".to_owned());
    }
    let action = if details.is_empty() { Action::Unchanged } else { Action::Update };
    let mut s = step(action, ops);
    s.changes[0].details = details;
    s
}

fn destroy_bucket(
    d: &Deployment,
    partition: &str,
    spec: &BucketSpec,
    o: &ObservedBucket,
    force: bool,
    findings: &mut Vec<Finding>,
) -> Option<Step> {
    let clear =
        o.pending.then(|| Step::ops_only(on(&spec.name, vec![BucketOp::ClearPending])).in_phase(BUCKETS_DESTROY));
    if let Some(why) = &o.elsewhere {
        findings.push(Finding::info(format!("{why}: left alone")).with_code("bucket-elsewhere").about(&spec.name));
        return clear;
    }
    if !o.exists {
        return clear;
    }
    if !ours(d, o) {
        findings.push(Finding::new(
            Severity::Info,
            format!("bucket {} was not created by mk-buckets for {}: left alone", spec.name, d.client),
        ));
        return clear;
    }
    let mut ops = Vec::new();
    if o.empty == Some(false) && force {
        ops.push(BucketOp::DeleteObjects);
    }
    ops.push(BucketOp::DeleteBucket);
    if o.pending {
        ops.push(BucketOp::ClearPending);
    }
    let change = Change::new("s3-bucket", &spec.name, Action::Delete).with_id(arn(partition, &spec.name));
    Some(Step::new(change, on(&spec.name, ops)).in_phase(BUCKETS_DESTROY))
}

pub(crate) fn grades_step(
    g: &GradesStatement,
    partition: &str,
    existing: Option<&serde_json::Value>,
    destroy: bool,
) -> Option<Step> {
    let name = format!("{}/{}", g.bucket, g.sid);
    let (p, action) = match (&g.principal, destroy) {
        (_, true) => (policy::remove(existing, &g.sid), Action::Delete),
        (Some(principal), false) => {
            let p = policy::merge(existing, policy::grades_statement(g, partition, principal));
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

/// Plans the run; `partition` is the run's (`aws`, `aws-cn`, `aws-us-gov`).
pub fn plan(
    d: &Deployment,
    partition: &str,
    buckets: &[BucketSpec],
    grades: Option<&GradesStatement>,
    observed: &Observed,
    destroy: bool,
    force: bool,
) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let grades_policy = observed.grades_policy.as_ref();
    if destroy {
        let full: Vec<&str> = buckets
            .iter()
            .zip(&observed.buckets)
            .filter(|(_, o)| o.exists && o.empty == Some(false) && ours(d, o))
            .map(|(b, _)| b.name.as_str())
            .collect();
        if !full.is_empty() && !force {
            return Err(bad_input(format!(
                "refusing to delete non-empty bucket(s) {}: empty them first or pass --force",
                full.join(", ")
            )));
        }
        plan.steps.extend(grades.and_then(|g| grades_step(g, partition, grades_policy, true)));
        for (spec, o) in buckets.iter().zip(&observed.buckets) {
            plan.steps.extend(destroy_bucket(d, partition, spec, o, force, &mut plan.findings));
        }
    } else {
        // A bucket we cannot use stops the run before any change.
        if let Some(why) = observed.buckets.iter().find_map(|o| o.elsewhere.as_ref()) {
            anyhow::bail!("{why}");
        }
        for (spec, o) in buckets.iter().zip(&observed.buckets) {
            plan.steps.push(ensure_bucket(d, partition, spec, o, &mut plan.findings));
        }
        plan.steps.extend(grades.and_then(|g| grades_step(g, partition, grades_policy, false)));
    }
    Ok(plan)
}
