//! The mk-sg binary: hands [`mk_sg::run`] to `common::cli::main`.

fn main() -> std::process::ExitCode {
    common::cli::main("mk-sg", mk_sg::run)
}
