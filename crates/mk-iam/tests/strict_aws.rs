//! mk-iam through the strict AWS simulation (scripts/aws-sim.py,
//! tests/AWS-SIM.md): IAM refusing a change while another is under way,
//! and the quota of managed policies on the EMR nodes' role that every
//! deployment of the account shares.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};
use aws_sdk_iam::Client;

const BIN: &str = env!("CARGO_BIN_EXE_mk-iam");
const NODES: &str = "EMR_EC2_DefaultRole";
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const ES_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"es:*","Resource":"*"}]}"#;

fn command(sim: &AwsSim, a: &Account, secrets: &Path, retry_ms: u64, args: &[&str]) -> Command {
    let mut cmd = a.command(BIN);
    cmd.env("AWS_ENDPOINT_URL", sim.url())
        .env("ANALYTICS_RETRY_INITIAL_MS", retry_ms.to_string())
        .env("ANALYTICS_POLL_INITIAL_MS", "50")
        .arg("--secrets-dir")
        .arg(secrets)
        .args(args);
    cmd
}

fn mk(sim: &AwsSim, a: &Account, secrets: &Path, args: &[&str]) -> ToolRun {
    run(&mut command(sim, a, secrets, 50, args))
}

/// The one error line of a failed run (exit 1).
#[track_caller]
fn error_line(status: i32, stderr: &str) -> String {
    assert_eq!(status, 1, "expected exit 1; stderr:\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected in:\n{stderr}");
    errors[0].to_owned()
}

/// EMR's nodes' role as another deployment made it, with AWS's policy and
/// `others` policies of other deployments attached.
async fn nodes_role_with(iam: &Client, account: &str, others: usize) -> Vec<String> {
    iam.create_role().role_name(NODES).assume_role_policy_document(EC2_TRUST).send().await.unwrap();
    let aws = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role";
    iam.attach_role_policy().role_name(NODES).policy_arn(aws).send().await.unwrap();
    let mut arns = Vec::new();
    for _ in 0..others {
        let name = format!("{}-elasticsearch-all", unique_client("other"));
        iam.create_policy().policy_name(&name).policy_document(ES_ALL).send().await.unwrap();
        let arn = format!("arn:aws:iam::{account}:policy/{name}");
        iam.attach_role_policy().role_name(NODES).policy_arn(&arn).send().await.unwrap();
        arns.push(arn);
    }
    arns
}

async fn attached(iam: &Client, role: &str) -> usize {
    iam.list_attached_role_policies().role_name(role).send().await.unwrap().attached_policies().len()
}

#[tokio::test]
async fn concurrent_changes_are_waited_out_and_a_rerun_changes_nothing() {
    let a = Account::fresh().await;
    let c = unique_client("iams");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "iam-concurrent-modification,iam-not-propagated", 500);
    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok();
    assert_eq!(r.action("iam-role-policy-attachment", &format!("{NODES}/{c}-elasticsearch-all")), "created");
    let fired = sim.fired();
    assert!(fired.get("iam-concurrent-modification").copied().unwrap_or(0) >= 4, "{fired:?}\n{}", sim.log());
    assert!(r.stderr.contains("waiting for IAM to finish a concurrent change"), "{}", r.stderr);
    // mk-iam sends nothing that names a principal made seconds ago: its
    // trust policies name services, and the users are granted elsewhere.
    assert_eq!(fired.get("iam-not-propagated"), None, "{}", sim.log());
    mk(&sim, &a, dir.path(), &["--client", &c, "--reports"]).ok().all_unchanged();
    mk(&sim, &a, dir.path(), &["--client", &c, "--destroy"]).ok();
}

#[tokio::test]
async fn a_shared_role_at_its_quota_stops_the_run_before_any_change() {
    let a = Account::fresh().await;
    let iam = Client::new(&a.sdk().await);
    let others = nodes_role_with(&iam, &a.id, 9).await;
    let c = unique_client("iams");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "iam-policy-quota", 300);

    let r = mk(&sim, &a, dir.path(), &["--client", &c]);
    let line = error_line(r.status, &r.stderr);
    for needle in [NODES, "has 10 managed policies attached", "allows 10", &format!("{c}-elasticsearch-all")] {
        assert!(line.contains(needle), "{line:?} should name {needle:?}");
    }
    assert!(line.contains("--emr-ec2-role") && line.contains("Service Quotas"), "what to do: {line}");
    assert_eq!(r.mutating(), 0, "nothing made before the refusal: {}", r.json["api_calls"]);
    assert_eq!(sim.fired().get("iam-policy-quota"), None, "no attach was even tried");
    let dry = mk(&sim, &a, dir.path(), &["--client", &c, "--dry-run"]);
    assert!(error_line(dry.status, &dry.stderr).contains(NODES), "a dry run says so too");

    // A deployment gone: its policy detached, there is room again.
    iam.detach_role_policy().role_name(NODES).policy_arn(&others[0]).send().await.unwrap();
    mk(&sim, &a, dir.path(), &["--client", &c]).ok();
    assert_eq!(attached(&iam, NODES).await, 10);
    mk(&sim, &a, dir.path(), &["--client", &c]).ok().all_unchanged();
}

/// Two deployments of the account seeing the last place free at once: the
/// one whose attach IAM refuses (the simulation's LimitExceeded) explains
/// it the same way. Made deterministic by holding the attach back (one
/// ConcurrentModification, a long pause) while another deployment takes
/// the place.
#[tokio::test]
async fn losing_the_last_place_to_another_deployment_is_explained() {
    let a = Account::fresh().await;
    let iam = Client::new(&a.sdk().await);
    nodes_role_with(&iam, &a.id, 8).await;
    let c = unique_client("iams");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "iam-policy-quota,iam-concurrent-modification", 300);
    let child = command(&sim, &a, dir.path(), 4000, &["--client", &c])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.fired_lines("iam-concurrent-modification").iter().any(|l| l.contains(NODES)) {
        assert!(Instant::now() < deadline, "the attach to {NODES} never came:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The other deployment takes the tenth place while this one waits.
    let name = format!("{}-elasticsearch-all", unique_client("other"));
    iam.create_policy().policy_name(&name).policy_document(ES_ALL).send().await.unwrap();
    let arn = format!("arn:aws:iam::{}:policy/{name}", a.id);
    iam.attach_role_policy().role_name(NODES).policy_arn(&arn).send().await.unwrap();

    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = error_line(out.status.code().unwrap_or(-1), &stderr);
    assert!(line.contains(NODES) && line.contains("PoliciesPerRole: 10"), "{line}");
    assert!(line.contains("--emr-ec2-role") && line.contains("Service Quotas"), "what to do: {line}");
    assert!(sim.fired().get("iam-policy-quota").copied().unwrap_or(0) > 0, "{}", sim.log());
    assert_eq!(attached(&iam, NODES).await, 10);
}

/// The ARNs mk-iam builds are in the region's partition; a domain ARN of
/// another partition is bad input.
#[tokio::test]
async fn arns_follow_the_regions_partition() {
    let a = Account::fresh().await;
    let c = unique_client("iams");
    let dir = tempfile::tempdir().unwrap();
    let sim = AwsSim::start(&moto_url(), "none", 0);
    let r = mk(&sim, &a, dir.path(), &["--client", &c, "--reports", "--region", "cn-north-1", "--dry-run"]).ok();
    let out = &r.json["outputs"];
    assert_eq!(out["policies"]["elasticsearch_all"], format!("arn:aws-cn:iam::{}:policy/{c}-elasticsearch-all", a.id));
    assert_eq!(out["roles"]["emr_ec2_default"], format!("arn:aws-cn:iam::{}:role/{NODES}", a.id));
    let ids: Vec<&str> = r.json["changes"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.iter().any(|id| id.starts_with("arn:aws-cn:iam::aws:policy/")), "{ids:?}");
    assert!(!r.stdout.contains("arn:aws:"), "{}", r.stdout);

    let arn = format!("arn:aws:es:us-east-1:{}:domain/{c}-es", a.id);
    mk(&sim, &a, dir.path(), &["--client", &c, "--region", "cn-north-1", "--es-domain-arn", &arn])
        .bad_input("partition aws-cn");
}
