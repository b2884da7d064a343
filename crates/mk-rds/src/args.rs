//! mk-rds' flags: the shared converge, destroy, secrets and wait flags, the
//! database's settings and the names of what it manages.

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, DestroyArgs, LogArgs, SecretsArgs, WaitArgs};

const EXAMPLES: &str = "\
Examples:
  mk-rds --client acme                          # needs acme-emr-rds (made by mk-sg)
  mk-rds --client acme --no-wait                # start creating; a later run waits for it
  mk-rds --client acme --join-sg edxapp-prod    # also let EMR reach the edxapp database
  mk-rds --client acme --join-sg edxapp-prod --apply-immediately   # and apply its pending changes now
  mk-rds --client acme --instance-class db.t3.large --storage-gb 50
  mk-rds --client acme --dry-run                # what would change (drift detection)
  mk-rds --client acme --destroy                # final snapshot <id>-final-<UTC time>, then delete

The master password is generated once, when the instance is created, and written to
<secrets-dir>/rds-<instance>.master-password (mode 0600); it is never printed and a
re-run never changes it:
  mk-rds --client acme | jq -r .outputs.master_password_file";

/// Create (or converge) the MySQL RDS instance of an Open edX analytics
/// deployment.
///
/// MySQL 8.4 (8.0 left RDS standard support on 2026-07-31 and is billed
/// RDS Extended Support), created with Extended Support disabled; 20 GB of encrypted gp3 storage, not publicly accessible, at
/// least 7 days of backups, in a DB subnet group made from the VPC's
/// subnets, in the <client>-emr-rds security group and the VPC's default
/// group. On an existing instance, class, storage (it only grows), backups
/// (only more), security groups (others are kept) and public access are
/// corrected with one ModifyDBInstance, applied immediately. Instances of
/// --join-sg are modified with ApplyImmediately=false unless
/// --apply-immediately is given.
#[derive(Parser, Debug)]
#[command(name = "mk-rds", version, after_help = EXAMPLES)]
// The shared flags, with the help and place mk-rds has always given them.
#[command(mut_arg("dry_run", |a| {
    a.help("Report what would change; change nothing").help_heading("Database").display_order(9)
}))]
#[command(mut_arg("destroy", |a| {
    a.help("Delete the instance and its subnet group (only if tagged for this client)")
        .help_heading("Database")
        .display_order(10)
}))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    #[command(flatten)]
    pub destroying: DestroyArgs,
    /// MySQL version: 8.4, or a minor such as 8.4.3 (RDS picks its default
    /// 8.4 minor); 8.0 is past RDS standard support: billed Extended Support
    #[arg(long, value_name = "VERSION", default_value = "8.4", help_heading = "Database", display_order = 1)]
    pub engine_version: String,
    /// Instance class
    #[arg(long, value_name = "CLASS", default_value = "db.t3.medium", help_heading = "Database", display_order = 2)]
    pub instance_class: String,
    /// Allocated gp3 storage in GB
    #[arg(long, value_name = "GB", default_value_t = 20, help_heading = "Database", display_order = 3)]
    pub storage_gb: i32,
    /// Days of automated backups (7 to 35)
    #[arg(long, value_name = "DAYS", default_value_t = 7, help_heading = "Database", display_order = 4)]
    pub backup_days: i32,
    /// Master user name
    #[arg(long, value_name = "NAME", default_value = "admin", help_heading = "Database", display_order = 5)]
    pub master_username: String,
    /// Add the EMR-RDS group to this existing instance too, keeping its
    /// other groups (repeatable); with --destroy, take it away again
    #[arg(long = "join-sg", value_name = "DBID", num_args = 1.., help_heading = "Database", display_order = 6)]
    pub join_sg: Vec<String>,
    /// With --join-sg: modify those instances with ApplyImmediately=true,
    /// which also applies their pending modifications now (some restart the
    /// database); by default ApplyImmediately=false leaves those for the
    /// instance's maintenance window (RDS applies a security group change
    /// as soon as possible either way)
    #[arg(long, requires = "join_sg", help_heading = "Database", display_order = 7)]
    pub apply_immediately: bool,
    /// VPC of the instance [default: the region's default VPC]
    #[arg(long, value_name = "VPC_ID", help_heading = "Database", display_order = 8)]
    pub vpc_id: Option<String>,
    /// With --destroy: no final snapshot
    #[arg(long, requires = "destroy", help_heading = "Database", display_order = 11)]
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

common::converge_args!(Args, destroy);

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use common::cli::ToolArgs;

    use super::*;

    #[test]
    fn the_shared_flags_keep_mk_rds_help() {
        let cmd = Args::command();
        let arg = |id: &str| cmd.get_arguments().find(|a| a.get_id() == id).expect(id);
        assert_eq!(
            arg("dry_run").get_help().map(ToString::to_string).as_deref(),
            Some("Report what would change; change nothing")
        );
        assert!(arg("destroy").get_help().is_some_and(|h| h.to_string().starts_with("Delete the instance")));
        assert_eq!(arg("destroy").get_help_heading(), Some("Database"));
        let a = Args::try_parse_from(["mk-rds", "--client", "acme", "--destroy", "--skip-final-snapshot"]).unwrap();
        assert!(a.destroy() && a.skip_final_snapshot && !a.dry_run());
        let e = Args::try_parse_from(["mk-rds", "--client", "acme", "--skip-final-snapshot"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        assert!(Args::try_parse_from(["mk-rds", "--client", "acme", "--dry-run"]).unwrap().dry_run());
        let e = Args::try_parse_from(["mk-rds", "--client", "acme", "--apply-immediately"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument, "only with --join-sg");
        let a = Args::try_parse_from(["mk-rds", "--client", "acme", "--join-sg", "edx", "--apply-immediately"]);
        assert!(a.unwrap().apply_immediately);
    }
}
