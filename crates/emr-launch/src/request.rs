//! The RunJobFlow request: built from [`EmrVars`](crate::vars::EmrVars) by
//! a pure function ([`build`]) the way the old playbook's module built it,
//! shown as JSON under `--dry-run` (field names are the API's, as in the
//! AWS CLI's `--cli-input-json`), and turned into the SDK call in one place
//! ([`to_sdk`]).
//!
//! - `build.rs`: the request's top level (name, versions, software, roles, tags);
//! - `instances.rs`, `groups.rs`, `fleets.rs`: where it runs and on what;
//! - `steps.rs`: its steps and bootstrap actions;
//! - `values.rs`: reading values (text, ranges, roles, volumes) and notes;
//! - `types.rs`: the request's types; `sdk.rs`: the SDK call.

mod build;
mod fleets;
mod groups;
mod instances;
mod sdk;
mod steps;
mod types;
mod values;

pub use build::{Context, DEFAULT_JOB_FLOW_ROLE, DEFAULT_SERVICE_ROLE, Desired, TAG_EMR_NAME, build};
pub use sdk::to_sdk;
pub use steps::script_runner;
pub use types::*;
