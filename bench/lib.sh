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

# The server the Python benches start: KOMODO_BENCH_SERVER_BIN when it names
# a binary already built (a debug build is several times slower: say so
# next to its figures), else the one build above.
choose_server() {
  if [ -n "${KOMODO_BENCH_SERVER_BIN:-}" ]; then
    SERVER_BIN="$(realpath "$KOMODO_BENCH_SERVER_BIN")"
  else
    build_server
  fi
}

# The virtual environment the Python benches run in ($VENV): target/bench/python
# or KOMODO_BENCH_VENV, with maturin, pyarrow, pandas, psycopg and the
# packages given, and this project's package as a release wheel installed
# by pip, as users get it (KOMODO_BENCH_SKIP_WHEEL=1 keeps the one there).
python_venv() {
  VENV="${KOMODO_BENCH_VENV:-$PWD/target/bench/python}"
  if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check maturin 'pyarrow>=15' 'pandas>=1.5' \
    'psycopg[binary]>=3' "$@"
  if [ -z "${KOMODO_BENCH_SKIP_WHEEL:-}" ]; then
    rm -rf target/bench/wheels
    "$VENV/bin/maturin" build --quiet --release -i "$VENV/bin/python" -o target/bench/wheels \
      -m crates/komodo-python/Cargo.toml
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/bench/wheels/*.whl
  fi
}
