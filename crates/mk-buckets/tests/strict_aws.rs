//! mk-buckets through the strict AWS simulation (scripts/aws-sim.py,
//! tests/AWS-SIM.md): new buckets that S3 does not show at once or refuses
//! a first change on, buckets in another region or account, and the bucket
//! an interrupted create left untagged.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};
use aws_sdk_s3::Client;

const BIN: &str = env!("CARGO_BIN_EXE_mk-buckets");

/// mk-buckets against the simulation, with short pauses between tries.
fn command(sim: &AwsSim, a: &Account, secrets: &Path, args: &[&str]) -> Command {
    let mut cmd = a.command(BIN);
    cmd.env("AWS_ENDPOINT_URL", sim.url())
        .env("ANALYTICS_RETRY_INITIAL_MS", "50")
        .env("ANALYTICS_POLL_INITIAL_MS", "50")
        .env("ANALYTICS_SECRETS_DIR", secrets)
        .args(args);
    cmd
}

fn mk(sim: &AwsSim, a: &Account, secrets: &Path, args: &[&str]) -> ToolRun {
    run(&mut command(sim, a, secrets, args))
}

async fn s3(a: &Account) -> Client {
    analytics_tests::s3_client(&a.sdk().await)
}

async fn tags(s3: &Client, bucket: &str) -> Vec<(String, String)> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(t) => t.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        Err(_) => vec![],
    }
}

fn markers(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|f| f.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| n.ends_with(".bucket-pending.json"));
    v.sort();
    v
}

#[tokio::test]
async fn new_buckets_are_waited_for_and_a_rerun_changes_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("bs");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "bucket-not-visible,bucket-operation-aborted", 500);
    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok();
    for name in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        assert_eq!(r.action("s3-bucket", &format!("{c}-{name}")), "created");
    }
    let fired = sim.fired();
    for rule in ["bucket-not-visible", "bucket-operation-aborted"] {
        assert!(fired.get(rule).copied().unwrap_or(0) > 0, "{rule} never fired: {fired:?}\n{}", sim.log());
    }
    assert!(r.stderr.contains("waiting for the new bucket to be visible"), "{}", r.stderr);
    assert!(r.stderr.contains("waiting for the bucket's previous change to finish"), "{}", r.stderr);
    assert_eq!(markers(dir.path()), Vec::<String>::new(), "every marker removed once its bucket is tagged");
    let s3 = s3(&a).await;
    let t = tags(&s3, &format!("{c}-edxanalytics")).await;
    assert!(t.contains(&("analytics:client".into(), c.clone())), "{t:?}");

    mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok().all_unchanged();
    mk(&sim, &a, dir.path(), &["--client", &c, "--reports", "--destroy"]).ok();
}

#[tokio::test]
async fn a_bucket_in_another_region_is_named_before_any_change() {
    let a = Account::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "bucket-other-region", 500);

    let c = unique_client("bs");
    let emr = format!("{c}-analytics-emr");
    sim.foreign_bucket(&emr, Some("eu-west-1"), false);
    let r = mk(&sim, &a, dir.path(), &["--client", &c]);
    r.refused(&[&emr, "region eu-west-1", "not us-east-1", "--emr-bucket"]);
    assert!(sim.fired().get("bucket-other-region").copied().unwrap_or(0) > 0, "{}", sim.log());
    // Destroy leaves it alone, and says so.
    let d = mk(&sim, &a, dir.path(), &["--client", &c, "--destroy"]).ok();
    let f = d.json["findings"].as_array().unwrap().iter().find(|f| f["resource"] == emr.as_str()).cloned();
    assert_eq!(f.map(|f| f["code"].clone()), Some("bucket-elsewhere".into()), "{}", d.json["findings"]);
    assert_eq!(d.mutating(), 0);

    // The adopted tracking-logs bucket too: EMR reads it in-region.
    let c = unique_client("bs");
    let logs = format!("{c}-tracking-logs");
    sim.foreign_bucket(&logs, Some("eu-west-1"), false);
    mk(&sim, &a, dir.path(), &["--client", &c]).refused(&[&logs, "eu-west-1", "tracking logs", "replicate"]);

    // And edxapp's bucket for the grades statement.
    let c = unique_client("bs");
    let grades = format!("{c}-edxapp");
    sim.foreign_bucket(&grades, Some("eu-west-1"), false);
    let arn = format!("arn:aws:iam::{}:user/edxapp", a.id);
    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--grades-bucket", &grades, "--edxapp-user-arn", &arn]);
    r.refused(&[&grades, "eu-west-1", "--grades-bucket"]);
    let s3 = s3(&a).await;
    assert!(s3.head_bucket().bucket(format!("{c}-analytics-emr")).send().await.is_err(), "nothing created");
}

#[tokio::test]
async fn a_bucket_of_another_account_is_named_before_any_change() {
    let a = Account::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "bucket-other-account", 500);
    let c = unique_client("bs");
    let config = format!("{c}-edxanalytics");
    sim.foreign_bucket(&config, None, true);
    let r = mk(&sim, &a, dir.path(), &["--client", &c]);
    r.refused(&[&config, "another AWS account", &a.id, "--edxanalytics-bucket"]);
    assert!(sim.fired().get("bucket-other-account").copied().unwrap_or(0) > 0, "{}", sim.log());
    let s3 = s3(&a).await;
    assert!(s3.head_bucket().bucket(format!("{c}-analytics-emr")).send().await.is_err(), "nothing created");
}

/// A run killed after CreateBucket, while S3 still refused the tags, leaves
/// untagged buckets with their markers: the next run finishes them as its
/// own, and destroy deletes them. A same-name bucket made by hand (no
/// marker) is adopted as it is and survives destroy.
#[tokio::test]
async fn buckets_an_interrupted_create_left_are_finished_as_ours() {
    let a = Account::fresh().await;
    let c = unique_client("bs");
    let dir = tempfile::tempdir().unwrap();
    let s3 = s3(&a).await;
    let by_hand = format!("{c}-analytics-api-reports");
    s3.create_bucket().bucket(&by_hand).send().await.unwrap();
    let ours = [format!("{c}-tracking-logs"), format!("{c}-analytics-emr"), format!("{c}-edxanalytics")];

    // Tags refused for a minute: the run is killed while it waits.
    let sim = AwsSim::start(&moto_url(), "bucket-not-visible", 60_000);
    let mut child = command(&sim, &a, dir.path(), &["--client", &c, "--reports"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ours.iter().all(|b| sim.fired_lines("bucket-not-visible").iter().any(|l| l.contains(b.as_str()))) {
        assert!(Instant::now() < deadline, "the tags were never refused:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    sim.end_windows();
    for b in &ours {
        assert!(s3.head_bucket().bucket(b).send().await.is_ok(), "{b} was created");
        assert!(tags(&s3, b).await.is_empty(), "{b} is untagged");
    }
    let mut pending: Vec<String> = ours.iter().map(|b| format!("{b}.bucket-pending.json")).collect();
    pending.sort();
    assert_eq!(markers(dir.path()), pending, "each create left its marker");

    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok();
    for b in &ours {
        assert_eq!(r.action("s3-bucket", b), "updated");
        let f = r.json["findings"].as_array().unwrap().iter().find(|f| f["resource"] == b.as_str());
        assert_eq!(f.map(|f| f["code"].clone()), Some("interrupted-create".into()), "{}", r.json["findings"]);
        assert!(tags(&s3, b).await.contains(&("analytics:managed-by".into(), "mk-buckets".into())), "{b}");
        assert!(s3.get_public_access_block().bucket(b).send().await.is_ok(), "{b}");
        assert!(s3.get_bucket_encryption().bucket(b).send().await.is_ok(), "{b}");
    }
    assert_eq!(r.action("s3-bucket", &by_hand), "unchanged");
    assert!(tags(&s3, &by_hand).await.is_empty(), "the bucket made by hand is not taken over");
    assert_eq!(markers(dir.path()), Vec::<String>::new());
    mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok().all_unchanged();

    let d = mk(&sim, &a, dir.path(), &["--client", &c, "--destroy"]).ok();
    for b in &ours {
        assert_eq!(d.action("s3-bucket", b), "deleted");
    }
    assert!(s3.head_bucket().bucket(&by_hand).send().await.is_ok(), "the bucket made by hand survives destroy");
}

/// ARNs in the region's partition; a principal of another partition is
/// bad input.
#[tokio::test]
async fn arns_follow_the_regions_partition() {
    let a = Account::fresh().await;
    let c = unique_client("bs");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "none", 0);
    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--region", "cn-north-1", "--dry-run"]).ok();
    let ids: Vec<&str> = r.json["changes"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.iter().all(|id| id.starts_with("arn:aws-cn:s3:::")), "{ids:?}");

    let grades = format!("{c}-edxapp");
    let aws_arn = format!("arn:aws:iam::{}:user/edxapp", a.id);
    let args = ["--client", &c, "--region", "cn-north-1", "--grades-bucket", &grades, "--edxapp-user-arn", &aws_arn];
    let r = mk(&sim, &a, dir.path(), &args).bad_input("partition aws-cn");
    assert!(r.stdout.trim().is_empty() || r.total() == 0, "refused before any call");
}
