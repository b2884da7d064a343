//! The secrets audit of a full deployment: no secret value (IAM secret
//! access keys, every password including the RDS master password, the MySQL
//! admin password the runbook gets as MYSQL_PWD and the migration password,
//! private key bodies) appears in deploy.sh's or destroy.sh's stdout or
//! stderr, in any state file or in the emulators' logs; the secrets
//! directory is 0700 and each file in it 0600; and no secret is ever in any
//! process's argv: while the runbooks run, a thread samples the command
//! line of every process in /proc, and every distinct one seen is checked
//! afterwards against every secret (including those known only from the
//! secrets directory at the end).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use analytics_tests::{Runbook, mode, mysql_env};
use serde_json::Value;

/// Samples the command line of every process until stopped.
struct ArgvSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(BTreeSet<String>, usize)>,
}

impl ArgvSampler {
    fn start() -> ArgvSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = BTreeSet::new();
            let mut rounds = 0;
            // One more round after the stop, for the last processes.
            let mut last = false;
            while !last {
                last = s.load(Ordering::Relaxed);
                for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                    if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                        continue;
                    }
                    if let Ok(raw) = std::fs::read(entry.path().join("cmdline"))
                        && !raw.is_empty()
                    {
                        let args: Vec<String> = raw
                            .split(|b| *b == 0)
                            .filter(|a| !a.is_empty())
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect();
                        seen.insert(args.join(" "));
                    }
                }
                rounds += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (seen, rounds)
        });
        ArgvSampler { stop, thread }
    }

    /// The distinct command lines seen, and how many times /proc was read.
    fn finish(self) -> (BTreeSet<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// The tools whose processes the sampler saw (by the name they ran as).
fn tools_seen(cmdlines: &BTreeSet<String>) -> BTreeSet<String> {
    cmdlines
        .iter()
        .filter_map(|c| c.split(' ').next())
        .map(|argv0| argv0.rsplit('/').next().unwrap_or(argv0).to_owned())
        .filter(|name| name.starts_with("mk-") || name == "emr-launch")
        .collect()
}

/// A secret value and where it comes from (never printed itself).
struct Secret {
    what: String,
    value: String,
}

/// Every secret value of the deployment: what the secrets directory holds,
/// and what the runbook was given (the MySQL admin and migration passwords).
fn secret_values(rb: &Runbook) -> Vec<Secret> {
    let mut out = Vec::new();
    let mut add = |what: String, value: &str| {
        let value = value.trim();
        assert!(value.len() >= 8, "{what}: a secret this short would match by chance");
        out.push(Secret { what, value: value.to_owned() });
    };
    let (_, _, _, admin_password_file) = mysql_env();
    add("the MySQL admin password (MYSQL_PWD)".into(), &std::fs::read_to_string(admin_password_file).unwrap());
    add("the migration password".into(), &rb.migration_password());
    let string = |v: &Value, what: &str| v.as_str().unwrap_or_else(|| panic!("{what}: not a string")).to_owned();
    for entry in std::fs::read_dir(&rb.secrets).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        if name.ends_with(".access-key.json") {
            let v: Value = serde_json::from_str(&text).unwrap();
            add(format!("the secret access key in {name}"), &string(&v["secret_access_key"], &name));
        } else if name.ends_with("_creds") {
            let v: Value = serde_json::from_str(&text).unwrap();
            add(format!("the password in {name}"), &string(&v["password"], &name));
        } else if name.ends_with(".password") || name.ends_with(".master-password") {
            add(format!("the password in {name}"), &text);
        } else if name.ends_with(".pem") {
            let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----") && l.len() >= 16).collect();
            assert!(!body.is_empty(), "{name} holds no key body");
            for (i, line) in body.into_iter().enumerate() {
                add(format!("line {} of the private key body in {name}", i + 1), line);
            }
        }
    }
    let kinds = |suffix: &str| out.iter().filter(|s| s.what.contains(suffix)).count();
    assert_eq!(kinds(".access-key.json"), 2, "the two users' secret access keys");
    assert_eq!(kinds(".master-password"), 1, "the RDS master password");
    assert!(kinds("mysql-") >= 2, "the analytics and edxapp_ro passwords");
    assert!(kinds(".pem") >= 2, "the two private keys");
    out
}

#[track_caller]
fn assert_no_secret_in(what: &str, text: &str, secrets: &[Secret]) {
    for s in secrets {
        assert!(!text.contains(&s.value), "{} appears in {what}", s.what);
    }
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// State files and logs: the runbook's state directory, and the logs of the
/// emulators (moto server, MariaDB) the harness started.
fn state_files_and_logs(rb: &Runbook) -> Vec<PathBuf> {
    let mut files = files_under(&rb.state);
    if let Some(run) = std::env::var_os("ANALYTICS_EMULATOR_RUN") {
        files.extend(files_under(Path::new(&run)).into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")));
    }
    files
}

/// Runs a runbook script while sampling every process's argv.
fn run_sampled(rb: &Runbook, script: &str) -> (String, String, BTreeSet<String>) {
    let sampler = ArgvSampler::start();
    let t = Instant::now();
    // A canary: a process that lives 20 ms, as short as a quick tool run.
    let canary = format!("argv-canary-{}", rb.client);
    let mut c = std::process::Command::new("bash").args(["-c", "sleep 0.02; true", &canary]).spawn().unwrap();
    let (status, stdout, stderr) = rb.run(script);
    let took = t.elapsed();
    c.wait().unwrap();
    let (argv, rounds) = sampler.finish();
    assert_eq!(status, 0, "{script} failed:\n{stderr}");
    assert!(argv.iter().any(|c| c.contains(&canary)), "the sampler missed a 20 ms process");
    eprintln!(
        "{script}: {:.2}s; /proc read {rounds} times, {} distinct command lines, tools seen: {:?}",
        took.as_secs_f64(),
        argv.len(),
        tools_seen(&argv)
    );
    (stdout, stderr, argv)
}

#[tokio::test]
async fn no_secret_leaks_from_a_deployment() {
    let rb = Runbook::new("sa").await;

    let (stdout, stderr, argv) = run_sampled(&rb, "deploy.sh");
    // The sampler saw the tools, so a clean argv proves something.
    let seen = tools_seen(&argv);
    for tool in ["mk-iam", "mk-rds-users", "mk-rds", "mk-ec2", "mk-config"] {
        assert!(seen.contains(tool), "the sampler never saw {tool}: {seen:?}");
    }
    // ...this deployment's tools, not another test's (their arguments name its files).
    let password_file = rb.state.parent().unwrap().join("migrate-password");
    let password_file = password_file.to_str().unwrap();
    let state = rb.state.to_str().unwrap();
    assert!(
        argv.iter().any(|c| c.contains("mk-rds-users") && c.contains(password_file)),
        "mk-rds-users --migration-password-file {password_file}"
    );
    assert!(argv.iter().any(|c| c.contains("mk-config") && c.contains(state)), "mk-config {state}/...");

    let secrets = secret_values(&rb);
    assert_no_secret_in("deploy.sh's stdout", &stdout, &secrets);
    assert_no_secret_in("deploy.sh's stderr", &stderr, &secrets);
    for cmdline in &argv {
        assert_no_secret_in(&format!("the command line {cmdline:?}"), cmdline, &secrets);
    }
    let files = state_files_and_logs(&rb);
    assert!(files.iter().any(|p| p.ends_with("mk-rds.json")), "the state files: {files:?}");
    eprintln!("{} state files and logs checked", files.len());
    for p in &files {
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        assert_no_secret_in(&p.display().to_string(), &text, &secrets);
    }

    // The secrets directory: 0700, every file in it 0600.
    assert_eq!(mode(&rb.secrets), 0o700, "{}", rb.secrets.display());
    let mut count = 0;
    for entry in std::fs::read_dir(&rb.secrets).unwrap() {
        let p = entry.unwrap().path();
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&p), want, "{}", p.display());
        count += 1;
    }
    assert!(count >= 12, "{count} files in the secrets directory");

    // A re-run and destroy.sh: the same checks on what they print, write and run.
    let (stdout, stderr, argv) = run_sampled(&rb, "deploy.sh");
    assert_no_secret_in("the re-run's stdout", &stdout, &secrets);
    assert_no_secret_in("the re-run's stderr", &stderr, &secrets);
    for cmdline in &argv {
        assert_no_secret_in(&format!("the command line {cmdline:?}"), cmdline, &secrets);
    }
    let (stdout, stderr, argv) = run_sampled(&rb, "destroy.sh");
    let seen = tools_seen(&argv);
    for tool in ["mk-iam", "mk-rds", "mk-ec2"] {
        assert!(seen.contains(tool), "the sampler never saw {tool} --destroy: {seen:?}");
    }
    assert_no_secret_in("destroy.sh's stdout", &stdout, &secrets);
    assert_no_secret_in("destroy.sh's stderr", &stderr, &secrets);
    for cmdline in &argv {
        assert_no_secret_in(&format!("the command line {cmdline:?}"), cmdline, &secrets);
    }
    let files = state_files_and_logs(&rb);
    assert!(files.iter().any(|p| p.starts_with(rb.state.join("destroy"))), "destroy.sh's documents: {files:?}");
    for p in &files {
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        assert_no_secret_in(&p.display().to_string(), &text, &secrets);
    }
    if rb.secrets.exists() {
        assert_eq!(mode(&rb.secrets), 0o700, "{}", rb.secrets.display());
        for p in files_under(&rb.secrets) {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}
