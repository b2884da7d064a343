//! Clusters on EMR, steps 2 and 4: finding the live ones by name, looking
//! at one, and the calls that change something ([`apply_op`]: launching,
//! terminating). Thin: the decisions are pure functions in `plan` and
//! `ready`.

use aws_sdk_emr::Client;
use aws_sdk_emr::types::{ClusterState, InstanceFleetState, InstanceFleetType, InstanceGroupState, InstanceGroupType};
use common::AwsResultExt;

use crate::plan::{LiveCluster, Op};
use crate::ready::Observation;
use crate::request::{RunJobFlowRequest, to_sdk};

/// The states of a cluster that is up or on its way up: one of these with
/// the same name is reused rather than launched again.
pub const LIVE: [&str; 4] = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"];

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

/// Sends one planned operation (the closure `common::plan::apply` is
/// given); `before` is the live clusters observed before the plan. Returns
/// the id of a cluster it launched.
pub async fn apply_op(emr: &Client, op: &Op, before: &[LiveCluster]) -> anyhow::Result<Option<String>> {
    match op {
        Op::RunJobFlow(request) => {
            let id = launch(emr, request, before).await?;
            tracing::info!("launched cluster {}: {id}", request.name);
            Ok(Some(id))
        }
        Op::TerminateJobFlows(ids) => {
            terminate(emr, ids).await?;
            tracing::info!("terminating {}", ids.join(", "));
            Ok(None)
        }
    }
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
/// ones before the launch) is taken as the launch's. Right after mk-iam
/// made the EMR roles, EMR may not see them yet: that answer is waited out
/// (`common::retry::eventually`); it launched nothing.
async fn launch(emr: &Client, request: &RunJobFlowRequest, before: &[LiveCluster]) -> anyhow::Result<String> {
    let no_retries = aws_sdk_emr::config::Config::builder().retry_config(common::once::no_retries());
    let id = common::once::at_most_once(
        &format!("launching EMR cluster {}", request.name),
        || async {
            let out = common::retry::eventually(|| {
                to_sdk(request, emr.run_job_flow()).customize().config_override(no_retries.clone()).send()
            })
            .await?;
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

/// Sends TerminateJobFlows for these clusters.
pub async fn terminate(emr: &Client, ids: &[String]) -> anyhow::Result<()> {
    emr.terminate_job_flows()
        .set_job_flow_ids(Some(ids.to_vec()))
        .send()
        .await
        .aws_context(format!("terminating {}", ids.join(", ")))?;
    Ok(())
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
        o.members = Some(if o.fleets { fleets(emr, id).await? } else { groups(emr, id).await? });
    }
    Ok(o)
}

/// A group's or fleet's name (its type when unnamed) and state.
fn member(name: Option<&str>, kind: Option<&str>, fallback: &str, state: Option<&str>) -> (String, String) {
    (name.or(kind).unwrap_or(fallback).to_owned(), state.unwrap_or("").to_owned())
}

/// The cluster's instance fleets, by name and state.
async fn fleets(emr: &Client, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let list = emr.list_instance_fleets().cluster_id(id).into_paginator().items().send();
    let fleets = list.try_collect().await.aws_context(format!("listing instance fleets of {id}"))?;
    Ok(fleets
        .iter()
        .map(|f| {
            let state = f.status().and_then(|s| s.state()).map(InstanceFleetState::as_str);
            member(f.name(), f.instance_fleet_type().map(InstanceFleetType::as_str), "fleet", state)
        })
        .collect())
}

/// The cluster's instance groups, by name and state.
async fn groups(emr: &Client, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let list = emr.list_instance_groups().cluster_id(id).into_paginator().items().send();
    let groups = list.try_collect().await.aws_context(format!("listing instance groups of {id}"))?;
    Ok(groups
        .iter()
        .map(|g| {
            let state = g.status().and_then(|s| s.state()).map(InstanceGroupState::as_str);
            member(g.name(), g.instance_group_type().map(InstanceGroupType::as_str), "group", state)
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_launch_is_the_live_cluster_that_was_not_there_before() {
        let c = |id: &str| LiveCluster { id: id.into(), state: "STARTING".into() };
        assert_eq!(launched(&[], &[]), None, "not launched: try again");
        assert_eq!(launched(&[], &[c("j-NEW")]), Some("j-NEW".into()));
        assert_eq!(launched(&[c("j-OLD")], &[c("j-OLD")]), None, "only the one live before");
        assert_eq!(launched(&[c("j-OLD")], &[c("j-NEW"), c("j-OLD")]), Some("j-NEW".into()));
        assert_eq!(launched(&[c("j-OLD")], &[c("j-NEWER"), c("j-NEW"), c("j-OLD")]), Some("j-NEWER".into()), "newest");
    }
}
