//! deploy.sh killed with SIGKILL (its whole process group, the tools it
//! started included, as a crash or a Ctrl-\ would) at several points of its
//! run, then run again: it converges to one deployment with nothing
//! duplicated; and destroy.sh after a killed deploy leaves nothing of it.
//!
//! Kill points are calls that make something, found without depending on
//! how deploy.sh numbers, orders or groups its steps: the tools reach the
//! emulator and MariaDB through a relay in this test which, when it sees a
//! chosen call (an AWS action, a SQL statement), lets the server carry it
//! out but holds back its answer, and deploy.sh is killed then. That is the
//! worst moment for a crash: the resource exists and the tool never learnt
//! it. The tools running at the kill are read from /proc.
//!
//! One deployment is run again and again with every kill point not yet hit
//! armed, each run killed at the first one it reaches (and any other reached
//! while the kill is prepared), until a run completes; after every kill
//! nothing may be duplicated, and the completed deployment is checked in
//! full, then a re-run must make no mutating call.
//!
//! The call that returns a secret only once (CreateAccessKey) is the kill
//! point of a test of its own: with the answer lost, the secret is lost (key
//! pairs are made locally: the private key is on disk before ImportKeyPair,
//! whose kill point has its own test too). Elsewhere the relay keeps kills off them: at a kill point
//! it stops forwarding new ones and waits until those on the way are
//! answered (and their secret stored) before the kill.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use analytics_tests::{Runbook, moto_url, mysql_env};
use aws_sdk_ec2::types::Filter;
use mysql_async::prelude::Queryable;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Kill points.

/// A call that makes something, by the tool that makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    tool: &'static str,
    name: &'static str,
}

const fn call(tool: &'static str, name: &'static str) -> Call {
    Call { tool, name }
}

impl Call {
    /// How the call shows in the bytes of its request.
    fn marker(&self) -> String {
        match self.name {
            // restJson and S3 calls are named by method and path.
            "CreateDomain" => "POST /2021-01-01/opensearch/domain ".to_owned(),
            "PutObject" => "x-id=PutObject".to_owned(),
            // SQL goes as text in the MySQL protocol.
            "GRANT ALL" => "GRANT ALL".to_owned(),
            // The query protocol (EC2, IAM, RDS) names it in the form body.
            action => format!("Action={action}&"),
        }
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.tool, self.name)
    }
}

/// Calls whose answer carries a secret AWS never shows again.
const SECRET_CALLS: [Call; 1] = [call("mk-iam", "CreateAccessKey")];

// ---------------------------------------------------------------------------
// The relay between the tools and the servers.

#[derive(Default)]
struct RelayState {
    /// Calls to hold the answer of.
    hold: Vec<Call>,
    /// The calls whose answer is held, in the order seen.
    held: Vec<Call>,
    /// Secret-returning calls must wait before being forwarded.
    gate_closed: bool,
    /// Secret-returning calls forwarded and not answered yet.
    secret_calls_in_flight: usize,
    shutdown: bool,
}

struct Relay {
    state: Mutex<RelayState>,
    changed: Condvar,
}

/// TCP relays to the emulator and to MariaDB, for one deploy.sh run, with
/// one state. Stop on drop.
struct RelayGuard {
    relay: Arc<Relay>,
    aws_url: String,
    mysql_port: u16,
    stop: Arc<AtomicBool>,
}

impl RelayGuard {
    fn start(hold: &[Call]) -> RelayGuard {
        let relay = Arc::new(Relay {
            state: Mutex::new(RelayState { hold: hold.to_vec(), ..Default::default() }),
            changed: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let moto = moto_url().trim_start_matches("http://").trim_end_matches('/').to_owned();
        let (host, port, _, _) = mysql_env();
        let aws_port = listen(&moto, &relay, &stop);
        let mysql_port = listen(&format!("{host}:{port}"), &relay, &stop);
        RelayGuard { relay, aws_url: format!("http://127.0.0.1:{aws_port}"), mysql_port, stop }
    }

    fn held(&self) -> Vec<Call> {
        self.relay.state.lock().unwrap().held.clone()
    }

    /// Stops forwarding secret-returning calls and waits until those on the
    /// way are answered and their tool had time to store the secret.
    fn settle_secret_calls(&self) {
        let mut st = self.relay.state.lock().unwrap();
        st.gate_closed = true;
        let deadline = Instant::now() + Duration::from_secs(5);
        while st.secret_calls_in_flight > 0 {
            assert!(Instant::now() < deadline, "a secret-returning call stays unanswered");
            st = self.relay.changed.wait_timeout(st, Duration::from_millis(10)).unwrap().0;
        }
        drop(st);
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for RelayGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.relay.state.lock().unwrap().shutdown = true;
        self.relay.changed.notify_all();
    }
}

/// Listens on a loopback port and relays each connection to `upstream`.
fn listen(upstream: &str, relay: &Arc<Relay>, stop: &Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (relay, stop, upstream) = (relay.clone(), stop.clone(), upstream.to_owned());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((client, _)) => {
                    client.set_nonblocking(false).unwrap();
                    let (relay, upstream) = (relay.clone(), upstream.clone());
                    std::thread::spawn(move || relay_connection(client, &upstream, relay));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    port
}

/// What one connection is waiting for, shared by its two directions.
#[derive(Default)]
struct ConnState {
    hold_answer: Option<Call>,
    secret_call: bool,
}

fn relay_connection(client: TcpStream, upstream: &str, relay: Arc<Relay>) {
    let Ok(server) = TcpStream::connect(upstream) else { return };
    let conn = Arc::new(Mutex::new(ConnState::default()));
    let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (up_relay, up_conn) = (relay.clone(), conn.clone());
    // Requests: note the calls to hold or to gate, then forward.
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut tail = String::new();
        loop {
            let n = match from_client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let text = format!("{tail}{}", String::from_utf8_lossy(&buf[..n]));
            {
                let mut st = up_relay.state.lock().unwrap();
                let hold = st.hold.iter().find(|c| text.contains(&c.marker())).copied();
                if hold.is_some() {
                    up_conn.lock().unwrap().hold_answer = hold;
                } else if SECRET_CALLS.iter().any(|c| text.contains(&c.marker())) {
                    while st.gate_closed && !st.shutdown {
                        st = up_relay.changed.wait_timeout(st, Duration::from_millis(50)).unwrap().0;
                    }
                    if st.shutdown {
                        break;
                    }
                    st.secret_calls_in_flight += 1;
                    up_conn.lock().unwrap().secret_call = true;
                }
            }
            if to_server.write_all(&buf[..n]).is_err() {
                break;
            }
            tail = text.chars().rev().take(64).collect::<Vec<_>>().into_iter().rev().collect();
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    // Answers: hold those asked for (for good), forward the others.
    let (mut from_server, mut to_client) = (server, client);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let hold = conn.lock().unwrap().hold_answer.take();
        if let Some(call) = hold {
            let mut st = relay.state.lock().unwrap();
            st.held.push(call);
            relay.changed.notify_all();
            while !st.shutdown {
                st = relay.changed.wait_timeout(st, Duration::from_millis(50)).unwrap().0;
            }
            break;
        }
        if to_client.write_all(&buf[..n]).is_err() {
            break;
        }
        answered(&conn, &relay);
    }
    let _ = to_client.shutdown(Shutdown::Both);
    let _ = from_server.shutdown(Shutdown::Both);
    answered(&conn, &relay);
}

/// A secret-returning call of this connection, if any, is answered (or
/// never will be). The connection's lock is let go before the relay's: the
/// request side takes them in the other order.
fn answered(conn: &Mutex<ConnState>, relay: &Relay) {
    let was_secret = std::mem::take(&mut conn.lock().unwrap().secret_call);
    if was_secret {
        relay.state.lock().unwrap().secret_calls_in_flight -= 1;
        relay.changed.notify_all();
    }
}

// ---------------------------------------------------------------------------
// Killing deploy.sh.

/// A run killed at a kill point.
struct Killed {
    /// The calls whose answer was held: the first is the kill point.
    held: Vec<Call>,
    /// The tools running at the kill.
    running: Vec<String>,
    after: Duration,
    stderr: Vec<String>,
}

/// Runs deploy.sh in a process group of its own, through the relay holding
/// the answers of `points`, and kills the group with SIGKILL at the first
/// one reached. `None` when deploy.sh completes without reaching any. Fails
/// if deploy.sh fails, or if any process of the group outlives the kill.
fn deploy_killed_at(rb: &Runbook, points: &[Call]) -> Option<Killed> {
    let relay = RelayGuard::start(points);
    let mut cmd = rb.command("deploy.sh");
    cmd.env("AWS_ENDPOINT_URL", &relay.aws_url)
        .env("ANALYTICS_DB_HOST", "127.0.0.1")
        .env("ANALYTICS_DB_PORT", relay.mysql_port.to_string());
    cmd.process_group(0).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("starting deploy.sh");
    let pgid = child.id().cast_signed();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        lines.extend(rx.try_iter());
        if !relay.held().is_empty() {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            reader.join().unwrap();
            lines.extend(rx.try_iter());
            assert!(status.success(), "deploy.sh failed ({status}); stderr:\n{}", lines.join("\n"));
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    relay.settle_secret_calls();
    let running: Vec<String> = group_commands(pgid)
        .iter()
        .filter_map(|c| c.split('\0').next())
        .map(|argv0| argv0.rsplit('/').next().unwrap_or(argv0).to_owned())
        .filter(|name| name.starts_with("mk-") || name == "emr-launch")
        .collect();
    let group = rustix::process::Pid::from_raw(pgid).expect("a process group id");
    rustix::process::kill_process_group(group, rustix::process::Signal::KILL)
        .unwrap_or_else(|e| panic!("kill(-{pgid}, SIGKILL): {e}"));
    let after = started.elapsed();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(rustix::process::Signal::KILL.as_raw()),
        "deploy.sh was killed, not ended: {status}"
    );
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive = group_commands(pgid);
        if alive.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "processes of the killed group still run: {alive:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let held = relay.held();
    drop(relay);
    let k = Killed { held, running, after, stderr: lines };
    eprintln!(
        "killed at {} after {:.2}s, tools running: {}; last line: {}",
        k.held.iter().map(|c| format!("{c} (answer held)")).collect::<Vec<_>>().join(", "),
        k.after.as_secs_f64(),
        if k.running.is_empty() { "none".to_owned() } else { k.running.join(", ") },
        k.stderr.last().map(String::as_str).unwrap_or("")
    );
    Some(k)
}

/// The command lines (NUL-separated) of the live, not zombie, processes of
/// process group `pgid`.
fn group_commands(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        // After the command name: state, ppid, pgrp.
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && !matches!(fields[0], "Z" | "X") {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            out.push(String::from_utf8_lossy(&cmdline).into_owned());
        }
    }
    out
}

/// deploy.sh to completion; returns its stderr.
fn deploy(rb: &Runbook) -> String {
    let (status, _, stderr) = rb.run("deploy.sh");
    assert_eq!(status, 0, "deploy.sh failed:\n{stderr}");
    stderr
}

// ---------------------------------------------------------------------------
// The deployment's end state.

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// How many there are of each resource a re-run could duplicate. Every
/// other resource has a name unique in its account or VPC (policies, roles,
/// users, buckets, the domain, the DB instance and subnet group, key pairs,
/// security groups, MySQL users), so a second one cannot exist; these
/// could. The account is the deployment's own, so anything in it counts.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    internet_gateways: usize,
    security_groups: Vec<(String, usize)>,
    access_keys: Vec<(String, usize)>,
    analytics_hosts: usize,
    director_hosts: usize,
    other_hosts: usize,
    elastic_ips: usize,
    domains: usize,
    db_instances: usize,
    key_pairs: Vec<(String, usize)>,
}

async fn counts(rb: &Runbook) -> Counts {
    let c = &rb.client;
    let sdk = rb.account.sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    let groups = ec2.describe_security_groups().send().await.unwrap();
    let named = |names: Vec<String>, have: Vec<&str>| {
        names.into_iter().map(|n| (n.clone(), have.iter().filter(|h| **h == n).count())).collect::<Vec<_>>()
    };
    let security_groups = named(
        ["director", "analytics", "emr-rds"]
            .map(|g| format!("{c}-{g}"))
            .into_iter()
            .chain(["ElasticMapReduce-master".to_owned(), "ElasticMapReduce-slave".to_owned()])
            .collect(),
        groups.security_groups().iter().filter_map(|g| g.group_name()).collect(),
    );
    let mut access_keys = Vec::new();
    for user in [format!("{c}-analytics-elasticsearch"), format!("{c}-analytics-reports")] {
        let k = match iam.list_access_keys().user_name(&user).send().await {
            Ok(out) => out.access_key_metadata().len(),
            Err(_) => 0, // the user is not made yet
        };
        access_keys.push((user, k));
    }
    let instances = ec2.describe_instances().send().await.unwrap();
    let live: Vec<String> = instances
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .filter(|i| {
            !matches!(
                i.state().and_then(|s| s.name()).map(aws_sdk_ec2::types::InstanceStateName::as_str),
                Some("terminated" | "shutting-down")
            )
        })
        .map(|i| {
            let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).unwrap_or("");
            if tag("analytics:client") == c { tag("analytics:role").to_owned() } else { "foreign".to_owned() }
        })
        .collect();
    let pairs = ec2.describe_key_pairs().send().await.unwrap();
    let key_pairs = named(
        vec![format!("{c}-analytics"), format!("{c}-director")],
        pairs.key_pairs().iter().filter_map(|k| k.key_name()).collect(),
    );
    Counts {
        internet_gateways: igws.internet_gateways().len(),
        security_groups,
        access_keys,
        analytics_hosts: live.iter().filter(|r| *r == "analytics").count(),
        director_hosts: live.iter().filter(|r| *r == "director").count(),
        other_hosts: live.iter().filter(|r| *r != "analytics" && *r != "director").count(),
        elastic_ips: ec2.describe_addresses().send().await.unwrap().addresses().len(),
        domains: aws_sdk_opensearch::Client::new(&sdk).list_domain_names().send().await.unwrap().domain_names().len(),
        db_instances: aws_sdk_rds::Client::new(&sdk).describe_db_instances().send().await.unwrap().db_instances().len(),
        key_pairs,
    }
}

/// At most one of each resource (a killed run may not have made them all).
#[track_caller]
fn assert_none_duplicated(n: &Counts, when: &str) {
    let singles = [
        ("internet gateways", n.internet_gateways),
        ("analytics hosts", n.analytics_hosts),
        ("director hosts", n.director_hosts),
        ("Elastic IPs", n.elastic_ips),
        ("search domains", n.domains),
        ("DB instances", n.db_instances),
    ];
    for (what, k) in singles {
        assert!(k <= 1, "{when}: {k} {what}: {n:#?}");
    }
    assert_eq!(n.other_hosts, 0, "{when}: hosts without this deployment's tags: {n:#?}");
    for (what, k) in n.security_groups.iter().chain(&n.access_keys).chain(&n.key_pairs) {
        assert!(*k <= 1, "{when}: {k} of {what}: {n:#?}");
    }
}

/// Exactly one of each.
#[track_caller]
fn assert_exactly_one_each(n: &Counts) {
    let ones = |v: &[(String, usize)]| v.iter().map(|(name, _)| (name.clone(), 1)).collect::<Vec<_>>();
    let want = Counts {
        internet_gateways: 1,
        security_groups: ones(&n.security_groups),
        access_keys: ones(&n.access_keys),
        analytics_hosts: 1,
        director_hosts: 1,
        other_hosts: 0,
        elastic_ips: 1,
        domains: 1,
        db_instances: 1,
        key_pairs: ones(&n.key_pairs),
    };
    assert_eq!(n, &want, "one of each resource after the interrupted runs");
}

/// What a finished deployment holds besides the counts: every tool's
/// document, each secret kept matching what AWS and MySQL have, every file
/// the runbook writes.
async fn assert_complete(rb: &Runbook) {
    for tool in ["mk-vpc", "mk-iam", "mk-buckets", "mk-sg", "mk-es", "mk-rds", "mk-ec2", "mk-rds-users", "mk-config"] {
        assert_eq!(rb.doc(tool)["error"], Value::Null, "{tool}");
        assert!(!rb.state.join(format!("{tool}.failed.json")).exists(), "{tool} failed in the last run");
    }
    let sdk = rb.account.sdk().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let c = &rb.client;
    let listing = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&rb.secrets)
            .unwrap()
            .flatten()
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    for user in [format!("{c}-analytics-elasticsearch"), format!("{c}-analytics-reports")] {
        let file = rb.secrets.join(format!("{user}.access-key.json"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the secret of {user}'s key is lost; the secrets directory: {:?}",
                file.display(),
                listing()
            )
        });
        let stored: Value = serde_json::from_str(&text).unwrap();
        let keys = iam.list_access_keys().user_name(&user).send().await.unwrap();
        assert_eq!(
            keys.access_key_metadata()[0].access_key_id(),
            stored["access_key_id"].as_str(),
            "the one key of {user} is the one in the secrets directory"
        );
    }
    for pair in ["analytics", "director"] {
        let path = rb.secrets.join(format!("{c}-{pair}.pem"));
        let pem = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the private key of key pair {c}-{pair} is lost; the secrets directory: {:?}",
                path.display(),
                listing()
            )
        });
        assert!(pem.contains("PRIVATE KEY"), "{}", path.display());
    }
    let analytics = ec2
        .describe_instances()
        .filters(filter("tag:analytics:client", c))
        .filters(filter("tag:analytics:role", "analytics"))
        .filters(filter("instance-state-name", "running"))
        .send()
        .await
        .unwrap();
    let analytics_id = analytics.reservations()[0].instances()[0].instance_id();
    let addresses = ec2.describe_addresses().send().await.unwrap();
    assert_eq!(addresses.addresses()[0].instance_id(), analytics_id, "the Elastic IP is on the analytics host");
    assert!(rb.secrets.join(format!("rds-{c}-analytics.master-password")).is_file(), "the master password is kept");
    for f in ["vars-analytics.yml", "emr-vars.yml", "analytics-override.cfg", "jenkins_env", "edxapp_creds"] {
        assert!(rb.secrets.join(f).is_file(), "{f}");
    }
    let s3 = analytics_tests::s3_client(&sdk);
    for key in ["edxanalytics_creds", "edxapp_creds"] {
        s3.head_object()
            .bucket(format!("{c}-edxanalytics"))
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    // The analytics user logs in with the password its credentials file holds.
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(rb.secrets.join("edxanalytics_creds")).unwrap()).unwrap();
    let (host, port, _, _) = mysql_env();
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port.parse().unwrap())
        .user(Some("analytics"))
        .pass(creds["password"].as_str());
    let mut conn = mysql_async::Conn::new(opts).await.expect("analytics logs in with edxanalytics_creds");
    let dbs: Vec<String> = conn.query("SHOW DATABASES").await.unwrap();
    for want in ["dashboard", "analytics-api", "reports"] {
        assert!(dbs.iter().any(|d| d == want), "{want} in {dbs:?}");
    }
    conn.disconnect().await.unwrap();
}

/// Runs deploy.sh to completion and checks the converged deployment; then
/// a re-run changes nothing.
async fn assert_converges(rb: &Runbook) {
    let t = Instant::now();
    deploy(rb);
    eprintln!("deploy.sh to completion in {:.2}s", t.elapsed().as_secs_f64());
    assert_exactly_one_each(&counts(rb).await);
    assert_complete(rb).await;
    deploy(rb);
    let again = rb.doc("deploy-summary");
    assert_eq!(again["api_calls"]["mutating"], 0, "a re-run of the converged deployment: {again}");
    assert_eq!(again["changed"], 0, "{again}");
    assert_exactly_one_each(&counts(rb).await);
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn killed_deploys_converge_without_duplicates() {
    let rb = Runbook::new("ki").await;
    // In the order a run reaches them; each is reached once in the life of
    // the deployment, when what it makes does not exist yet.
    let mut points = vec![
        call("mk-vpc", "CreateInternetGateway"),
        call("mk-iam", "CreateUser"),
        call("mk-sg", "CreateSecurityGroup"),
        call("mk-es", "CreateDomain"),
        call("mk-rds", "CreateDBInstance"),
        call("mk-ec2", "RunInstances"),
        call("mk-ec2", "AllocateAddress"),
        call("mk-ec2", "AssociateAddress"),
        call("mk-rds-users", "GRANT ALL"),
        call("mk-config", "PutObject"),
    ];
    let started = Instant::now();
    let mut kills = Vec::new();
    while let Some(k) = deploy_killed_at(&rb, &points) {
        points.retain(|p| !k.held.contains(p));
        assert_none_duplicated(&counts(&rb).await, &format!("after the kill at {}", k.held[0]));
        kills.push(k);
        assert!(kills.len() <= 10, "deploy.sh keeps reaching kill points");
    }
    eprintln!("{} runs killed, then one completed, in {:.1}s", kills.len(), started.elapsed().as_secs_f64());
    let at: Vec<Vec<Call>> = kills.iter().map(|k| k.held.clone()).collect();
    assert!(kills.len() >= 4, "at least 4 kill points: {at:?}");
    for tool in ["mk-rds-users", "mk-config"] {
        assert!(at.iter().flatten().any(|c| c.tool == tool), "a kill during {tool}: {at:?}");
    }
    let together = ["mk-es", "mk-rds", "mk-ec2"];
    assert!(
        kills.iter().any(|k| k.held.iter().any(|c| together.contains(&c.tool))
            && k.running.iter().filter(|t| together.contains(&t.as_str())).count() >= 2),
        "a kill while mk-es, mk-rds and mk-ec2 run together: {at:?}"
    );
    assert_converges(&rb).await;
}

/// The lost answer of a call that returns a secret once: the resource
/// exists, its secret went with the killed tool. The deployment must still
/// converge to one usable key of each kind.
#[tokio::test]
async fn killed_while_an_access_key_is_made_converges() {
    let rb = Runbook::new("ka").await;
    deploy_killed_at(&rb, &[call("mk-iam", "CreateAccessKey")]).expect("a kill at CreateAccessKey");
    assert_none_duplicated(&counts(&rb).await, "after the kill");
    assert_converges(&rb).await;
}

/// mk-ec2 makes key pairs itself: the private key is on disk before
/// ImportKeyPair, the call killed here with its answer lost.
#[tokio::test]
async fn killed_while_a_key_pair_is_made_converges() {
    let rb = Runbook::new("kk").await;
    deploy_killed_at(&rb, &[call("mk-ec2", "ImportKeyPair")]).expect("a kill at ImportKeyPair");
    assert_none_duplicated(&counts(&rb).await, "after the kill");
    assert_converges(&rb).await;
}

#[tokio::test]
async fn destroy_after_a_killed_deploy_leaves_nothing() {
    let rb = Runbook::new("kd").await;
    let c = rb.client.clone();
    // Killed while the hosts launch, with the search domain and the
    // database being made alongside; destroy.sh without finishing it.
    deploy_killed_at(&rb, &[call("mk-ec2", "RunInstances")]).expect("a kill at RunInstances");
    let (status, _, stderr) = rb.run("destroy.sh");
    assert_eq!(status, 0, "destroy.sh after a killed deploy failed:\n{stderr}");

    let sdk = rb.account.sdk().await;
    let s3 = analytics_tests::s3_client(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let rds = aws_sdk_rds::Client::new(&sdk);
    let es = aws_sdk_opensearch::Client::new(&sdk);
    for b in ["tracking-logs", "analytics-emr", "edxanalytics", "analytics-api-reports"] {
        assert!(s3.head_bucket().bucket(format!("{c}-{b}")).send().await.is_err(), "bucket {b} left");
    }
    for user in ["analytics-elasticsearch", "analytics-reports"] {
        assert!(iam.get_user().user_name(format!("{c}-{user}")).send().await.is_err(), "user {user} left");
    }
    assert!(iam.get_role().role_name(format!("{c}-edxanalytics")).send().await.is_err());
    assert!(iam.get_instance_profile().instance_profile_name(format!("{c}-edxanalytics")).send().await.is_err());
    let policies = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert!(policies.policies().iter().all(|p| !p.policy_name().unwrap_or_default().starts_with(&c)));
    iam.get_role().role_name("EMR_EC2_DefaultRole").send().await.expect("the shared EMR role stays");
    assert!(es.list_domain_names().send().await.unwrap().domain_names().is_empty(), "search domain left");
    assert!(rds.describe_db_instances().send().await.unwrap().db_instances().is_empty(), "DB instance left");
    let left = ec2.describe_instances().send().await.unwrap();
    for i in left.reservations().iter().flat_map(aws_sdk_ec2::types::Reservation::instances) {
        assert_eq!(
            i.state().and_then(|s| s.name()).map(aws_sdk_ec2::types::InstanceStateName::as_str),
            Some("terminated"),
            "{i:?}"
        );
    }
    let sgs = ec2.describe_security_groups().send().await.unwrap();
    assert!(sgs.security_groups().iter().all(|g| !g.group_name().unwrap_or_default().starts_with(&c)));
    assert!(ec2.describe_key_pairs().send().await.unwrap().key_pairs().is_empty(), "key pairs left");
    assert!(ec2.describe_addresses().send().await.unwrap().addresses().is_empty(), "an Elastic IP left");
    let igws = ec2.describe_internet_gateways().send().await.unwrap();
    assert!(igws.internet_gateways().is_empty(), "the internet gateway is deleted");
    for pair in ["analytics", "director"] {
        assert!(!rb.secrets.join(format!("{c}-{pair}.pem")).exists(), "the private key of a deleted key pair goes");
    }
}
