fn main() -> std::process::ExitCode {
    common::cli::main("mk-rds", mk_rds::run)
}
