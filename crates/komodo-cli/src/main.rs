//! The `komodo` binary: parses arguments and hands over to [`komodo_cli::run`].

fn main() -> std::process::ExitCode {
    komodo_cli::run(std::env::args_os())
}
