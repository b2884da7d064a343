//! Waiting, failing and timing out, end to end: the real binary against a
//! small scripted EMR endpoint (moto makes every cluster WAITING at once,
//! so it cannot show a cluster that takes a few polls, fails to start, or
//! never gets ready). The endpoint also records what the tool sent, so the
//! RunJobFlow body on the wire can be compared with `--dry-run`'s request.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use analytics_tests::{ToolRun, run};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const BIN: &str = env!("CARGO_BIN_EXE_emr-launch");
const ID: &str = "j-STUBCLUSTER";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// What a DescribeCluster answers on each poll (the last repeats), and
/// whether a cluster of the name is live already.
struct Script {
    states: Vec<(&'static str, Option<&'static str>)>,
    groups_running_from_poll: usize,
}

#[derive(Default)]
struct Seen {
    calls: Vec<(String, Value)>,
    describes: usize,
}

/// Serves the EMR JSON protocol on a local port; returns its URL.
async fn endpoint(script: Script) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let script = Arc::new(script);
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let (seen, script) = (state.clone(), script.clone());
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                loop {
                    // One request: headers, then Content-Length bytes.
                    let (mut target, mut length) = (String::new(), 0usize);
                    loop {
                        let mut line = String::new();
                        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            match k.to_ascii_lowercase().as_str() {
                                "x-amz-target" => target = v.trim().to_owned(),
                                "content-length" => length = v.trim().parse().unwrap(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    read.read_exact(&mut body).await.unwrap();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let op = target.rsplit('.').next().unwrap_or_default().to_owned();
                    let answer = answer(&op, &script, &mut seen.lock().unwrap());
                    seen.lock().unwrap().calls.push((op, body));
                    let text = answer.to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{text}",
                        text.len()
                    );
                    write.write_all(response.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, seen)
}

fn answer(op: &str, script: &Script, seen: &mut Seen) -> Value {
    match op {
        "ListClusters" => json!({"Clusters": []}),
        "RunJobFlow" => json!({"JobFlowId": ID}),
        "DescribeCluster" => {
            let n = seen.describes.min(script.states.len() - 1);
            seen.describes += 1;
            let (state, reason) = script.states[n];
            let mut status = json!({"State": state});
            if let Some(r) = reason {
                status["StateChangeReason"] = json!({"Code": "BOOTSTRAP_FAILURE", "Message": r});
            }
            json!({"Cluster": {
                "Id": ID, "Name": "stub", "Status": status, "InstanceCollectionType": "INSTANCE_GROUP",
                "MasterPublicDnsName": "ec2-203-0-113-10.compute-1.amazonaws.com"
            }})
        }
        "ListInstanceGroups" => {
            let core = if seen.describes > script.groups_running_from_poll { "RUNNING" } else { "PROVISIONING" };
            json!({"InstanceGroups": [
                {"Id": "ig-1", "Name": "master", "InstanceGroupType": "MASTER", "Status": {"State": "RUNNING"}},
                {"Id": "ig-2", "Name": "core", "InstanceGroupType": "CORE", "Status": {"State": core}}
            ]})
        }
        "ListInstances" => json!({"Instances": [{"Id": "ci-1", "PrivateIpAddress": "10.0.0.5"}]}),
        "TerminateJobFlows" => json!({}),
        other => panic!("unexpected call {other}"),
    }
}

fn command(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("AWS_ACCESS_KEY_ID", "stub")
        .env("AWS_SECRET_ACCESS_KEY", "stub")
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("ANALYTICS_POLL_INITIAL_MS", "20")
        // The environment tests/mapping.rs renders the fixtures with.
        .env("CORE_NUM", "4")
        .env("JOB_DATE", "2026-03-01")
        .env("ANALYTICS_CLIENT", "acme")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("CLUSTER_NAME")
        .env("AWS_KEYPAIR_NAME", "env-keypair")
        .args(args);
    cmd
}

async fn emr_launch(url: &str, args: &[&str]) -> ToolRun {
    let mut cmd = command(url, args);
    tokio::task::spawn_blocking(move || run(&mut cmd)).await.unwrap()
}

fn ops(seen: &Arc<Mutex<Seen>>) -> Vec<String> {
    seen.lock().unwrap().calls.iter().map(|(op, _)| op.clone()).collect()
}

/// Numbers compared by value (the SDK may write 25 where serde writes 25.0).
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_after_a_few_polls() {
    let (url, seen) = endpoint(Script {
        states: vec![("STARTING", None), ("BOOTSTRAPPING", None), ("WAITING", None)],
        groups_running_from_poll: 3,
    })
    .await;
    let full = fixture("full.yml");
    let r = emr_launch(&url, &["--vars", full.to_str().unwrap()]).await.ok();
    assert_eq!(r.json["outputs"]["cluster_id"], ID);
    assert_eq!(r.json["outputs"]["state"], "WAITING");
    assert_eq!(r.json["outputs"]["master_private_ip"], "10.0.0.5");
    assert_eq!(r.json["outputs"]["master_public_dns_name"], "ec2-203-0-113-10.compute-1.amazonaws.com");
    // STARTING, BOOTSTRAPPING, WAITING with core PROVISIONING, then ready.
    assert_eq!(r.json["api_calls"]["by_operation"]["EMR.DescribeCluster"], 4, "{}", r.json["api_calls"]);
    assert_eq!(r.json["api_calls"]["by_operation"]["EMR.ListInstanceGroups"], 2);
    assert!(!ops(&seen).contains(&"TerminateJobFlows".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_sent_is_the_dry_run_request() {
    for file in ["full.yml", "fleets.yml", "fleets-no-spot.yml", "legacy.yml", "zone.yml"] {
        let (url, seen) = endpoint(Script { states: vec![("WAITING", None)], groups_running_from_poll: 0 }).await;
        let path = fixture(file);
        let dry = emr_launch(&url, &["--vars", path.to_str().unwrap(), "--dry-run"]).await.ok();
        let real = emr_launch(&url, &["--vars", path.to_str().unwrap(), "--no-wait"]).await.ok();
        assert_eq!(real.mutating(), 1);
        let sent = seen.lock().unwrap().calls.iter().find(|(op, _)| op == "RunJobFlow").unwrap().1.clone();
        assert_eq!(
            normalized(&sent),
            normalized(&dry.json["outputs"]["request"]),
            "{file}: the wire body differs from --dry-run's request"
        );
        assert_eq!(
            normalized(&sent),
            normalized(&serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap()).unwrap())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_start_exits_1_with_the_reason() {
    let (url, seen) = endpoint(Script {
        states: vec![
            ("STARTING", None),
            ("TERMINATED_WITH_ERRORS", Some("bootstrap action 1 returned a non-zero return code")),
        ],
        groups_running_from_poll: 0,
    })
    .await;
    let full = fixture("full.yml");
    let r = emr_launch(&url, &["--vars", full.to_str().unwrap()]).await;
    assert_eq!(r.status, 1, "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(error.contains(&format!("cluster {ID} (analytics-nightly) failed to start")), "{error}");
    assert!(error.contains("BOOTSTRAP_FAILURE: bootstrap action 1 returned a non-zero return code"), "{error}");
    assert_eq!(r.json["outputs"]["state"], "TERMINATED_WITH_ERRORS");
    assert!(!ops(&seen).contains(&"TerminateJobFlows".to_owned()), "it has ended already");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_not_ready_in_time_is_terminated() {
    let (url, seen) = endpoint(Script { states: vec![("STARTING", None)], groups_running_from_poll: 0 }).await;
    let full = fixture("full.yml");
    let r = emr_launch(&url, &["--vars", full.to_str().unwrap(), "--timeout", "1"]).await;
    assert_eq!(r.status, 1, "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(error.contains("was not ready after 1s (last status: STARTING); terminated it"), "{error}");
    let calls = seen.lock().unwrap().calls.clone();
    let terminate: Vec<_> = calls.iter().filter(|(op, _)| op == "TerminateJobFlows").collect();
    assert_eq!(terminate.len(), 1);
    assert_eq!(terminate[0].1, json!({"JobFlowIds": [ID]}));
    assert_eq!(r.json["api_calls"]["mutating"], 2, "RunJobFlow and TerminateJobFlows");
    assert_eq!(r.action("emr-cluster", "analytics-nightly"), "created");
    let actions = r.actions();
    assert!(actions.contains(&"emr-cluster analytics-nightly deleted".to_owned()), "{actions:?}");
}
