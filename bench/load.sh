#!/usr/bin/env bash
# Loading a DataFrame, in one table with its baseline measured in the same
# run: `komodo.write_pandas` of 1M rows x 10 columns (ints, floats,
# strings, a date, a timestamp, a boolean) into a new table of the
# account's warehouse, snowflake-connector-python's own `write_pandas`
# through the gateway (the platform started with --local-stage-transfers),
# and psycopg's `COPY ... FROM STDIN` of the same DataFrame (as CSV) into
# local PostgreSQL (127.0.0.1:5432, trust auth, database `test`).
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

choose_server
python_venv 'snowflake-connector-python>=3.12,<5'

NO_PROXY=127.0.0.1,localhost SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true KOMODO_SERVER_BIN="$SERVER_BIN" \
  "$VENV/bin/python" bench/load_bench.py
