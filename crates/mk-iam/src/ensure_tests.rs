//! Unit tests of converge planning ([`crate::ensure`]), each on a
//! hand-made observed state: no AWS.

use serde_json::json;

use common::{Action, Deployment, Severity};

use crate::desired::Desired;
use crate::ensure::plan_ensure;
use crate::fixtures::{converged, d, desired, find, mutating_ops};
use crate::keys::AwsKey;
use crate::observed::Observed;
use crate::op::{
    KIND_ATTACHMENT, KIND_KEY, KIND_POLICY, KIND_PROFILE, KIND_ROLE, KIND_USER, KIND_USER_POLICY, Op, Plan,
};
use crate::policy;

/// The converge plan (`destroy` is false here; the last flag is
/// --rotate-keys).
fn plan(d: &Deployment, want: &Desired, o: &Observed, destroy: bool, rotate: bool) -> Plan {
    assert!(!destroy);
    let mut p = Plan::default();
    plan_ensure(d, want, o, rotate, &mut p);
    p
}

#[test]
fn drifted_documents_are_updated() {
    let want = desired(true);
    let mut o = converged(&want);
    o.policies[0].as_mut().unwrap().document = Some(json!({"Version": "2012-10-17", "Statement": []}));
    o.roles[0].as_mut().unwrap().trust = policy::trust(policy::TrustedService::Emr);
    o.users[1].as_mut().unwrap().inline = Some(policy::reports_read("aws", "elsewhere"));
    let p = plan(&d(), &want, &o, false, false);
    let s = find(&p, KIND_POLICY, "acme-provision-emr-clusters");
    assert_eq!(s.change().action, Action::Update);
    assert!(matches!(&s.ops[..], [Op::SetPolicyDocument { .. }]));
    let s = find(&p, KIND_ROLE, "acme-edxanalytics");
    assert!(matches!(&s.ops[..], [Op::UpdateTrust { .. }]));
    let s = find(&p, KIND_USER_POLICY, "acme-analytics-reports/s3-read-analytics-reports");
    assert_eq!(s.change().action, Action::Update);
    assert!(matches!(&s.ops[..], [Op::PutUserPolicy { .. }]));
    assert_eq!(mutating_ops(&p), 3);
}

#[test]
fn missing_attachment_tag_and_profile_role_are_restored() {
    let want = desired(false);
    let mut o = converged(&want);
    o.roles[2].as_mut().unwrap().attached.pop();
    o.profiles[0].as_mut().unwrap().roles.clear();
    o.users[0].as_mut().unwrap().tags.retain(|(k, _)| k != "analytics:managed-by");
    let p = plan(&d(), &want, &o, false, false);
    let s = find(&p, KIND_ATTACHMENT, "EMR_EC2_DefaultRole/acme-elasticsearch-all");
    assert_eq!(s.change().action, Action::Create);
    let s = find(&p, KIND_PROFILE, "acme-edxanalytics");
    assert_eq!(
        s.ops,
        vec![Op::AddRoleToInstanceProfile { profile: "acme-edxanalytics".into(), role: "acme-edxanalytics".into() }]
    );
    let s = find(&p, KIND_USER, "acme-analytics-elasticsearch");
    assert_eq!(
        s.ops,
        vec![Op::TagUser {
            name: "acme-analytics-elasticsearch".into(),
            tags: vec![("analytics:managed-by".into(), "mk-iam".into())]
        }]
    );
}

#[test]
fn lost_secret_warns_without_a_new_key() {
    let want = desired(false);
    let mut o = converged(&want);
    o.stored_keys[0] = None;
    let p = plan(&d(), &want, &o, false, false);
    let s = find(&p, KIND_KEY, "acme-analytics-elasticsearch");
    assert_eq!(s.change().action, Action::Unchanged);
    assert!(s.ops.is_empty());
    assert_eq!(p.findings.len(), 1);
    assert_eq!(p.findings[0].severity, Severity::Warning);
    assert!(p.findings[0].message.contains("--rotate-keys"));
    let p = plan(&d(), &want, &o, false, true);
    let s = find(&p, KIND_KEY, "acme-analytics-elasticsearch");
    assert_eq!(s.change().action, Action::Update);
    assert_eq!(s.ops[0], Op::CreateAccessKey { user: "acme-analytics-elasticsearch".into() });
}

#[test]
fn a_key_left_unstored_by_an_interrupted_run_is_replaced() {
    let want = desired(false);
    let mut o = converged(&want);
    let user = "acme-analytics-elasticsearch".to_owned();
    // Killed between CreateAccessKey (AK7) and storing its secret.
    o.users[0].as_mut().unwrap().keys = vec![AwsKey { id: "AK7".into(), active: true, created: 7 }];
    o.stored_keys[0] = None;
    o.pending_keys[0] = Some(vec![]);
    let p = plan(&d(), &want, &o, false, false);
    let s = find(&p, KIND_KEY, &user);
    assert_eq!(s.change().action, Action::Create);
    assert_eq!(s.change().details, ["unstored key AK7"]);
    assert_eq!(
        s.ops,
        vec![
            Op::DeleteAccessKey { user: user.clone(), id: "AK7".into() },
            Op::CreateAccessKey { user: user.clone() },
            Op::ClearPendingKey { user: user.clone() }
        ]
    );
    assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
    assert_eq!(p.findings[0].severity, Severity::Warning);
    assert!(p.findings[0].message.contains("AK7") && !p.findings[0].message.contains("--rotate-keys"));
    // Without the marker the same key is a lost secret: reported, kept.
    o.pending_keys[0] = None;
    let p = plan(&d(), &want, &o, false, false);
    assert!(find(&p, KIND_KEY, &user).ops.is_empty());
    assert!(p.findings[0].message.contains("--rotate-keys"));
}

#[test]
fn foreign_resources_are_left_alone() {
    let want = desired(false);
    let mut o = converged(&want);
    o.roles[0].as_mut().unwrap().tags.clear();
    o.roles[0].as_mut().unwrap().attached.clear();
    o.users[0].as_mut().unwrap().tags = vec![("analytics:client".into(), "other".into())];
    let p = plan(&d(), &want, &o, false, false);
    assert_eq!(find(&p, KIND_ROLE, "acme-edxanalytics").change().action, Action::Unchanged);
    assert_eq!(find(&p, KIND_USER, "acme-analytics-elasticsearch").change().action, Action::Unchanged);
    assert!(
        p.steps.iter().all(|s| !s.change().name.starts_with("acme-edxanalytics/")),
        "no attachment to a foreign role"
    );
    assert!(p.steps.iter().all(|s| s.change().kind != KIND_KEY), "no key for a foreign user");
    assert_eq!(mutating_ops(&p), 0);
    assert_eq!(p.findings.len(), 2);
    assert!(p.findings.iter().all(|f| f.severity == Severity::Warning && f.message.contains("left as it is")));
}

#[test]
fn shared_roles_are_adopted_as_they_are() {
    let want = desired(false);
    let mut o = converged(&want);
    let cli_trust = json!({"Version": "2008-10-17", "Statement": [{"Sid": "", "Effect": "Allow",
        "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    o.roles[1].as_mut().unwrap().trust = cli_trust;
    o.roles[1].as_mut().unwrap().tags = vec![("team".into(), "data".into())];
    let p = plan(&d(), &want, &o, false, false);
    assert_eq!(find(&p, KIND_ROLE, "EMR_DefaultRole").change().action, Action::Unchanged);
    assert_eq!(mutating_ops(&p), 0);
    assert!(p.findings.is_empty());
    o.roles[2].as_mut().unwrap().trust = policy::trust(policy::TrustedService::Emr);
    let p = plan(&d(), &want, &o, false, false);
    assert_eq!(mutating_ops(&p), 0);
    assert!(p.findings[0].message.contains("does not trust ec2.amazonaws.com"));
}

#[test]
fn updates_say_what_changes_before_and_after() {
    let want = desired(true);
    let mut o = converged(&want);
    let old = json!({"Version": "2012-10-17", "Statement": []});
    o.policies[0].as_mut().unwrap().document = Some(old.clone());
    o.roles[0].as_mut().unwrap().tags.retain(|(k, _)| k != "analytics:managed-by");
    o.profiles[0].as_mut().unwrap().roles = vec!["other".into()];
    let p = plan(&d(), &want, &o, false, false);
    let c = find(&p, KIND_POLICY, "acme-provision-emr-clusters").change();
    assert_eq!(c.details, ["document"]);
    assert_eq!((&c.diff[0].before, &c.diff[0].after), (&old, &policy::provision_emr_clusters()));
    let c = find(&p, KIND_ROLE, "acme-edxanalytics").change();
    assert_eq!(c.details, ["tags"]);
    assert_eq!(c.diff[0].before, json!({"analytics:client": "acme"}));
    assert_eq!(c.diff[0].after, json!({"analytics:client": "acme", "analytics:managed-by": "mk-iam"}));
    let s = find(&p, KIND_PROFILE, "acme-edxanalytics");
    assert_eq!(s.change().details, ["role"]);
    assert_eq!(
        (&s.change().diff[0].before, &s.change().diff[0].after),
        (&json!(["other"]), &json!(["acme-edxanalytics"]))
    );
    assert!(matches!(&s.ops[..], [Op::RemoveRoleFromInstanceProfile { .. }, Op::AddRoleToInstanceProfile { .. }]));
}
