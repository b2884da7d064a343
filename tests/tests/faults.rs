//! Fault injection: deploy.sh through scripts/fault-proxy.py, which answers
//! 10% of the AWS calls with throttling or 500s in each service's wire
//! format (without forwarding them), still completes, and leaves exactly the
//! end state of a fault-free run: nothing duplicated (internet gateway,
//! security groups, access keys, instances, Elastic IP, search domain,
//! database, key pairs, policy versions, EMR cluster), and a re-run without
//! the proxy has nothing left to do. And each fault, in each service's
//! format, is one the SDK reads as its code and retries.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use analytics_tests::{Account, Runbook, bin, moto_url, repo_root, run, s3_client};
use aws_config::retry::RetryConfig;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::Filter;
use serde_json::Value;

/// scripts/fault-proxy.py, running for as long as this guard lives.
///
/// Stopped on drop: closing its stdin makes it shut down cleanly
/// (`--stop-on-stdin-eof`), SIGKILL after 5 s if it has not. The same pipe
/// ends it if this test process dies without dropping the guard.
struct FaultProxy {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl FaultProxy {
    fn start(upstream: &str, rate: f64, kinds: &str, seed: u64, delay_ms: u64) -> FaultProxy {
        FaultProxy::start_losing(upstream, rate, kinds, seed, delay_ms, "")
    }

    /// As [`FaultProxy::start`], also losing the first answer to each of
    /// `lose_first` (comma-separated operations), whatever the draws.
    fn start_losing(upstream: &str, rate: f64, kinds: &str, seed: u64, delay_ms: u64, lose_first: &str) -> FaultProxy {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port_file = dir.path().join("port");
        let log = dir.path().join("fault-proxy.log");
        let mut child = Command::new(python())
            .arg(repo_root().join("scripts/fault-proxy.py"))
            .args(["--upstream", upstream, "--port-file"])
            .arg(&port_file)
            .args(["--fault-rate", &rate.to_string(), "--kinds", kinds, "--seed", &seed.to_string()])
            .args(["--delay-ms", &delay_ms.to_string(), "--lose-first", lose_first, "--stop-on-stdin-eof", "-v"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("proxy log"))
            .spawn()
            .expect("starting scripts/fault-proxy.py");
        let stdin = child.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().to_owned();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("fault-proxy.py exited ({status}):\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "fault-proxy.py wrote no port file within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        FaultProxy { child, stdin, url: format!("http://127.0.0.1:{port}"), log, _dir: dir }
    }

    /// `GET /fault-proxy/stats`, over a bare socket (no HTTP client needed).
    fn stats(&self) -> Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connecting to the proxy");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /fault-proxy/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("reading the proxy's stats");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("stats are not JSON ({e}): {answer}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        analytics_tests::stop_on_stdin_eof(&mut self.child, self.stdin.take());
    }
}

/// The harness venv's python (next to the emulator run dir), else python3.
fn python() -> PathBuf {
    std::env::var_os("ANALYTICS_EMULATOR_RUN")
        .map(|run| PathBuf::from(run).join("../venv/bin/python"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).to_owned()
}

fn tag(key: &str, value: &str) -> Filter {
    Filter::builder().name(format!("tag:{key}")).values(value).build()
}

/// The resources a tool's document names: `kind name id` lines.
fn identities(doc: &Value) -> BTreeSet<String> {
    doc["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {doc}"))
        .iter()
        .map(|c| format!("{} {} {}", s(&c["kind"]), s(&c["name"]), c["id"].as_str().unwrap_or("")))
        .collect()
}

const TOOLS: [&str; 8] = ["mk-vpc", "mk-iam", "mk-buckets", "mk-sg", "mk-es", "mk-rds", "mk-ec2", "mk-config"];

#[tokio::test]
async fn deploy_converges_through_faults() {
    let t0 = Instant::now();
    let rb = Runbook::new("flt").await;
    let c = rb.client.clone();
    // Seed 7 draws both kinds within the first 50 requests (deploy.sh sends
    // over 100), so both are always injected; 5 ms more latency on every answer.
    let proxy = FaultProxy::start(&moto_url(), 0.1, "throttle,500", 7, 5);

    // deploy.sh through the proxy completes.
    let out = rb.command("deploy.sh").env("AWS_ENDPOINT_URL", &proxy.url).output().expect("running deploy.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "deploy.sh failed through the proxy:\n{stderr}\nproxy:\n{}", proxy.log());
    let t_deploy = t0.elapsed();

    // The proxy really injected faults, and the tools retried them.
    let deploy_stats = proxy.stats();
    let faults = deploy_stats["faults"].as_u64().unwrap();
    assert!(faults > 0, "no fault injected: {deploy_stats}");
    assert!(deploy_stats["faults_by_kind"]["throttle"].as_u64().unwrap() > 0, "{deploy_stats}");
    assert!(deploy_stats["faults_by_kind"]["500"].as_u64().unwrap() > 0, "{deploy_stats}");
    assert_eq!(deploy_stats["upstream_errors"], 0, "{deploy_stats}");
    let mut retried = Vec::new();
    let mut sent = 0;
    for tool in TOOLS {
        let calls = &rb.doc(tool)["api_calls"];
        let (total, attempts) = (calls["total"].as_u64().unwrap(), calls["attempts"].as_u64().unwrap());
        assert!(attempts >= total, "{tool}: {calls}");
        sent += attempts;
        if attempts > total {
            retried.push(format!("{tool} {}/{total}", attempts - total));
        }
    }
    assert!(!retried.is_empty(), "no tool retried anything: {deploy_stats}");
    // Every attempt went through the proxy, forwarded or faulted (more than
    // the documents show: mk-es, mk-rds and mk-ec2 run twice, the first
    // document is overwritten).
    assert!(
        deploy_stats["forwarded"].as_u64().unwrap() + faults >= sent,
        "the tools' attempts did not all go through the proxy: {sent} attempts, {deploy_stats}"
    );

    // EMR too (awsJson, not used by deploy.sh): emr-launch through the proxy.
    let cluster_name = format!("{c}-nightly");
    let vars = rb.secrets.join("emr-vars.yml");
    let emr_launch = || {
        let mut cmd = rb.account.command(bin("emr-launch"));
        cmd.env("CLUSTER_NAME", &cluster_name).env("ANALYTICS_POLL_INITIAL_MS", "50").arg("--vars").arg(&vars);
        cmd
    };
    let emr = run(emr_launch().env("AWS_ENDPOINT_URL", &proxy.url));
    assert_eq!(emr.status, 0, "emr-launch failed through the proxy:\n{}\nproxy:\n{}", emr.stderr, proxy.log());
    let cluster_id = s(&emr.json["outputs"]["cluster_id"]);
    let stats = proxy.stats();
    drop(proxy);

    // The end state, read straight from the emulator in the deployment's account.
    let sdk = rb.account.sdk().await;
    let s3 = s3_client(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let client_tag = || tag("analytics:client", &c);

    // Network: one internet gateway of the client, attached to the VPC.
    let vpc_id = s(&rb.doc("mk-vpc")["outputs"]["vpc_id"]);
    let igws = ec2.describe_internet_gateways().filters(client_tag()).send().await.unwrap();
    assert_eq!(igws.internet_gateways().len(), 1, "internet gateways: {:?}", igws.internet_gateways());
    let attached =
        ec2.describe_internet_gateways().filters(Filter::builder().name("attachment.vpc-id").values(&vpc_id).build());
    assert_eq!(attached.send().await.unwrap().internet_gateways().len(), 1, "gateways attached to {vpc_id}");

    // One set of security groups: the five mk-sg names, each once.
    let want: BTreeSet<String> =
        rb.doc("mk-sg")["outputs"]["security_groups"].as_object().unwrap().values().map(s).collect();
    assert_eq!(want.len(), 5, "{want:?}");
    let groups = ec2.describe_security_groups().filters(client_tag()).send().await.unwrap();
    let got: Vec<String> = groups.security_groups().iter().map(|g| g.group_id().unwrap().to_owned()).collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want, "the client's security groups: {got:?}");
    assert_eq!(got.len(), want.len(), "{got:?}");
    let names: BTreeSet<&str> = groups.security_groups().iter().filter_map(|g| g.group_name()).collect();
    assert_eq!(names.len(), got.len(), "a group name twice: {names:?}");

    // IAM: the two users, one access key each, and its one key file.
    let users: Vec<String> = iam
        .list_users()
        .send()
        .await
        .unwrap()
        .users()
        .iter()
        .map(|u| u.user_name().to_owned())
        .filter(|u| u.starts_with(&c))
        .collect();
    assert_eq!(users.len(), 2, "{users:?}");
    for user in &users {
        let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
        let ids: Vec<&str> = keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).collect();
        assert_eq!(ids.len(), 1, "{user} has access keys {ids:?}");
        let files: Vec<PathBuf> = std::fs::read_dir(&rb.secrets)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(&format!("{user}.access-key.json")))
            .collect();
        assert_eq!(files.len(), 1, "{user}: key files {files:?}");
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        assert_eq!(stored["access_key_id"], ids[0], "{user}: the key file holds the live key");
    }
    let key_files = std::fs::read_dir(&rb.secrets)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".access-key.json"))
        .count();
    assert_eq!(key_files, users.len(), "one key file per user");
    // One instance profile holding one role; each managed policy at one version.
    let profile = iam.get_instance_profile().instance_profile_name(format!("{c}-edxanalytics")).send().await.unwrap();
    assert_eq!(profile.instance_profile().unwrap().roles().len(), 1);
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    let ours: Vec<_> = policies.policies().iter().filter(|p| p.policy_name().unwrap_or("").starts_with(&c)).collect();
    assert!(!ours.is_empty(), "no policy of {c}");
    for p in ours {
        let versions = iam.list_policy_versions().policy_arn(p.arn().unwrap()).send().await.unwrap();
        assert_eq!(versions.versions().len(), 1, "{:?} has versions {:?}", p.policy_name(), versions.versions());
    }

    // Hosts: one analytics and one director instance, not terminated.
    let instances = ec2
        .describe_instances()
        .filters(client_tag())
        .filters(Filter::builder().name("instance-state-name").values("pending").values("running").build())
        .send()
        .await
        .unwrap();
    let mut hosts: Vec<String> = instances
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .map(|i| {
            let name = i.tags().iter().find(|t| t.key() == Some("Name")).and_then(|t| t.value()).unwrap_or("?");
            name.to_owned()
        })
        .collect();
    hosts.sort();
    assert_eq!(hosts.len(), 2, "live instances of {c}: {hosts:?}");
    assert!(hosts[0].contains("analytics") && hosts[1].contains("director"), "{hosts:?}");
    // One Elastic IP, and one key pair per host.
    let addresses = ec2.describe_addresses().send().await.unwrap();
    assert_eq!(addresses.addresses().len(), 1, "Elastic IPs: {:?}", addresses.addresses());
    let key_pairs = ec2.describe_key_pairs().send().await.unwrap();
    let key_names: Vec<&str> = key_pairs.key_pairs().iter().filter_map(|k| k.key_name()).collect();
    assert_eq!(key_names.len(), 2, "key pairs: {key_names:?}");
    assert_eq!(key_names.iter().collect::<BTreeSet<_>>().len(), 2, "key pairs: {key_names:?}");

    // One search domain, one database, the four buckets.
    let domains = es.list_domain_names().send().await.unwrap();
    assert_eq!(domains.domain_names().len(), 1, "search domains: {:?}", domains.domain_names());
    let dbs = rds.describe_db_instances().send().await.unwrap();
    assert_eq!(dbs.db_instances().len(), 1, "DB instances: {:?}", dbs.db_instances());
    let buckets = s3.list_buckets().send().await.unwrap();
    let ours = buckets.buckets().iter().filter(|b| b.name().unwrap_or("").starts_with(&c)).count();
    assert_eq!(ours, 4, "buckets of {c}");

    // A re-run without the proxy has nothing left to do, and finds the very
    // resources the faulty run reported (same kinds, names and ids).
    let faulty: Vec<(&str, BTreeSet<String>)> = TOOLS.iter().map(|t| (*t, identities(&rb.doc(t)))).collect();
    let (status, _, stderr) = rb.run("deploy.sh");
    assert_eq!(status, 0, "deploy.sh without the proxy failed:\n{stderr}");
    let again = rb.doc("deploy-summary");
    assert_eq!(again["api_calls"]["mutating"], 0, "the faulty run did not converge: {again}");
    assert_eq!(again["changed"], 0, "{again}");
    for (tool, before) in faulty {
        let doc = rb.doc(tool);
        assert_eq!(identities(&doc), before, "{tool}: the re-run found other resources");
        assert_eq!(doc["api_calls"]["attempts"], doc["api_calls"]["total"], "{tool}: retries without faults");
    }
    // The EMR cluster is live once, and a fault-free emr-launch reuses it.
    let emr = run(&mut emr_launch()).ok();
    assert_eq!(emr.mutating(), 0, "{}", emr.stdout);
    assert_eq!(emr.json["outputs"]["cluster_id"], cluster_id.as_str());
    assert_eq!(emr.action("emr-cluster", &cluster_name), "unchanged");
    assert!(
        !emr.stdout.contains("live clusters are named"),
        "a second cluster was launched through the proxy:\n{}",
        emr.stdout
    );

    eprintln!(
        "faults: deploy.sh {deploy_stats}; with emr-launch {stats}; retried (extra attempts/calls): {}; \
         deploy through the proxy {:.1}s, whole test {:.1}s",
        retried.join(", "),
        t_deploy.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// What a call through an always-faulting proxy gave: (HTTP status, error code).
fn failure<T: std::fmt::Debug, E: ProvideErrorMetadata>(
    r: Result<T, aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>>,
) -> (u16, Option<String>) {
    let e = r.expect_err("a call through a proxy at fault rate 1 must fail");
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (status, e.code().map(str::to_owned))
}

/// An error answer: HTTP status and error code.
type Answer = (u16, &'static str);

/// What the real services answer: (service, throttling, internal error).
const WIRE: [(&str, Answer, Answer); 7] = [
    ("ec2", (503, "RequestLimitExceeded"), (500, "InternalError")),
    ("iam", (400, "Throttling"), (500, "InternalFailure")),
    ("sts", (400, "Throttling"), (500, "InternalFailure")),
    ("rds", (400, "Throttling"), (500, "InternalFailure")),
    ("emr", (400, "ThrottlingException"), (500, "InternalFailure")),
    ("es", (429, "ThrottlingException"), (500, "InternalException")),
    ("s3", (503, "SlowDown"), (500, "InternalError")),
];

/// One read of `service` through `sdk`: (HTTP status, error code).
async fn fail_one(service: &str, sdk: &aws_config::SdkConfig) -> (u16, Option<String>) {
    match service {
        "ec2" => failure(aws_sdk_ec2::Client::new(sdk).describe_vpcs().send().await),
        "iam" => failure(aws_sdk_iam::Client::new(sdk).list_users().send().await),
        "sts" => failure(aws_sdk_sts::Client::new(sdk).get_caller_identity().send().await),
        "rds" => failure(aws_sdk_rds::Client::new(sdk).describe_db_instances().send().await),
        "emr" => failure(aws_sdk_emr::Client::new(sdk).list_clusters().send().await),
        "es" => failure(aws_sdk_opensearch::Client::new(sdk).list_domain_names().send().await),
        "s3" => failure(s3_client(sdk).list_buckets().send().await),
        // HEAD: no body, as S3 answers; the status alone says it.
        "s3 head" => (failure(s3_client(sdk).head_bucket().bucket("b").send().await).0, None),
        _ => unreachable!("{service}"),
    }
}

/// Every fault kind, in every service's wire format: the SDK reads the code
/// the real service sends, and retries it (2 attempts allowed, 2 faults seen
/// per call).
#[tokio::test]
async fn faults_are_in_each_services_wire_format() {
    let account = Account::fresh().await;
    for kind in ["throttle", "500"] {
        let proxy = FaultProxy::start(&moto_url(), 1.0, kind, 1, 0);
        let retry = RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(1));
        let sdk = account.sdk().await.into_builder().endpoint_url(&proxy.url).retry_config(retry).build();
        let mut calls = 0;
        for (service, throttle, internal) in WIRE {
            let want = if kind == "throttle" { throttle } else { internal };
            assert_eq!(fail_one(service, &sdk).await, (want.0, Some(want.1.to_owned())), "{kind} fault of {service}");
            calls += 1;
            if service == "s3" {
                assert_eq!(fail_one("s3 head", &sdk).await, (want.0, None), "{kind} fault of S3 HEAD");
                calls += 1;
            }
        }
        let stats = proxy.stats();
        assert_eq!(stats["faults"], 2 * calls, "every {kind} fault retried once: {stats}");
        assert_eq!(stats["forwarded"], 0, "{stats}");
    }
}

/// One tool of the network/identity/hosts steps, the seed of its own proxy,
/// and the creates whose answers that seed loses (each at least once).
struct LostStep {
    tool: &'static str,
    kinds: &'static str,
    seed: u64,
    lost: &'static [&'static str],
    /// Lost whatever the draws (for a tool whose calls run concurrently, so
    /// that which call gets which draw depends on arrival order).
    lose_first: &'static str,
}

/// Rate of faults in [`creates_survive_lost_answers`]: high, so that the
/// few creates of each tool are hit.
const LOST_RATE: f64 = 0.35;

/// Each tool gets its own proxy and seed, and the tools run one after the
/// other: the proxy draws in arrival order, and within one tool that order
/// is fixed from one run to the next (concurrent calls only swap faults
/// among themselves), so each seed below loses the answers it names.
/// mk-vpc's three creates come one after the other, so that step only
/// loses answers (no throttling), at the same rate. mk-iam applies its
/// steps concurrently, which would make the order vary: it runs once
/// without faults, then through the proxy with only one user's access key
/// to make again.
const LOST_STEPS: [LostStep; 4] = [
    LostStep {
        tool: "mk-vpc",
        kinds: "lost",
        seed: 56,
        lost: &["CreateInternetGateway", "AttachInternetGateway", "CreateRoute"],
        lose_first: "",
    },
    LostStep { tool: "mk-sg", kinds: "lost,throttle", seed: 7, lost: &["CreateSecurityGroup"], lose_first: "" },
    // Twice in a row (that is two keys without secret to clean up).
    LostStep { tool: "mk-iam", kinds: "lost,throttle", seed: 19, lost: &["CreateAccessKey"], lose_first: "" },
    // mk-ec2 makes its keys itself and imports them; the SDK's retry of a
    // lost AssociateAddress re-associates the address with the same host.
    // RunInstances must not be lost: the emulator ignores ClientToken (AWS
    // returns the same instance), so its retry launches a second host. Its
    // key pairs and hosts go at once, so the losses are named, not drawn.
    LostStep {
        tool: "mk-ec2",
        kinds: "throttle",
        seed: 160,
        lost: &["ImportKeyPair", "AllocateAddress", "AssociateAddress"],
        lose_first: "ImportKeyPair,AllocateAddress,AssociateAddress",
    },
];

/// Lost answers: the proxy forwards the call, then drops the answer and
/// sends a 500, so a retry repeats a call that took effect (as a lost
/// connection does on AWS). The creates nothing deduplicates (internet
/// gateway, Elastic IP, access key) are not repeated blindly, and those that
/// answer "already exists" to their own retry (gateway attachment, route,
/// security group, key pair) carry on: each tool succeeds, nothing is
/// duplicated, no secret is lost, and a fault-free re-run has nothing to do.
#[tokio::test]
async fn creates_survive_lost_answers() {
    let rb = Runbook::new("lost").await;
    let c = rb.client.clone();
    let tool = |name: &str| {
        let mut cmd = rb.account.command(bin(name));
        cmd.env("ANALYTICS_CLIENT", &c)
            .env("ANALYTICS_SECRETS_DIR", &rb.secrets)
            .env("ANALYTICS_POLL_INITIAL_MS", "50");
        cmd
    };
    let mut vpc_id = String::new();
    let args = |name: &str, vpc_id: &str| -> Vec<String> {
        match name {
            "mk-vpc" => vec![],
            "mk-sg" => vec!["--vpc-id".into(), vpc_id.into()],
            "mk-iam" => vec!["--reports".into()],
            "mk-ec2" => vec!["--vpc-id".into(), vpc_id.into(), "--ubuntu-release".into(), "16.04".into()],
            _ => unreachable!("{name}"),
        }
    };
    let sdk = rb.account.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let mut docs = Vec::new();
    for step in &LOST_STEPS {
        if step.tool == "mk-iam" {
            run(tool(step.tool).args(args(step.tool, &vpc_id))).ok();
            let user = format!("{c}-analytics-elasticsearch");
            let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
            for k in keys.access_key_metadata() {
                iam.delete_access_key()
                    .user_name(&user)
                    .access_key_id(k.access_key_id().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            std::fs::remove_file(rb.secrets.join(format!("{user}.access-key.json"))).unwrap();
        }
        let proxy = FaultProxy::start_losing(&moto_url(), LOST_RATE, step.kinds, step.seed, 0, step.lose_first);
        let r = run(tool(step.tool).args(args(step.tool, &vpc_id)).env("AWS_ENDPOINT_URL", &proxy.url));
        let log = proxy.log();
        assert_eq!(r.status, 0, "{} failed through lost answers:\n{}\nproxy:\n{log}", step.tool, r.stderr);
        let stats = proxy.stats();
        drop(proxy);
        for op in step.lost {
            assert!(
                log.contains(&format!(" {op} POST / -> fault lost")),
                "{}: seed {} no longer loses an answer to {op} (the tool's calls changed?): pick a seed that \
                 does (see this test's comment)\nproxy:\n{log}",
                step.tool,
                step.seed
            );
        }
        eprintln!("{}: {stats}", step.tool);
        if step.tool == "mk-vpc" {
            vpc_id = s(&r.json["outputs"]["vpc_id"]);
        }
        docs.push((step.tool, identities(&r.json)));
    }

    let client_tag = || tag("analytics:client", &c);

    // One internet gateway, attached, and the route to it.
    let igws = ec2.describe_internet_gateways().filters(client_tag()).send().await.unwrap();
    let igws = igws.internet_gateways();
    assert_eq!(igws.len(), 1, "internet gateways: {igws:?}");
    let igw = igws[0].internet_gateway_id().unwrap();
    assert_eq!(igws[0].attachments().iter().filter_map(|a| a.vpc_id()).collect::<Vec<_>>(), [vpc_id.as_str()]);
    let tables = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .unwrap();
    for t in tables.route_tables() {
        let default: Vec<_> = t.routes().iter().filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).collect();
        assert_eq!(default.len(), 1, "{:?}: {default:?}", t.route_table_id());
        assert_eq!(default[0].gateway_id(), Some(igw), "{:?}", t.route_table_id());
    }

    // Five security groups, each name once.
    let groups = ec2.describe_security_groups().filters(client_tag()).send().await.unwrap();
    let names: BTreeSet<&str> = groups.security_groups().iter().filter_map(|g| g.group_name()).collect();
    assert_eq!((groups.security_groups().len(), names.len()), (5, 5), "{names:?}");

    // One access key per user, the one its key file holds.
    for (_, user) in [("es", format!("{c}-analytics-elasticsearch")), ("reports", format!("{c}-analytics-reports"))] {
        let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
        let ids: Vec<&str> = keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).collect();
        assert_eq!(ids.len(), 1, "{user} has access keys {ids:?}");
        let file = rb.secrets.join(format!("{user}.access-key.json"));
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(stored["access_key_id"], ids[0], "{user}: the key file holds the live key");
    }

    // One Elastic IP; each key pair once, with its private key on disk.
    let addresses = ec2.describe_addresses().send().await.unwrap();
    assert_eq!(addresses.addresses().len(), 1, "Elastic IPs: {:?}", addresses.addresses());
    let key_pairs = ec2.describe_key_pairs().send().await.unwrap();
    let key_names: Vec<&str> = key_pairs.key_pairs().iter().filter_map(|k| k.key_name()).collect();
    assert_eq!(key_names.len(), 2, "key pairs: {key_names:?}");
    for name in key_names {
        assert!(rb.secrets.join(format!("{name}.pem")).is_file(), "key pair {name} has no private key file");
    }

    // A fault-free re-run of each tool has nothing to do, and finds the
    // very resources the lossy run reported.
    for (step, (name, before)) in LOST_STEPS.iter().zip(docs) {
        let r = run(tool(step.tool).args(args(step.tool, &vpc_id))).ok();
        assert_eq!(r.mutating(), 0, "{name}: the lossy run did not converge: {}", r.stdout);
        assert_eq!(identities(&r.json), before, "{name}: the re-run found other resources");
        assert!(!r.stdout.contains("lost?"), "{name}: a secret was lost: {}", r.stdout);
    }
}

/// The operations whose answer the proxy lost, from its `-v` log.
fn lost_answers(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.ends_with("-> fault lost")).filter_map(|l| l.split_whitespace().nth(2)).collect()
}

/// mk-iam's other calls through lost answers (beyond the access keys of
/// [`creates_survive_lost_answers`]). The proxy draws in arrival order and
/// mk-iam reads everything before it changes anything, so with a fixed seed
/// the draws of its first changes are fixed too:
///
/// 1. A drifted policy at IAM's five-version quota, and the client's
///    instance profile holding another role: one step in each phase, its
///    calls one after the other, and seed 38 loses the answers of all of
///    them. Sent again, CreatePolicyVersion would make a sixth version
///    (LimitExceeded), RemoveRoleFromInstanceProfile finds the role gone (a
///    500 on the emulator, NoSuchEntity on AWS), AddRoleToInstanceProfile
///    finds the profile full (LimitExceeded).
/// 2. Everything from nothing in a fresh account, then `--destroy`: the
///    first calls after the reads are all creates (policies, roles, users,
///    whose repeat answers EntityAlreadyExists), then all deletes; which of
///    them seed 10 hits depends on arrival order, that it hits some does not.
///
/// Each run succeeds, nothing is duplicated, and a fault-free re-run has
/// nothing to do.
#[tokio::test]
async fn iam_calls_survive_lost_answers() {
    const RATE: f64 = 0.35;
    let c = analytics_tests::unique_client("iaml");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mk_iam = |account: &Account, secrets: &str, extra: &[&str]| {
        let mut cmd = account.command(bin("mk-iam"));
        cmd.args(["--client", &c, "--reports", "--secrets-dir"]).arg(dir.path().join(secrets)).args(extra);
        cmd
    };
    let lossy = |account: &Account, secrets: &str, extra: &[&str], seed: u64| {
        let proxy = FaultProxy::start(&moto_url(), RATE, "lost", seed, 0);
        let r = run(mk_iam(account, secrets, extra).env("AWS_ENDPOINT_URL", &proxy.url));
        let log = proxy.log();
        drop(proxy);
        assert_eq!(r.status, 0, "mk-iam {extra:?} failed through lost answers:\n{}\nproxy:\n{log}", r.stderr);
        eprintln!("mk-iam {extra:?}, seed {seed}: answers lost: {}", lost_answers(&log).join(" "));
        (r, log)
    };
    let no_longer = |seed: u64, what: &str, log: &str| {
        format!(
            "seed {seed} no longer loses the answer of {what} (mk-iam's calls changed?): pick a seed that does \
             (see this test's comment)\nproxy:\n{log}"
        )
    };

    // 1. Drifted at the quota, a foreign role in the profile.
    let account = Account::fresh().await;
    let iam = aws_sdk_iam::Client::new(&account.sdk().await);
    run(&mut mk_iam(&account, "one", &[])).ok();
    let policy_name = format!("{c}-provision-emr-clusters");
    let policy = format!("arn:aws:iam::{}:policy/{policy_name}", account.id);
    let drifted =
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    for _ in 0..4 {
        iam.create_policy_version()
            .policy_arn(&policy)
            .policy_document(drifted)
            .set_as_default(true)
            .send()
            .await
            .unwrap();
    }
    let profile = format!("{c}-edxanalytics");
    let foreign = format!("{c}-other");
    iam.remove_role_from_instance_profile().instance_profile_name(&profile).role_name(&profile).send().await.unwrap();
    iam.create_role()
        .role_name(&foreign)
        .assume_role_policy_document(r#"{"Version": "2012-10-17", "Statement": []}"#)
        .send()
        .await
        .unwrap();
    iam.add_role_to_instance_profile().instance_profile_name(&profile).role_name(&foreign).send().await.unwrap();
    let (r, log) = lossy(&account, "one", &[], 38);
    let lost = lost_answers(&log);
    for op in
        ["DeletePolicyVersion", "CreatePolicyVersion", "RemoveRoleFromInstanceProfile", "AddRoleToInstanceProfile"]
    {
        assert!(lost.contains(&op), "{}", no_longer(38, op, &log));
    }
    assert_eq!(r.action("iam-policy", &policy_name), "updated");
    assert_eq!(r.action("iam-instance-profile", &profile), "updated");
    let versions = iam.list_policy_versions().policy_arn(&policy).send().await.unwrap();
    let versions = versions.versions();
    assert_eq!(versions.len(), 5, "the oldest made room for one new version: {versions:?}");
    assert_eq!(versions.iter().filter(|v| v.is_default_version()).count(), 1, "{versions:?}");
    let held = iam.get_instance_profile().instance_profile_name(&profile).send().await.unwrap();
    let held: Vec<&str> =
        held.instance_profile().unwrap().roles().iter().map(aws_sdk_iam::types::Role::role_name).collect();
    assert_eq!(held, [profile.as_str()], "the profile holds the client's role, once");
    let again = run(&mut mk_iam(&account, "one", &[])).ok();
    assert_eq!(again.mutating(), 0, "the lossy run did not converge: {}", again.stdout);

    // 2. From nothing, then destroy.
    let account = Account::fresh().await;
    let iam = aws_sdk_iam::Client::new(&account.sdk().await);
    let (r, log) = lossy(&account, "two", &[], 10);
    let creates = ["CreatePolicy", "CreateRole", "CreateUser"];
    assert!(lost_answers(&log).iter().any(|op| creates.contains(op)), "{}", no_longer(10, "a create", &log));
    for user in [format!("{c}-analytics-elasticsearch"), format!("{c}-analytics-reports")] {
        let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
        let ids: Vec<&str> = keys.access_key_metadata().iter().filter_map(|k| k.access_key_id()).collect();
        assert_eq!(ids.len(), 1, "{user} has access keys {ids:?}");
        let file = dir.path().join("two").join(format!("{user}.access-key.json"));
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(stored["access_key_id"], ids[0], "{user}: the key file holds the live key");
        assert!(
            !dir.path().join("two").join(format!("{user}.access-key.pending.json")).exists(),
            "{user}: a marker left"
        );
    }
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    let ours: Vec<_> = policies.policies().iter().filter(|p| p.policy_name().unwrap_or("").starts_with(&c)).collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    for p in ours {
        let versions = iam.list_policy_versions().policy_arn(p.arn().unwrap()).send().await.unwrap();
        assert_eq!(versions.versions().len(), 1, "{:?} has versions {:?}", p.policy_name(), versions.versions());
    }
    let held = iam.get_instance_profile().instance_profile_name(&profile).send().await.unwrap();
    assert_eq!(held.instance_profile().unwrap().roles().len(), 1);
    let again = run(&mut mk_iam(&account, "two", &[])).ok();
    assert_eq!(again.mutating(), 0, "the lossy run did not converge: {}", again.stdout);
    assert!(!again.stdout.contains("lost?"), "a secret was lost: {}", again.stdout);
    assert_eq!(identities(&again.json), identities(&r.json), "the re-run found other resources");

    let (_, log) = lossy(&account, "two", &["--destroy"], 10);
    let deletes = ["DeleteAccessKey", "DeleteUserPolicy", "RemoveRoleFromInstanceProfile", "DetachRolePolicy"];
    assert!(lost_answers(&log).iter().any(|op| deletes.contains(op)), "{}", no_longer(10, "a delete", &log));
    let left = run(&mut mk_iam(&account, "two", &["--destroy", "--dry-run"])).ok();
    assert!(left.json["changes"].as_array().unwrap().is_empty(), "left after --destroy: {:?}", left.actions());
    let files: Vec<_> = std::fs::read_dir(dir.path().join("two")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(files.is_empty(), "left in the secrets directory: {files:?}");
}

/// One of [`named_creates_survive_lost_answers`]'s tools (as
/// [`named_create_command`] runs it), its seed, and the calls (`lost_answers` names, or
/// `METHOD path` for the REST calls of OpenSearch) whose answers that seed
/// loses.
struct NamedCreate {
    tool: &'static str,
    seed: u64,
    lost: &'static [&'static str],
}

/// Each tool runs alone through its own proxy (answers only lost, at
/// [`LOST_RATE`]), and reads everything before its creates, one after the
/// other: the draws of its creates are fixed by the seed (see
/// [`LOST_STEPS`]). Seeds picked so that each named create loses its answer.
const NAMED_CREATES: [NamedCreate; 3] = [
    NamedCreate { tool: "mk-es", seed: 2, lost: &["POST /2021-01-01/opensearch/domain"] },
    NamedCreate { tool: "mk-rds", seed: 0, lost: &["CreateDBSubnetGroup", "CreateDBInstance"] },
    NamedCreate { tool: "emr-launch", seed: 7, lost: &["RunJobFlow"] },
];

/// The command of a [`NamedCreate`] tool for client `c` in `account`.
fn named_create_command(account: &Account, tool: &str, c: &str, secrets: &std::path::Path) -> Command {
    let mut cmd = account.command(bin(tool));
    cmd.env("ANALYTICS_POLL_INITIAL_MS", "50").env("ANALYTICS_CLIENT", c);
    match tool {
        "mk-es" => {
            cmd.args(["--grant-arn", &format!("arn:aws:iam::{}:user/{c}-analytics-elasticsearch", account.id)]);
        }
        "mk-rds" => {
            cmd.arg("--secrets-dir").arg(secrets);
        }
        "emr-launch" => {
            cmd.env("CORE_NUM", "4").env_remove("CLUSTER_NAME").env_remove("AWS_KEYPAIR_NAME");
            cmd.arg("--vars").arg(repo_root().join("crates/emr-launch/tests/fixtures/full.yml"));
            cmd.args(["--name", &format!("{c}-nightly")]);
        }
        _ => unreachable!("{tool}"),
    }
    cmd
}

/// Whether the proxy's `-v` log shows the answer of `op` lost.
fn lost_answer_of(log: &str, op: &str) -> bool {
    log.lines().any(|l| l.ends_with("-> fault lost") && l.contains(&format!(" {op} ")))
}

/// A fresh account with what the tools need: the EMR-RDS group (mk-sg's)
/// in the default VPC, for mk-rds.
async fn named_create_account(c: &str) -> Account {
    let account = Account::fresh().await;
    let ec2 = aws_sdk_ec2::Client::new(&account.sdk().await);
    let vpcs = ec2.describe_vpcs().filters(Filter::builder().name("is-default").values("true").build());
    let vpcs = vpcs.send().await.unwrap();
    let vpc = vpcs.vpcs()[0].vpc_id().unwrap();
    let group = format!("{c}-emr-rds");
    ec2.create_security_group().group_name(&group).description(&group).vpc_id(vpc).send().await.unwrap();
    account
}

/// Lost answers of the creates of mk-es (CreateDomain), mk-rds
/// (CreateDBSubnetGroup, CreateDBInstance) and emr-launch (RunJobFlow): the
/// proxy applies each call, then answers a 500. AWS answers a repeat of the
/// first three "already exists" (the emulator: overwrites the domain and the
/// group, refuses the instance), and nothing deduplicates RunJobFlow: a
/// repeat launches a second cluster. Each tool succeeds, exactly one of each
/// exists, the master password file holds the password of the instance
/// (written once, before the create), and a fault-free re-run changes
/// nothing and finds the very same resources.
#[tokio::test]
async fn named_creates_survive_lost_answers() {
    let c = analytics_tests::unique_client("lnc");
    let account = named_create_account(&c).await;
    let secrets = tempfile::tempdir().expect("temporary directory");
    let secrets = secrets.path().join("secrets");
    let sdk = account.sdk().await;
    let mut lossy = Vec::new();
    for step in &NAMED_CREATES {
        let proxy = FaultProxy::start(&moto_url(), LOST_RATE, "lost", step.seed, 0);
        let r = run(named_create_command(&account, step.tool, &c, &secrets).env("AWS_ENDPOINT_URL", &proxy.url));
        let log = proxy.log();
        drop(proxy);
        assert_eq!(r.status, 0, "{} failed through lost answers:\n{}\nproxy:\n{log}", step.tool, r.stderr);
        for op in step.lost {
            assert!(
                lost_answer_of(&log, op),
                "{}: seed {} no longer loses the answer of {op} (the tool's calls changed?): pick a seed that does \
                 (see NAMED_CREATES)\nproxy:\n{log}",
                step.tool,
                step.seed
            );
        }
        eprintln!("{}, seed {}: answers lost: {}", step.tool, step.seed, lost_answers(&log).join(" "));
        lossy.push(r);
    }
    let ours = |tags: Vec<(String, String)>| tags.contains(&("analytics:client".to_owned(), c.clone()));

    // One search domain, the client's, the one mk-es reported.
    let es = aws_sdk_opensearch::Client::new(&sdk);
    let domains = es.list_domain_names().send().await.unwrap();
    let names: Vec<&str> = domains.domain_names().iter().filter_map(|d| d.domain_name()).collect();
    assert_eq!(names, [format!("{c}-analytics-es")], "search domains");
    assert_eq!(lossy[0].action("opensearch-domain", names[0]), "created");
    let arn = s(&lossy[0].json["outputs"]["domain_arn"]);
    let tags = es.list_tags().arn(&arn).send().await.unwrap();
    assert!(ours(tags.tag_list().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect()), "{tags:?}");

    // One subnet group and one DB instance, the client's; its password
    // file written once.
    let rds = aws_sdk_rds::Client::new(&sdk);
    let groups = rds.describe_db_subnet_groups().send().await.unwrap();
    let groups: Vec<&str> = groups.db_subnet_groups().iter().filter_map(|g| g.db_subnet_group_name()).collect();
    assert_eq!(groups, [format!("{c}-analytics")], "DB subnet groups");
    let instances = rds.describe_db_instances().send().await.unwrap();
    let instances = instances.db_instances();
    assert_eq!(instances.len(), 1, "DB instances: {instances:?}");
    let tags = instances[0].tag_list().iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())));
    assert!(ours(tags.collect()), "{:?}", instances[0].tag_list());
    assert_eq!(lossy[1].action("rds-instance", &format!("{c}-analytics")), "created");
    assert_eq!(lossy[1].action("rds-subnet-group", &format!("{c}-analytics")), "created");
    let password_file = secrets.join(format!("rds-{c}-analytics.master-password"));
    assert_eq!(s(&lossy[1].json["outputs"]["master_password_file"]), password_file.display().to_string());
    let password = std::fs::read_to_string(&password_file).expect("the master password file");
    assert!(password.len() >= 24, "a generated password: {} characters", password.len());
    let files: Vec<_> = std::fs::read_dir(&secrets).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "the secrets directory holds the one password file: {files:?}");

    // One EMR cluster of the name, ever (a terminated second launch counts too).
    let emr = aws_sdk_emr::Client::from_conf(
        aws_sdk_emr::config::Builder::from(&sdk).region(aws_sdk_emr::config::Region::new("eu-west-1")).build(),
    );
    let cluster_name = format!("{c}-nightly");
    let clusters = emr.list_clusters().send().await.unwrap();
    let clusters: Vec<&str> =
        clusters.clusters().iter().filter(|k| k.name() == Some(cluster_name.as_str())).filter_map(|k| k.id()).collect();
    let launched = s(&lossy[2].json["outputs"]["cluster_id"]);
    assert_eq!(clusters, [launched.as_str()], "clusters named {cluster_name}");
    assert_eq!(lossy[2].action("emr-cluster", &cluster_name), "created");

    // A fault-free re-run of each has nothing to do, and finds the very
    // resources the lossy run reported; the password is the one written.
    for (step, before) in NAMED_CREATES.iter().zip(&lossy) {
        let again = run(&mut named_create_command(&account, step.tool, &c, &secrets)).ok();
        assert_eq!(again.mutating(), 0, "{}: the lossy run did not converge: {}", step.tool, again.stdout);
        assert_eq!(identities(&again.json), identities(&before.json), "{}: the re-run found others", step.tool);
    }
    assert_eq!(std::fs::read_to_string(&password_file).unwrap(), password, "the master password was rewritten");
}
