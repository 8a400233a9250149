//! The `komodo-server` binary: see [`komodo_server::cli`].

fn main() -> std::process::ExitCode {
    komodo_server::cli::main()
}
