//! mk-rds: the deployment's MySQL RDS instance for the analytics databases
//! (SPEC section 7), its DB subnet group, and the EMR-RDS group's
//! membership of other instances (`--join-sg`, the edxapp database).
//!
//! Follows the house path: [`desired`] (pure) → [`rds`] observe → [`plan`]
//! (pure) → [`rds::apply`] (skipped under `--dry-run`) → wait → the report.
//! The master password is made by [`password`] and only ever written to
//! the secrets directory.

pub mod desired;
pub mod password;
pub mod plan;
pub mod rds;

use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::wait::WaitState;
use common::{Deployment, DeploymentArgs, LogArgs, Run, SecretsArgs, WaitArgs};
use serde_json::json;

const EXAMPLES: &str = "\
Examples:
  mk-rds --client acme                          # needs acme-emr-rds (made by mk-sg)
  mk-rds --client acme --no-wait                # start creating; a later run waits for it
  mk-rds --client acme --join-sg edxapp-prod    # also let EMR reach the edxapp database
  mk-rds --client acme --engine-version 8.4 --instance-class db.t3.large --storage-gb 50
  mk-rds --client acme --dry-run                # what would change (drift detection)
  mk-rds --client acme --destroy                # final snapshot <id>-final-<UTC time>, then delete

The master password is generated once, when the instance is created, and written to
<secrets-dir>/rds-<instance>.master-password (mode 0600); it is never printed and a
re-run never changes it:
  mk-rds --client acme | jq -r .outputs.master_password_file";

/// Create (or converge) the MySQL RDS instance of an Open edX analytics
/// deployment.
///
/// MySQL 8.0 or 8.4, 20 GB of encrypted gp3 storage, not publicly
/// accessible, at least 7 days of backups, in a DB subnet group made from
/// the VPC's subnets, in the <client>-emr-rds security group and the VPC's
/// default group. On an existing instance, class, storage (it only grows),
/// backups (only more), security groups (others are kept) and public
/// access are corrected with one ModifyDBInstance, applied immediately.
#[derive(Parser, Debug)]
#[command(name = "mk-rds", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// MySQL version: 8.0 or 8.4, or a minor such as 8.0.39
    #[arg(long, value_name = "VERSION", default_value = "8.0", help_heading = "Database")]
    pub engine_version: String,
    /// Instance class
    #[arg(long, value_name = "CLASS", default_value = "db.t3.medium", help_heading = "Database")]
    pub instance_class: String,
    /// Allocated gp3 storage in GB
    #[arg(long, value_name = "GB", default_value_t = 20, help_heading = "Database")]
    pub storage_gb: i32,
    /// Days of automated backups (7 to 35)
    #[arg(long, value_name = "DAYS", default_value_t = 7, help_heading = "Database")]
    pub backup_days: i32,
    /// Master user name
    #[arg(long, value_name = "NAME", default_value = "admin", help_heading = "Database")]
    pub master_username: String,
    /// Add the EMR-RDS group to this existing instance too, keeping its
    /// other groups (repeatable); with --destroy, take it away again
    #[arg(long = "join-sg", value_name = "DBID", num_args = 1.., help_heading = "Database")]
    pub join_sg: Vec<String>,
    /// VPC of the instance [default: the region's default VPC]
    #[arg(long, value_name = "VPC_ID", help_heading = "Database")]
    pub vpc_id: Option<String>,
    /// Report what would change; change nothing
    #[arg(long, help_heading = "Database")]
    pub dry_run: bool,
    /// Delete the instance and its subnet group (only if tagged for this client)
    #[arg(long, help_heading = "Database")]
    pub destroy: bool,
    /// With --destroy: no final snapshot
    #[arg(long, requires = "destroy", help_heading = "Database")]
    pub skip_final_snapshot: bool,
    /// DB instance identifier [default: <client>-analytics]
    #[arg(long, value_name = "ID", help_heading = "Names")]
    pub db_instance_id: Option<String>,
    /// DB subnet group [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub subnet_group: Option<String>,
    /// Security group EMR reaches MySQL through [default: <client>-emr-rds]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub emr_rds_group: Option<String>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
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
    let d = Deployment::from_args(&args.deployment, "mk-rds")?;
    run.report.client = Some(d.client.to_string());
    let want = desired::instance(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let c = rds::Clients { rds: common::client!(aws_sdk_rds, &aws), ec2: common::client!(aws_sdk_ec2, &aws) };
    let password_file = want.password_file();

    if args.destroy {
        let (instance, subnet_group, joins) = tokio::try_join!(
            rds::describe_instance(&c.rds, &want.id),
            rds::subnet_group(&c.rds, &want.subnet_group),
            rds::joins(&c, &want.join, &want.emr_rds_group, None),
        )?;
        let observed = plan::Observed {
            instance: instance.as_ref().map(rds::observed_instance),
            subnet_group,
            joins,
            ..Default::default()
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|t| t.as_secs()).unwrap_or(0);
        let opts = plan::DestroyOptions {
            skip_final_snapshot: args.skip_final_snapshot,
            waits: !args.wait.no_wait,
            now_unix: now,
        };
        let plan = plan::plan_destroy(&d, &want, &observed, opts);
        run.report.record(&plan.findings);
        if run.dry_run() {
            plan.steps.iter().for_each(|s| run.report.change(s.change.clone()));
        } else {
            let ctx = rds::ApplyContext {
                secrets: &secrets,
                password_file: &password_file,
                wait_deleted: (!args.wait.no_wait).then(|| args.wait.timeout()),
            };
            rds::apply(&c, &plan, &ctx, &mut run.report).await?;
        }
        if plan.steps.iter().any(|s| s.change.kind == plan::KIND_INSTANCE) && secrets.file(&password_file).exists() {
            run.report.info(format!(
                "{} is kept: restoring the final snapshot needs it",
                secrets.file(&password_file).display()
            ));
        }
        return Ok(());
    }

    let ((network, joins), instance, subnet_group) = tokio::try_join!(
        async {
            let network = rds::network(&c, want.vpc_id.as_deref(), &aws.region, &want.emr_rds_group).await?;
            let joins = rds::joins(&c, &want.join, &want.emr_rds_group, Some(&network)).await?;
            Ok::<_, anyhow::Error>((network, joins))
        },
        rds::describe_instance(&c.rds, &want.id),
        rds::subnet_group(&c.rds, &want.subnet_group),
    )?;
    let observed =
        plan::Observed { instance: instance.as_ref().map(rds::observed_instance), subnet_group, joins, network };
    let plan = plan::plan_ensure(&d, &want, &observed)?;
    run.report.record(&plan.findings);

    let mut current = instance;
    if run.dry_run() {
        plan.steps.iter().for_each(|s| run.report.change(s.change.clone()));
    } else {
        let ctx = rds::ApplyContext { secrets: &secrets, password_file: &password_file, wait_deleted: None };
        rds::apply(&c, &plan, &ctx, &mut run.report).await?;
        let ready = !plan.changes_instance()
            && observed
                .instance
                .as_ref()
                .is_some_and(|i| matches!(plan::readiness(&i.status, i.pending), WaitState::Ready(())));
        if args.wait.no_wait {
            if !ready {
                let state = match &observed.instance {
                    None => "being created".to_owned(),
                    Some(_) if plan.changes_instance() => "applying a modification".to_owned(),
                    Some(i) => i.status.clone(),
                };
                run.report.pending(plan::KIND_INSTANCE, &want.id, state);
            }
        } else if !ready {
            tracing::info!("waiting for DB instance {} to be available (several minutes on AWS)", want.id);
            current = Some(rds::wait_available(&c.rds, &want.id, args.wait.timeout()).await?);
        }
    }

    let password_path = secrets.file(&password_file);
    if password_path.exists() || plan.creates_instance() {
        run.report.output("master_password_file", password_path.display().to_string());
    } else if observed.instance.is_some() {
        run.report.warn(format!(
            "{} does not exist: mk-rds sets the master password only when it creates the instance; reset it \
             (aws rds modify-db-instance --master-user-password) and write it there",
            password_path.display()
        ));
    }
    if let Some((address, port)) = current.as_ref().and_then(rds::endpoint) {
        run.report.output("endpoint", json!({"address": address, "port": port}));
    }
    run.report.output("db_instance_id", want.id.clone());
    let master = observed.instance.as_ref().map(|i| i.master_username.clone()).filter(|u| !u.is_empty());
    run.report.output("master_username", master.unwrap_or_else(|| want.master_username.clone()));
    run.report.output("subnet_group", want.subnet_group.clone());
    run.report.output("vpc_id", observed.network.vpc_id.clone());
    Ok(())
}
