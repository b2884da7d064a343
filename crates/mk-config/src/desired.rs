//! What mk-config writes: the facts, gathered from the tools' documents and
//! the secret files they left, and the four files rendered from them. Pure
//! but for reading those inputs; every missing input is named in one error.

use std::io::IsTerminal;

use anyhow::Context;
use common::error::bad_input;
use common::secrets::Secret;
use common::{Deployment, SecretsDir};

use crate::args::Args;
use crate::files::{self, EmrSettings, Facts};
use crate::inputs::{self, Documents};

/// The files mk-config writes, with their keys under `outputs.files`.
pub const WRITTEN: [(&str, &str); 4] = [
    ("vars_analytics", "vars-analytics.yml"),
    ("emr_vars", "emr-vars.yml"),
    ("analytics_override", "analytics-override.cfg"),
    ("jenkins_env", "jenkins_env"),
];

/// The credential files mk-rds-users writes; mk-config checks and uploads
/// them, with their keys under `outputs.files`.
pub const CREDS: [(&str, &str); 2] = [("edxanalytics_creds", "edxanalytics_creds"), ("edxapp_creds", "edxapp_creds")];

/// The documents given as files, or else on stdin (not a terminal).
pub fn read_documents(args: &Args) -> anyhow::Result<Documents> {
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

pub fn valid_emr_settings(args: &Args) -> anyhow::Result<EmrSettings> {
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
pub fn gather(emr: EmrSettings, d: &Deployment, docs: &Documents, secrets: &SecretsDir) -> anyhow::Result<Facts> {
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

/// One file to write, as rendered: it holds secrets (passwords, keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Its key under `outputs.files`.
    pub key: &'static str,
    pub name: &'static str,
    pub text: Secret,
}

/// The four files of [`WRITTEN`], in that order.
pub fn render(f: &Facts) -> anyhow::Result<Vec<Rendered>> {
    let texts = [files::vars_analytics(f)?, files::emr_vars(f)?, files::override_cfg(f)?, files::jenkins_env(f)?];
    Ok(WRITTEN.iter().zip(texts).map(|(&(key, name), text)| Rendered { key, name, text: Secret::new(text) }).collect())
}
