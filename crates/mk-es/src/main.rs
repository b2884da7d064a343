//! The mk-es binary: hands its run to `common::cli::main`.
fn main() -> std::process::ExitCode {
    common::cli::main("mk-es", mk_es::run)
}
