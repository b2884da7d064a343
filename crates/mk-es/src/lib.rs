//! mk-es: the deployment's search domain (SPEC section 6), the one the
//! Analytics API and the pipeline's learner tasks use.
//!
//! Follows the house path: [`desired`] (pure) → [`opensearch::observe`] →
//! [`plan`] (pure) → [`opensearch::apply`] (skipped under `--dry-run`) →
//! wait → the report. The access policy is built in [`policy`].

pub mod desired;
pub mod opensearch;
pub mod plan;
pub mod policy;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::wait::WaitState;
use common::{Deployment, DeploymentArgs, LogArgs, Run, WaitArgs};
use plan::DomainOp;

const EXAMPLES: &str = "\
Examples:
  mk-es --client acme                       # grants acme-analytics-elasticsearch (made by mk-iam)
  mk-es --client acme --no-wait             # start creating; a later run waits for it
  mk-es --client acme --engine-version OpenSearch_2.11 --instance-type t3.small
  mk-es --client acme --grant-arn arn:aws:iam::123456789012:user/acme-analytics-elasticsearch \\
      --grant-arn arn:aws:iam::123456789012:role/EMR_EC2_DefaultRole
  mk-es --client acme --dry-run             # what would change (drift detection)
  mk-es --client acme --destroy             # deletes the domain only if tagged for acme

The endpoint goes to ANALYTICS_API_ELASTICSEARCH_LEARNERS_HOST and to [elasticsearch] host:
  mk-es --client acme | jq -r .outputs.endpoint";

/// Create (or converge) the Elasticsearch/OpenSearch domain of an Open edX
/// analytics deployment.
///
/// One data node, no dedicated master, no zone awareness, a general-purpose
/// SSD EBS volume, automated snapshots at 00:00 UTC, the advanced option
/// rest.action.multi.allow_explicit_index = "true", and an access policy
/// giving es:* on the domain to named principals only (never `*`).
/// Encryption at rest, node-to-node encryption and HTTPS-only (TLS 1.2) go
/// on wherever the version and instance type support them. An existing
/// domain is checked section by section and only what differs is updated;
/// its engine version is never changed.
#[derive(Parser, Debug)]
#[command(name = "mk-es", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Principal (IAM user or role ARN) given es:* on the domain (repeatable)
    /// [default: the ARN of the IAM user <client>-analytics-elasticsearch]
    #[arg(long = "grant-arn", value_name = "ARN", help_heading = "Search domain")]
    pub grant_arns: Vec<String>,
    /// Engine version, Elasticsearch_X.Y or OpenSearch_X.Y
    /// (Elasticsearch_1.5, the runbook's, is accepted with a warning)
    #[arg(long, value_name = "VERSION", default_value = "Elasticsearch_7.10", help_heading = "Search domain")]
    pub engine_version: String,
    /// Data node instance type; the .search suffix may be left out
    #[arg(long, value_name = "TYPE", default_value = "t2.small.search", help_heading = "Search domain")]
    pub instance_type: String,
    /// Size of the EBS volume in GB
    #[arg(long, value_name = "GB", default_value_t = 10, help_heading = "Search domain")]
    pub volume_gb: i32,
    /// Domain name [default: <client>-analytics-es]
    #[arg(long, value_name = "NAME", help_heading = "Search domain")]
    pub domain_name: Option<String>,
    /// Report what would change; change nothing
    #[arg(long, help_heading = "Search domain")]
    pub dry_run: bool,
    /// Delete the domain (only if tagged for this client)
    #[arg(long, help_heading = "Search domain")]
    pub destroy: bool,
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

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let d = Deployment::from_args(&args.deployment, "mk-es")?;
    run.report.client = Some(d.client.to_string());
    let want = desired::domain(&args, &d)?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let es = common::client!(aws_sdk_opensearch, &aws);

    if args.destroy {
        let observed = opensearch::observe(&es, &want.name).await?;
        let plan = plan::plan_destroy(&d, &want.name, observed.as_ref());
        run.report.record(&plan.findings);
        let Some(change) = plan.change else { return Ok(()) };
        if !run.dry_run() {
            opensearch::apply(&es, &want.name, observed.as_ref().map(|o| o.arn.as_str()), &plan.ops).await?;
            tracing::info!("deleting domain {}", want.name);
            if args.wait.no_wait {
                run.report.info(format!("domain {} is being deleted; not waiting (--no-wait)", want.name));
            } else {
                opensearch::wait_deleted(&es, &want.name, args.wait.timeout()).await?;
            }
        }
        run.report.change(change);
        return Ok(());
    }

    let iam = common::client!(aws_sdk_iam, &aws);
    let sts = common::client!(aws_sdk_sts, &aws);
    let user = desired::elasticsearch_user(&d);
    let (observed, (partition, account), principals) =
        tokio::try_join!(opensearch::observe(&es, &want.name), opensearch::caller(&sts), async {
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
    let plan = plan::plan_ensure(&d, &want, access_policy, observed.as_ref())?;
    run.report.record(&plan.findings);
    let change = plan.change.clone().expect("the ensure path always reports the domain");

    let mut endpoint = observed.as_ref().and_then(|o| o.state.endpoint.clone());
    let mut version = observed.as_ref().and_then(|o| o.engine_version.clone());
    if !run.dry_run() {
        let created = opensearch::apply(&es, &want.name, observed.as_ref().map(|o| o.arn.as_str()), &plan.ops).await?;
        if change.action.is_change() {
            tracing::info!("{} domain {}", change.action.word(false), want.name);
        }
        run.report.change(change.clone().with_id(created.unwrap_or_else(|| domain_arn.clone())));
        // Tags alone change nothing the domain has to process.
        let reconfigured = plan.ops.iter().any(|op| matches!(op, DomainOp::Create { .. } | DomainOp::Update(_)));
        let ready = !reconfigured
            && observed.as_ref().is_some_and(|o| matches!(plan::readiness(&o.state), WaitState::Ready(_)));
        if args.wait.no_wait {
            if !ready {
                let state = match observed.as_ref().map(|o| plan::readiness(&o.state)) {
                    None => "being created".to_owned(),
                    Some(_) if reconfigured => "applying a configuration change".to_owned(),
                    Some(WaitState::Pending(s) | WaitState::Failed(s)) => s,
                    Some(WaitState::Ready(_)) => "ready".to_owned(),
                };
                run.report.pending("opensearch-domain", &want.name, state);
            }
        } else if !ready {
            tracing::info!("waiting for domain {} (this takes 10 to 20 minutes on AWS)", want.name);
            let status = opensearch::wait_ready(&es, &want.name, args.wait.timeout()).await?;
            endpoint = opensearch::state(&status).endpoint;
            version = status.engine_version().map(str::to_owned);
        }
    } else {
        run.report.change(change.with_id(domain_arn.clone()));
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
