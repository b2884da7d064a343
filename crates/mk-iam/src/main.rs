fn main() -> std::process::ExitCode {
    common::cli::main("mk-iam", mk_iam::run)
}
