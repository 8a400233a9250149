//! The `komodo-server` binary: see [`komodo_server::cli`].

/// mimalloc keeps the memory of large results' buffers for reuse, where
/// glibc's allocator returns it to the kernel and faults it in again for
/// the next batch.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    komodo_server::cli::main()
}
