//! What the cluster runs: its steps (by the old module's step types) and
//! its bootstrap actions.

use common::error::bad_input;

use super::types::{BootstrapAction, HadoopJarStep, ScriptBootstrapAction, Step, Tag};
use super::values::{Notes, text, texts};
use crate::vars::{ActionOnFailure, BootstrapActions, StepType, StepVar};

// The old Hive and Pig installers: scripts in the global EMR bucket, run by
// script-runner, which only AMI 2.x/3.x clusters understand.
const HIVE_SCRIPT: &str = "s3://elasticmapreduce/libs/hive/hive-script";
const HIVE_BASE: &str = "s3://elasticmapreduce/libs/hive/";
const PIG_SCRIPT: &str = "s3://elasticmapreduce/libs/pig/pig-script";
const PIG_BASE: &str = "s3://elasticmapreduce/libs/pig/";

/// The region's script-runner, which runs a script from S3 as a step.
pub fn script_runner(region: &str) -> String {
    format!("s3://{region}.elasticmapreduce/libs/script-runner/script-runner.jar")
}

/// The arguments of a `hive_install` or `pig_install` step.
fn install_args(s: &StepVar) -> Vec<String> {
    if s.step_type == StepType::HiveInstall {
        let mut a: Vec<String> =
            [HIVE_SCRIPT, "--base-path", HIVE_BASE, "--install-hive", "--hive-versions"].map(str::to_owned).into();
        a.push(text(&s.hive_version).unwrap_or_else(|| "latest".to_owned()));
        if let Some(site) = text(&s.hive_site) {
            a.push(format!("--hive-site={site}"));
        }
        a
    } else {
        let mut a: Vec<String> =
            [PIG_SCRIPT, "--base-path", PIG_BASE, "--install-pig", "--pig-versions"].map(str::to_owned).into();
        a.push(text(&s.pig_version).unwrap_or_else(|| "latest".to_owned()));
        a
    }
}

/// One step, as the old module mapped its type:
/// - `jar`: the given jar (the region's script-runner when none), `main_class`
///   and `step_args` as they are;
/// - `script`: the region's script-runner jar (unless `jar` is given), whose
///   first argument is the script to run, then its arguments;
/// - `streaming`: `command-runner.jar` with `hadoop-streaming` and the
///   `step_args` (the old `/home/hadoop/contrib/streaming/hadoop-streaming.jar`
///   exists only on AMI 2.x/3.x); a given `jar` is used as it is;
/// - `hive_install`: script-runner running the old `hive-script
///   --install-hive --hive-versions V [--hive-site=S]` (default `latest`);
/// - `pig_install`: script-runner running `pig-script --install-pig
///   --pig-versions V` (default `latest`).
pub fn step(s: &StepVar, key: &str, region: &str, release: bool, notes: &mut Notes) -> Step {
    let jar = text(&s.jar);
    let step_args = texts(&s.step_args);
    let runner = || jar.clone().unwrap_or_else(|| script_runner(region));
    let (jar, args) = match s.step_type {
        StepType::Jar | StepType::Script => (runner(), step_args),
        StepType::Streaming => match &jar {
            Some(j) => (j.clone(), step_args),
            None => (
                "command-runner.jar".to_owned(),
                std::iter::once("hadoop-streaming".to_owned()).chain(step_args).collect(),
            ),
        },
        StepType::HiveInstall | StepType::PigInstall => {
            if !step_args.is_empty() {
                notes.warn(format!("{key}.step_args ignored for type {}", s.step_type.as_str()));
            }
            if release {
                notes.warn(format!(
                    "{key}: type {} works only on legacy AMI clusters; with release_label install it as an application",
                    s.step_type.as_str()
                ));
            }
            (runner(), install_args(s))
        }
    };
    Step {
        name: text(&s.name).unwrap_or_else(|| s.step_type.as_str().to_owned()),
        action_on_failure: s.action_on_failure.map(|a: ActionOnFailure| a.as_str().to_owned()),
        hadoop_jar_step: HadoopJarStep {
            properties: s.properties.0.iter().map(|(k, v)| Tag::new(k, v)).collect(),
            jar,
            main_class: text(&s.main_class),
            args,
        },
    }
}

/// The bootstrap actions, in file order; each needs a script path.
pub fn bootstrap_actions(actions: &BootstrapActions) -> anyhow::Result<Vec<BootstrapAction>> {
    let mut out = Vec::new();
    for b in &actions.0 {
        if b.path.0.is_empty() {
            return Err(bad_input(format!("bootstrap_actions.{}: the script path is empty", b.name)));
        }
        out.push(BootstrapAction {
            name: b.name.clone(),
            script_bootstrap_action: ScriptBootstrapAction { path: b.path.0.clone(), args: texts(&b.args) },
        });
    }
    Ok(out)
}
