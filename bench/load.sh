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
#
# Builds the platform in the bench profile (bench/lib.sh) and the package as
# a release wheel, installed into target/bench/python, as bench/python.sh
# does. PostgreSQL must be running (./scripts/test starts it).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

build_server
venv="$PWD/target/bench/python"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin 'pyarrow>=15' 'pandas>=1.5' 'psycopg[binary]>=3'
rm -rf target/bench/wheels
"$venv/bin/maturin" build --quiet --release -i "$venv/bin/python" -o target/bench/wheels -m crates/komodo-python/Cargo.toml
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/bench/wheels/*.whl

NO_PROXY=127.0.0.1,localhost KOMODO_SERVER_BIN="$SERVER_BIN" "$venv/bin/python" bench/load_bench.py
