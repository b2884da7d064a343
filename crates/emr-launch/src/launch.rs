//! A launch, the five steps for one cluster: the request (desired), the
//! live clusters of its name (observe), reuse or launch ([`plan::launch`]),
//! RunJobFlow through `common::plan::apply`, then waiting until the
//! cluster is ready and the outputs: its id, state, master DNS name and
//! private IP.

use std::cell::RefCell;

use anyhow::Context as _;
use aws_sdk_emr::Client;
use common::aws::AwsArgs;
use common::{Action, Change, Deployment, Run, WaitArgs};
use serde_json::Value;

use crate::args::Args;
use crate::plan::{self, KIND, Op};
use crate::ready::{self, NotReady, Observation};
use crate::request::{self, Desired};
use crate::template::EnvLookup;
use crate::vars::{self, EmrVars, Text};
use crate::yaml::Node;
use crate::{cluster, desired};

/// The request for the variables, with the region it goes to. What the
/// file's reading notes (unknown keys, ignored settings) is recorded now,
/// before any call.
async fn request(
    args: &Args,
    run: &mut Run,
    raw: &Node,
    env: EnvLookup,
    deployment: Option<&Deployment>,
) -> anyhow::Result<(Desired, String)> {
    let source = args.source();
    let (vars, unknown) = vars::load::<EmrVars>(raw, env, true).with_context(|| source.clone())?;
    for w in unknown {
        run.report.warn(format!("{source}: {w}"));
    }
    let region = desired::region(&args.aws, Text::present(&vars.region)).await?;
    run.report.region = Some(region.clone());
    let ctx = request::Context {
        region: region.clone(),
        env_keypair: std::env::var("AWS_KEYPAIR_NAME").ok(),
        tags: desired::tags(deployment),
    };
    let desired = request::build(&vars, &ctx).with_context(|| source.clone())?;
    run.report.record(&desired.findings);
    Ok((desired, region))
}

pub async fn launch(
    args: &Args,
    run: &mut Run,
    raw: &Node,
    env: EnvLookup,
    deployment: Option<&Deployment>,
) -> anyhow::Result<()> {
    let (desired, region) = request(args, run, raw, env, deployment).await?;
    let name = desired.request.name.clone();
    run.report.output("name", name.clone());
    if run.dry_run() {
        run.report.output("request", serde_json::to_value(&desired.request)?);
    }

    let aws = AwsArgs { region: Some(region), ..args.aws.clone() }.load(&run.calls).await?;
    let emr = common::client!(aws_sdk_emr, &aws);
    let live = cluster::live_clusters(&emr, &name).await?;
    let plan = plan::launch(&desired.request, &live);
    if let Some(c) = plan::reused(&live) {
        tracing::info!("cluster {name} is live ({}, {}): reusing it", c.id, c.state);
    }
    let launched = RefCell::new(None);
    common::plan::apply(run, &plan, async |op: &Op| {
        let id = cluster::apply_op(&emr, op, &live).await?;
        *launched.borrow_mut() = id.clone();
        Ok(id)
    })
    .await?;
    let Some(id) = plan::reused(&live).map(|c| c.id.clone()).or(launched.into_inner()) else {
        // --dry-run: nothing launched, nothing to look at.
        for key in ["cluster_id", "state", "master_public_dns_name", "master_private_ip"] {
            run.report.output(key, Value::Null);
        }
        return Ok(());
    };
    run.report.output("cluster_id", id.clone());

    let observed = if args.wait.no_wait || run.dry_run() {
        cluster::observe(&emr, &id).await?
    } else {
        ready_or_terminated(&emr, &id, &name, &args.wait, run).await?
    };
    outputs(&emr, &id, &observed, run).await
}

/// The cluster's state and master, as later steps of the pipeline need them.
async fn outputs(emr: &Client, id: &str, observed: &Observation, run: &mut Run) -> anyhow::Result<()> {
    run.report.output("state", observed.state.clone());
    run.report.output("master_public_dns_name", observed.master_public_dns_name.clone());
    let has_master =
        observed.master_public_dns_name.is_some() || ["RUNNING", "WAITING"].contains(&observed.state.as_str());
    let ip = if has_master { cluster::master_private_ip(emr, id, observed.fleets).await? } else { None };
    run.report.output("master_private_ip", ip);
    Ok(())
}

/// Waits until the cluster is ready. One that ends, or is still not ready
/// at the timeout, is a failure (exit 1) with EMR's reason; one still
/// starting at the timeout is terminated first, so it costs nothing. That
/// termination is not planned (nothing knew it would be needed): it is
/// sent and recorded here.
async fn ready_or_terminated(
    emr: &Client,
    id: &str,
    name: &str,
    wait: &WaitArgs,
    run: &mut Run,
) -> anyhow::Result<Observation> {
    tracing::info!("waiting for cluster {id} ({name}) to be ready (up to {}s)", wait.timeout);
    let what = format!("cluster {id} ({name})");
    match ready::wait_ready(&what, wait.timeout(), || cluster::observe(emr, id)).await {
        Ok(o) => Ok(o),
        Err(NotReady::Error(e)) => {
            Err(e.context(format!("waiting for {what}; it is left as it is, re-run to wait again")))
        }
        Err(NotReady::Failed(o)) => {
            // EMR has ended it already: nothing to terminate.
            run.report.output("state", o.state.clone());
            anyhow::bail!("{what} failed to start: {}", o.status())
        }
        Err(NotReady::TimedOut(o)) => {
            cluster::terminate(emr, &[id.to_owned()]).await?;
            run.report.change(Change::new(KIND, name, Action::Delete).with_id(id));
            run.report.output("state", "TERMINATING");
            anyhow::bail!(
                "{what} was not ready after {}s (last status: {}); terminated it (raise --timeout for slow starts)",
                wait.timeout,
                o.status()
            )
        }
    }
}
