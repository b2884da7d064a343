fn main() -> std::process::ExitCode {
    common::cli::main("mk-sg", mk_sg::run)
}
