//! mk-vpc through the strict AWS simulation (scripts/aws-sim.py): a new
//! internet gateway that EC2 does not let be attached at once is waited for
//! (logged), attached once, and a re-run has nothing to do.

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};

const BIN: &str = env!("CARGO_BIN_EXE_mk-vpc");

fn mk(sim: &AwsSim, account: &Account, args: &[&str]) -> ToolRun {
    run(account.command(BIN).env("AWS_ENDPOINT_URL", sim.url()).env("ANALYTICS_RETRY_INITIAL_MS", "50").args(args))
}

#[tokio::test]
async fn a_new_gateway_is_waited_for_then_attached_once() {
    let a = Account::fresh().await;
    let c = unique_client("vsim");
    let sim = AwsSim::start(&moto_url(), "igw-not-visible", 800);
    let r = mk(&sim, &a, &["--client", &c]);
    assert_eq!(r.status, 0, "{}\n--- sim:\n{}", r.stderr, sim.log());
    assert!(sim.fired().get("igw-not-visible").copied().unwrap_or(0) > 0, "{}", sim.log());
    assert!(r.stderr.contains("waiting for the new internet gateway to be visible"), "{}", r.stderr);
    let ec2 = aws_sdk_ec2::Client::new(&a.sdk().await);
    let tagged = aws_sdk_ec2::types::Filter::builder().name("tag:analytics:client").values(&c).build();
    let igws = ec2.describe_internet_gateways().filters(tagged).send().await.unwrap();
    assert_eq!(igws.internet_gateways().len(), 1, "one gateway");
    assert_eq!(igws.internet_gateways()[0].attachments().len(), 1, "attached");
    let again = mk(&sim, &a, &["--client", &c]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(again.mutating(), 0, "{}", again.json["api_calls"]);
}
