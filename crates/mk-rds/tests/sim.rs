//! mk-rds through the strict AWS simulation (scripts/aws-sim.py, rule
//! `rds-states`: creating -> backing-up -> storage-optimization ->
//! available, modifying after a modify, ModifyDBInstance refused while
//! creating / backing-up / modifying), with a recording proxy in front of
//! it (tests/recorder) to see what the tool sent. Short retry and poll
//! pauses; windows long enough that a loaded machine cannot end them
//! first, ended or held by the test.

mod recorder;

use std::process::Command;
use std::time::{Duration, Instant};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};
use aws_sdk_ec2::types::Filter;
use recorder::{Recorder, list};

const BIN: &str = env!("CARGO_BIN_EXE_mk-rds");
/// A window no machine's load can end before the test does.
const LONG_MS: u64 = 60_000;

struct Env {
    account: Account,
    client: String,
    ec2: aws_sdk_ec2::Client,
    /// Straight to the emulator (no rule applies).
    rds: aws_sdk_rds::Client,
    vpc: String,
    secrets: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let account = Account::fresh().await;
        let sdk = account.sdk().await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpcs = ec2.describe_vpcs().filters(filter("is-default", "true")).send().await.unwrap();
        let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_owned();
        let rds = aws_sdk_rds::Client::new(&sdk);
        Env { client: unique_client("rs"), ec2, rds, vpc, secrets: tempfile::tempdir().unwrap(), account }
    }

    /// The tool through `endpoint`, with short pauses.
    fn mk(&self, endpoint: &str, args: &[&str]) -> Command {
        let mut cmd = self.account.command(BIN);
        cmd.env("AWS_ENDPOINT_URL", endpoint)
            .env("ANALYTICS_RETRY_INITIAL_MS", "50")
            .env("ANALYTICS_POLL_INITIAL_MS", "50")
            .arg("--secrets-dir")
            .arg(self.secrets.path().join("secrets"))
            .args(["--client", &self.client])
            .args(args);
        cmd
    }

    fn id(&self) -> String {
        format!("{}-analytics", self.client)
    }

    async fn group(&self, name: &str) -> String {
        let out =
            self.ec2.create_security_group().group_name(name).description(name).vpc_id(&self.vpc).send().await.unwrap();
        out.group_id().unwrap().to_owned()
    }

    /// A database made by hand in the default VPC (the edxapp one), through
    /// `rds` (the simulation's, to give it its states).
    async fn foreign_instance(&self, rds: &aws_sdk_rds::Client, id: &str, group: &str) {
        let out = self.ec2.describe_subnets().filters(filter("vpc-id", &self.vpc)).send().await.unwrap();
        let subnets: Vec<String> = out.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
        let name = format!("{id}-subnets");
        let sg = self.rds.create_db_subnet_group().db_subnet_group_name(&name).db_subnet_group_description("by hand");
        sg.set_subnet_ids(Some(subnets)).send().await.unwrap();
        rds.create_db_instance()
            .db_instance_identifier(id)
            .engine("mysql")
            .engine_version("8.0")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("root")
            .master_user_password("by-hand-password")
            .db_subnet_group_name(&name)
            .vpc_security_group_ids(group)
            .send()
            .await
            .unwrap();
    }

    async fn maintenance_window(&self, id: &str) -> String {
        let out = self.rds.describe_db_instances().db_instance_identifier(id).send().await.unwrap();
        out.db_instances()[0].preferred_maintenance_window().unwrap().to_owned()
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The finding of `code` about `resource`.
fn finding<'a>(r: &'a ToolRun, code: &str, resource: &str) -> &'a serde_json::Value {
    let all = r.json["findings"].as_array().unwrap();
    all.iter().find(|f| f["code"] == code && f["resource"] == resource).unwrap_or_else(|| {
        panic!("no finding {code} about {resource} in {}", r.json["findings"]);
    })
}

/// Waits (at most 60 s) for a line of `rule` that contains `needle`, while
/// `tool` runs; returns when it appeared.
fn until_line(sim: &AwsSim, rule: &str, needle: &str, tool: &std::thread::JoinHandle<ToolRun>) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if sim.fired_lines(rule).iter().any(|l| l.contains(needle)) {
            return Instant::now();
        }
        assert!(!tool.is_finished(), "the tool ended before {needle:?}:\n{}", sim.log());
        assert!(Instant::now() < deadline, "no {needle:?} within 60 s:\n{}", sim.log());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Holds rds-states at `ratio` of its window (creating below 0.4,
/// backing-up to 0.7, storage-optimization to 1) for the instance created
/// at `t0`, by resizing the window as time passes, until `done` or 60 s.
fn hold(sim: &AwsSim, t0: Instant, ratio: f64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "held for 60 s:\n{}", sim.log());
        let window = t0.elapsed().div_f64(ratio);
        sim.set_delay_ms(u64::try_from(window.as_millis()).unwrap_or(u64::MAX) + 1);
        std::thread::sleep(Duration::from_millis(15));
    }
}

#[tokio::test]
async fn a_new_instance_is_ready_at_storage_optimization_and_a_rerun_sends_nothing() {
    let sim = AwsSim::start(&moto_url(), "rds-states", LONG_MS);
    let rec = Recorder::start(sim.url());
    let e = Env::new().await;
    e.group(&format!("{}-emr-rds", e.client)).await;
    let id = e.id();
    let mut cmd = e.mk(rec.url(), &[]);
    let tool = std::thread::spawn(move || run(&mut cmd));

    // Creating, then backing-up: polled, not ready.
    let t0 = until_line(&sim, "rds-states", &format!("CreateDBInstance {id} -> creating"), &tool);
    until_line(&sim, "rds-states", &format!("DescribeDBInstances {id} -> creating"), &tool);
    let backing_up = format!("DescribeDBInstances {id} -> backing-up");
    hold(&sim, t0, 0.55, || sim.fired_lines("rds-states").iter().any(|l| l.contains(&backing_up)));
    assert!(!tool.is_finished(), "backing-up is not ready:\n{}", sim.log());
    // Storage-optimization: ready.
    hold(&sim, t0, 0.85, || tool.is_finished());
    let r = tool.join().unwrap().ok();
    sim.end_windows();

    assert_eq!(r.action("rds-instance", &id), "created");
    assert_eq!(r.json["outputs"]["status"], "storage-optimization", "{}", r.json["outputs"]);
    let describes: Vec<String> = sim
        .fired_lines("rds-states")
        .into_iter()
        .filter(|l| l.contains(&format!("DescribeDBInstances {id}")))
        .collect();
    assert!(describes.last().unwrap().ends_with("-> storage-optimization"), "{describes:?}");
    assert!(r.stderr.contains(&format!("waiting for DB instance {id} to be available")), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("DB instance {id} is ready (storage-optimization)")), "{}", r.stderr);

    // What the create sent: MySQL 8.4, Extended Support disabled.
    let create = rec.calls("CreateDBInstance", "DBInstanceIdentifier", &id);
    assert_eq!(create.len(), 1, "{create:?}");
    assert_eq!(create[0]["EngineVersion"], "8.4");
    assert_eq!(create[0]["EngineLifecycleSupport"], "open-source-rds-extended-support-disabled");
    assert_eq!(create[0]["MasterUserPassword"], "(not kept)");

    let again = run(&mut e.mk(rec.url(), &[])).ok().all_unchanged();
    assert_eq!(again.json["outputs"]["status"], "available");
}

#[tokio::test]
async fn join_sg_waits_for_the_database_and_applies_immediately_only_when_asked() {
    let sim = AwsSim::start(&moto_url(), "rds-states", LONG_MS);
    let rec = Recorder::start(sim.url());
    let e = Env::new().await;
    let emr_rds = e.group(&format!("{}-emr-rds", e.client)).await;
    let edxapp_sg = e.group(&format!("{}-edxapp-db", e.client)).await;
    let through = e.account.sdk().await.into_builder().endpoint_url(sim.url()).build();
    let (edx1, edx2) = (format!("{}-edxapp", e.client), format!("{}-edxapp2", e.client));
    // Still creating when the tool modifies it: refused, waited out.
    e.foreign_instance(&aws_sdk_rds::Client::new(&through), &edx1, &edxapp_sg).await;

    let mut cmd = e.mk(rec.url(), &["--join-sg", &edx1]);
    let tool = std::thread::spawn(move || run(&mut cmd));
    until_line(&sim, "rds-states", &format!("ModifyDBInstance {edx1} (creating) -> InvalidDBInstanceState"), &tool);
    sim.end_windows();
    let r = tool.join().unwrap().ok();
    let membership = format!("{edx1}/{}-emr-rds", e.client);
    assert_eq!(r.action("rds-security-group-membership", &membership), "created");
    assert!(r.stderr.contains("waiting for the database to become available"), "{}", r.stderr);

    // Sent with ApplyImmediately=false, each try; the document says when it applies.
    let sent = rec.calls("ModifyDBInstance", "DBInstanceIdentifier", &edx1);
    assert!(sent.len() >= 2, "refused, then taken: {sent:?}");
    for form in &sent {
        assert_eq!(form["ApplyImmediately"], "false", "{form:?}");
        assert_eq!(list(form, "VpcSecurityGroupIds."), [edxapp_sg.clone(), emr_rds.clone()], "{form:?}");
    }
    let window = e.maintenance_window(&edx1).await;
    let f = finding(&r, "not-applied-immediately", &edx1);
    let message = f["message"].as_str().unwrap();
    assert!(message.contains(&window) && message.contains("ApplyImmediately=false"), "{message}");
    let change = r.json["changes"].as_array().unwrap().iter().find(|c| c["name"] == membership).unwrap();
    assert!(change["details"].as_array().unwrap().iter().any(|d| d == "ApplyImmediately=false"), "{change}");
    let f = finding(&r, "extended-support", &edx1);
    assert!(f["message"].as_str().unwrap().contains("per vCPU-hour"), "{f}");

    let again = run(&mut e.mk(rec.url(), &["--join-sg", &edx1])).ok().all_unchanged();
    assert_eq!(rec.calls("ModifyDBInstance", "DBInstanceIdentifier", &edx1).len(), sent.len(), "not sent again");
    finding(&again, "extended-support", &edx1);

    // --apply-immediately: ApplyImmediately=true, and the document says what else that applies.
    e.foreign_instance(&e.rds, &edx2, &edxapp_sg).await;
    let r = run(&mut e.mk(rec.url(), &["--join-sg", &edx1, &edx2, "--apply-immediately"])).ok();
    assert_eq!(r.action("rds-security-group-membership", &membership), "unchanged");
    assert_eq!(r.action("rds-security-group-membership", &format!("{edx2}/{}-emr-rds", e.client)), "created");
    assert_eq!(r.mutating(), 1, "{}", r.json["api_calls"]);
    let sent = rec.calls("ModifyDBInstance", "DBInstanceIdentifier", &edx2);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["ApplyImmediately"], "true");
    finding(&r, "applied-immediately", &edx2);
    run(&mut e.mk(rec.url(), &["--join-sg", &edx1, &edx2, "--apply-immediately"])).ok().all_unchanged();
    assert!(sim.fired().keys().all(|k| k == "rds-states"), "{}", sim.log());
}

#[tokio::test]
async fn bad_input_exits_2_before_any_call() {
    let sim = AwsSim::start(&moto_url(), "rds-states", LONG_MS);
    let e = Env::new().await;
    for (args, needle) in [
        (&["--apply-immediately"][..], "--join-sg"),
        (&["--engine-version", "5.7"], "--engine-version"),
        (&["--join-sg", "bad--id", "--apply-immediately"], "--join-sg"),
    ] {
        run(&mut e.mk(sim.url(), args)).bad_input(needle);
    }
    assert_eq!(sim.forwarded(), 0, "no call at all");
    assert!(sim.fired().is_empty(), "{}", sim.log());
}
