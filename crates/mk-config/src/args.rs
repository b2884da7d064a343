//! mk-config's flags: the shared converge and secrets flags, the tools'
//! documents, `--upload`, and the EMR settings of emr-vars.yml.

use std::path::PathBuf;

use clap::Parser;
use common::aws::AwsArgs;
use common::{ConvergeArgs, LogArgs, SecretsArgs};

const EXAMPLES: &str = "\
Examples:
  cat state/acme/*.json | mk-config --client acme
  mk-config --client acme state/acme/mk-*.json --upload
  mk-config --client acme state/acme/*.json --dry-run   # what would change";

/// Write the deployment's secure configuration from the tools' reports.
///
/// Reads the JSON documents of mk-iam, mk-vpc, mk-sg, mk-buckets, mk-es and
/// mk-ec2 (files, or a stream on stdin) and the secrets directory (access
/// keys, database credentials), and writes vars-analytics.yml, emr-vars.yml,
/// analytics-override.cfg and jenkins_env there (mode 0600).
#[derive(Parser, Debug)]
#[command(name = "mk-config", version, after_help = EXAMPLES)]
// The shared flag, with the help mk-config has always given it.
#[command(mut_arg("dry_run", |a| a.help("Report what would change; write nothing")))]
pub struct Args {
    #[command(flatten)]
    pub converge: ConvergeArgs,
    /// The tools' JSON documents (default: read them from stdin)
    #[arg(value_name = "FILE")]
    pub documents: Vec<PathBuf>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    /// Also upload edxanalytics_creds and edxapp_creds to s3://<config bucket>/ (SSE)
    #[arg(long)]
    pub upload: bool,
    /// EMR release of the pipeline's clusters in emr-vars.yml
    #[arg(long, value_name = "LABEL", default_value = "emr-5.36.2", help_heading = "emr-vars.yml")]
    pub emr_release: String,
    /// Instance type of the clusters' master and core nodes
    #[arg(long, value_name = "TYPE", default_value = "m5.xlarge", help_heading = "emr-vars.yml")]
    pub emr_instance_type: String,
    /// Number of core nodes
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "emr-vars.yml")]
    pub emr_core_count: u32,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

common::converge_args!(Args);

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_shared_flags_keep_mk_configs_help() {
        let cmd = Args::command();
        let help = cmd.get_arguments().find(|a| a.get_id() == "dry_run").and_then(|a| a.get_help());
        assert_eq!(help.map(ToString::to_string).as_deref(), Some("Report what would change; write nothing"));
        let a = Args::try_parse_from(["mk-config", "--client", "acme", "a.json", "--dry-run", "--upload"]).unwrap();
        assert!(a.converge.dry_run && a.upload);
        assert_eq!(a.documents, [PathBuf::from("a.json")]);
        assert_eq!((a.emr_release.as_str(), a.emr_core_count), ("emr-5.36.2", 2));
    }
}
