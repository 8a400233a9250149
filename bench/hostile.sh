#!/usr/bin/env bash
# Hostile load (SECURITY.md F01-F06): for 60 s, two sessions of two
# accounts send runaway, huge and deeply nested statements in a loop while
# a third account measures `SELECT 1` round trips through the gateway.
# Prints one table: the third account's round trips (p50, p99, max) with
# and without the load in the same run, the server's peak RSS and its CPU
# time. Goals: p99 under 50 ms, RSS under 1.5 GiB.
#
#   bench/hostile.sh
#   KOMODO_BENCH_SECONDS=20 bench/hostile.sh
#   KOMODO_SERVER_BIN=target/debug/komodo-server bench/hostile.sh   # no release build
#
# Builds the platform in the bench profile (the one build every script
# under bench/ shares, bench/lib.sh; the first one compiles DataFusion and
# takes long).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
if [ -z "${KOMODO_SERVER_BIN:-}" ]; then
  build_server
  export KOMODO_SERVER_BIN="$SERVER_BIN"
fi
exec python3 bench/hostile.py
