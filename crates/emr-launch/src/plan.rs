//! Step 3, plan: what to do about the cluster of a name, given the live
//! clusters of that name (newest first, as EMR lists them). Pure.
//!
//! - Launch: the newest live cluster is reused (unchanged; a warning names
//!   the others), else one step creates the cluster with RunJobFlow.
//! - `--terminate`: one step deletes every live cluster of the name with
//!   one TerminateJobFlows; none live is an info finding and no step.
//!
//! Both are one phase: a cluster needs nothing else this tool makes.
//! Waiting (until ready, or ended) follows the apply; it is not a change.

use common::{Action, Change};

use crate::request::RunJobFlowRequest;

/// The report's kind for a cluster.
pub const KIND: &str = "emr-cluster";

/// A live cluster of the wanted name (observed).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCluster {
    pub id: String,
    pub state: String,
}

/// One EMR call that changes something.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Launch the cluster; sent at most once (nothing deduplicates it).
    RunJobFlow(Box<RunJobFlowRequest>),
    /// End these clusters.
    TerminateJobFlows(Vec<String>),
}

pub type Plan = common::Plan<Op>;
pub type Step = common::Step<Op>;

/// The live cluster a launch reuses: the newest.
pub fn reused(live: &[LiveCluster]) -> Option<&LiveCluster> {
    live.first()
}

/// Reuse the newest live cluster of the request's name, or launch it.
pub fn launch(request: &RunJobFlowRequest, live: &[LiveCluster]) -> Plan {
    let name = &request.name;
    let mut plan = Plan::default();
    match reused(live) {
        None => {
            let op = Op::RunJobFlow(Box::new(request.clone()));
            plan.step(Step::new(Change::new(KIND, name, Action::Create), vec![op]));
        }
        Some(cluster) => {
            let others: Vec<&str> = live[1..].iter().map(|c| c.id.as_str()).collect();
            if !others.is_empty() {
                plan.warn(format!(
                    "{} live clusters are named {name}: reusing the newest, {}; also live: {}",
                    others.len() + 1,
                    cluster.id,
                    others.join(", ")
                ));
            }
            plan.step(Step::unchanged(Change::new(KIND, name, Action::Unchanged).with_id(&cluster.id)));
        }
    }
    plan
}

/// End every live cluster of the name.
pub fn terminate(name: &str, live: &[LiveCluster]) -> Plan {
    let mut plan = Plan::default();
    if live.is_empty() {
        plan.info(format!("no live cluster is named {name}: nothing to terminate"));
        return plan;
    }
    let changes = live.iter().map(|c| Change::new(KIND, name, Action::Delete).with_id(&c.id)).collect();
    let ids = live.iter().map(|c| c.id.clone()).collect();
    plan.step(Step::batch(changes, vec![Op::TerminateJobFlows(ids)]));
    plan
}

#[cfg(test)]
mod tests {
    use common::Severity;

    use super::*;
    use crate::request::Instances;

    fn request() -> RunJobFlowRequest {
        RunJobFlowRequest {
            name: "nightly".into(),
            log_uri: None,
            release_label: Some("emr-5.36.2".into()),
            ami_version: None,
            instances: Instances::default(),
            steps: vec![],
            bootstrap_actions: vec![],
            applications: vec![],
            new_supported_products: vec![],
            configurations: vec![],
            visible_to_all_users: true,
            job_flow_role: "EMR_EC2_DefaultRole".into(),
            service_role: "EMR_DefaultRole".into(),
            tags: vec![],
            ebs_root_volume_size: None,
        }
    }

    fn live(ids: &[&str]) -> Vec<LiveCluster> {
        ids.iter().map(|id| LiveCluster { id: (*id).into(), state: "WAITING".into() }).collect()
    }

    #[test]
    fn no_live_cluster_is_launched() {
        let p = launch(&request(), &[]);
        assert_eq!(p.steps.len(), 1);
        let c = p.steps[0].change();
        assert_eq!((c.kind, c.name.as_str(), c.action, c.id.as_deref()), (KIND, "nightly", Action::Create, None));
        assert_eq!(p.steps[0].ops, [Op::RunJobFlow(Box::new(request()))]);
        assert!(p.findings.is_empty());
    }

    #[test]
    fn the_newest_live_cluster_is_reused() {
        let p = launch(&request(), &live(&["j-NEW"]));
        assert_eq!(p.steps[0].change().action, Action::Unchanged);
        assert_eq!(p.steps[0].change().id.as_deref(), Some("j-NEW"));
        assert!(!p.has_work());
        assert!(p.findings.is_empty());

        let p = launch(&request(), &live(&["j-NEW", "j-OLD"]));
        assert_eq!(p.steps[0].change().id.as_deref(), Some("j-NEW"));
        assert!(!p.has_work());
        assert_eq!(p.findings[0].severity, Severity::Warning);
        assert_eq!(
            p.findings[0].message,
            "2 live clusters are named nightly: reusing the newest, j-NEW; also live: j-OLD"
        );
    }

    #[test]
    fn terminate_ends_every_live_cluster_in_one_call() {
        let p = terminate("nightly", &live(&["j-A", "j-B"]));
        assert_eq!(p.steps.len(), 1);
        let changes: Vec<_> = p.steps[0].changes.iter().map(|c| (c.action, c.id.as_deref())).collect();
        assert_eq!(changes, [(Action::Delete, Some("j-A")), (Action::Delete, Some("j-B"))]);
        assert_eq!(p.steps[0].ops, [Op::TerminateJobFlows(vec!["j-A".into(), "j-B".into()])]);

        let p = terminate("nightly", &[]);
        assert!(p.steps.is_empty());
        assert_eq!(p.findings[0].severity, Severity::Info);
        assert_eq!(p.findings[0].message, "no live cluster is named nightly: nothing to terminate");
    }
}
