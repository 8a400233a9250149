#!/usr/bin/env bash
# Writes to the account's own tables (Delta Lake) against the same
# statements on local PostgreSQL, in one table with the baseline measured
# in the same run, over a table of KOMODO_BENCH_ROWS rows (default 10M):
#
#   - point SELECT by key (one row; PostgreSQL with a primary key, the
#     warehouse scanning with its file statistics);
#   - UPDATE of 1% of the rows;
#   - MERGE of 100k rows (half matching, half new);
#
#   bench/tables.sh
#   KOMODO_BENCH_ROWS=1000000 KOMODO_BENCH_SERVER_BIN=target/debug/komodo-server bench/tables.sh
#
# Builds the platform (bench/lib.sh) unless KOMODO_BENCH_SERVER_BIN names
# a binary already built (a debug build is several times slower: say so
# next to its figures), and the package into target/bench/python as
# bench/connector.sh does. PostgreSQL must be running (./scripts/test
# starts it); the script makes and drops its own table there.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

if [ -n "${KOMODO_BENCH_SERVER_BIN:-}" ]; then
  SERVER_BIN="$(realpath "$KOMODO_BENCH_SERVER_BIN")"
else
  build_server
fi
venv="${KOMODO_BENCH_VENV:-$PWD/target/bench/python}"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin 'pyarrow>=15' 'pandas>=1.5' 'psycopg[binary]>=3'
if [ -z "${KOMODO_BENCH_SKIP_WHEEL:-}" ]; then
  rm -rf target/bench/wheels
  "$venv/bin/maturin" build --quiet --release -i "$venv/bin/python" -o target/bench/wheels -m crates/komodo-python/Cargo.toml
  "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/bench/wheels/*.whl
fi

NO_PROXY=127.0.0.1,localhost KOMODO_SERVER_BIN="$SERVER_BIN" "$venv/bin/python" bench/tables_bench.py
