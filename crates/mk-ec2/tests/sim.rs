//! mk-ec2 through the strict AWS simulation (scripts/aws-sim.py,
//! tests/AWS-SIM.md): each rule that meets the hosts, one test each. The
//! tool runs against the simulation with short retry and poll pauses; a
//! rule whose window must outlast the tool's first calls (key pairs are
//! made before the launches) gets a long one, ended by the test once the
//! rule has fired.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};
use aws_config::SdkConfig;
use aws_sdk_ec2::types::Filter;

const BIN: &str = env!("CARGO_BIN_EXE_mk-ec2");
/// The Ubuntu 16.04 image every emulated account has (owner Canonical).
const XENIAL: &str = "ami-785db401";
/// A window no machine's load can end before the test does.
const LONG_MS: u64 = 60_000;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct Setup {
    account: Account,
    client: String,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        Setup { account: Account::fresh().await, client: unique_client("ec"), dir: tempfile::tempdir().unwrap() }
    }

    /// The account's SDK configuration: on the emulator, or through the simulation.
    async fn sdk(&self, sim: Option<&AwsSim>) -> SdkConfig {
        let sdk = self.account.sdk().await;
        match sim {
            Some(sim) => sdk.into_builder().endpoint_url(sim.url()).build(),
            None => sdk,
        }
    }

    /// What mk-sg makes: the two groups (through `sim` when given, which
    /// then sees them as just made).
    async fn groups(&self, sim: Option<&AwsSim>) {
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk(sim).await);
        let vpcs = ec2.describe_vpcs().filters(Filter::builder().name("isDefault").values("true").build()).send().await;
        let vpc = vpcs.unwrap().vpcs()[0].vpc_id().unwrap().to_owned();
        for g in ["analytics", "director"] {
            let name = format!("{}-{g}", self.client);
            ec2.create_security_group().group_name(name).description(g).vpc_id(&vpc).send().await.unwrap();
        }
    }

    /// What mk-iam makes: the instance profile with its role.
    async fn profile(&self, sim: Option<&AwsSim>) {
        let iam = aws_sdk_iam::Client::new(&self.sdk(sim).await);
        let name = format!("{}-edxanalytics", self.client);
        iam.create_role().role_name(&name).assume_role_policy_document(TRUST).send().await.unwrap();
        iam.create_instance_profile().instance_profile_name(&name).send().await.unwrap();
        iam.add_role_to_instance_profile().instance_profile_name(&name).role_name(&name).send().await.unwrap();
    }

    fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// The tool through the simulation, with short pauses.
    fn mk(&self, sim: &AwsSim, args: &[&str]) -> Command {
        let mut cmd = self.account.command(BIN);
        cmd.env("AWS_ENDPOINT_URL", sim.url())
            .env("ANALYTICS_RETRY_INITIAL_MS", "50")
            .env("ANALYTICS_POLL_INITIAL_MS", "50")
            .args(["--client", &self.client, "--secrets-dir"])
            .arg(self.secrets())
            .args(args);
        cmd
    }

    async fn instances(&self) -> Vec<aws_sdk_ec2::types::Instance> {
        let ec2 = aws_sdk_ec2::Client::new(&self.sdk(None).await);
        let out = ec2
            .describe_instances()
            .filters(Filter::builder().name("tag:analytics:client").values(&self.client).build())
            .send()
            .await
            .unwrap();
        out.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances).cloned().collect()
    }
}

/// Runs `cmd` while `rule`'s window is open; once the rule has fired, ends
/// the windows (the tool's retries then go through) and waits for the run.
fn run_until_fired(sim: &AwsSim, rule: &str, mut cmd: Command) -> ToolRun {
    let tool = std::thread::spawn(move || run(&mut cmd));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sim.fired().contains_key(rule) && !tool.is_finished() {
        assert!(Instant::now() < deadline, "{rule} never fired:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    sim.end_windows();
    tool.join().expect("the tool's thread")
}

#[tokio::test]
async fn pending_hosts_are_waited_for_then_get_the_address_and_a_rerun_sends_nothing() {
    let sim = AwsSim::start(&moto_url(), "ec2-pending", 800);
    let s = Setup::new().await;
    s.groups(None).await;
    s.profile(None).await;
    let r = run(&mut s.mk(&sim, &["--ami-id", XENIAL])).ok();
    assert_eq!(r.action("ec2-instance", "analytics-1"), "created");
    assert_eq!(r.action("elastic-ip", &format!("{}-analytics", s.client)), "created");
    let analytics = &r.json["outputs"]["instances"]["analytics"][0];
    assert_eq!(analytics["state"], "running", "{}", r.stdout);
    assert_eq!(r.json["outputs"]["elastic_ip"]["instance_id"], analytics["id"], "associated once running");
    assert!(sim.fired().get("ec2-pending").is_some_and(|n| *n >= 2), "{}", sim.log());
    assert!(r.stderr.contains("waiting for instances"), "{}", r.stderr);

    let again = run(&mut s.mk(&sim, &["--ami-id", XENIAL])).ok().all_unchanged();
    assert_eq!(again.json["outputs"]["elastic_ip"], r.json["outputs"]["elastic_ip"]);
    assert_eq!(s.instances().await.len(), 2, "never a second host");
}

#[tokio::test]
async fn a_type_the_region_does_not_offer_is_refused_before_anything_is_made() {
    let sim = AwsSim::start(&moto_url(), "ec2-old-types", 500);
    let s = Setup::new().await;
    s.groups(None).await;
    s.profile(None).await;
    let r = run(&mut s.mk(&sim, &["--ami-id", XENIAL, "--analytics-type", "t2.medium"]))
        .bad_input("--analytics-type t2.medium: instance type t2.medium is not offered in us-east-1");
    assert!(r.stderr.contains("pass --analytics-type t3.medium"), "{}", r.stderr);
    assert_eq!(r.mutating(), 0);
    assert!(sim.fired_lines("ec2-old-types").iter().any(|l| l.contains("DescribeInstanceTypeOfferings")));
    let r = run(&mut s.mk(&sim, &["--ami-id", XENIAL, "--director-type", "t2.micro"])).bad_input("--director-type");
    assert!(r.stderr.contains("pass --director-type t3.micro"), "{}", r.stderr);
    assert!(s.instances().await.is_empty());
    assert!(!s.secrets().exists(), "no key made");
    assert!(!sim.log().contains("RunInstances"), "never launched: {}", sim.log());

    // The defaults are offered.
    let r = run(&mut s.mk(&sim, &["--ami-id", XENIAL])).ok();
    assert_eq!(r.action("ec2-instance", "director-1"), "created");
    let types: Vec<String> =
        s.instances().await.iter().map(|i| i.instance_type().unwrap().as_str().to_owned()).collect();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&"t3.medium".to_owned()) && types.contains(&"t3.micro".to_owned()), "{types:?}");
}

#[tokio::test]
async fn a_key_type_ec2_refuses_is_bad_input_before_any_call() {
    let sim = AwsSim::start(&moto_url(), "ecdsa-key-refused", 500);
    let s = Setup::new().await;
    let key = s.dir.path().join("ops.pub");
    std::fs::write(
        &key,
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBN1Cud+nEpinPAsTgqrUS ops@host\n",
    )
    .unwrap();
    let r = run(s.mk(&sim, &["--public-key"]).arg(&key)).bad_input("an ECDSA key (ecdsa-sha2-nistp256)");
    assert!(r.stderr.contains("only RSA (ssh-rsa) and ED25519 (ssh-ed25519)"), "{}", r.stderr);
    assert_eq!(sim.forwarded(), 0, "no call at all: {}", sim.log());
    assert!(sim.fired().is_empty());
}

#[tokio::test]
async fn a_just_made_group_is_waited_for_by_the_launch() {
    let sim = AwsSim::start(&moto_url(), "sg-not-visible", LONG_MS);
    let s = Setup::new().await;
    s.groups(Some(&sim)).await;
    s.profile(None).await;
    let r = run_until_fired(&sim, "sg-not-visible", s.mk(&sim, &["--ami-id", XENIAL])).ok();
    assert_eq!(r.action("ec2-instance", "analytics-1"), "created");
    let lines = sim.fired_lines("sg-not-visible");
    assert!(
        lines.iter().any(|l| l.contains("RunInstances sg-") && l.ends_with("-> InvalidGroup.NotFound")),
        "{lines:?}"
    );
    assert!(r.stderr.contains("waiting for the new security group to be visible"), "{}", r.stderr);

    run(&mut s.mk(&sim, &["--ami-id", XENIAL])).ok().all_unchanged();
    assert_eq!(s.instances().await.len(), 2);
}

#[tokio::test]
async fn a_just_made_instance_profile_is_waited_for_by_the_launch() {
    let sim = AwsSim::start(&moto_url(), "iam-not-propagated", LONG_MS);
    let s = Setup::new().await;
    s.groups(None).await;
    s.profile(Some(&sim)).await;
    let profile = format!("{}-edxanalytics", s.client);
    let r = run_until_fired(&sim, "iam-not-propagated", s.mk(&sim, &["--ami-id", XENIAL, "--no-director"])).ok();
    assert_eq!(r.action("ec2-instance", "analytics-1"), "created");
    assert_eq!(
        sim.fired_lines("iam-not-propagated")[0],
        format!("aws-sim: rule iam-not-propagated fired: RunInstances {profile} -> InvalidParameterValue")
    );
    assert!(r.stderr.contains("waiting for the new instance profile to reach EC2"), "{}", r.stderr);
    let i = s.instances().await;
    assert!(i[0].iam_instance_profile().unwrap().arn().unwrap().ends_with(&format!("/{profile}")));

    run(&mut s.mk(&sim, &["--ami-id", XENIAL, "--no-director"])).ok().all_unchanged();
}
