//! emr-launch: the analytics pipeline's EMR clusters, launched from the
//! emr-vars.yml files its Jenkins jobs already use (SPEC section 10, the
//! format in emr-vars.md), and terminated by name.
//!
//! The house path, for one cluster:
//! - desired (pure): [`yaml`] reads the file, [`extra_vars`] applies
//!   `--extra-vars`, [`template`] renders the Jinja subset, [`vars`] types
//!   it, [`request::build`] maps it to the RunJobFlow request the old
//!   playbook's module sent;
//! - observe: [`cluster::live_clusters`] by name;
//! - plan (pure): reuse the live cluster, or launch ([`plan`]);
//! - apply: [`cluster::launch`], then [`cluster::wait_ready`] (ready is
//!   [`cluster::readiness`], pure); `--terminate` ends the live ones;
//! - report: the cluster's id, state, master DNS name and private IP.
//!
//! Not for: changing a running cluster (EMR cannot apply most of the file
//! to one), or the pipeline's steps after launch.

pub mod cluster;
pub mod extra_vars;
pub mod request;
pub mod template;
pub mod vars;
pub mod yaml;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use common::aws::{AwsArgs, validate_region};
use common::cli::ToolArgs;
use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};
use common::error::bad_input;
use common::wait::{WaitState, wait_until};
use common::{Action, Change, ClientName, LogArgs, Run, Severity, WaitArgs};
use serde_json::Value;

use crate::cluster::{LiveCluster, NotReady, Observation};
use crate::template::EnvLookup;
use crate::vars::{ClusterRef, EmrVars, Text};
use crate::yaml::Node;

const TOOL: &str = "emr-launch";
const KIND: &str = "emr-cluster";
/// The old module's default region.
const DEFAULT_REGION: &str = "us-east-1";

const EXAMPLES: &str = "\
Examples:
  # A Jenkins job: launch (or reuse) the cluster, then hand its master to the pipeline
  export CLUSTER_NAME=nightly-$BUILD_NUMBER
  MASTER=$(emr-launch --vars emr-vars.yml | jq -r .outputs.master_public_dns_name)
  emr-launch --vars emr-vars.yml --terminate        # at the end of the job

  emr-launch --vars emr-vars.yml -e @overrides.yml -e 'core_instance_num=4 task_instance_num=0'
  emr-launch --vars emr-vars.yml --dry-run | jq .outputs.request   # the exact RunJobFlow request
  emr-launch --terminate --name nightly-42 --region eu-west-1";

/// Launch the analytics pipeline's EMR cluster described by an emr-vars.yml
/// file, or reuse the live cluster of the same name, and wait until it is
/// ready (WAITING, every instance group or fleet RUNNING).
///
/// The file is read as the old Ansible playbook read it: its Jinja
/// expressions (lookup('env', ...), default, int, bool, string, references
/// to other keys) are rendered, and --extra-vars override keys as -e did.
/// A cluster that does not become ready within --timeout is terminated.
/// The region is --region, else the file's `region`, else $AWS_REGION or
/// the profile's, else us-east-1. stdout is one JSON document;
/// outputs.master_public_dns_name and outputs.master_private_ip name the
/// master.
#[derive(Parser, Debug)]
#[command(name = "emr-launch", version, after_help = EXAMPLES)]
pub struct Args {
    /// The cluster's variables (emr-vars.yml)
    #[arg(long, value_name = "FILE", required_unless_present_all = ["terminate", "name"])]
    pub vars: Option<PathBuf>,
    /// Override variables as Ansible's -e did: KEY=VALUE (several, space-separated), @FILE.yml, or a YAML map (repeatable; later wins)
    #[arg(long = "extra-vars", short = 'e', value_name = "KEY=VALUE|@FILE")]
    pub extra_vars: Vec<String>,
    /// The cluster's name (overrides the file's `name`)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Terminate the live cluster(s) of this name instead, and wait for them to end
    #[arg(long)]
    pub terminate: bool,
    /// Print the request (outputs.request) and what would happen; launch or end nothing
    #[arg(long)]
    pub dry_run: bool,
    /// The deployment's client name, tagged on the cluster as analytics:client
    #[arg(long, env = "ANALYTICS_CLIENT", value_name = "NAME")]
    pub client: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }
}

/// What to do about the cluster of a name, given the live ones.
#[derive(Debug, PartialEq)]
pub enum Plan {
    Launch,
    /// Reuse this one; `others` are further live clusters of the same name.
    Reuse {
        cluster: LiveCluster,
        others: Vec<String>,
    },
}

/// Reuse the newest live cluster of the name (EMR lists newest first).
pub fn plan(live: &[LiveCluster]) -> Plan {
    match live.split_first() {
        None => Plan::Launch,
        Some((first, rest)) => {
            Plan::Reuse { cluster: first.clone(), others: rest.iter().map(|c| c.id.clone()).collect() }
        }
    }
}

/// The file, then each --extra-vars in order, then --name.
fn variables(args: &Args) -> anyhow::Result<Node> {
    let mut vars = match &args.vars {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("--vars {}: cannot read the file: {e}", path.display())))?;
            let node = yaml::parse(&text, &path.display().to_string())?;
            if !matches!(node, Node::Map(_)) {
                return Err(bad_input(format!("{}: expected a map of variables", path.display())));
            }
            node
        }
        None => Node::Map(Vec::new()),
    };
    for arg in &args.extra_vars {
        for (k, v) in extra_vars::parse(arg, |p| std::fs::read_to_string(p))? {
            vars.set(&k, v);
        }
    }
    if let Some(name) = &args.name {
        vars.set("name", Node::Str(name.clone()));
    }
    Ok(vars)
}

/// `--region`, else the file's `region`, else what the SDK finds
/// (AWS_REGION, the profile), else us-east-1 as the old module did.
async fn resolve_region(aws: &AwsArgs, file_region: Option<&str>) -> anyhow::Result<String> {
    if let Some(r) = &aws.region {
        return Ok(r.clone());
    }
    if let Some(r) = file_region {
        validate_region(r).context("region")?;
        return Ok(r.to_owned());
    }
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = &aws.profile {
        chain = chain.profile_name(p);
    }
    Ok(chain.build().region().await.map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string()))
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let client = args.client.as_deref().map(ClientName::parse).transpose()?;
    run.report.client = client.as_ref().map(ToString::to_string);
    let source = args.vars.as_ref().map_or_else(|| "--name".to_owned(), |p| p.display().to_string());
    let raw = variables(&args)?;
    let env = template::process_env();
    if args.terminate {
        return terminate(&args, run, &raw, env, &source).await;
    }

    let (vars, unknown) = vars::load::<EmrVars>(&raw, env, true).with_context(|| source.clone())?;
    for w in unknown {
        run.report.warn(format!("{source}: {w}"));
    }
    let region = resolve_region(&args.aws, Text::present(&vars.region)).await?;
    run.report.region = Some(region.clone());
    let mut tags = vec![(TAG_MANAGED_BY.to_owned(), TOOL.to_owned())];
    if let Some(c) = &client {
        tags.push((TAG_CLIENT.to_owned(), c.to_string()));
    }
    let ctx = request::Context { region: region.clone(), env_keypair: std::env::var("AWS_KEYPAIR_NAME").ok(), tags };
    let desired = request::build(&vars, &ctx).with_context(|| source.clone())?;
    for f in desired.findings {
        match f.severity {
            Severity::Warning => run.report.warn(f.message),
            _ => run.report.info(f.message),
        }
    }
    let name = desired.request.name.clone();
    run.report.output("name", name.clone());
    if run.dry_run() {
        run.report.output("request", serde_json::to_value(&desired.request)?);
    }

    let aws = AwsArgs { region: Some(region), ..args.aws.clone() }.load(&run.calls).await?;
    let emr = common::client!(aws_sdk_emr, &aws);
    let live = cluster::live_clusters(&emr, &name).await?;
    let id = match plan(&live) {
        Plan::Reuse { cluster, others } => {
            if !others.is_empty() {
                run.report.warn(format!(
                    "{} live clusters are named {name}: reusing the newest, {}; also live: {}",
                    others.len() + 1,
                    cluster.id,
                    others.join(", ")
                ));
            }
            tracing::info!("cluster {name} is live ({}, {}): reusing it", cluster.id, cluster.state);
            run.report.change(Change::new(KIND, &name, Action::Unchanged).with_id(&cluster.id));
            cluster.id
        }
        Plan::Launch if run.dry_run() => {
            run.report.change(Change::new(KIND, &name, Action::Create));
            for key in ["cluster_id", "state", "master_public_dns_name", "master_private_ip"] {
                run.report.output(key, Value::Null);
            }
            return Ok(());
        }
        Plan::Launch => {
            let id = cluster::launch(&emr, &desired.request, &live).await?;
            tracing::info!("launched cluster {name}: {id}");
            run.report.change(Change::new(KIND, &name, Action::Create).with_id(&id));
            id
        }
    };
    run.report.output("cluster_id", id.clone());

    let observed = if args.wait.no_wait || run.dry_run() {
        cluster::observe(&emr, &id).await?
    } else {
        ready_or_terminated(&emr, &id, &name, &args.wait, run).await?
    };
    run.report.output("state", observed.state.clone());
    run.report.output("master_public_dns_name", observed.master_public_dns_name.clone());
    let has_master =
        observed.master_public_dns_name.is_some() || ["RUNNING", "WAITING"].contains(&observed.state.as_str());
    let ip = if has_master { cluster::master_private_ip(&emr, &id, observed.fleets).await? } else { None };
    run.report.output("master_private_ip", ip);
    Ok(())
}

/// Waits until the cluster is ready. One that ends, or is still not ready
/// at the timeout, is a failure (exit 1) with EMR's reason; one still
/// starting at the timeout is terminated first, so it costs nothing.
async fn ready_or_terminated(
    emr: &aws_sdk_emr::Client,
    id: &str,
    name: &str,
    wait: &WaitArgs,
    run: &mut Run,
) -> anyhow::Result<Observation> {
    tracing::info!("waiting for cluster {id} ({name}) to be ready (up to {}s)", wait.timeout);
    let what = format!("cluster {id} ({name})");
    match cluster::wait_ready(&what, wait.timeout(), || cluster::observe(emr, id)).await {
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

/// `--terminate`: ends every live cluster of the name and waits for them.
async fn terminate(args: &Args, run: &mut Run, raw: &Node, env: EnvLookup, source: &str) -> anyhow::Result<()> {
    // Only the name and region are rendered: the rest of the file may
    // depend on variables the teardown job does not set.
    let (cref, _) = vars::load::<ClusterRef>(raw, env, false).with_context(|| source.to_owned())?;
    let name = Text::present(&cref.name)
        .ok_or_else(|| bad_input(format!("{source}: `name` is required to find the cluster (or pass --name)")))?
        .to_owned();
    let region = resolve_region(&args.aws, Text::present(&cref.region)).await?;
    run.report.region = Some(region.clone());
    run.report.output("name", name.clone());

    let aws = AwsArgs { region: Some(region), ..args.aws.clone() }.load(&run.calls).await?;
    let emr = common::client!(aws_sdk_emr, &aws);
    let live = cluster::live_clusters(&emr, &name).await?;
    let ids: Vec<String> = live.iter().map(|c| c.id.clone()).collect();
    run.report.output("cluster_ids", ids.clone());
    if live.is_empty() {
        run.report.info(format!("no live cluster is named {name}: nothing to terminate"));
        run.report.output("state", Value::Null);
        return Ok(());
    }
    for c in &live {
        run.report.change(Change::new(KIND, &name, Action::Delete).with_id(&c.id));
    }
    if run.dry_run() {
        return Ok(());
    }
    cluster::terminate(&emr, &ids).await?;
    tracing::info!("terminating {}", ids.join(", "));
    if args.wait.no_wait {
        run.report.output("state", "TERMINATING");
        return Ok(());
    }
    let mut last = String::new();
    for id in &ids {
        last = wait_until(&format!("termination of cluster {id} ({name})"), args.wait.timeout(), || async {
            Ok::<WaitState<String>, anyhow::Error>(cluster::terminated(&cluster::observe(&emr, id).await?))
        })
        .await?;
    }
    run.report.output("state", last);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_newest_live_cluster() {
        assert_eq!(plan(&[]), Plan::Launch);
        let live = [
            LiveCluster { id: "j-NEW".into(), state: "WAITING".into() },
            LiveCluster { id: "j-OLD".into(), state: "RUNNING".into() },
        ];
        assert_eq!(plan(&live), Plan::Reuse { cluster: live[0].clone(), others: vec!["j-OLD".into()] });
    }

    #[test]
    fn flags() {
        assert!(Args::try_parse_from(["emr-launch"]).is_err(), "--vars is required");
        assert!(Args::try_parse_from(["emr-launch", "--terminate"]).is_err());
        assert!(Args::try_parse_from(["emr-launch", "--terminate", "--name", "x"]).is_ok());
        let a = Args::try_parse_from(["emr-launch", "--vars", "f.yml", "-e", "a=1", "--extra-vars", "@o.yml"]).unwrap();
        assert_eq!(a.extra_vars, ["a=1", "@o.yml"]);
    }
}
