//! mk-es: the deployment's search domain (SPEC section 6), the one the
//! Analytics API and the pipeline's learner tasks use.
//!
//! Follows the house path: [`desired`] (pure, from [`args`]) →
//! [`opensearch::observe`] → [`plan`] (pure; the settings compared in
//! [`domain`], the access policy built in [`policy`], the engine's support
//! dates in [`support`]) →
//! [`common::plan::apply`] with [`opensearch::apply_op`] (nothing sent
//! under `--dry-run`), then the wait for the domain → the report.

pub mod args;
pub mod desired;
pub mod domain;
pub mod opensearch;
pub mod plan;
pub mod policy;
pub mod support;

pub use args::Args;
use aws_sdk_opensearch::Client;
use common::aws::Aws;
use common::wait::WaitState;
use common::{Deployment, Run};

use crate::desired::DesiredDomain;
use crate::domain::ObservedDomain;
use crate::plan::{Op, Plan};

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let want = desired::domain(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let es = common::client!(aws_sdk_opensearch, &aws);
    if args.destroy() {
        destroy(&args, run, &es, &d, &want).await
    } else {
        ensure(&args, run, &aws, &es, &d, &want).await
    }
}

/// Sends the plan's calls on the domain.
async fn apply(
    run: &mut Run,
    es: &Client,
    want: &DesiredDomain,
    o: Option<&ObservedDomain>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let arn = o.map(|o| o.arn.as_str());
    common::plan::apply(run, plan, async |op: &Op| opensearch::apply_op(es, &want.name, arn, op).await).await
}

async fn destroy(args: &Args, run: &mut Run, es: &Client, d: &Deployment, want: &DesiredDomain) -> anyhow::Result<()> {
    let observed = opensearch::observe(es, &want.name).await?;
    let plan = plan::plan_destroy(d, &want.name, observed.as_ref());
    apply(run, es, want, observed.as_ref(), &plan).await?;
    if run.dry_run() || !plan.has_work() {
        return Ok(());
    }
    if args.wait.no_wait {
        run.report.info(format!("domain {} is being deleted; not waiting (--no-wait)", want.name));
        Ok(())
    } else {
        opensearch::wait_deleted(es, &want.name, args.wait.timeout()).await
    }
}

/// The domain as it exists, its ARN (the one it will have when it does
/// not), and the access policy for the grantees.
async fn observe(
    aws: &Aws,
    es: &Client,
    d: &Deployment,
    want: &DesiredDomain,
) -> anyhow::Result<(Option<ObservedDomain>, String, serde_json::Value)> {
    let iam = common::client!(aws_sdk_iam, aws);
    let sts = common::client!(aws_sdk_sts, aws);
    let user = desired::elasticsearch_user(d);
    let (observed, (partition, account), principals) =
        tokio::try_join!(opensearch::observe(es, &want.name), opensearch::caller(&sts), async {
            if want.grant_arns.is_empty() {
                Ok(vec![opensearch::user_arn(&iam, &user, d.client.as_str()).await?])
            } else {
                Ok::<_, anyhow::Error>(want.grant_arns.clone())
            }
        })?;
    let domain_arn = match &observed {
        Some(o) => o.arn.clone(),
        None => policy::domain_arn(&partition, &aws.region, &account, &want.name),
    };
    let access_policy = policy::access_policy(&principals, &domain_arn);
    Ok((observed, domain_arn, access_policy))
}

async fn ensure(
    args: &Args,
    run: &mut Run,
    aws: &Aws,
    es: &Client,
    d: &Deployment,
    want: &DesiredDomain,
) -> anyhow::Result<()> {
    let (observed, domain_arn, access_policy) = observe(aws, es, d, want).await?;
    let today = support::Day::today();
    let plan = plan::plan_ensure(d, want, &domain_arn, access_policy, observed.as_ref(), today)?;
    apply(run, es, want, observed.as_ref(), &plan).await?;

    let mut endpoint = observed.as_ref().and_then(|o| o.state.endpoint.clone());
    let mut version = observed.as_ref().and_then(|o| o.engine_version.clone());
    if !run.dry_run()
        && let Some(status) = settle(args, run, es, want, &plan, observed.as_ref()).await?
    {
        endpoint = opensearch::state(&status).endpoint;
        version = status.engine_version().map(str::to_owned);
    }
    if let Some(e) = endpoint {
        run.report.output("endpoint", format!("https://{e}"));
    }
    run.report.output("domain_arn", domain_arn);
    run.report.output("domain_name", want.name.clone());
    run.report.output("region", aws.region.clone());
    run.report.output("engine_version", version.unwrap_or_else(|| want.engine_version.to_string()));
    Ok(())
}

/// Waits for a domain that is not ready (made, reconfigured, or found
/// busy), and returns its status then; under `--no-wait` records it as
/// pending instead.
async fn settle(
    args: &Args,
    run: &mut Run,
    es: &Client,
    want: &DesiredDomain,
    plan: &Plan,
    observed: Option<&ObservedDomain>,
) -> anyhow::Result<Option<aws_sdk_opensearch::types::DomainStatus>> {
    let reconfigured = plan.steps.iter().flat_map(|s| &s.ops).any(Op::reconfigures);
    let ready = !reconfigured && observed.is_some_and(|o| matches!(domain::readiness(&o.state), WaitState::Ready(_)));
    if ready {
        return Ok(None);
    }
    if args.wait.no_wait {
        let state = match observed.map(|o| domain::readiness(&o.state)) {
            None => "being created".to_owned(),
            Some(_) if reconfigured => "applying a configuration change".to_owned(),
            Some(WaitState::Pending(s) | WaitState::Failed(s)) => s,
            Some(WaitState::Ready(_)) => "ready".to_owned(),
        };
        run.report.pending(plan::KIND, &want.name, state);
        return Ok(None);
    }
    let after = match observed {
        None => opensearch::After::Create,
        Some(_) if reconfigured => opensearch::After::Update,
        Some(_) => opensearch::After::Nothing,
    };
    tracing::info!("waiting for domain {} (this takes 10 to 20 minutes on AWS)", want.name);
    opensearch::wait_ready(es, &want.name, after, args.wait.timeout()).await.map(Some)
}
