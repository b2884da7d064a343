//! Clusters on EMR: finding the live ones by name, launching, waiting until
//! ready, terminating. Thin: the decisions (what is ready, what has
//! failed) are pure functions here and in `lib`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use aws_sdk_emr::Client;
use aws_sdk_emr::types::{ClusterState, InstanceFleetType, InstanceGroupType};
use common::AwsResultExt;
use common::wait::{WaitState, wait_until};

use crate::request::{RunJobFlowRequest, to_sdk};

/// The states of a cluster that is up or on its way up: one of these with
/// the same name is reused rather than launched again.
pub const LIVE: [&str; 4] = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"];
/// The states after which a cluster never comes back.
pub const ENDED: [&str; 3] = ["TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"];

/// A live cluster of the wanted name.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCluster {
    pub id: String,
    pub state: String,
}

/// Every live cluster with this exact name, newest first (as EMR lists them).
pub async fn live_clusters(emr: &Client, name: &str) -> anyhow::Result<Vec<LiveCluster>> {
    let clusters = emr
        .list_clusters()
        .set_cluster_states(Some(LIVE.iter().map(|s| ClusterState::from(*s)).collect()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws_context("listing live EMR clusters")?;
    Ok(clusters
        .into_iter()
        .filter(|c| c.name() == Some(name))
        .map(|c| LiveCluster {
            id: c.id().unwrap_or_default().to_owned(),
            state: c.status().and_then(|s| s.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
        })
        .collect())
}

/// The cluster a launch made, as found after its answer was lost: the
/// newest live cluster of the name that was not live before the launch.
pub fn launched(before: &[LiveCluster], now: &[LiveCluster]) -> Option<String> {
    now.iter().find(|c| !before.iter().any(|b| b.id == c.id)).map(|c| c.id.clone())
}

/// Looks at the cluster list after a lost launch answer.
const VERIFY_LOOKS: u32 = 3;

/// Sends RunJobFlow; returns the new cluster's id. Nothing deduplicates it
/// (no client token): a retry of a launch whose answer was lost launches a
/// second cluster. So it is sent once per try, and after a transient
/// failure a live cluster of the name that was not in `before` (the live
/// ones before the launch) is taken as the launch's.
pub async fn launch(emr: &Client, request: &RunJobFlowRequest, before: &[LiveCluster]) -> anyhow::Result<String> {
    let no_retries = aws_sdk_emr::config::Config::builder().retry_config(common::once::no_retries());
    let id = common::once::at_most_once(
        &format!("launching EMR cluster {}", request.name),
        || async {
            let out =
                to_sdk(request, emr.run_job_flow()).customize().config_override(no_retries.clone()).send().await?;
            Ok(out.job_flow_id().map(str::to_owned).unwrap_or_default())
        },
        // EMR's cluster list is eventually consistent: a cluster just
        // launched may show a moment later. Looked for three times, a
        // second apart, before the launch is sent again.
        || async {
            for look in 1..=VERIFY_LOOKS {
                if let Some(id) = launched(before, &live_clusters(emr, &request.name).await?) {
                    return Ok(Some(id));
                }
                if look < VERIFY_LOOKS {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
            Ok(None)
        },
    )
    .await?;
    anyhow::ensure!(!id.is_empty(), "RunJobFlow returned no cluster id");
    Ok(id)
}

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

/// Reads a cluster's state, and its groups or fleets once it is WAITING.
pub async fn observe(emr: &Client, id: &str) -> anyhow::Result<Observation> {
    let out = emr.describe_cluster().cluster_id(id).send().await.aws_context(format!("describing cluster {id}"))?;
    let c = out.cluster().ok_or_else(|| anyhow::anyhow!("DescribeCluster returned no cluster for {id}"))?;
    let status = c.status();
    let reason = status.and_then(|s| s.state_change_reason()).and_then(|r| {
        let code = r.code().map(|c| c.as_str().to_owned());
        let message = r.message().map(str::to_owned).filter(|m| !m.is_empty());
        match (code, message) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (c, m) => c.or(m),
        }
    });
    let mut o = Observation {
        state: status.and_then(|s| s.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
        reason,
        fleets: c.instance_collection_type().is_some_and(|t| t.as_str() == "INSTANCE_FLEET"),
        master_public_dns_name: c.master_public_dns_name().map(str::to_owned).filter(|d| !d.is_empty()),
        members: None,
    };
    if o.state == "WAITING" {
        o.members = Some(if o.fleets {
            let fleets = emr
                .list_instance_fleets()
                .cluster_id(id)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws_context(format!("listing instance fleets of {id}"))?;
            fleets
                .iter()
                .map(|f| {
                    let name = f
                        .name()
                        .or(f.instance_fleet_type().map(aws_sdk_emr::types::InstanceFleetType::as_str))
                        .unwrap_or("fleet");
                    (
                        name.to_owned(),
                        f.status()
                            .and_then(|s| s.state())
                            .map(aws_sdk_emr::types::InstanceFleetState::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )
                })
                .collect()
        } else {
            let groups = emr
                .list_instance_groups()
                .cluster_id(id)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws_context(format!("listing instance groups of {id}"))?;
            groups
                .iter()
                .map(|g| {
                    let name = g
                        .name()
                        .or(g.instance_group_type().map(aws_sdk_emr::types::InstanceGroupType::as_str))
                        .unwrap_or("group");
                    (
                        name.to_owned(),
                        g.status()
                            .and_then(|s| s.state())
                            .map(aws_sdk_emr::types::InstanceGroupState::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    )
                })
                .collect()
        });
    }
    Ok(o)
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

/// The master's private IP: the last master instance EMR lists (earlier
/// ones may be replaced failures), as the old module chose.
pub async fn master_private_ip(emr: &Client, id: &str, fleets: bool) -> anyhow::Result<Option<String>> {
    let call = emr.list_instances().cluster_id(id);
    let call = if fleets {
        call.instance_fleet_type(InstanceFleetType::Master)
    } else {
        call.instance_group_types(InstanceGroupType::Master)
    };
    let out = call.send().await.aws_context(format!("listing the master instance of {id}"))?;
    Ok(out.instances().iter().rev().find_map(|i| i.private_ip_address()).map(str::to_owned))
}

/// Sends TerminateJobFlows for these clusters.
pub async fn terminate(emr: &Client, ids: &[String]) -> anyhow::Result<()> {
    emr.terminate_job_flows()
        .set_job_flow_ids(Some(ids.to_vec()))
        .send()
        .await
        .aws_context(format!("terminating {}", ids.join(", ")))?;
    Ok(())
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
    fn a_lost_launch_is_the_live_cluster_that_was_not_there_before() {
        let c = |id: &str| LiveCluster { id: id.into(), state: "STARTING".into() };
        assert_eq!(launched(&[], &[]), None, "not launched: try again");
        assert_eq!(launched(&[], &[c("j-NEW")]), Some("j-NEW".into()));
        assert_eq!(launched(&[c("j-OLD")], &[c("j-OLD")]), None, "only the one live before");
        assert_eq!(launched(&[c("j-OLD")], &[c("j-NEW"), c("j-OLD")]), Some("j-NEW".into()));
        assert_eq!(launched(&[c("j-OLD")], &[c("j-NEWER"), c("j-NEW"), c("j-OLD")]), Some("j-NEWER".into()), "newest");
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
