//! mk-config: writes the deployment's secure configuration (SPEC section
//! 11) into the secrets directory, from the other tools' JSON documents and
//! the secrets they left there; `--upload` puts the pipeline's credential
//! files into the configuration bucket, encrypted.

pub mod files;
pub mod inputs;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use common::aws::AwsArgs;
use common::cli::ToolArgs;
use common::error::bad_input;
use common::{Action, AwsResultExt, Change, Deployment, DeploymentArgs, LogArgs, Run, SecretsArgs, SecretsDir};
use sha2::{Digest, Sha256};

use files::{EmrSettings, Facts};
use inputs::Documents;

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
pub struct Args {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// The tools' JSON documents (default: read them from stdin)
    #[arg(value_name = "FILE")]
    pub documents: Vec<PathBuf>,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    /// Also upload edxanalytics_creds and edxapp_creds to s3://<config bucket>/ (SSE)
    #[arg(long)]
    pub upload: bool,
    /// Report what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
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

impl ToolArgs for Args {
    fn log_args(&self) -> &LogArgs {
        &self.log
    }
}

/// The files mk-config writes, with their keys under `outputs.files`.
const WRITTEN: [(&str, &str); 4] = [
    ("vars_analytics", "vars-analytics.yml"),
    ("emr_vars", "emr-vars.yml"),
    ("analytics_override", "analytics-override.cfg"),
    ("jenkins_env", "jenkins_env"),
];

/// The credential files mk-rds-users writes; mk-config checks and uploads them.
const CREDS: [(&str, &str); 2] = [("edxanalytics_creds", "edxanalytics_creds"), ("edxapp_creds", "edxapp_creds")];

fn read_documents(args: &Args) -> anyhow::Result<Documents> {
    let mut docs = Documents::default();
    if args.documents.is_empty() {
        if std::io::stdin().is_terminal() {
            return Err(bad_input("no documents: give the tools' JSON files as arguments or pipe them on stdin"));
        }
        docs.read("stdin", std::io::stdin().lock())?;
    } else {
        docs.read_files(&args.documents)?;
    }
    Ok(docs)
}

fn valid_emr_settings(args: &Args) -> anyhow::Result<EmrSettings> {
    if !args.emr_release.starts_with("emr-") || args.emr_release.len() < 7 {
        return Err(bad_input(format!("invalid --emr-release {:?} (expected e.g. emr-5.36.2)", args.emr_release)));
    }
    let t = &args.emr_instance_type;
    if !t.split_once('.').is_some_and(|(f, s)| {
        !f.is_empty() && !s.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    }) {
        return Err(bad_input(format!("invalid --emr-instance-type {t:?} (expected e.g. m5.xlarge)")));
    }
    Ok(EmrSettings {
        release_label: args.emr_release.clone(),
        instance_type: t.clone(),
        core_count: args.emr_core_count,
    })
}

/// Gathers the facts; every missing input is named in one error.
fn gather(emr: EmrSettings, d: &Deployment, docs: &Documents, secrets: &SecretsDir) -> anyhow::Result<Facts> {
    let mut missing = Vec::new();
    let es_endpoint = docs.output("mk-es", "/endpoint", &mut missing);
    let es_key_file = docs.output("mk-iam", "/users/elasticsearch/access_key_file", &mut missing);
    let config_bucket = docs.output("mk-buckets", "/buckets/edxanalytics", &mut missing);
    let tracking_logs_bucket = docs.output("mk-buckets", "/buckets/tracking_logs", &mut missing);
    let emr_log_uri = docs.output("mk-buckets", "/emr_log_uri", &mut missing);
    let subnet_id = docs.output("mk-vpc", "/subnet_ids/0", &mut missing);
    let keypair_name = docs.output("mk-ec2", "/key_pairs/analytics/name", &mut missing);
    let analytics_db = inputs::read_db_creds(secrets, "edxanalytics_creds")?;
    if analytics_db.is_none() {
        missing.push(format!("{} (run mk-rds-users --analytics)", secrets.file("edxanalytics_creds").display()));
    }
    let region = docs.optional_output("mk-es", "/region").or_else(|| docs.region());
    if region.is_none() {
        missing.push("a region (no document names one)".into());
    }
    if !missing.is_empty() {
        return Err(bad_input(format!("missing inputs: {}", missing.join(", "))));
    }
    let reports = match docs.optional_output("mk-iam", "/users/reports/access_key_file") {
        Some(file) => {
            let bucket = docs
                .optional_output("mk-iam", "/reports_bucket")
                .or_else(|| docs.optional_output("mk-buckets", "/buckets/reports"))
                .ok_or_else(|| bad_input("mk-iam made a reports user but no document names the reports bucket"))?;
            Some((inputs::read_access_key(&file)?, bucket))
        }
        None => None,
    };
    let secrets_dir = std::path::absolute(secrets.path()).context("resolving the secrets directory")?;
    Ok(Facts {
        client: d.client.to_string(),
        region: region.unwrap_or_default(),
        es_key: inputs::read_access_key(&es_key_file)?,
        es_endpoint,
        reports,
        analytics_db: analytics_db.context("edxanalytics_creds")?,
        edxapp_db: inputs::read_db_creds(secrets, "edxapp_creds")?,
        hadoop_bucket: docs.optional_output("mk-buckets", "/buckets/hadoop").unwrap_or_else(|| config_bucket.clone()),
        config_bucket,
        tracking_logs_bucket,
        emr_log_uri,
        subnet_id,
        keypair_name,
        emr_ec2_profile: docs
            .optional_output("mk-iam", "/instance_profiles/emr_ec2_default")
            .unwrap_or_else(|| "EMR_EC2_DefaultRole".to_owned()),
        // mk-iam gives the role's ARN; EMR takes the name.
        emr_service_role: docs
            .optional_output("mk-iam", "/roles/emr_default")
            .and_then(|arn| arn.rsplit('/').next().map(str::to_owned))
            .unwrap_or_else(|| "EMR_DefaultRole".to_owned()),
        emr_master_sg: docs.optional_output("mk-sg", "/security_groups/emr_master"),
        emr_slave_sg: docs.optional_output("mk-sg", "/security_groups/emr_slave"),
        emr,
        secrets_dir,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Puts one credential file into the config bucket unless the object there
/// already has the same content (by its recorded SHA-256).
async fn upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    dry_run: bool,
) -> anyhow::Result<Change> {
    let digest = sha256_hex(body);
    let uri = format!("s3://{bucket}/{key}");
    let head = s3.head_object().bucket(bucket).key(key).send().await;
    let action = match head {
        Ok(h) if h.metadata().and_then(|m| m.get("sha256")) == Some(&digest) => Action::Unchanged,
        Ok(_) => Action::Update,
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Action::Create,
        Err(e) => return Err(e).aws_context(format!("checking {uri}")),
    };
    if action.is_change() && !dry_run {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(body.to_vec().into())
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
            .metadata("sha256", &digest)
            .content_type("application/json")
            .send()
            .await
            .aws_context(format!("uploading {uri}"))?;
        tracing::info!("uploaded {uri}");
    }
    Ok(Change::new("s3-object", uri, action))
}

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    run.set_dry_run(args.dry_run);
    let d = Deployment::from_args(&args.deployment, "mk-config")?;
    run.report.client = Some(d.client.to_string());
    let emr = valid_emr_settings(&args)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let docs = read_documents(&args)?;
    docs.check_client(d.client.as_str())?;
    let facts = gather(emr, &d, &docs, &secrets)?;
    run.report.region = Some(facts.region.clone());

    let rendered = [
        files::vars_analytics(&facts)?,
        files::emr_vars(&facts)?,
        files::override_cfg(&facts)?,
        files::jenkins_env(&facts)?,
    ];
    let mut outputs = serde_json::Map::new();
    for ((key, name), text) in WRITTEN.iter().zip(&rendered) {
        let action = match secrets.read(name)? {
            None => Action::Create,
            Some(old) if old == *text => Action::Unchanged,
            Some(_) => Action::Update,
        };
        if action.is_change() && !run.dry_run() {
            secrets.write(name, text.as_bytes())?;
            tracing::info!("{} {}", action.word(false), secrets.file(name).display());
        }
        run.report
            .change(Change::new("secure-config-file", *name, action).with_id(secrets.file(name).display().to_string()));
        outputs.insert((*key).to_owned(), secrets.file(name).display().to_string().into());
    }
    let mut creds = Vec::new();
    for (key, name) in CREDS {
        if let Some(text) = secrets.read(name)? {
            run.report.change(
                Change::new("secure-config-file", name, Action::Unchanged)
                    .with_id(secrets.file(name).display().to_string()),
            );
            outputs.insert(key.to_owned(), secrets.file(name).display().to_string().into());
            creds.push((name, text));
        }
    }
    run.report.output("files", outputs);
    run.report.output("config_bucket", facts.config_bucket.clone());

    if args.upload {
        let aws = args.aws.load(&run.calls).await?;
        let s3 =
            common::client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(aws.s3_path_style()));
        let mut uploaded = serde_json::Map::new();
        for (name, text) in &creds {
            let change = upload(&s3, &facts.config_bucket, name, text.as_bytes(), run.dry_run()).await?;
            uploaded.insert((*name).to_owned(), change.name.clone().into());
            run.report.change(change);
        }
        run.report.output("uploaded", uploaded);
    }
    Ok(())
}
