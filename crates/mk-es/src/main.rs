fn main() -> std::process::ExitCode {
    common::cli::main("mk-es", mk_es::run)
}
