//! mk-sg through the strict AWS simulation (scripts/aws-sim.py): rules on
//! groups EC2 does not show at once are waited for (logged), each group is
//! made once, and a re-run has nothing to do.

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};

const BIN: &str = env!("CARGO_BIN_EXE_mk-sg");

fn mk(sim: &AwsSim, account: &Account, args: &[&str]) -> ToolRun {
    run(account.command(BIN).env("AWS_ENDPOINT_URL", sim.url()).env("ANALYTICS_RETRY_INITIAL_MS", "50").args(args))
}

#[tokio::test]
async fn rules_on_new_groups_wait_for_them() {
    let a = Account::fresh().await;
    let c = unique_client("gsim");
    let sim = AwsSim::start(&moto_url(), "sg-not-visible", 800);
    let r = mk(&sim, &a, &["--client", &c]);
    assert_eq!(r.status, 0, "{}\n--- sim:\n{}", r.stderr, sim.log());
    assert!(sim.fired().get("sg-not-visible").copied().unwrap_or(0) > 0, "{}", sim.log());
    assert!(r.stderr.contains("waiting for the new security group to be visible"), "{}", r.stderr);
    let ec2 = aws_sdk_ec2::Client::new(&a.sdk().await);
    let tagged = aws_sdk_ec2::types::Filter::builder().name("tag:analytics:client").values(&c).build();
    let groups = ec2.describe_security_groups().filters(tagged).send().await.unwrap();
    let names: Vec<&str> = groups.security_groups().iter().filter_map(|g| g.group_name()).collect();
    assert_eq!(names.len(), 5, "five groups, none made twice: {names:?}");
    let again = mk(&sim, &a, &["--client", &c]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(again.mutating(), 0, "{}", again.json["api_calls"]);
}
