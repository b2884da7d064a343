//! The `main` every tool shares: parse flags (usage errors are one line,
//! exit 2), set up logging on stderr, run the tool, print the one JSON
//! document on stdout, and map the outcome to the exit status.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Parser};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::calls::ApiCounter;
use crate::deployment::{Deployment, DeploymentArgs};
use crate::error::{exit_status, one_line};
use crate::report::Report;

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Output")]
pub struct LogArgs {
    /// More detail on stderr (-vv for the SDK's own logs)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Output")]
    pub verbose: u8,
    /// Nothing on stderr but errors
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = "Output")]
    pub quiet: bool,
}

/// The flags of a converge run, flattened into every tool that converges
/// a deployment's resources: `--client`, `--tag`, `--dry-run`.
/// [`main`] does their ceremony once: it checks the client name (exit 2),
/// puts the client into the report and the [`Deployment`] into the [`Run`],
/// and makes the run read-only under `--dry-run`.
#[derive(Args, Debug, Clone)]
pub struct ConvergeArgs {
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    /// Report what would change and change nothing: only reads are sent
    #[arg(long)]
    pub dry_run: bool,
}

/// `--destroy`, flattened into the tools that can remove what they made.
#[derive(Args, Debug, Clone, Default)]
pub struct DestroyArgs {
    /// Remove what this tool made for the client (only resources tagged for it); with --dry-run, list what would go
    #[arg(long)]
    pub destroy: bool,
}

/// Flags every tool's argument struct exposes to the shared `main`.
pub trait ToolArgs: Parser {
    fn log_args(&self) -> &LogArgs;

    /// The converge flags; `None` for a tool that has its own (emr-launch,
    /// whose client is optional).
    fn converge(&self) -> Option<&ConvergeArgs> {
        None
    }

    /// Whether the run is read-only.
    fn dry_run(&self) -> bool {
        self.converge().is_some_and(|c| c.dry_run)
    }
}

/// The [`ToolArgs`] of a converging tool's `Args` whose flags are the
/// fields `converge` ([`ConvergeArgs`]) and `log` ([`LogArgs`]); with
/// `destroy`, also `Args::destroy()` from its field `destroying`
/// ([`DestroyArgs`]):
/// `common::converge_args!(Args, destroy);`
#[macro_export]
macro_rules! converge_args {
    ($args:ty) => {
        impl $crate::cli::ToolArgs for $args {
            fn log_args(&self) -> &$crate::LogArgs {
                &self.log
            }

            fn converge(&self) -> Option<&$crate::ConvergeArgs> {
                Some(&self.converge)
            }
        }
    };
    ($args:ty, destroy) => {
        $crate::converge_args!($args);

        impl $args {
            /// Whether this run removes what the tool made (`--destroy`).
            pub fn destroy(&self) -> bool {
                self.destroying.destroy
            }
        }
    };
}

/// One run of a tool: the report it builds and the calls it counts.
#[derive(Debug)]
pub struct Run {
    pub report: Report,
    pub calls: ApiCounter,
    deployment: Option<Deployment>,
}

impl Run {
    pub fn new(tool: &'static str) -> Self {
        Run { report: Report::new(tool), calls: ApiCounter::new(), deployment: None }
    }

    /// The deployment of a tool with [`ConvergeArgs`], set up by [`main`].
    pub fn deployment(&self) -> &Deployment {
        self.deployment.as_ref().expect("a tool with ConvergeArgs (set up by common::cli::main)")
    }

    /// Sets the deployment (and the report's client).
    pub fn set_deployment(&mut self, deployment: Deployment) {
        self.report.client = Some(deployment.client.to_string());
        self.deployment = Some(deployment);
    }

    pub fn dry_run(&self) -> bool {
        self.report.dry_run
    }

    /// Under dry-run the counter refuses every mutating call.
    pub fn set_dry_run(&mut self, dry_run: bool) {
        self.report.dry_run = dry_run;
        self.calls.set_read_only(dry_run);
    }
}

fn init_logging(tool: &str, log: &LogArgs) {
    let ours = match (log.quiet, log.verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::INFO,
        (false, 1) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    let others = match (log.quiet, log.verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0 | 1) => LevelFilter::WARN,
        (false, _) => LevelFilter::DEBUG,
    };
    let filter =
        Targets::new().with_default(others).with_target("common", ours).with_target(tool.replace('-', "_"), ours);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false);
    let _ = tracing_subscriber::registry().with(filter).with(fmt).try_init();
}

/// Renders a clap error as one line: `the following required arguments were
/// not provided: --client <NAME>`.
fn usage_error_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let body = text.split("\n\nUsage:").next().unwrap_or(&text);
    let line = one_line(body);
    line.strip_prefix("error: ").unwrap_or(&line).to_owned()
}

/// Runs a tool: `common::cli::main("mk-buckets", mk_buckets::run)`.
pub fn main<A, F>(tool: &'static str, body: F) -> ExitCode
where
    A: ToolArgs,
    F: AsyncFnOnce(A, &mut Run) -> anyhow::Result<()>,
{
    if let Err(e) = crate::harden::no_core_dumps() {
        eprintln!("warning: {tool}: could not disable core dumps ({e}); this process holds secrets");
    }
    let args = match A::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {} (see {tool} --help)", usage_error_line(&e));
            return ExitCode::from(2);
        }
    };
    init_logging(tool, args.log_args());
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut run = Run::new(tool);
    run.set_dry_run(args.dry_run());
    let outcome = runtime.block_on(async {
        if let Some(c) = args.converge() {
            run.set_deployment(Deployment::from_args(&c.deployment, tool)?);
        }
        body(args, &mut run).await
    });
    let status = match &outcome {
        Ok(()) => 0,
        Err(e) => {
            let line = one_line(&format!("{e:#}"));
            eprintln!("error: {line}");
            run.report.error = Some(line);
            exit_status(e)
        }
    };
    let doc = run.report.to_json(&run.calls.snapshot());
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, &doc);
    let _ = writeln!(out);
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct T {
        #[arg(long)]
        client: String,
        #[arg(long)]
        count: Option<u8>,
    }

    #[test]
    fn usage_errors_fit_on_one_line() {
        let e = T::try_parse_from(["t"]).unwrap_err();
        let line = usage_error_line(&e);
        assert!(!line.contains('\n'));
        assert!(line.contains("--client"), "{line}");
        let e = T::try_parse_from(["t", "--client", "a", "--count", "x"]).unwrap_err();
        let line = usage_error_line(&e);
        assert!(line.contains("--count") && line.contains("'x'"), "{line}");
    }
}
