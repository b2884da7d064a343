//! mk-iam: the IAM side of an analytics deployment (SPEC section 2): the
//! managed policies, the analytics host's role and instance profile, the
//! shared EMR roles, and the users whose access keys the Analytics API
//! uses.
//!
//! Follows the house path: [`desired`] (pure) → [`iam::observe`] →
//! [`plan`] (pure) → [`iam::apply`] (skipped under `--dry-run`) → the
//! report. Policy documents are data ([`policy`]); access keys and their
//! secrets file are in [`keys`].

pub mod desired;
pub mod iam;
pub mod keys;
pub mod plan;
pub mod policy;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{Deployment, DeploymentArgs, LogArgs, Run, SecretsArgs, SecretsDir, Severity};
use serde_json::{Map, Value, json};

use crate::desired::{Desired, Names};
use crate::plan::{Observed, Plan};

const EXAMPLES: &str = "\
Examples:
  mk-iam --client acme
  mk-iam --client acme --reports --secrets-dir ./secrets/acme --dry-run
  mk-iam --client acme --es-domain-arn arn:aws:es:us-east-1:123456789012:domain/acme-analytics-es
  mk-iam --client acme --rotate-keys             # new access keys, old ones deleted
  mk-iam --client acme --destroy --dry-run       # lists what --destroy would delete
  mk-iam --client acme --instance-role acme-insights --es-user acme-search  # names of your own

Every name can be overridden (the Names flags). Give the same flags to every
later run, --destroy included: a run knows the resources by these names. The
tools after it take the names from their own flags: mk-ec2 --instance-profile
for --instance-role, mk-es --grant-arn for --es-user (its ARN is
outputs.users.elasticsearch.arn).

Access keys are written to <secrets-dir>/<user>.access-key.json (mode 0600);
stdout names the file and the key id, never the secret. While a key is being
made, <user>.access-key.pending.json lists the user's keys from before: a run
that finds it deletes the key an interrupted run made but never stored.";

/// Create (or adopt) the IAM policies, roles, instance profiles and users of
/// an Open edX analytics deployment.
///
/// The client's resources are tagged for it; a same-name resource without
/// that tag is left alone. EMR_DefaultRole and EMR_EC2_DefaultRole (or the
/// roles --emr-role and --emr-ec2-role name) are shared by every deployment
/// in the account: created when missing, never tagged for a client, never
/// deleted.
#[derive(Parser, Debug)]
#[command(name = "mk-iam", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Also the Analytics API reports user, allowed to read the reports bucket
    #[arg(long)]
    pub reports: bool,
    /// The bucket the reports user reads [default: <client>-analytics-api-reports]
    #[arg(long, value_name = "NAME")]
    pub reports_bucket: Option<String>,
    /// Scope the search policy (--es-policy) to this search domain [default: every domain]
    #[arg(long, value_name = "ARN")]
    pub es_domain_arn: Option<String>,
    /// Replace each user's access key: create and store a new one, then delete the old ones
    #[arg(long, conflicts_with = "destroy")]
    pub rotate_keys: bool,
    /// Report what would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Remove this client's users, role, instance profile and policies (only those tagged for it)
    #[arg(long)]
    pub destroy: bool,
    #[command(flatten)]
    pub names: NameArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The name of each IAM resource, when not the default. IAM's rules apply:
/// letters, digits and `_+=,.@-`; at most 64 characters for roles and
/// users, 128 for policies.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Names")]
pub struct NameArgs {
    /// The policy that lets the analytics host run EMR clusters [default: <client>-provision-emr-clusters]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub provision_policy: Option<String>,
    /// The analytics host's role and its instance profile (same name) [default: <client>-edxanalytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub instance_role: Option<String>,
    /// EMR's service role, shared by every deployment [default: EMR_DefaultRole]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_role: Option<String>,
    /// The role and instance profile of EMR's nodes, shared by every deployment [default: EMR_EC2_DefaultRole]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_ec2_role: Option<String>,
    /// The search policy attached to the EMR nodes' role [default: <client>-elasticsearch-all]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub es_policy: Option<String>,
    /// The Analytics API's search user [default: <client>-analytics-elasticsearch]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub es_user: Option<String>,
    /// The Analytics API's reports user (with --reports) [default: <client>-analytics-reports]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub reports_user: Option<String>,
    /// The reports user's inline policy [default: s3-read-analytics-reports]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub reports_policy: Option<String>,
}

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let d = Deployment::from_args(&args.deployment, "mk-iam")?;
    run.report.client = Some(d.client.to_string());
    let names = Names::from_args(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let stored_keys =
        names.users.iter().map(|(_, user)| keys::stored_key_id(&secrets, user)).collect::<anyhow::Result<Vec<_>>>()?;
    let pending_keys =
        names.users.iter().map(|(_, user)| keys::pending_keys(&secrets, user)).collect::<anyhow::Result<Vec<_>>>()?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let iam = common::client!(aws_sdk_iam, &aws);
    let sts = common::client!(aws_sdk_sts, &aws);

    let (desired, observed) = iam::observe(&iam, &sts, &names, stored_keys, pending_keys, args.destroy).await?;
    let plan = plan::plan(&d, &desired, &observed, args.destroy, args.rotate_keys);
    for f in &plan.findings {
        match f.severity {
            Severity::Info => run.report.info(f.message.clone()),
            _ => run.report.warn(f.message.clone()),
        }
    }
    let applied = if run.dry_run() {
        for step in &plan.steps {
            run.report.change(step.change.clone());
        }
        iam::Applied::default()
    } else {
        iam::apply(&iam, &secrets, &plan, &mut run.report).await?
    };
    run.report.output("account_id", desired.account.id.clone());
    if !args.destroy {
        for (key, value) in outputs(&desired, &observed, &plan, &applied, &secrets, &names) {
            run.report.output(&key, value);
        }
    }
    Ok(())
}

/// What later steps read: ARNs, names, and where each key is.
fn outputs(
    desired: &Desired,
    observed: &Observed,
    plan: &Plan,
    applied: &iam::Applied,
    secrets: &SecretsDir,
    names: &Names,
) -> Map<String, Value> {
    let mut out = Map::new();
    let policies: Map<String, Value> =
        desired.policies.iter().map(|p| (p.key.to_owned(), p.arn.clone().into())).collect();
    let roles: Map<String, Value> = desired
        .roles
        .iter()
        .zip(&observed.roles)
        .map(|(r, o)| (r.key.to_owned(), o.as_ref().map_or(r.arn.clone(), |o| o.arn.clone()).into()))
        .collect();
    let profiles: Map<String, Value> =
        desired.profiles.iter().map(|p| (p.key.to_owned(), p.name.clone().into())).collect();
    let users: Map<String, Value> = desired
        .users
        .iter()
        .zip(&observed.users)
        .zip(&plan.keys)
        .map(|((u, o), kp)| {
            let created = applied.created_keys.get(&u.name);
            let key_id = created.map(|(id, _)| id.clone()).or_else(|| kp.as_ref().and_then(|k| k.key_id.clone()));
            let file = match (created, kp) {
                (Some((_, path)), _) => Some(path.clone()),
                (None, Some(k)) if k.stored => Some(secrets.file(&keys::file_name(&u.name))),
                _ => None,
            };
            let user = json!({
                "name": u.name,
                "arn": o.as_ref().map_or(u.arn.clone(), |o| o.arn.clone()),
                "access_key_id": key_id,
                "access_key_file": file.map(|p| p.display().to_string()),
            });
            (u.kind.key().to_owned(), user)
        })
        .collect();
    out.insert("policies".into(), policies.into());
    out.insert("roles".into(), roles.into());
    out.insert("instance_profiles".into(), profiles.into());
    out.insert("users".into(), users.into());
    if let Some(bucket) = &names.reports_bucket {
        out.insert("reports_bucket".into(), bucket.clone().into());
    }
    out
}
