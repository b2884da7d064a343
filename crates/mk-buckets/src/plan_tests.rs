//! The plan of mk-buckets from hand-made observed states.

use common::{Action, ClientName, Deployment, Severity};
use serde_json::json;

use crate::desired::{BucketRole, BucketSpec, GradesStatement};
use crate::plan::*;

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
        pending: false,
        elsewhere: None,
    }
}

fn one(o: ObservedBucket, destroy: bool, force: bool) -> anyhow::Result<Plan> {
    one_in("aws", o, destroy, force)
}

fn one_in(partition: &str, o: ObservedBucket, destroy: bool, force: bool) -> anyhow::Result<Plan> {
    plan(
        &d(),
        partition,
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
    let s = grades_step(&g, "aws", None, false).unwrap();
    assert_eq!(s.change().action, Action::Create);
    let BucketOp::PutPolicy(doc) = &calls(&s)[0] else { panic!() };
    let s = grades_step(&g, "aws", Some(doc), false).unwrap();
    assert_eq!(s.change().action, Action::Unchanged);
    let foreign = json!({"Version": "2012-10-17", "Statement": [{"Sid": "X", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::edx/pub/*"}]});
    assert_eq!(grades_step(&g, "aws", Some(&foreign), false).unwrap().change().action, Action::Create);
    assert!(grades_step(&g, "aws", Some(&foreign), true).is_none());
    let s = grades_step(&g, "aws", Some(doc), true).unwrap();
    assert_eq!(calls(&s), vec![BucketOp::DeletePolicy]);
}

#[test]
fn an_interrupted_create_of_ours_is_finished_and_destroyable() {
    let o = ObservedBucket { exists: true, pending: true, empty: Some(true), ..Default::default() };
    let p = one(o.clone(), false, false).unwrap();
    let s = &p.steps[0];
    assert_eq!(s.change().action, Action::Update);
    assert_eq!(
        calls(s),
        vec![BucketOp::Tag(d().tags()), BucketOp::ClearPending, BucketOp::BlockPublicAccess, BucketOp::Encrypt]
    );
    assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
    assert_eq!(p.findings[0].code, Some("interrupted-create"));
    assert_eq!(p.findings[0].resource.as_deref(), Some("acme-analytics-emr"));
    let p = one(o, true, false).unwrap();
    assert_eq!(calls(&p.steps[0]), vec![BucketOp::DeleteBucket, BucketOp::ClearPending]);
    assert_eq!(p.steps[0].change().action, Action::Delete);
}

#[test]
fn only_an_untagged_bucket_with_our_marker_is_ours() {
    // Made by hand under our name: no marker, foreign (see
    // foreign_bucket_is_adopted_untouched). Tagged by someone else, with a
    // stale marker of ours: still foreign; the marker goes.
    let other = vec![("analytics:client".to_owned(), "other".to_owned())];
    let o = ObservedBucket { exists: true, pending: true, tags: other, ..Default::default() };
    let p = one(o.clone(), false, false).unwrap();
    assert_eq!(p.steps[0].change().action, Action::Unchanged);
    assert_eq!(calls(&p.steps[0]), vec![BucketOp::ClearPending]);
    assert!(p.findings.iter().all(|f| f.code != Some("interrupted-create")));
    let p = one(o, true, true).unwrap();
    assert!(p.steps.iter().all(|s| s.changes.is_empty()), "never deleted: {:?}", p.steps);
    assert_eq!(calls(&p.steps[0]), vec![BucketOp::ClearPending]);
    // Ours and converged, the run stopped after tagging: only the marker goes.
    let p = one(ObservedBucket { pending: true, ..ours() }, false, false).unwrap();
    assert_eq!((p.steps[0].change().action, calls(&p.steps[0])), (Action::Unchanged, vec![BucketOp::ClearPending]));
    // Gone, with a marker left: destroy clears it.
    let p = one(ObservedBucket { pending: true, ..Default::default() }, true, false).unwrap();
    assert_eq!(calls(&p.steps[0]), vec![BucketOp::ClearPending]);
}

#[test]
fn arns_follow_the_partition() {
    let p = one_in("aws-cn", ObservedBucket::default(), false, false).unwrap();
    assert_eq!(p.steps[0].change().id.as_deref(), Some("arn:aws-cn:s3:::acme-analytics-emr"));
    let p = one_in("aws-us-gov", ours(), true, false).unwrap();
    assert_eq!(p.steps[0].change().id.as_deref(), Some("arn:aws-us-gov:s3:::acme-analytics-emr"));
    let g = GradesStatement {
        bucket: "edx".into(),
        principal: Some("arn:aws-cn:iam::123456789012:user/e".into()),
        sid: "AnalyticsGradesDownloadAcme".into(),
    };
    let s = grades_step(&g, "aws-cn", None, false).unwrap();
    let BucketOp::PutPolicy(doc) = &calls(&s)[0] else { panic!() };
    assert_eq!(doc["Statement"][0]["Resource"], "arn:aws-cn:s3:::edx/grades-download/*");
}

#[test]
fn a_bucket_elsewhere_stops_a_converge_and_is_left_by_destroy() {
    let why = "bucket acme-analytics-emr (EMR bucket, --emr-bucket) is in region eu-west-1, not us-east-1";
    let o = ObservedBucket { elsewhere: Some(why.into()), ..Default::default() };
    let e = one(o.clone(), false, false).unwrap_err();
    assert_eq!(e.to_string(), why);
    assert_eq!(common::error::exit_status(&e), 1, "a fact of the world, not a typo");
    let p = one(o, true, true).unwrap();
    assert!(p.steps.is_empty(), "never deleted: {:?}", p.steps);
    assert_eq!(p.findings[0].code, Some("bucket-elsewhere"));
}
