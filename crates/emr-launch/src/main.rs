fn main() -> std::process::ExitCode {
    common::cli::main("emr-launch", emr_launch::run)
}
