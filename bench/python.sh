#!/usr/bin/env bash
# The Python package, in one table with its baselines measured in the same run:
#
#   - `python -c "import komodo"` (goal <= 30 ms), next to `python -c pass`;
#   - a cold interpreter to the first row of `SELECT 1` with a valid
#     [default] profile (goal <= 100 ms), next to the same through
#     snowflake-connector-python (`komodo.snowflake_connector`);
#   - `fetch_pandas_all()` of a 10M-row, 6-column result (goal >= 3x faster)
#     against psycopg + pandas reading the same rows from local PostgreSQL
#     (127.0.0.1:5432, trust auth, database `test`).
#
#   bench/python.sh                          # 10M rows
#   KOMODO_BENCH_ROWS=1000000 bench/python.sh
#
# Builds the platform in the bench profile (release without LTO; the one
# build every script shares, bench/lib.sh; the first build compiles
# DataFusion and takes long on a small machine) and the
# package as a release wheel (the bench profile would build the extension as
# a test harness), installed into target/bench/python. PostgreSQL
# must be running (./scripts/test starts it); the table is loaded once and
# kept as `komodo_bench_claims`.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

build_server
python_venv 'snowflake-connector-python>=3.12,<5'

NO_PROXY=127.0.0.1,localhost SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true \
  KOMODO_SERVER_BIN="$SERVER_BIN" \
  "$VENV/bin/python" bench/python_bench.py
