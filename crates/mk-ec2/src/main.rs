//! The mk-ec2 binary: hands its run to `common::cli::main`.
fn main() -> std::process::ExitCode {
    common::cli::main("mk-ec2", mk_ec2::run)
}
