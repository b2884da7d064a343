fn main() -> std::process::ExitCode {
    common::cli::main("mk-config", mk_config::run)
}
