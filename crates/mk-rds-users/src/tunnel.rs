//! The SSH tunnel via the director: the system's OpenSSH client as
//! `ssh -N -L 127.0.0.1:<free port>:<server>:<port> user@director`, with the
//! director's key, its host key pinned on first use
//! (`StrictHostKeyChecking=accept-new` into the known_hosts file; a changed
//! key is refused) and no ssh configuration file read.
//!
//! Ready means ssh has logged in and listens on the local port: ssh runs
//! its `LocalCommand` (an `echo` of [`READY`]) right after it set the
//! forward up, so no probe connection reaches the server (a MySQL server
//! counts a connection that never logs in against the host it came from).
//!
//! Closed whatever happens: [`Tunnel::close`] on the normal path, and the
//! child is `kill_on_drop` for every other one (errors, panics). A process
//! killed outright (SIGKILL) runs neither: where util-linux's `setpriv` is
//! there, ssh is started through `setpriv --pdeathsig TERM`, so the kernel
//! ends ssh when this process dies. (ssh -N never reads its stdin, so an
//! EOF there would not stop it.) Without `setpriv`, such an ssh lives on
//! until the director drops the connection.

use std::net::TcpListener;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::via::Via;

/// What ssh's `LocalCommand` prints once the forward is up.
pub const READY: &str = "mk-rds-users: tunnel up";
/// Beyond ssh's connect timeout, what one attempt may take to log in.
const LOGIN_SLACK: Duration = Duration::from_secs(20);
/// Between attempts while the host does not answer SSH.
const RETRY_EVERY: Duration = Duration::from_secs(5);
/// How much of ssh's stderr is kept (the end of it).
const STDERR_KEPT: usize = 16 * 1024;

/// An open tunnel: connect to `127.0.0.1:local_port`.
pub struct Tunnel {
    child: Child,
    pub local_port: u16,
    stderr: Arc<Mutex<String>>,
    /// `the SSH tunnel via ubuntu@203.0.113.7:22`, for messages.
    pub described: String,
}

/// Why one attempt failed.
enum Failure {
    /// The host does not answer SSH (yet): tried again until `--via-wait`.
    Unreachable(String),
    /// The local port was taken between choosing and binding it.
    PortTaken(String),
    Final(anyhow::Error),
}

/// ssh's stderr on one line: its banners and blank lines left out, the end
/// kept when it is long.
pub fn stderr_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches("ssh: "))
        .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '@') && !l.starts_with("@ "))
        .collect();
    let line = common::error::one_line(&lines.join("; "));
    match line.char_indices().rev().nth(600) {
        Some((i, _)) => format!("...{}", &line[i..]),
        None => line,
    }
}

/// What ssh's failure means, from its stderr.
fn classify(via: &Via, stderr: &str, status: Option<ExitStatus>) -> Failure {
    let said = stderr_line(stderr);
    let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
    let who = via.describe();
    if has(&["REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key verification failed"]) {
        let (name, file) = (via.known_hosts_name(), via.known_hosts.display());
        // ssh's warning is a page long: the offered key and the verdict.
        let key_lines = ["SHA256:", "Offending", "has changed", "verification failed"];
        let kept: Vec<&str> = stderr.lines().filter(|l| key_lines.iter().any(|k| l.contains(k))).collect();
        let said = stderr_line(&kept.join("\n"));
        return Failure::Final(anyhow!(
            "ssh to {who} refused: its host key is not the one pinned for {name} in {file}; if the director was \
             replaced, remove the old key (ssh-keygen -R '{name}' -f {file}) and re-run, else something is \
             intercepting the connection (ssh: {said})"
        ));
    }
    if has(&["cannot listen to port", "Address already in use", "Could not request local forwarding"]) {
        return Failure::PortTaken(said);
    }
    if has(&["Permission denied"]) {
        return Failure::Final(anyhow!(
            "ssh to {who} refused the key {} for user {}: check --via-user (ubuntu on the director) and \
             --via-key (ssh: {said})",
            via.key.display(),
            via.user
        ));
    }
    if has(&["Could not resolve hostname"]) {
        return Failure::Final(anyhow!("ssh to {who} failed: cannot resolve {} (ssh: {said})", via.host));
    }
    let unreachable = [
        "Connection refused",
        "timed out",
        "No route to host",
        "Network is unreachable",
        "Connection closed by",
        "Connection reset",
        "kex_exchange_identification",
    ];
    if has(&unreachable) {
        return Failure::Unreachable(said);
    }
    let code = status.and_then(|s| s.code()).map_or_else(|| "killed".to_owned(), |c| format!("exit {c}"));
    Failure::Final(anyhow!("ssh to {who} failed ({code}): {}", if said.is_empty() { "no message" } else { &said }))
}

/// A local port nothing listens on (ssh binds it moments later; a port
/// taken in between is [`Failure::PortTaken`], and another is chosen).
fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| anyhow!("choosing a local port for the tunnel: {e}"))?;
    Ok(listener.local_addr()?.port())
}

/// ssh's config syntax for a path: `%` is a token there, whitespace ends a
/// word unless quoted ([`crate::via`] refused `"` and newlines).
fn config_path(path: &std::path::Path) -> String {
    format!("\"{}\"", path.to_string_lossy().replace('%', "%%"))
}

/// The ssh command line of one attempt.
pub fn command(via: &Via, local_port: u16, host: &str, port: u16) -> Command {
    let mut cmd = match &via.setpriv {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "TERM", "--"]).arg(&via.ssh);
            c
        }
        None => Command::new(&via.ssh),
    };
    let target = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    let timeout = via.connect_timeout.as_secs().max(1);
    cmd.args(["-F", "/dev/null", "-N", "-T"])
        .arg("-L")
        .arg(format!("127.0.0.1:{local_port}:{target}:{port}"))
        .args(["-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes"])
        .args(["-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"])
        .args(["-o", &format!("ConnectTimeout={timeout}"), "-o", "ConnectionAttempts=1"])
        .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
        .arg("-o")
        .arg(format!("IdentityFile={}", config_path(&via.key)))
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", config_path(&via.known_hosts)))
        .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=accept-new"])
        .args(["-o", "HashKnownHosts=no", "-o", "UpdateHostKeys=no", "-o", "CheckHostIP=no"])
        .args(["-o", "ControlMaster=no", "-o", "ControlPath=none"])
        .args(["-o", "PermitLocalCommand=yes", "-o", &format!("LocalCommand=echo {READY}")])
        .args(["-p", &via.port.to_string(), "--", &format!("{}@{}", via.user, via.host)])
        // LocalCommand runs in $SHELL.
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Keeps the end of ssh's stderr (and logs it at debug level) for as long
/// as ssh runs: a full pipe would stall it.
fn collect_stderr(
    stderr: impl AsyncRead + Unpin + Send + 'static,
    kept: Arc<Mutex<String>>,
    known_hosts: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!("ssh: {line}");
            if line.contains("Permanently added") {
                tracing::info!("pinned the director's host key in {known_hosts}");
            }
            let mut text = kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            text.push_str(&line);
            text.push('\n');
            if text.len() > STDERR_KEPT {
                let cut = text.len() - STDERR_KEPT;
                let cut = (cut..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
                text.drain(..cut);
            }
        }
    })
}

/// Says when [`READY`] comes on ssh's stdout, then drains it.
fn watch_ready(stdout: impl AsyncRead + Unpin + Send + 'static) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == READY
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    rx
}

enum Outcome {
    Ready,
    Exited(Option<ExitStatus>),
    TimedOut,
}

/// One ssh: up, or why not (the child is killed and reaped then).
async fn attempt(via: &Via, host: &str, port: u16) -> Result<Tunnel, Failure> {
    let local_port = free_port().map_err(Failure::Final)?;
    let mut child = command(via, local_port, host, port)
        .spawn()
        .map_err(|e| Failure::Final(anyhow!("running {}: {e}", via.ssh.display())))?;
    let kept = Arc::new(Mutex::new(String::new()));
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Failure::Final(anyhow!("ssh started without its pipes")));
    };
    let collector = collect_stderr(stderr, kept.clone(), via.known_hosts.display().to_string());
    let mut ready = watch_ready(stdout);
    let bound = via.connect_timeout + LOGIN_SLACK;
    let outcome = tokio::select! {
        r = &mut ready => if r.is_ok() { Outcome::Ready } else { Outcome::Exited(None) },
        s = child.wait() => Outcome::Exited(s.ok()),
        () = tokio::time::sleep(bound) => Outcome::TimedOut,
    };
    let described = format!("the SSH tunnel via {}", via.describe());
    let status = match outcome {
        Outcome::Ready => return Ok(Tunnel { child, local_port, stderr: kept, described }),
        Outcome::Exited(Some(status)) => Some(status),
        Outcome::Exited(None) | Outcome::TimedOut => {
            let _ = child.start_kill();
            tokio::time::timeout(Duration::from_secs(5), child.wait()).await.ok().and_then(Result::ok)
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), collector).await;
    let text = kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if matches!(outcome, Outcome::TimedOut) {
        return Err(Failure::Unreachable(format!("no tunnel within {} s; {}", bound.as_secs(), stderr_line(&text))));
    }
    Err(classify(via, &text, status))
}

impl Tunnel {
    /// Opens the tunnel to `host:port` as the director sees it, trying
    /// again while the director does not answer SSH, for `via.wait`.
    pub async fn open(via: &Via, host: &str, port: u16) -> anyhow::Result<Tunnel> {
        let deadline = Instant::now() + via.wait;
        let mut ports_taken = 0;
        tracing::debug!("opening an SSH tunnel via {} to {host}:{port}", via.describe());
        loop {
            match attempt(via, host, port).await {
                Ok(t) => {
                    tracing::info!("SSH tunnel via {} to {host}:{port} is up", via.describe());
                    return Ok(t);
                }
                Err(Failure::PortTaken(_)) if ports_taken < 3 => ports_taken += 1,
                Err(Failure::Unreachable(said)) if Instant::now() + RETRY_EVERY < deadline => {
                    tracing::info!("waiting for the director {} to answer SSH ({said})", via.host_port());
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(Failure::Unreachable(said)) => {
                    return Err(anyhow!(
                        "ssh to {} failed: no SSH answer within {} s; check --via and that this machine may reach \
                         port {} of the director (mk-sg's --admin-cidr) (ssh: {said})",
                        via.describe(),
                        via.wait.as_secs(),
                        via.port
                    ));
                }
                Err(Failure::PortTaken(said)) => {
                    return Err(anyhow!("ssh could not listen on a local port for the tunnel: {said}"));
                }
                Err(Failure::Final(e)) => return Err(e),
            }
        }
    }

    /// ssh's stderr so far, on one line, when ssh has exited (the tunnel
    /// broke); `None` while it runs.
    pub fn broken(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(None) => None,
            _ => Some(stderr_line(&self.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner))),
        }
    }

    /// What ssh said about channels it could not open (the director could
    /// not reach the server), on one line.
    pub fn open_failures(&self) -> Option<String> {
        let text = self.stderr.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let lines: Vec<&str> =
            text.lines().filter(|l| l.contains("open failed") || l.contains("connect failed")).collect();
        (!lines.is_empty()).then(|| stderr_line(&lines.join("\n")))
    }

    /// Ends ssh and reaps it.
    pub async fn close(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        tracing::debug!("closed {}", self.described);
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn via() -> Via {
        Via {
            host: "203.0.113.7".into(),
            port: 2222,
            user: "ubuntu".into(),
            key: PathBuf::from("/s/acme-director.pem"),
            known_hosts: PathBuf::from("/s dir/known_%hosts"),
            known_hosts_in_secrets: true,
            ssh: PathBuf::from("/usr/bin/ssh"),
            setpriv: None,
            wait: Duration::from_secs(0),
            connect_timeout: Duration::from_secs(10),
        }
    }

    fn message(f: Failure) -> String {
        match f {
            Failure::Final(e) => e.to_string(),
            Failure::Unreachable(s) => format!("unreachable: {s}"),
            Failure::PortTaken(s) => format!("port taken: {s}"),
        }
    }

    #[test]
    fn the_command_line() {
        let cmd = command(&via(), 40000, "db.internal", 3306);
        let args: Vec<String> = cmd.as_std().get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = args.join(" ");
        assert!(line.starts_with("-F /dev/null -N -T -L 127.0.0.1:40000:db.internal:3306 "), "{line}");
        assert!(line.ends_with("-p 2222 -- ubuntu@203.0.113.7"), "{line}");
        assert!(args.contains(&"UserKnownHostsFile=\"/s dir/known_%%hosts\"".to_owned()), "{line}");
        for o in ["ExitOnForwardFailure=yes", "BatchMode=yes", "StrictHostKeyChecking=accept-new", "IdentitiesOnly=yes"]
        {
            assert!(args.iter().any(|a| a == o), "{o}: {line}");
        }
        let v6 = command(&via(), 1, "2001:db8::1", 3306);
        assert!(v6.as_std().get_args().any(|a| a == "127.0.0.1:1:[2001:db8::1]:3306"));
        let wrapped = command(&Via { setpriv: Some("/usr/bin/setpriv".into()), ..via() }, 1, "h", 1);
        assert_eq!(wrapped.as_std().get_program(), "/usr/bin/setpriv");
        let first: Vec<_> = wrapped.as_std().get_args().take(4).collect();
        assert_eq!(first, ["--pdeathsig", "TERM", "--", "/usr/bin/ssh"]);
    }

    #[test]
    fn what_ssh_said_decides_the_error() {
        let changed = "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@\n\
                       IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nHost key verification failed.\n";
        let m = message(classify(&via(), changed, None));
        assert!(m.contains("ssh-keygen -R '[203.0.113.7]:2222'") && m.contains("host key"), "{m}");
        assert!(!m.contains('\n') && !m.contains("@@") && !m.contains("NASTY"), "{m}");
        let m = message(classify(&via(), "ubuntu@203.0.113.7: Permission denied (publickey).\n", None));
        assert!(m.contains("--via-key") && m.contains("/s/acme-director.pem"), "{m}");
        let m = message(classify(&via(), "ssh: connect to host 203.0.113.7 port 2222: Connection refused\n", None));
        assert!(m.starts_with("unreachable: "), "{m}");
        let m = message(classify(&via(), "channel_setup_fwd_listener_tcpip: cannot listen to port: 4\n", None));
        assert!(m.starts_with("port taken"), "{m}");
        let m = message(classify(&via(), "ssh: Could not resolve hostname x: Name or service not known\n", None));
        assert!(m.contains("cannot resolve"), "{m}");
        let m = message(classify(&via(), "something else\n", None));
        assert!(m.contains("something else"), "{m}");
    }

    #[test]
    fn stderr_lines_are_short() {
        let long = "x ".repeat(2000);
        let line = stderr_line(&long);
        assert!(line.len() <= 604 && line.starts_with("..."), "{}", line.len());
        assert_eq!(stderr_line("a\n\n@@@\nssh: b\n"), "a; b");
    }
}
