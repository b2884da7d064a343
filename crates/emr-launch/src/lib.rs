//! emr-launch: the analytics pipeline's EMR clusters, launched from the
//! emr-vars.yml files its Jenkins jobs already use (SPEC section 10, the
//! format in emr-vars.md), and terminated by name.
//!
//! Follows the house path, for one cluster:
//! 1. desired (pure): [`yaml`] reads the file, [`extra_vars`] applies
//!    `--extra-vars`, [`template`] renders the Jinja subset, [`vars`] types
//!    it, [`request::build`] maps it to the RunJobFlow request the old
//!    playbook's module sent; [`desired`] adds the region and our tags;
//! 2. observe: [`cluster::live_clusters`] by name;
//! 3. plan (pure): reuse the live cluster or launch it, or terminate the
//!    live ones ([`plan`]);
//! 4. apply: [`common::plan::apply`] with [`cluster::apply_op`] (nothing
//!    sent under `--dry-run`; RunJobFlow at most once), then waiting
//!    ([`ready`]): until ready ([`launch`], which terminates a cluster not
//!    ready in time) or ended ([`terminate`]);
//! 5. report: the cluster's id, state, master DNS name and private IP.
//!
//! Not for: changing a running cluster (EMR cannot apply most of the file
//! to one), or the pipeline's steps after launch.

pub mod args;
pub mod cluster;
pub mod desired;
pub mod extra_vars;
pub mod launch;
pub mod plan;
pub mod ready;
pub mod request;
pub mod template;
pub mod terminate;
pub mod vars;
pub mod yaml;

pub use args::Args;
use common::Run;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let deployment = desired::deployment(&args)?;
    if let Some(d) = &deployment {
        run.set_deployment(d.clone());
    }
    let raw = desired::variables(&args)?;
    let env = template::process_env();
    if args.terminate {
        terminate::terminate(&args, run, &raw, env).await
    } else {
        launch::launch(&args, run, &raw, env, deployment.as_ref()).await
    }
}
