//! Every tool holds secrets in memory, so none can leave a core dump: a
//! running tool's limits say 0 for core files, soft and hard.

use std::io::Read;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use analytics_tests::bin;

#[test]
fn a_running_tool_cannot_dump_core() {
    // An endpoint that takes the connection and never answers: the tool
    // stays in its first call while we look at it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    for tool in ["mk-vpc", "mk-iam"] {
        let mut child = std::process::Command::new(bin(tool))
            .args(["--client", "hardening"])
            .env_clear()
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &url)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let limits_file = format!("/proc/{}/limits", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            // The limits are set first thing in main (the soft one may be 0
            // already, inherited): wait for the hard one.
            let text = std::fs::read_to_string(&limits_file).unwrap_or_default();
            let line = text.lines().find(|l| l.starts_with("Max core file size")).unwrap_or_default().to_owned();
            if line.split_whitespace().nth(5) == Some("0") || Instant::now() > deadline {
                break line;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let still_running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(still_running, "{tool} ended before it could be looked at: {stderr}");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields.get(4..6), Some(&["0", "0"][..]), "{tool}: {line:?}");
        assert!(!stderr.contains("could not disable core dumps"), "{stderr}");
    }
}
