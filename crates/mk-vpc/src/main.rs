//! The mk-vpc binary: hands [`mk_vpc::run`] to `common::cli::main`.

fn main() -> std::process::ExitCode {
    common::cli::main("mk-vpc", mk_vpc::run)
}
