//! The whole runbook through the strict AWS simulation (scripts/aws-sim.py,
//! tests/AWS-SIM.md) with every rule on: what real AWS refuses or delays
//! right after a create (groups, gateways, buckets, IAM principals not yet
//! visible; domains processing; databases creating, backing up, optimising
//! storage; instances pending) is waited out, logged, and never duplicated.
//! deploy.sh converges, a re-run makes no mutating call, destroy.sh leaves
//! nothing.

use analytics_tests::sim::AwsSim;
use analytics_tests::{Runbook, moto_url};

mod support;

/// The rules that fire on any first deploy (the others need a foreign
/// bucket, a failing domain or a refused type, which the tools' own tests
/// set up).
const EVERY_DEPLOY: &[&str] = &[
    "sg-not-visible",
    "igw-not-visible",
    "bucket-not-visible",
    "iam-not-propagated",
    "es-processing",
    "rds-states",
    "ec2-pending",
];

#[tokio::test]
async fn deploy_rerun_destroy_through_every_rule() {
    let rb = Runbook::new("strict").await;
    // IAM's window as long as the first steps take, so that the search
    // domain and the hosts meet the just-made user and profile as on AWS.
    let sim = AwsSim::start_with(&moto_url(), "all", 600, &["--rule-delay-ms", "iam-not-propagated=30000"]);
    let through_sim = |script: &str| {
        let mut cmd = rb.command(script);
        cmd.env("AWS_ENDPOINT_URL", sim.url()).env("ANALYTICS_RETRY_INITIAL_MS", "50");
        let out = cmd.output().expect("running bash");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (status, stderr) = through_sim("deploy.sh");
    assert_eq!(status, 0, "deploy.sh through the simulation failed:\n{stderr}\n--- sim log:\n{}", sim.log());
    let fired = sim.fired();
    for rule in EVERY_DEPLOY {
        assert!(fired.get(*rule).copied().unwrap_or(0) > 0, "rule {rule} never fired: {fired:?}\n{}", sim.log());
    }
    assert!(stderr.contains("waiting for"), "the waits are logged:\n{stderr}");
    // Nothing made twice: one of each creation the rules delayed.
    for tool in ["mk-vpc", "mk-sg", "mk-iam", "mk-buckets", "mk-es", "mk-rds", "mk-ec2", "mk-rds-users", "mk-config"] {
        assert_eq!(rb.doc(tool)["error"], serde_json::Value::Null, "{tool}");
    }
    let sdk = rb.account.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let mine = |name: &str| aws_sdk_ec2::types::Filter::builder().name(name).values(&rb.client).build();
    let igws = ec2.describe_internet_gateways().filters(mine("tag:analytics:client")).send().await.unwrap();
    assert!(igws.internet_gateways().len() <= 1, "one internet gateway at most");
    let addresses = ec2.describe_addresses().send().await.unwrap();
    assert_eq!(addresses.addresses().len(), 1, "one Elastic IP");
    let hosts = ec2.describe_instances().filters(mine("tag:analytics:client")).send().await.unwrap();
    let n: usize = hosts.reservations().iter().map(|r| r.instances().len()).sum();
    assert_eq!(n, 2, "two hosts, none launched twice");

    let (status, stderr) = through_sim("deploy.sh");
    assert_eq!(status, 0, "second deploy.sh failed:\n{stderr}");
    let again = rb.doc("deploy-summary");
    assert_eq!(again["api_calls"]["mutating"], 0, "{again}");
    assert_eq!(again["changed"], 0, "{again}");

    let (status, stderr) = through_sim("destroy.sh");
    assert_eq!(status, 0, "destroy.sh through the simulation failed:\n{stderr}\n--- sim log:\n{}", sim.log());
    support::assert_nothing_left(&rb).await;
}
