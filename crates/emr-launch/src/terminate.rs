//! `--terminate`, the five steps for the clusters of one name: the name
//! and region (desired: only they are rendered, the rest of the file may
//! depend on variables the teardown job does not set), the live clusters
//! of the name (observe), [`plan::terminate`], TerminateJobFlows through
//! `common::plan::apply`, then waiting until they have ended.

use anyhow::Context as _;
use common::Run;
use common::aws::AwsArgs;
use common::error::bad_input;
use common::wait::{WaitState, wait_until};
use serde_json::Value;

use crate::args::Args;
use crate::plan::{self, Op};
use crate::ready;
use crate::template::EnvLookup;
use crate::vars::{self, ClusterRef, Text};
use crate::yaml::Node;
use crate::{cluster, desired};

pub async fn terminate(args: &Args, run: &mut Run, raw: &Node, env: EnvLookup) -> anyhow::Result<()> {
    let source = args.source();
    let (cref, _) = vars::load::<ClusterRef>(raw, env, false).with_context(|| source.clone())?;
    let name = Text::present(&cref.name)
        .ok_or_else(|| bad_input(format!("{source}: `name` is required to find the cluster (or pass --name)")))?
        .to_owned();
    let region = desired::region(&args.aws, Text::present(&cref.region)).await?;
    run.report.region = Some(region.clone());
    run.report.output("name", name.clone());

    let aws = AwsArgs { region: Some(region), ..args.aws.clone() }.load(&run.calls).await?;
    let emr = common::client!(aws_sdk_emr, &aws);
    let live = cluster::live_clusters(&emr, &name).await?;
    let ids: Vec<String> = live.iter().map(|c| c.id.clone()).collect();
    run.report.output("cluster_ids", ids.clone());
    let plan = plan::terminate(&name, &live);
    common::plan::apply(run, &plan, async |op: &Op| cluster::apply_op(&emr, op, &live).await).await?;
    if live.is_empty() {
        run.report.output("state", Value::Null);
        return Ok(());
    }
    if run.dry_run() {
        return Ok(());
    }
    if args.wait.no_wait {
        run.report.output("state", "TERMINATING");
        return Ok(());
    }
    let mut last = String::new();
    for id in &ids {
        last = wait_until(&format!("termination of cluster {id} ({name})"), args.wait.timeout(), || async {
            Ok::<WaitState<String>, anyhow::Error>(ready::terminated(&cluster::observe(&emr, id).await?))
        })
        .await?;
    }
    run.report.output("state", last);
    Ok(())
}
