#!/usr/bin/env bash
# The official snowflake-connector-python against the platform, in one
# table with its baselines measured in the same run:
#
#   - `fetch_pandas_all()` of a 10M-row, 6-column result through the
#     unmodified connector (Snowflake's Arrow encoding), through this
#     project's package (`komodo.get_snowflake_connection`, its own Arrow),
#     and through psycopg 3 + pandas from local PostgreSQL (the same rows,
#     127.0.0.1:5432, trust auth, database `test`);
#   - JSON access: `count(*) ... where DOC:a.b::string = 'PAID'` over a
#     temporary table of 10M rows against the same filter on a plain
#     column of the same table.
#
#   bench/connector.sh                            # 10M rows
#   KOMODO_BENCH_ROWS=1000000 bench/connector.sh
#   KOMODO_BENCH_SERVER_BIN=target/debug/komodo-server bench/connector.sh
#
# Builds the platform like every script (bench/lib.sh) unless
# KOMODO_BENCH_SERVER_BIN names a binary already built (a debug build is
# several times slower: say so next to its figures), and the package as a
# release wheel into target/bench/python (as bench/python.sh does;
# KOMODO_BENCH_VENV names another virtual environment, and
# KOMODO_BENCH_SKIP_WHEEL=1 keeps the package installed there).
# PostgreSQL must be running (./scripts/test starts it); the table is
# loaded once and kept as `komodo_bench_claims`.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

choose_server
python_venv 'snowflake-connector-python>=3.12,<5'

NO_PROXY=127.0.0.1,localhost SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true \
  KOMODO_SERVER_BIN="$SERVER_BIN" \
  "$VENV/bin/python" bench/connector_bench.py
