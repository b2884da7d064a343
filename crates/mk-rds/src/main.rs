//! The `mk-rds` binary: its run, handed to the shared `main`.

fn main() -> std::process::ExitCode {
    common::cli::main("mk-rds", mk_rds::run)
}
