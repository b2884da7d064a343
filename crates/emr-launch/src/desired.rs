//! Step 1, desired: the deployment (when `--client` is given), the
//! cluster's variables (the file, then each `--extra-vars`, then `--name`),
//! its region and this tool's tags. No AWS call: only the files are read,
//! and the SDK's region chain (environment, profile) when neither the flag
//! nor the file names a region.

use anyhow::Context as _;
use common::aws::{AwsArgs, validate_region};
use common::deployment::{TAG_CLIENT, TAG_MANAGED_BY};
use common::error::bad_input;
use common::{ClientName, Deployment};

use crate::args::Args;
use crate::extra_vars;
use crate::yaml::{self, Node};

pub const TOOL: &str = "emr-launch";
/// The old module's default region.
const DEFAULT_REGION: &str = "us-east-1";

/// The deployment the cluster belongs to, when `--client` names one.
pub fn deployment(args: &Args) -> anyhow::Result<Option<Deployment>> {
    let Some(client) = args.client.as_deref() else { return Ok(None) };
    Ok(Some(Deployment { client: ClientName::parse(client)?, tool: TOOL, extra_tags: Vec::new() }))
}

/// This tool's tags on the cluster: `analytics:managed-by`, then
/// `analytics:client` when there is a deployment (the order RunJobFlow has
/// always been sent them in).
pub fn tags(deployment: Option<&Deployment>) -> Vec<(String, String)> {
    let mut tags = vec![(TAG_MANAGED_BY.to_owned(), TOOL.to_owned())];
    if let Some(d) = deployment {
        tags.push((TAG_CLIENT.to_owned(), d.client.to_string()));
    }
    tags
}

/// The file, then each --extra-vars in order, then --name.
pub fn variables(args: &Args) -> anyhow::Result<Node> {
    let mut vars = match &args.vars {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("--vars {}: cannot read the file: {e}", path.display())))?;
            let node = yaml::parse(&text, &path.display().to_string())?;
            if !matches!(node, Node::Map(_)) {
                return Err(bad_input(format!("{}: expected a map of variables", path.display())));
            }
            node
        }
        None => Node::Map(Vec::new()),
    };
    for arg in &args.extra_vars {
        for (k, v) in extra_vars::parse(arg, |p| std::fs::read_to_string(p))? {
            vars.set(&k, v);
        }
    }
    if let Some(name) = &args.name {
        vars.set("name", Node::Str(name.clone()));
    }
    Ok(vars)
}

/// `--region`, else the file's `region`, else what the SDK finds
/// (AWS_REGION, the profile), else us-east-1 as the old module did.
pub async fn region(aws: &AwsArgs, file_region: Option<&str>) -> anyhow::Result<String> {
    if let Some(r) = &aws.region {
        return Ok(r.clone());
    }
    if let Some(r) = file_region {
        validate_region(r).context("region")?;
        return Ok(r.to_owned());
    }
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = &aws.profile {
        chain = chain.profile_name(p);
    }
    Ok(chain.build().region().await.map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn tags_name_the_tool_then_the_client() {
        assert_eq!(tags(None), [(TAG_MANAGED_BY.to_owned(), TOOL.to_owned())]);
        let args = Args::try_parse_from(["emr-launch", "--vars", "f.yml", "--client", "acme"]).unwrap();
        let d = deployment(&args).unwrap().unwrap();
        assert_eq!(
            tags(Some(&d)),
            [(TAG_MANAGED_BY.to_owned(), TOOL.to_owned()), (TAG_CLIENT.to_owned(), "acme".to_owned())]
        );
        let args = Args::try_parse_from(["emr-launch", "--vars", "f.yml", "--client", "Bad_Client"]).unwrap();
        assert_eq!(common::error::exit_status(&deployment(&args).unwrap_err()), 2);
    }

    #[test]
    fn name_and_extra_vars_override_in_order() {
        let args =
            Args::try_parse_from(["emr-launch", "--terminate", "-e", "name=a region=r", "-e", "name=b", "--name", "c"])
                .unwrap();
        let vars = variables(&args).unwrap();
        assert_eq!(vars.get("name"), Some(&Node::Str("c".into())));
        assert_eq!(vars.get("region"), Some(&Node::Str("r".into())));
    }
}
