#!/usr/bin/env bash
# Loading a DataFrame, in one table with its baseline measured in the same
# run: `komodo.write_pandas` of 1M rows x 10 columns (ints, floats,
# strings, a date, a timestamp, a boolean) into a new table of the
# account's warehouse, against psycopg's `COPY ... FROM STDIN` of the same
# DataFrame (as CSV) into local PostgreSQL (127.0.0.1:5432, trust auth,
# database `test`).
#
#   bench/load.sh                            # 1M rows
#   KOMODO_BENCH_ROWS=200000 bench/load.sh
#   KOMODO_BENCH_SERVER_BIN=target/debug/komodo-server bench/load.sh
#
# Builds the platform like every script (bench/lib.sh) unless
# KOMODO_BENCH_SERVER_BIN names a binary already built (a debug build is
# several times slower: say so next to its figures), and the package as a
# release wheel into target/bench/python (KOMODO_BENCH_VENV names another
# virtual environment, and KOMODO_BENCH_SKIP_WHEEL=1 keeps the package
# installed there). PostgreSQL must be running (./scripts/test starts it).
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

NO_PROXY=127.0.0.1,localhost KOMODO_SERVER_BIN="$SERVER_BIN" "$venv/bin/python" bench/load_bench.py
