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

choose_server
python_venv

NO_PROXY=127.0.0.1,localhost KOMODO_SERVER_BIN="$SERVER_BIN" "$VENV/bin/python" bench/tables_bench.py
