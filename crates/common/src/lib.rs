//! What every analytics-stack tool shares, and nothing tool-specific.
//!
//! Every tool walks the same path: `desired` (pure, from flags and files),
//! `observe` (read AWS or MySQL), `plan` (pure: compare the two into
//! [`report::Change`]s), `apply` (skipped under `--dry-run`), `report` (the
//! one JSON document on stdout). This crate holds the pieces of that path
//! that do not depend on the tool:
//!
//! - [`aws`]: the `--profile/--region/--endpoint-url` flags and the `SdkConfig`;
//! - [`deployment`]: the client name, derived resource names, standard tags;
//! - [`report`]: the JSON document, its changes, outputs and findings;
//! - [`calls`]: the API-call counter (an SDK interceptor, also fed by SQL);
//! - [`secrets`]: the secrets directory (0700) and its files (0600, atomic);
//! - [`wait`]: polling with backoff, a timeout and progress on stderr;
//! - [`error`]: bad input (exit 2) versus failure (exit 1), AWS error lines;
//! - [`once`]: creates AWS cannot deduplicate, sent at most once per try
//!   and verified after a transient failure;
//! - [`names`], [`policy`]: naming rules and policy-document comparison
//!   that several tools need;
//! - [`cli`]: the `main` every tool shares: logging, exit codes, printing.
//!
//! It is not the place for any one service's logic: a tool's crate holds
//! what only that tool knows.

pub mod aws;
pub mod calls;
pub mod cli;
pub mod deployment;
pub mod error;
pub mod harden;
pub mod names;
pub mod once;
pub mod plan;
pub mod policy;
pub mod report;
pub mod retry;
pub mod secrets;
pub mod wait;

pub use calls::ApiCounter;
pub use cli::{ConvergeArgs, DestroyArgs, LogArgs, Run};
pub use deployment::{ClientName, Deployment, DeploymentArgs};
pub use error::{AwsResultExt, BadInput, aws_error_code};
pub use plan::{Plan, Step};
pub use report::{Action, Change, Finding, Report, Severity};
pub use secrets::{SecretsArgs, SecretsDir};
pub use wait::{WaitArgs, WaitState};
