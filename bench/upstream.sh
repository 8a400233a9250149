#!/usr/bin/env bash
# The gateway in front of an upstream Snowflake account, against the same
# upstream reached directly, in one run: `SELECT 1` round trips and a
# 1M-row Arrow fetch (`fetch_arrow_all`) through snowflake-connector-python,
# once connected to the upstream itself and once to the platform with an
# account whose warehouse is that upstream (`admin set-warehouse ...
# snowflake`). The upstream is fakesnow's server on 127.0.0.1 (Snowflake's
# REST protocol over DuckDB): what the gateway adds is the difference.
#
#   bench/upstream.sh
#   KOMODO_BENCH_ROUND_TRIPS=1000 KOMODO_BENCH_ROWS=1000000 bench/upstream.sh
#   KOMODO_BENCH_SERVER_BIN=target/debug/komodo-server bench/upstream.sh
#
# Builds the platform like every script (bench/lib.sh) unless
# KOMODO_BENCH_SERVER_BIN names a binary already built (a debug build is
# several times slower: say so next to its figures).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

choose_server
VENV="${KOMODO_BENCH_VENV:-$PWD/target/bench/python}"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check 'pyarrow>=15' \
  'snowflake-connector-python>=3.12,<5' 'fakesnow[server]>=0.12,<0.13'

NO_PROXY=127.0.0.1,localhost SNOWFLAKE_DISABLE_PLATFORM_DETECTION=true \
  KOMODO_SERVER_BIN="$SERVER_BIN" \
  "$VENV/bin/python" bench/upstream_bench.py
