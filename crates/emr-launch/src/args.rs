//! emr-launch's flags. Its client is optional (the emr-vars.yml file is
//! the cluster's description; `--client` only adds a tag), so it does not
//! flatten `common::ConvergeArgs`: it keeps its own `--client` and
//! `--dry-run`, and tells `common::cli::main` about the latter through
//! [`ToolArgs::dry_run`].

use std::path::PathBuf;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{LogArgs, WaitArgs};

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

    /// `common::cli::main` makes the run read-only from this.
    fn dry_run(&self) -> bool {
        self.dry_run
    }
}

impl Args {
    /// Where the variables come from, for messages: the file, or `--name`.
    pub fn source(&self) -> String {
        self.vars.as_ref().map_or_else(|| "--name".to_owned(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags() {
        assert!(Args::try_parse_from(["emr-launch"]).is_err(), "--vars is required");
        assert!(Args::try_parse_from(["emr-launch", "--terminate"]).is_err());
        assert!(Args::try_parse_from(["emr-launch", "--terminate", "--name", "x"]).is_ok());
        let a = Args::try_parse_from(["emr-launch", "--vars", "f.yml", "-e", "a=1", "--extra-vars", "@o.yml"]).unwrap();
        assert_eq!(a.extra_vars, ["a=1", "@o.yml"]);
    }

    #[test]
    fn dry_run_reaches_the_shared_main() {
        let a = Args::try_parse_from(["emr-launch", "--vars", "f.yml", "--dry-run"]).unwrap();
        assert!(a.dry_run());
        assert!(a.converge().is_none(), "the client is optional: no ConvergeArgs");
        let a = Args::try_parse_from(["emr-launch", "--vars", "f.yml"]).unwrap();
        assert!(!a.dry_run());
    }
}
