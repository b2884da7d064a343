fn main() -> std::process::ExitCode {
    common::cli::main("mk-rds-users", mk_rds_users::run)
}
