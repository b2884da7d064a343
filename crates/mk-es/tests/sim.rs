//! mk-es through the strict AWS simulation (scripts/aws-sim.py,
//! tests/AWS-SIM.md): each rule that meets the search domain, one test
//! each. The tool runs against the simulation with short retry and poll
//! pauses; a rule whose window must outlast the tool's first calls gets a
//! long one, ended by the test once the rule has fired.

use std::process::Command;
use std::time::{Duration, Instant};

use analytics_tests::sim::AwsSim;
use analytics_tests::{Account, ToolRun, moto_url, run, unique_client};
use aws_config::SdkConfig;

const BIN: &str = env!("CARGO_BIN_EXE_mk-es");

/// A window no machine's load can end before the test does.
const LONG_MS: u64 = 60_000;

/// The tool in `account`, through the simulation, with short pauses.
fn mk(account: &Account, sim: &AwsSim, args: &[&str]) -> Command {
    let mut cmd = account.command(BIN);
    cmd.env("AWS_ENDPOINT_URL", sim.url())
        .env("ANALYTICS_RETRY_INITIAL_MS", "50")
        .env("ANALYTICS_POLL_INITIAL_MS", "50")
        .args(args);
    cmd
}

/// The account's SDK configuration, through the simulation.
async fn through(account: &Account, sim: &AwsSim) -> SdkConfig {
    account.sdk().await.into_builder().endpoint_url(sim.url()).build()
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

/// Makes the user mk-iam would make (on the emulator directly).
async fn es_user(account: &Account, client: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&account.sdk().await);
    let out = iam.create_user().user_name(format!("{client}-analytics-elasticsearch")).send().await.unwrap();
    out.user().unwrap().arn().to_owned()
}

#[tokio::test]
async fn a_processing_domain_is_waited_for_and_a_rerun_sends_nothing() {
    let sim = AwsSim::start(&moto_url(), "es-processing", 800);
    let a = Account::fresh().await;
    let c = unique_client("es");
    es_user(&a, &c).await;
    let name = format!("{c}-analytics-es");
    let r = run(&mut mk(&a, &sim, &["--client", &c])).ok();
    assert_eq!(r.action("opensearch-domain", &name), "created");
    assert!(r.json["outputs"]["endpoint"].as_str().is_some_and(|e| e.starts_with("https://")), "{}", r.stdout);
    let fired = sim.fired();
    assert!(fired.get("es-processing").is_some_and(|n| *n >= 2), "the create and a describe: {}", sim.log());
    assert!(r.stderr.contains(&format!("waiting for domain {name}")), "{}", r.stderr);
    let lines = sim.fired_lines("es-processing");
    assert!(lines.iter().any(|l| l.contains(&format!("DescribeDomain {name} -> Processing=true"))), "{lines:?}");

    let again = run(&mut mk(&a, &sim, &["--client", &c])).ok().all_unchanged();
    assert_eq!(again.json["outputs"]["endpoint"], r.json["outputs"]["endpoint"]);
}

#[tokio::test]
async fn a_just_made_grantee_is_waited_for_until_opensearch_takes_the_policy() {
    let sim = AwsSim::start(&moto_url(), "iam-not-propagated", LONG_MS);
    let a = Account::fresh().await;
    let c = unique_client("es");
    let iam = aws_sdk_iam::Client::new(&through(&a, &sim).await);
    let user = iam.create_user().user_name(format!("{c}-reader")).send().await.unwrap();
    let arn = user.user().unwrap().arn().to_owned();
    let name = format!("{c}-analytics-es");

    let r = run_until_fired(&sim, "iam-not-propagated", mk(&a, &sim, &["--client", &c, "--grant-arn", &arn])).ok();
    assert_eq!(r.action("opensearch-domain", &name), "created");
    let lines = sim.fired_lines("iam-not-propagated");
    assert!(
        lines.iter().any(|l| l.contains(&format!("CreateDomain {name} ({arn}) -> InvalidTypeException"))),
        "{}",
        sim.log()
    );
    assert!(r.stderr.contains("waiting for the new IAM user to reach OpenSearch"), "{}", r.stderr);
    assert_eq!(r.json["api_calls"]["by_operation"].get("IAM.GetUser"), None, "no user lookup with --grant-arn");

    run(&mut mk(&a, &sim, &["--client", &c, "--grant-arn", &arn])).ok().all_unchanged();
}

#[tokio::test]
async fn types_and_versions_aws_refuses() {
    let sim = AwsSim::start(&moto_url(), "es-old-types", 500);
    let a = Account::fresh().await;
    let c = unique_client("es");
    es_user(&a, &c).await;
    // T2 is refused everywhere: said before any call, naming what to take.
    for t in ["t2.small", "t2.medium.search"] {
        let r = run(&mut mk(&a, &sim, &["--client", &c, "--instance-type", t])).bad_input("t3.small.search");
        assert!(r.stderr.contains(t), "{}", r.stderr);
    }
    assert_eq!(sim.forwarded(), 0, "no call at all");
    assert!(sim.fired().is_empty(), "{}", sim.log());

    // An engine version the region refuses: AWS's answer, on one line.
    let r = run(&mut mk(&a, &sim, &["--client", &c, "--engine-version", "Elasticsearch_2.3"]));
    assert_eq!(r.status, 1, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("Elasticsearch_2.3 on t3.small.search")
            && errors[0].contains("ValidationException: Elasticsearch_2.3 is not a supported engine version"),
        "{}",
        errors[0]
    );
    assert_eq!(sim.fired()["es-old-types"], 1, "{}", sim.log());
    let es = aws_sdk_opensearch::Client::new(&a.sdk().await);
    assert!(es.describe_domain().domain_name(format!("{c}-analytics-es")).send().await.is_err(), "no domain");
}

#[tokio::test]
async fn an_asynchronous_failure_stops_the_wait_with_its_reason() {
    let sim = AwsSim::start(&moto_url(), "es-async-failure", 500);
    let a = Account::fresh().await;
    let c = unique_client("es");
    es_user(&a, &c).await;
    let name = format!("{c}-esfail");
    let args = ["--client", &c, "--domain-name", &name, "--timeout", "900"];
    for attempt in ["the create", "a re-run"] {
        let start = Instant::now();
        let r = run(&mut mk(&a, &sim, &args));
        assert_eq!(r.status, 1, "{attempt}: {}", r.stderr);
        assert!(start.elapsed() < Duration::from_secs(60), "{attempt}: stopped at once, not at the timeout");
        let errors: Vec<&str> = r.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{}", r.stderr);
        assert!(
            errors[0].contains(&format!("domain {name} failed"))
                && errors[0].contains("ValidationFailed")
                && errors[0].contains("aws-sim es-async-failure"),
            "{attempt}: {}",
            errors[0]
        );
    }
    assert!(sim.fired_lines("es-async-failure").iter().any(|l| l.ends_with("ValidationFailed (Isolated)")));
}
