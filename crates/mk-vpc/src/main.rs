fn main() -> std::process::ExitCode {
    common::cli::main("mk-vpc", mk_vpc::run)
}
