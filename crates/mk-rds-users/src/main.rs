//! The `mk-rds-users` binary: its run, handed to the shared `main`.

fn main() -> std::process::ExitCode {
    common::cli::main("mk-rds-users", mk_rds_users::run)
}
