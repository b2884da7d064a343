//! [`build`]: the RunJobFlow request for the typed variables, as the old
//! playbook's module built it. Pure.

use anyhow::Context as _;
use common::Finding;
use common::aws::validate_region;
use common::error::bad_input;

use super::instances::instances;
use super::steps::{bootstrap_actions, step};
use super::types::{Application, Configuration, RunJobFlowRequest, Tag};
use super::values::{Notes, int32, text, texts};
use crate::vars::{ConfigurationVar, EmrVars, Flag, Int};

/// The tag the old playbook put on every cluster; the pipeline's launcher
/// finds the master's instances through it.
pub const TAG_EMR_NAME: &str = "ansible:emr:name";
pub const DEFAULT_JOB_FLOW_ROLE: &str = "EMR_EC2_DefaultRole";
pub const DEFAULT_SERVICE_ROLE: &str = "EMR_DefaultRole";

/// What the request depends on besides the file.
#[derive(Debug, Clone)]
pub struct Context {
    /// The region the cluster runs in (script-runner jars are per region).
    pub region: String,
    /// `AWS_KEYPAIR_NAME`, used when the file gives no `keypair_name`.
    pub env_keypair: Option<String>,
    /// This tool's tags (`analytics:managed-by`, `analytics:client`).
    pub tags: Vec<(String, String)>,
}

/// The request, and what the operator should know about how it was built.
#[derive(Debug)]
pub struct Desired {
    pub request: RunJobFlowRequest,
    pub findings: Vec<Finding>,
}

/// The cluster's name, checked.
fn name(vars: &EmrVars) -> anyhow::Result<String> {
    let name = text(&vars.name).ok_or_else(|| {
        bad_input("`name` is required: the cluster's name, by which the pipeline finds the cluster (or pass --name)")
    })?;
    if name.len() > 256 {
        return Err(bad_input(format!("name: {} characters is too long (at most 256)", name.len())));
    }
    Ok(name)
}

fn log_uri(vars: &EmrVars) -> anyhow::Result<Option<String>> {
    let log_uri = text(&vars.log_uri);
    if let Some(uri) = &log_uri
        && !(uri.starts_with("s3://") || uri.starts_with("s3n://"))
    {
        return Err(bad_input(format!("log_uri: {uri:?} is not an s3:// URI")));
    }
    Ok(log_uri)
}

/// `(ReleaseLabel, AmiVersion)`: the release label wins; a legacy AMI
/// version alone is a warning.
fn versions(vars: &EmrVars, notes: &mut Notes) -> anyhow::Result<(Option<String>, Option<String>)> {
    match (text(&vars.release_label), text(&vars.ami_version)) {
        (Some(label), ami) => {
            if ami.is_some() {
                notes.info("ami_version ignored: release_label is set".into());
            }
            Ok((Some(label), None))
        }
        (None, Some(ami)) => {
            let too_old = ami.starts_with("1.") || ami.starts_with("2.");
            notes.warn(format!(
                "ami_version {ami}: legacy EMR AMIs are deprecated{}; set release_label (e.g. emr-5.36.2)",
                if too_old { " and AWS no longer launches 1.x/2.x" } else { "" }
            ));
            Ok((None, Some(ami)))
        }
        (None, None) => Err(bad_input("release_label is required (e.g. emr-5.36.2); legacy files may set ami_version")),
    }
}

fn configuration(c: &ConfigurationVar) -> Configuration {
    Configuration {
        classification: c.classification.0.clone(),
        properties: c.properties.0.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
        configurations: c.configurations.iter().map(configuration).collect(),
    }
}

/// `Applications`, `NewSupportedProducts` and `Configurations`.
struct Software {
    applications: Vec<Application>,
    new_supported_products: Vec<Application>,
    configurations: Vec<Configuration>,
}

/// With a release label, applications and configurations are sent as such;
/// a legacy AMI cluster takes applications as "supported products" and has
/// no configurations.
fn software(vars: &EmrVars, release: bool, notes: &mut Notes) -> Software {
    let apps: Vec<Application> =
        vars.applications.iter().map(|a| Application { name: a.name.0.clone(), args: texts(&a.args) }).collect();
    let configurations = vars.configurations.iter().map(configuration).collect::<Vec<_>>();
    if release {
        return Software { applications: apps, new_supported_products: Vec::new(), configurations };
    }
    if !configurations.is_empty() {
        notes.warn("configurations ignored: they need release_label".into());
    }
    Software { applications: Vec::new(), new_supported_products: apps, configurations: Vec::new() }
}

fn job_flow_role(vars: &EmrVars) -> anyhow::Result<String> {
    match (text(&vars.role), text(&vars.job_flow_role)) {
        (Some(a), Some(b)) if a != b => {
            Err(bad_input(format!("role ({a}) and job_flow_role ({b}) disagree: they are the same setting")))
        }
        (Some(r), _) | (None, Some(r)) => Ok(r),
        (None, None) => Ok(DEFAULT_JOB_FLOW_ROLE.to_owned()),
    }
}

/// The file's tags, then ours (which replace a file's tag of the same key).
fn tags(vars: &EmrVars, name: &str, ctx: &Context, notes: &mut Notes) -> anyhow::Result<Vec<Tag>> {
    let mut tags: Vec<Tag> = Vec::new();
    let ours: Vec<(String, String)> =
        ctx.tags.iter().cloned().chain([(TAG_EMR_NAME.to_owned(), name.to_owned())]).collect();
    for (k, v) in &vars.tags.0 {
        if k.is_empty() {
            return Err(bad_input("tags: a tag has an empty Key"));
        }
        if ours.iter().any(|(ok, _)| ok == k) {
            notes.info(format!("tag {k} from the file replaced by emr-launch's own"));
            continue;
        }
        tags.push(Tag::new(k, v));
    }
    tags.extend(ours.iter().map(|(k, v)| Tag::new(k, v)));
    Ok(tags)
}

/// Builds the request the old module sent for these variables, or says
/// (exit 2) what in the file cannot work.
pub fn build(vars: &EmrVars, ctx: &Context) -> anyhow::Result<Desired> {
    let mut notes = Notes::default();
    let name = name(vars)?;
    if let Some(region) = text(&vars.region) {
        validate_region(&region).context("region")?;
    }
    let log_uri = log_uri(vars)?;
    let (release_label, ami_version) = versions(vars, &mut notes)?;
    let release = release_label.is_some();
    let instances = instances(vars, ctx.env_keypair.as_deref(), release, &mut notes)?;
    let steps = vars
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("steps[{i}]"), &ctx.region, release, &mut notes))
        .collect();
    let bootstrap_actions = bootstrap_actions(&vars.bootstrap_actions)?;
    let software = software(vars, release, &mut notes);
    let job_flow_role = job_flow_role(vars)?;
    let tags = tags(vars, &name, ctx, &mut notes)?;
    let ebs_root_volume_size =
        Int::value(&vars.ebs_root_volume_size).map(|v| int32(v, "ebs_root_volume_size", 1)).transpose()?;

    let request = RunJobFlowRequest {
        name,
        log_uri,
        release_label,
        ami_version,
        instances,
        steps,
        bootstrap_actions,
        applications: software.applications,
        new_supported_products: software.new_supported_products,
        configurations: software.configurations,
        visible_to_all_users: Flag::value(&vars.visible_to_all_users, true),
        job_flow_role,
        service_role: text(&vars.service_role).unwrap_or_else(|| DEFAULT_SERVICE_ROLE.to_owned()),
        tags,
        ebs_root_volume_size,
    };
    Ok(Desired { request, findings: notes.0 })
}
