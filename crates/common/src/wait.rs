//! Waiting for slow creations (domains, databases, clusters, instances):
//! poll with exponential backoff up to a timeout, with a progress line on
//! stderr when it is a terminal.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::Instant;

use clap::Args;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Waiting")]
pub struct WaitArgs {
    /// Do not wait for slow creations; a later run (without it) waits
    #[arg(long, help_heading = "Waiting")]
    pub no_wait: bool,
    /// Give up waiting after this many seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Waiting")]
    pub timeout: u64,
}

impl WaitArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
}

/// What one poll found.
#[derive(Debug)]
pub enum WaitState<T> {
    Ready(T),
    /// Not yet; the string is the current status, shown as progress.
    Pending(String),
    /// It will never be ready; the string says why.
    Failed(String),
}

/// Backoff schedule: starts at `ANALYTICS_POLL_INITIAL_MS` (default 2 s),
/// grows by half each poll, capped at 30 s.
fn intervals() -> impl Iterator<Item = Duration> {
    let initial = std::env::var("ANALYTICS_POLL_INITIAL_MS").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(2000);
    let cap = Duration::from_secs(30).max(Duration::from_millis(initial));
    std::iter::successors(Some(Duration::from_millis(initial)), move |d| Some((d.mul_f64(1.5)).min(cap)))
}

/// Polls until ready, failed, or `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut poll: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<WaitState<T>>>,
{
    let start = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let mut intervals = intervals();
    let mut polls = 0u32;
    loop {
        polls += 1;
        match poll().await? {
            WaitState::Ready(t) => {
                if tty && polls > 1 {
                    eprintln!();
                }
                tracing::debug!("{what}: ready after {polls} polls, {:.1?}", start.elapsed());
                return Ok(t);
            }
            WaitState::Failed(why) => {
                if tty && polls > 1 {
                    eprintln!();
                }
                anyhow::bail!("{what} failed: {why}");
            }
            WaitState::Pending(status) => {
                let elapsed = start.elapsed();
                if elapsed >= timeout {
                    if tty {
                        eprintln!();
                    }
                    anyhow::bail!(
                        "timed out after {}s waiting for {what} (last status: {status}); raise --timeout or re-run later",
                        timeout.as_secs()
                    );
                }
                if tty {
                    eprint!("\r\x1b[2K{what}: {status} ({}s)", elapsed.as_secs());
                    let _ = std::io::stderr().flush();
                } else {
                    tracing::debug!("{what}: {status} ({}s)", elapsed.as_secs());
                }
                let next = intervals.next().unwrap_or(Duration::from_secs(30));
                tokio::time::sleep(next.min(timeout.saturating_sub(elapsed))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let v: Vec<_> = intervals().take(20).collect();
        assert!(v.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*v.last().unwrap(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn ready_after_some_polls() {
        let mut n = 0;
        let got = wait_until("thing", Duration::from_secs(600), || {
            n += 1;
            let n = n;
            async move { Ok(if n < 4 { WaitState::Pending(format!("poll {n}")) } else { WaitState::Ready(n) }) }
        })
        .await
        .unwrap();
        assert_eq!(got, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_last_status() {
        let err = wait_until::<(), _, _>("domain x", Duration::from_secs(60), || async {
            Ok(WaitState::Pending("processing".into()))
        })
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("timed out after 60s waiting for domain x"), "{msg}");
        assert!(msg.contains("processing"), "{msg}");
    }

    #[tokio::test(start_paused = true)]
    async fn failure_stops_waiting() {
        let err = wait_until::<(), _, _>("cluster c", Duration::from_secs(60), || async {
            Ok(WaitState::Failed("bootstrap failed".into()))
        })
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "cluster c failed: bootstrap failed");
    }
}
