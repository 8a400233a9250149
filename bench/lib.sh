# Sourced by the benchmark scripts: the one build of komodo-server they all
# use.
#
# The bench profile (release without LTO), with the features that
# `cargo bench -p komodo-server` selects: the benches' dev-dependencies
# switch on features of crates the server shares with them (futures,
# hyper, tower), so a plain `cargo build -p komodo-server` selects other
# features and rebuilds DataFusion. Building the binary and both criterion
# benches in one command gives the exact set of units that `cargo bench
# --bench gateway` and `cargo bench --bench jwt` then find built.

# The binary the scripts start.
SERVER_BIN="$PWD/target/release/komodo-server"

build_server() {
  printf '==> %s\n' "building komodo-server (bench profile, with the benches' features)" >&2
  cargo build --profile bench --quiet -p komodo-server --bin komodo-server --bench gateway --bench jwt
}
