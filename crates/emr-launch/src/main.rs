//! The emr-launch binary: its `run` under the shared `main`.

fn main() -> std::process::ExitCode {
    common::cli::main("emr-launch", emr_launch::run)
}
