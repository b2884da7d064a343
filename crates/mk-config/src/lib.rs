//! mk-config: writes the deployment's secure configuration (SPEC section
//! 11) into the secrets directory, from the other tools' JSON documents and
//! the secrets they left there; `--upload` puts the pipeline's credential
//! files into the configuration bucket, encrypted.
//!
//! Follows the house path: [`desired`] (the facts from the documents and
//! secret files, and the files rendered from them by [`files`]) →
//! [`observe`] (the secrets directory, and with `--upload` the bucket,
//! which must be this account's and tagged for the client by mk-buckets) →
//! [`plan`] (pure) → [`common::plan::apply`] with [`apply::apply_op`]
//! (nothing written or sent under `--dry-run`) → the report.

pub mod apply;
pub mod args;
pub mod desired;
pub mod files;
pub mod inputs;
pub mod observe;
pub mod plan;

pub use args::Args;
use common::Run;
use serde_json::{Map, Value};

use crate::plan::Op;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let emr = desired::valid_emr_settings(&args)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let docs = desired::read_documents(&args)?;
    docs.check_client(d.client.as_str())?;
    let facts = desired::gather(emr, &d, &docs, &secrets)?;
    run.report.region = Some(facts.region.clone());
    let rendered = desired::render(&facts)?;

    let mut observed = observe::observe_files(&secrets, &rendered)?;
    let config = if args.upload {
        let aws = args.aws.load(&run.calls).await?;
        let s3 =
            common::client!(aws_sdk_s3, &aws, |b: aws_sdk_s3::config::Builder| b.force_path_style(aws.s3_path_style()));
        let sts = common::client!(aws_sdk_sts, &aws);
        let owner = observe::account_id(&sts).await?;
        let config = observe::ConfigBucket { s3, name: facts.config_bucket.clone(), owner };
        observe::check_config_bucket(&config, d.client.as_str()).await?;
        observe::observe_objects(&config, &mut observed).await?;
        Some(config)
    } else {
        None
    };
    let plan = plan::plan(&secrets, &rendered, &observed, &facts.config_bucket);
    common::plan::apply(run, &plan, async |op: &Op| {
        apply::apply_op(&secrets, config.as_ref(), op).await.map(|()| None)
    })
    .await?;

    let path = |name: &str| Value::from(secrets.file(name).display().to_string());
    let mut files: Map<String, Value> = rendered.iter().map(|r| (r.key.to_owned(), path(r.name))).collect();
    files.extend(observed.creds.iter().map(|(key, name, _)| ((*key).to_owned(), path(name))));
    run.report.output("files", files);
    run.report.output("config_bucket", facts.config_bucket.clone());
    if args.upload {
        let uploaded: Map<String, Value> = observed
            .creds
            .iter()
            .map(|(_, name, _)| ((*name).to_owned(), plan::object_uri(&facts.config_bucket, name).into()))
            .collect();
        run.report.output("uploaded", uploaded);
    }
    Ok(())
}
