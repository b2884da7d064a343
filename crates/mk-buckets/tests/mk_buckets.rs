//! mk-buckets against the real emulator: each test in its own account,
//! with its own client name.

use analytics_tests::{Account, ToolRun, run, unique_client};
use aws_sdk_s3::Client;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mk-buckets");

async fn s3(account: &Account) -> Client {
    analytics_tests::s3_client(&account.sdk().await)
}

/// Runs mk-buckets; its pending markers go under the test target's
/// directory (each test's buckets have names of their own).
fn mk(account: &Account, args: &[&str]) -> ToolRun {
    let secrets = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("mk-buckets-secrets");
    run(account.command(BIN).env("ANALYTICS_SECRETS_DIR", secrets).args(args))
}

async fn exists(s3: &Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

async fn tags(s3: &Client, bucket: &str) -> Vec<(String, String)> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        Err(_) => vec![],
    }
}

async fn policy(s3: &Client, bucket: &str) -> Option<Value> {
    let p = s3.get_bucket_policy().bucket(bucket).send().await.ok()?;
    serde_json::from_str(p.policy()?).ok()
}

fn sids(policy: &Value) -> Vec<String> {
    policy["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn dry_run_on_an_empty_account_creates_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let r = mk(&a, &["--client", &c, "--reports", "--dry-run"]).ok();
    assert_eq!(r.mutating(), 0);
    assert_eq!(r.json["dry_run"], true);
    assert_eq!(r.json["changes"].as_array().unwrap().len(), 4);
    for name in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        assert_eq!(r.action("s3-bucket", &format!("{c}-{name}")), "would-create");
    }
    let s3 = s3(&a).await;
    assert!(!exists(&s3, &format!("{c}-analytics-emr")).await);
}

#[tokio::test]
async fn creates_every_bucket_with_its_settings_and_reruns_unchanged() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let r = mk(&a, &["--client", &c, "--tag", "team=data"]).ok();
    let s3 = s3(&a).await;
    let names = [format!("{c}-tracking-logs"), format!("{c}-analytics-emr"), format!("{c}-edxanalytics")];
    for name in &names {
        assert_eq!(r.action("s3-bucket", name), "created");
        assert!(exists(&s3, name).await, "{name}");
        let pab = s3.get_public_access_block().bucket(name).send().await.unwrap();
        let pab = pab.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                pab.block_public_acls(),
                pab.ignore_public_acls(),
                pab.block_public_policy(),
                pab.restrict_public_buckets()
            ),
            (Some(true), Some(true), Some(true), Some(true)),
            "{name}"
        );
        let enc = s3.get_bucket_encryption().bucket(name).send().await.unwrap();
        let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
        assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
        let t = tags(&s3, name).await;
        assert!(t.contains(&("analytics:client".into(), c.clone())), "{t:?}");
        assert!(t.contains(&("analytics:managed-by".into(), "mk-buckets".into())), "{t:?}");
        assert!(t.contains(&("team".into(), "data".into())), "{t:?}");
    }
    assert_eq!(r.json["outputs"]["buckets"]["tracking_logs"], names[0]);
    assert_eq!(r.json["outputs"]["buckets"]["emr"], names[1]);
    assert_eq!(r.json["outputs"]["buckets"]["edxanalytics"], names[2]);
    assert_eq!(r.json["outputs"]["emr_log_uri"], format!("s3://{}/logs", names[1]));
    assert_eq!(r.json["region"], "us-east-1");
    assert!(r.mutating() >= 12, "create, tag, block, encrypt per bucket: {}", r.json["api_calls"]);

    let again = mk(&a, &["--client", &c, "--tag", "team=data"]).ok().all_unchanged();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 3);
    let dry = mk(&a, &["--client", &c, "--tag", "team=data", "--dry-run"]).ok().all_unchanged();
    assert_eq!(dry.mutating(), 0);
}

#[tokio::test]
async fn optional_buckets_and_a_region_with_a_location_constraint() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let r =
        mk(&a, &["--client", &c, "--reports", "--separate-logs", "--separate-hadoop", "--region", "eu-west-1"]).ok();
    assert_eq!(r.json["region"], "eu-west-1");
    assert_eq!(r.json["changes"].as_array().unwrap().len(), 6);
    assert_eq!(r.json["outputs"]["buckets"]["reports"], format!("{c}-analytics-api-reports"));
    assert_eq!(r.json["outputs"]["buckets"]["hadoop"], format!("{c}-edxanalytics-hadoop"));
    assert_eq!(r.json["outputs"]["emr_log_uri"], format!("s3://{c}-analytics-emr-logs/logs"));
    let s3 = s3(&a).await;
    let loc = s3.get_bucket_location().bucket(format!("{c}-analytics-emr-logs")).send().await.unwrap();
    assert_eq!(loc.location_constraint().unwrap().as_str(), "eu-west-1");
}

#[tokio::test]
async fn an_existing_tracking_logs_bucket_is_adopted_and_never_deleted() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let s3 = s3(&a).await;
    let logs = format!("{c}-tracking-logs");
    s3.create_bucket().bucket(&logs).send().await.unwrap();
    s3.put_object().bucket(&logs).key("tracking.log-20260101.gz").body(b"x".to_vec().into()).send().await.unwrap();

    let r = mk(&a, &["--client", &c]).ok();
    assert_eq!(r.action("s3-bucket", &logs), "unchanged");
    let finding =
        r.json["findings"].as_array().unwrap().iter().find(|f| f["message"].as_str().unwrap().contains(&logs));
    assert!(finding.is_some(), "a finding names the adopted bucket: {}", r.json["findings"]);
    assert!(tags(&s3, &logs).await.is_empty(), "an adopted bucket is not tagged");

    let d = mk(&a, &["--client", &c, "--destroy", "--force"]).ok();
    assert_eq!(d.json["changes"].as_array().unwrap().len(), 2, "{:?}", d.actions());
    assert!(exists(&s3, &logs).await, "the adopted bucket survives destroy");
    assert!(!exists(&s3, &format!("{c}-analytics-emr")).await);
    assert!(s3.head_object().bucket(&logs).key("tracking.log-20260101.gz").send().await.is_ok());
}

#[tokio::test]
async fn drift_is_corrected() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    mk(&a, &["--client", &c]).ok();
    let s3 = s3(&a).await;
    let emr = format!("{c}-analytics-emr");
    s3.delete_bucket_encryption().bucket(&emr).send().await.unwrap();
    s3.delete_public_access_block().bucket(&emr).send().await.unwrap();

    let dry = mk(&a, &["--client", &c, "--dry-run"]).ok();
    assert_eq!(dry.action("s3-bucket", &emr), "would-update");
    assert_eq!(dry.mutating(), 0);

    let r = mk(&a, &["--client", &c]).ok();
    assert_eq!(r.action("s3-bucket", &emr), "updated");
    assert_eq!(r.action("s3-bucket", &format!("{c}-edxanalytics")), "unchanged");
    assert!(s3.get_bucket_encryption().bucket(&emr).send().await.is_ok());
    assert!(s3.get_public_access_block().bucket(&emr).send().await.is_ok());
    mk(&a, &["--client", &c]).ok().all_unchanged();
}

#[tokio::test]
async fn grades_statement_is_merged_and_removed_alone() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let s3 = s3(&a).await;
    let grades = format!("{c}-edxapp");
    s3.create_bucket().bucket(&grades).send().await.unwrap();
    let keep = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "KeepMe", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:user/other", a.id)},
        "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{grades}")}]});
    s3.put_bucket_policy().bucket(&grades).policy(keep.to_string()).send().await.unwrap();
    let principal = format!("arn:aws:iam::{}:user/edxapp", a.id);
    let args = ["--client", &c, "--grades-bucket", &grades, "--edxapp-user-arn", &principal];

    let r = mk(&a, &args).ok();
    let sid = r.json["outputs"]["grades_policy"]["sid"].as_str().unwrap().to_owned();
    assert_eq!(r.action("s3-bucket-policy-statement", &format!("{grades}/{sid}")), "created");
    let p = policy(&s3, &grades).await.unwrap();
    assert_eq!(sids(&p), ["KeepMe".to_owned(), sid.clone()]);
    let ours = &p["Statement"][1];
    assert_eq!(ours["Resource"], format!("arn:aws:s3:::{grades}/grades-download/*"));
    assert_eq!(ours["Effect"], "Allow");
    assert!(ours["Action"] == "s3:GetObject" || ours["Action"] == json!(["s3:GetObject"]));

    mk(&a, &args).ok().all_unchanged();

    let d = mk(&a, &["--client", &c, "--destroy", "--grades-bucket", &grades]).ok();
    assert_eq!(d.action("s3-bucket-policy-statement", &format!("{grades}/{sid}")), "deleted");
    assert_eq!(sids(&policy(&s3, &grades).await.unwrap()), ["KeepMe".to_owned()]);
    assert!(exists(&s3, &grades).await, "the edxapp bucket is not ours to delete");
}

#[tokio::test]
async fn destroy_refuses_full_buckets_without_force_and_spares_other_clients() {
    let a = Account::fresh().await;
    let (c, other) = (unique_client("b"), unique_client("b"));
    mk(&a, &["--client", &c, "--reports"]).ok();
    mk(&a, &["--client", &other]).ok();
    let s3 = s3(&a).await;
    let config = format!("{c}-edxanalytics");
    s3.put_object().bucket(&config).key("edxanalytics_creds").body(b"{}".to_vec().into()).send().await.unwrap();

    let dry = mk(&a, &["--client", &c, "--destroy", "--force", "--dry-run"]).ok();
    assert_eq!(dry.action("s3-bucket", &config), "would-delete");
    assert_eq!(dry.mutating(), 0);

    let refused = mk(&a, &["--client", &c, "--destroy"]).bad_input(&config);
    assert_eq!(refused.mutating(), 0);
    assert!(exists(&s3, &format!("{c}-analytics-emr")).await, "nothing deleted when refusing");

    let d = mk(&a, &["--client", &c, "--destroy", "--force"]).ok();
    assert_eq!(d.json["changes"].as_array().unwrap().len(), 4);
    for name in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        assert!(!exists(&s3, &format!("{c}-{name}")).await, "{name}");
        assert!(exists(&s3, &format!("{other}-{name}")).await || name == "analytics-api-reports");
    }
    let again = mk(&a, &["--client", &c, "--destroy"]).ok();
    assert_eq!(again.json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(again.mutating(), 0);
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let a = Account::fresh().await;
    let c = unique_client("b");
    let arn = format!("arn:aws:iam::{}:user/edxapp", a.id);
    let config_bucket = format!("{c}-edxanalytics");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--client", "Bad_Client"], "invalid client name"),
        (vec!["--client", "ab"], "invalid client name"),
        (vec![], "--client"),
        (vec!["--client", &c, "--emr-bucket", "Not.Valid_"], "invalid bucket name"),
        (vec!["--client", &c, "--emr-bucket", &config_bucket], "two purposes"),
        (vec!["--client", &c, "--edxapp-user-arn", &arn], "--grades-bucket"),
        (
            vec!["--client", &c, "--grades-bucket", "edx-x", "--edxapp-user-arn", "arn:aws:s3:::nope"],
            "--edxapp-user-arn",
        ),
        (vec!["--client", &c, "--grades-bucket", "edx-x"], "--edxapp-user-arn"),
        (vec!["--client", &c, "--region", "moon-1"], "region"),
        (vec!["--client", &c, "--force"], "--destroy"),
        (vec!["--client", &c, "--endpoint-url", "localhost:1"], "--endpoint-url"),
        (vec!["--client", &c, "--tag", "novalue"], "--tag"),
    ];
    for (args, needle) in cases {
        let r = mk(&a, &args).bad_input(needle);
        if !r.stdout.is_empty() {
            assert_eq!(r.total(), 0, "{args:?}: no call at all for input checks");
        }
    }
    // Found by asking AWS, still before any mutating call:
    let missing = format!("{c}-no-such-bucket");
    let r = mk(&a, &["--client", &c, "--grades-bucket", &missing, "--edxapp-user-arn", &arn]).bad_input(&missing);
    assert_eq!(r.mutating(), 0);
    assert!(!exists(&s3(&a).await, &format!("{c}-analytics-emr")).await);
}
