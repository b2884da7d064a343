fn main() -> std::process::ExitCode {
    common::cli::main("mk-buckets", mk_buckets::run)
}
