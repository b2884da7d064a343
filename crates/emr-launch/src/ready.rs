//! Waiting for a cluster: what one look at it says ([`Observation`]),
//! whether that is ready or failed ([`readiness`], [`terminated`]; pure),
//! and polling until it is ([`wait_ready`]), with the shared backoff and
//! timeout of `common::wait`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use common::wait::{WaitState, wait_until};

/// The states after which a cluster never comes back.
pub const ENDED: [&str; 3] = ["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"];

/// One look at a cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub state: String,
    /// The state-change reason, `CODE: message`, when EMR gives one.
    pub reason: Option<String>,
    pub fleets: bool,
    pub master_public_dns_name: Option<String>,
    /// Instance groups (or fleets) by name and state, read once the cluster
    /// is WAITING.
    pub members: Option<Vec<(String, String)>>,
}

impl Observation {
    /// The state, with EMR's reason when it gave one.
    pub fn status(&self) -> String {
        match &self.reason {
            Some(r) => format!("{} ({r})", self.state),
            None => self.state.clone(),
        }
    }
}

/// Whether a cluster is ready: WAITING with every instance group (or fleet)
/// RUNNING; failed once it is terminating or terminated.
pub fn readiness(o: &Observation) -> WaitState<()> {
    if ENDED.contains(&o.state.as_str()) {
        return WaitState::Failed(o.status());
    }
    if o.state != "WAITING" {
        return WaitState::Pending(o.status());
    }
    match &o.members {
        Some(members) => {
            let not_running: Vec<String> =
                members.iter().filter(|(_, s)| s != "RUNNING").map(|(n, s)| format!("{n} {s}")).collect();
            if not_running.is_empty() {
                WaitState::Ready(())
            } else {
                WaitState::Pending(format!("WAITING, but {}", not_running.join(", ")))
            }
        }
        None => WaitState::Pending("WAITING".into()),
    }
}

/// Why a cluster did not become ready, with its last observation.
#[derive(Debug)]
pub enum NotReady {
    /// It ended (terminating or terminated); EMR's reason says why.
    Failed(Observation),
    /// Still not ready at the timeout.
    TimedOut(Observation),
    /// Looking at it failed (an AWS error): the cluster may be fine.
    Error(anyhow::Error),
}

/// Polls (with the shared backoff) until [`readiness`] says ready or
/// failed, or the timeout. Returns the last observation when ready.
pub async fn wait_ready<F, Fut>(what: &str, timeout: Duration, mut poll: F) -> Result<Observation, NotReady>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Observation>>,
{
    let last: RefCell<Option<Observation>> = RefCell::new(None);
    let poll_failed = Cell::new(false);
    // wait_until draws progress on a terminal; a CI log gets a line per change.
    let log_changes = !std::io::stderr().is_terminal();
    let outcome = wait_until(what, timeout, || {
        let next = poll();
        let (last, poll_failed) = (&last, &poll_failed);
        async move {
            match next.await {
                Ok(o) => {
                    let state = readiness(&o);
                    let changed = last.borrow().as_ref().is_none_or(|l| l.status() != o.status());
                    if log_changes && changed {
                        tracing::info!("{what}: {}", o.status());
                    }
                    *last.borrow_mut() = Some(o);
                    Ok(state)
                }
                Err(e) => {
                    poll_failed.set(true);
                    Err(e)
                }
            }
        }
    })
    .await;
    let last = last.into_inner();
    match (outcome, last) {
        (Ok(()), Some(o)) => Ok(o),
        (Err(e), _) if poll_failed.get() => Err(NotReady::Error(e)),
        (Err(_), Some(o)) => match readiness(&o) {
            WaitState::Failed(_) => Err(NotReady::Failed(o)),
            _ => Err(NotReady::TimedOut(o)),
        },
        (r, None) => Err(NotReady::Error(r.err().unwrap_or_else(|| anyhow::anyhow!("nothing observed")))),
    }
}

/// Whether a cluster has finished terminating.
pub fn terminated(o: &Observation) -> WaitState<String> {
    match o.state.as_str() {
        "TERMINATED" | "TERMINATED_WITH_ERRORS" => WaitState::Ready(o.state.clone()),
        _ => WaitState::Pending(o.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(state: &str, members: Option<&[(&str, &str)]>) -> Observation {
        Observation {
            state: state.into(),
            members: members.map(|m| m.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn ready_only_when_waiting_with_every_group_running() {
        assert!(matches!(readiness(&obs("STARTING", None)), WaitState::Pending(s) if s == "STARTING"));
        assert!(matches!(readiness(&obs("BOOTSTRAPPING", None)), WaitState::Pending(_)));
        assert!(matches!(readiness(&obs("RUNNING", None)), WaitState::Pending(_)));
        let some = [("master", "RUNNING"), ("core", "PROVISIONING")];
        assert!(
            matches!(readiness(&obs("WAITING", Some(&some))), WaitState::Pending(s) if s.contains("core PROVISIONING"))
        );
        let all = [("master", "RUNNING"), ("core", "RUNNING")];
        assert!(matches!(readiness(&obs("WAITING", Some(&all))), WaitState::Ready(())));
    }

    #[test]
    fn ended_clusters_fail_with_their_reason() {
        let mut o = obs("TERMINATED_WITH_ERRORS", None);
        o.reason = Some("BOOTSTRAP_FAILURE: bootstrap action 1 returned a non-zero return code".into());
        match readiness(&o) {
            WaitState::Failed(why) => {
                assert!(why.starts_with("TERMINATED_WITH_ERRORS (BOOTSTRAP_FAILURE: bootstrap action 1"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(readiness(&obs("TERMINATING", None)), WaitState::Failed(_)));
    }

    /// A scripted cluster: each poll returns the next observation (the last
    /// one repeats), counting polls.
    fn script(
        seq: Vec<Observation>,
    ) -> (impl FnMut() -> std::future::Ready<anyhow::Result<Observation>>, std::rc::Rc<Cell<usize>>) {
        let polls = std::rc::Rc::new(Cell::new(0usize));
        let counter = polls.clone();
        let poll = move || {
            let n = counter.get();
            counter.set(n + 1);
            std::future::ready(Ok(seq[n.min(seq.len() - 1)].clone()))
        };
        (poll, polls)
    }

    #[tokio::test(start_paused = true)]
    async fn waits_through_the_start_until_ready() {
        let (poll, polls) = script(vec![
            obs("STARTING", None),
            obs("BOOTSTRAPPING", None),
            obs("WAITING", Some(&[("master", "RUNNING"), ("core", "BOOTSTRAPPING")])),
            obs("WAITING", Some(&[("master", "RUNNING"), ("core", "RUNNING")])),
        ]);
        let start = tokio::time::Instant::now();
        let o = wait_ready("cluster c", Duration::from_secs(3600), poll).await.unwrap();
        assert_eq!(o.state, "WAITING");
        assert_eq!(polls.get(), 4, "ready on the fourth poll, not before");
        assert!(start.elapsed() >= Duration::from_secs(2), "it slept between polls: {:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_start_stops_waiting_with_the_reason() {
        let mut failed = obs("TERMINATED_WITH_ERRORS", None);
        failed.reason = Some("VALIDATION_ERROR: The subnet does not exist".into());
        let (poll, polls) = script(vec![obs("STARTING", None), failed]);
        match wait_ready("cluster c", Duration::from_secs(3600), poll).await {
            Err(NotReady::Failed(o)) => assert!(o.status().contains("The subnet does not exist"), "{o:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(polls.get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_start_times_out_with_the_last_status() {
        let (poll, _) = script(vec![obs("STARTING", None), obs("BOOTSTRAPPING", None)]);
        match wait_ready("cluster c", Duration::from_secs(60), poll).await {
            Err(NotReady::TimedOut(last)) => assert_eq!(last.status(), "BOOTSTRAPPING"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_aws_error_is_not_a_failed_cluster() {
        let poll = || std::future::ready(Err::<Observation, _>(anyhow::anyhow!("throttled")));
        assert!(matches!(wait_ready("c", Duration::from_secs(60), poll).await, Err(NotReady::Error(_))));
    }
}
