//! The strict AWS simulation (`scripts/aws-sim.py`) as a guard for tests:
//! a proxy in front of the emulator where each real-AWS behaviour moto lacks
//! is a named rule (tests/AWS-SIM.md lists them). Point the tools or an SDK
//! client at [`AwsSim::url`]; read what fired with [`AwsSim::fired`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::repo_root;

/// `scripts/aws-sim.py`, running for as long as this guard lives.
///
/// Stopped on drop: closing its stdin makes it shut down cleanly
/// (`--stop-on-stdin-eof`), SIGKILL after 5 s if it has not. The same pipe
/// ends it if the test process dies without dropping the guard.
pub struct AwsSim {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl AwsSim {
    /// Starts the simulation in front of `upstream` (the emulator's URL)
    /// with `rules` (`all`, `none`, or a comma-separated list of rule names)
    /// and time windows of `delay_ms`.
    pub fn start(upstream: &str, rules: &str, delay_ms: u64) -> AwsSim {
        AwsSim::start_with(upstream, rules, delay_ms, &[])
    }

    /// As [`AwsSim::start`], with more flags for the script (e.g.
    /// `--es-fail-pattern`, `--foreign-bucket B=R`, `--rule-delay-ms R=MS`).
    pub fn start_with(upstream: &str, rules: &str, delay_ms: u64, extra: &[&str]) -> AwsSim {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port_file = dir.path().join("port");
        let log = dir.path().join("aws-sim.log");
        let mut child = Command::new(python())
            .arg(repo_root().join("scripts/aws-sim.py"))
            .args(["--upstream", upstream, "--rules", rules, "--delay-ms", &delay_ms.to_string()])
            .arg("--port-file")
            .arg(&port_file)
            .args(extra)
            .arg("--stop-on-stdin-eof")
            .env_remove("AWS_SIM_RULES")
            .env_remove("AWS_SIM_FOREIGN_BUCKETS")
            .env_remove("AWS_SIM_RULE_DELAY_MS")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("simulation log"))
            .spawn()
            .expect("starting scripts/aws-sim.py");
        let stdin = child.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().to_owned();
            }
            if let Some(status) = child.try_wait().expect("waiting on aws-sim.py") {
                panic!("aws-sim.py exited ({status}):\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "aws-sim.py wrote no port file within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        AwsSim { child, stdin, url: format!("http://127.0.0.1:{port}"), log, _dir: dir }
    }

    /// The endpoint to give the tools (`AWS_ENDPOINT_URL`) or an SDK client.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The time windows' length now (`--delay-ms`, or the last [`AwsSim::set_delay_ms`]).
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.stats()["delay_ms"].as_u64().expect("delay_ms"))
    }

    /// Changes the windows' length, also of the windows already open (they
    /// are measured from the call that opened them): 0 ends them all at
    /// once, so a test can check "after the delay" without waiting for it.
    pub fn set_delay_ms(&self, delay_ms: u64) {
        self.control("POST", &format!("config?delay_ms={delay_ms}"));
    }

    /// Ends every open window ([`AwsSim::set_delay_ms`] 0).
    pub fn end_windows(&self) {
        self.set_delay_ms(0);
    }

    /// `GET /aws-sim/stats`: `{"fired": {rule: n}, "forwarded": n, ...}`.
    pub fn stats(&self) -> Value {
        self.control("GET", "stats")
    }

    /// How many times each rule fired (rules that never fired are absent).
    pub fn fired(&self) -> BTreeMap<String, u64> {
        let stats = self.stats();
        stats["fired"]
            .as_object()
            .unwrap_or_else(|| panic!("no `fired` in the stats: {stats}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or_default()))
            .collect()
    }

    /// How many answers were relayed from the emulator.
    pub fn forwarded(&self) -> u64 {
        self.stats()["forwarded"].as_u64().expect("forwarded")
    }

    /// Everything the simulation wrote on stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `aws-sim: rule RULE fired: ...` lines of the log.
    pub fn fired_lines(&self, rule: &str) -> Vec<String> {
        let prefix = format!("aws-sim: rule {rule} fired: ");
        self.log().lines().filter(|l| l.starts_with(&prefix)).map(str::to_owned).collect()
    }

    /// `POST /aws-sim/reset`: forgets tracked resources, registrations, counts.
    pub fn reset(&self) {
        self.control("POST", "reset");
    }

    /// Registers `bucket` as living in `region` (rule `bucket-other-region`)
    /// and, with `other_owner`, as owned by another account
    /// (`bucket-other-account`).
    pub fn foreign_bucket(&self, bucket: &str, region: Option<&str>, other_owner: bool) {
        let mut path = format!("foreign-bucket?name={bucket}");
        if let Some(region) = region {
            path.push_str(&format!("&region={region}"));
        }
        if other_owner {
            path.push_str("&owner=other");
        }
        self.control("POST", &path);
    }

    /// Makes the creation of `domain` fail asynchronously (`es-async-failure`)
    /// with `reason` (letters, digits, spaces and `.,-_` only: it goes in a URL).
    pub fn fail_domain(&self, domain: &str, reason: &str) {
        self.control("POST", &format!("fail-domain?name={domain}&reason={}", reason.replace(' ', "+")));
    }

    /// A control request over a bare socket (no HTTP client needed).
    fn control(&self, method: &str, path: &str) -> Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connecting to aws-sim");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("socket timeout");
        write!(
            s,
            "{method} /aws-sim/{path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("writing to aws-sim");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("reading aws-sim's answer");
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer.as_str(), ""));
        assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{method} {path}: {answer}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("aws-sim's answer is not JSON ({e}): {answer}"))
    }
}

impl Drop for AwsSim {
    fn drop(&mut self) {
        crate::stop_on_stdin_eof(&mut self.child, self.stdin.take());
    }
}

/// The harness venv's python (next to the emulator run dir), else python3.
pub fn python() -> PathBuf {
    std::env::var_os("ANALYTICS_EMULATOR_RUN")
        .map(|run| PathBuf::from(run).join("../venv/bin/python"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("python3"))
}
