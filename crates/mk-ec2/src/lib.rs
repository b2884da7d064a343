//! mk-ec2: the deployment's hosts (SPEC section 9): the analytics host
//! (Insights, the Analytics API, Jenkins), the director host, their key
//! pairs, and an Elastic IP on the analytics host.
//!
//! Follows the house path: [`desired`] (pure) → [`ec2::observe`] →
//! [`plan`] (pure) → [`ec2::Apply`] (skipped under `--dry-run`) → the
//! report, whose outputs [`outputs`] builds; [`keys`] makes the key pairs'
//! keys here, so that no private key exists only in an answer from EC2.
//! It reads, and never makes, what other tools own: the security groups
//! (mk-sg), the instance profile (mk-iam), the VPC (mk-vpc).

pub mod desired;
pub mod ec2;
pub mod keys;
pub mod outputs;
pub mod plan;

use std::path::PathBuf;

use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::{Deployment, DeploymentArgs, LogArgs, Run, SecretsArgs, WaitArgs};

use crate::outputs::{Built, KeyPairOut};

const EXAMPLES: &str = "\
Examples:
  mk-ec2 --client acme
  mk-ec2 --client acme --ubuntu-release 22.04 --analytics-type t3.large --dry-run
  mk-ec2 --client acme --public-key ~/.ssh/id_ed25519.pub --no-director
  mk-ec2 --client acme --no-wait && mk-ec2 --client acme   # start, then wait later
  mk-ec2 --client acme --destroy   # terminates only hosts tagged for acme

Needs, from the earlier steps: security groups <client>-analytics and
<client>-director (mk-sg) and instance profile <client>-edxanalytics (mk-iam).
Key pairs are made here: an ed25519 key whose private key is written to the
secrets directory (0600) before its public key is imported, so a stop at any
point loses no key; stdout names the file. A re-run imports a private key
file whose key pair is gone (never writing over the file), and makes again a
key pair of this client whose private key was never stored, unless a host
uses it. SSH in with the command under outputs.ssh; reach Jenkins through the
SSH tunnel there, never by opening port 8080.";

/// Launch (or find again) the analytics and director hosts of an Open edX
/// analytics deployment.
///
/// The analytics host runs Ubuntu LTS from Canonical's newest image, with
/// the deployment's instance profile, a 50 GB encrypted gp3 root volume,
/// IMDSv2 required, the VPC's default group plus <client>-analytics, and an
/// Elastic IP. Hosts are found again by their tags, so a re-run never
/// launches a second one.
#[derive(Parser, Debug)]
#[command(name = "mk-ec2", version, after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Ubuntu LTS release of the image: 24.04, 22.04, 20.04, 18.04, 16.04, or its codename
    #[arg(long, help_heading = "Hosts", value_name = "RELEASE", default_value = "24.04")]
    pub ubuntu_release: String,
    /// Launch from this image instead of looking up Canonical's newest
    #[arg(long, help_heading = "Hosts", value_name = "AMI")]
    pub ami_id: Option<String>,
    /// Instance type of the analytics host
    #[arg(long, help_heading = "Hosts", value_name = "TYPE", default_value = "t2.medium")]
    pub analytics_type: String,
    /// Instance type of the director host
    #[arg(long, help_heading = "Hosts", value_name = "TYPE", default_value = "t2.micro")]
    pub director_type: String,
    /// Number of analytics hosts (analytics-1, analytics-2, ...)
    #[arg(long, help_heading = "Hosts", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub analytics_count: u32,
    /// No director host (and no director key pair)
    #[arg(long, help_heading = "Hosts")]
    pub no_director: bool,
    /// Import this OpenSSH public key (the .pub file) as the key pairs, instead of making keys here
    #[arg(long, help_heading = "Hosts", value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Launch into this VPC [default: the region's default VPC]
    #[arg(long, help_heading = "Hosts", value_name = "VPC")]
    pub vpc_id: Option<String>,
    /// Launch into this subnet [default: a default subnet of the VPC]
    #[arg(long, help_heading = "Hosts", value_name = "SUBNET")]
    pub subnet_id: Option<String>,
    /// Report what would change; change nothing
    #[arg(long, help_heading = "Hosts")]
    pub dry_run: bool,
    /// Release the address, terminate the hosts and delete the key pairs tagged for this client
    #[arg(long, help_heading = "Hosts")]
    pub destroy: bool,
    /// The analytics host's instance profile, as mk-iam made it (outputs.instance_profiles.edxanalytics)
    /// [default: <client>-edxanalytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub instance_profile: Option<String>,
    /// The analytics host's security group, as mk-sg made it [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub analytics_group: Option<String>,
    /// The director's security group, as mk-sg made it [default: <client>-director]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub director_group: Option<String>,
    /// The analytics host's key pair (and <secrets>/<name>.pem) [default: <client>-analytics]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub analytics_key: Option<String>,
    /// The director's key pair (and <secrets>/<name>.pem) [default: <client>-director]
    #[arg(long, value_name = "NAME", help_heading = "Names")]
    pub director_key: Option<String>,
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

/// The plan's findings on stderr, a warning as a warning.
fn log_findings(findings: &[common::Finding]) {
    for f in findings {
        match f.severity {
            common::Severity::Info => tracing::info!("{}", f.message),
            _ => tracing::warn!("{}", f.message),
        }
    }
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let d = Deployment::from_args(&args.deployment, "mk-ec2")?;
    run.report.client = Some(d.client.to_string());
    let w = desired::desired(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let aws = args.aws.load(&run.calls).await?;
    run.report.region = Some(aws.region.clone());
    let ec2_client = common::client!(aws_sdk_ec2, &aws);

    let wait = (!args.wait.no_wait).then(|| args.wait.timeout());
    let mut o = ec2::observe(&ec2_client, &d, &w, &secrets, args.destroy).await?;

    if args.destroy {
        let p = plan::plan_destroy(&d, &w, &o);
        log_findings(&p.findings);
        run.report.findings.extend(p.findings.iter().cloned());
        if run.dry_run() {
            for c in p.changes() {
                run.report.change(c);
            }
        } else {
            let apply = ec2::Apply { ec2: &ec2_client, d: &d, o: &o, secrets: &secrets, wait };
            apply.destroy(&p, &mut run.report).await?;
        }
        return Ok(());
    }

    if plan::needs_instance_profile(&w, &o) {
        let iam = common::client!(aws_sdk_iam, &aws);
        o.instance_profile_exists = Some(ec2::instance_profile_exists(&iam, &w.instance_profile).await?);
    }
    let p = plan::plan(&d, &w, &o);
    log_findings(&p.findings);
    run.report.findings.extend(p.findings.iter().cloned());
    if o.image.is_none() && p.launches().next().is_none() {
        run.report.info("no image matches; none is needed, since every host exists".to_owned());
    }
    if !p.missing.is_empty() {
        if run.dry_run() {
            for m in &p.missing {
                run.report.warn(m.clone());
            }
        } else {
            anyhow::bail!("{}", p.missing.join("; "));
        }
    }

    let built = if run.dry_run() {
        for c in p.changes() {
            run.report.change(c);
        }
        let keys = p
            .key_pairs
            .iter()
            .map(|k| {
                let file = secrets.file(&k.spec.file_name());
                KeyPairOut {
                    role: k.spec.role,
                    name: k.spec.name.clone(),
                    id: k.existing.as_ref().and_then(|e| e.id.clone()),
                    fingerprint: k.existing.as_ref().and_then(|e| e.fingerprint.clone()),
                    private_key_file: (k.holds_private_key && file.is_file()).then_some(file),
                }
            })
            .collect();
        Built::observed(&o, keys)
    } else {
        let apply = ec2::Apply { ec2: &ec2_client, d: &d, o: &o, secrets: &secrets, wait };
        apply.converge(&p, &mut run.report).await?
    };
    for (k, v) in outputs::outputs(&built) {
        run.report.output(&k, v);
    }
    Ok(())
}
