//! The director stand-in of the emulator set (scripts/emulators.sh starts a
//! throwaway sshd on loopback): SQL sent through an `ssh -L` tunnel via it
//! reaches the local MariaDB from the sshd (its log shows the forwarded
//! channel, and MariaDB's peer is not this process), the host key is pinned
//! on first use, and a changed host key is refused.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use analytics_tests::{SshEnv, mysql_env, ssh_env};
use mysql_async::prelude::Queryable;

/// An `ssh` child; killed and reaped when dropped (also when the test panics).
struct SshChild {
    child: Child,
    stderr: PathBuf,
}

impl SshChild {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for SshChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ssh` to the director stand-in with its key, reading no ssh config of the
/// machine or the user, `known_hosts` as the only host key file.
fn ssh(env: &SshEnv, known_hosts: &Path, strict: &str) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-F")
        .arg("/dev/null")
        .arg("-p")
        .arg(env.port.to_string())
        .arg("-i")
        .arg(&env.key)
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "GlobalKnownHostsFile=/dev/null", "-o", "HashKnownHosts=no"])
        .args(["-o", &format!("StrictHostKeyChecking={strict}")])
        .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
        .args(["-o", "ConnectTimeout=10"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("binding a free port").local_addr().unwrap().port()
}

/// The inode of the TCP socket from local port `local` to remote port
/// `remote` (loopback, IPv4), from /proc/net/tcp.
fn tcp_socket_inode(local: u16, remote: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let port = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && port(f[1]) == Some(local) && port(f[2]) == Some(remote)).then(|| f[9].to_owned())
    })
}

/// The processes holding socket `inode` (those whose fds are readable:
/// sshd's children make themselves undumpable, so only root sees theirs).
fn socket_holders(inode: &str) -> Vec<(u32, String)> {
    let want = format!("socket:[{inode}]");
    let mut holders = Vec::new();
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = proc.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(proc.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == want.as_str())) {
            let comm = std::fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
            holders.push((pid, comm.trim_end().to_owned()));
        }
    }
    holders
}

#[tokio::test]
async fn sql_goes_through_the_tunnel_and_the_host_key_is_pinned() {
    let env = ssh_env();
    let (db_host, db_port, admin, password_file) = mysql_env();
    assert_eq!(db_host, "127.0.0.1", "the tunnel targets the MariaDB on loopback");
    let db_port: u16 = db_port.parse().expect("ANALYTICS_TEST_MYSQL_PORT");
    let password = std::fs::read_to_string(password_file).expect("admin password file").trim_end().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let known_hosts = dir.path().join("known_hosts");
    // Other tests may use the same sshd: only what it logs from now on counts.
    let log_start = std::fs::metadata(&env.log).map(|m| m.len()).unwrap_or(0);

    let local = free_port();
    let stderr = dir.path().join("ssh.stderr");
    let mut cmd = ssh(&env, &known_hosts, "accept-new");
    cmd.arg("-N")
        .arg("-L")
        .arg(format!("{local}:127.0.0.1:{db_port}"))
        .args(["-o", "ExitOnForwardFailure=yes"])
        .arg(format!("{}@{}", env.user, env.host))
        .stderr(File::create(&stderr).unwrap());
    let mut tunnel = SshChild { child: cmd.spawn().expect("running ssh"), stderr };

    // The local port answers once ssh has logged in and set the forward up.
    // No switch to MariaDB's unix socket, which mysql_async makes by default
    // on loopback: that would bypass the tunnel.
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(local)
        .prefer_socket(false)
        .user(Some(admin))
        .pass(Some(password));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        if let Some(status) = tunnel.child.try_wait().unwrap() {
            panic!("ssh exited ({status}) before the tunnel was up:\n{}", tunnel.stderr());
        }
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(conn) => break conn,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("no MariaDB through the tunnel on 127.0.0.1:{local}: {e}\nssh:\n{}", tunnel.stderr()),
        }
    };
    let one: Option<i64> = conn.query_first("SELECT 1").await.expect("SELECT 1 through the tunnel");
    assert_eq!(one, Some(1));
    // MariaDB's side of this session: the host:port it came from.
    let peer: Option<String> =
        conn.query_first("SELECT host FROM information_schema.processlist WHERE id = CONNECTION_ID()").await.unwrap();
    let peer = peer.expect("this session in the processlist");
    let peer_port: u16 = peer.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{peer}"));

    // The connection MariaDB sees is not this process's: it is the sshd's.
    let inode = tcp_socket_inode(peer_port, db_port)
        .unwrap_or_else(|| panic!("no socket from port {peer_port} to MariaDB's port {db_port} in /proc/net/tcp"));
    let holders = socket_holders(&inode);
    assert!(
        !holders.iter().any(|(pid, _)| *pid == std::process::id()),
        "the test itself holds MariaDB's peer socket: {holders:?}"
    );
    if holders.is_empty() {
        eprintln!("the holder of MariaDB's peer socket is not readable here (non-root): not checked");
    } else {
        assert!(holders.iter().all(|(_, comm)| comm == "sshd"), "MariaDB's peer is not the sshd: {holders:?}");
    }
    conn.disconnect().await.unwrap();

    // sshd logged the forwarded channel to MariaDB's port.
    let log = std::fs::read(&env.log).unwrap_or_else(|e| panic!("{}: {e}", env.log.display()));
    let new = String::from_utf8_lossy(&log[usize::try_from(log_start).unwrap().min(log.len())..]).into_owned();
    let channel = format!(", target 127.0.0.1 port {db_port}");
    assert!(
        new.lines()
            .any(|l| l.contains("server_request_direct_tcpip: originator 127.0.0.1 port ") && l.ends_with(&channel)),
        "no forwarded channel to 127.0.0.1:{db_port} in {}:\n{new}",
        env.log.display()
    );
    assert!(new.contains(&format!("connected to 127.0.0.1 port {db_port}")), "{new}");

    // The host key was pinned on first use: one line, this port, this key.
    let pinned = std::fs::read_to_string(&known_hosts).expect("ssh wrote known_hosts");
    let lines: Vec<&str> = pinned.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{pinned}");
    let (hosts, key) = lines[0].split_once(' ').unwrap_or_else(|| panic!("{pinned}"));
    assert_eq!(hosts, format!("[{}]:{}", env.host, env.port));
    assert_eq!(key.trim_end(), env.host_key_pub);

    drop(tunnel);
}

#[test]
fn a_changed_host_key_is_refused() {
    let env = ssh_env();
    let dir = tempfile::tempdir().unwrap();
    // Another host's key pinned for this address and port.
    let (known_hosts, pin) = env.pin_another_host_key(dir.path());

    let out = ssh(&env, &known_hosts, "yes")
        .arg(format!("{}@{}", env.user, env.host))
        .arg("true")
        .stderr(Stdio::piped())
        .output()
        .expect("running ssh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "ssh must refuse a changed host key:\n{stderr}");
    assert!(stderr.contains("Host key verification failed"), "{stderr}");
    // The pin is left as it was.
    assert_eq!(std::fs::read_to_string(&known_hosts).unwrap(), pin);
}
