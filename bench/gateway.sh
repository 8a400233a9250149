#!/usr/bin/env bash
# The connector gateway end to end through the Rust SDK's Connection:
# connect, `SELECT 1` round trips, and a large 6-column Arrow fetch against
# the same statement run in-process on the embedded engine, in one run.
#
#   bench/gateway.sh                     # 10M rows
#   KOMODO_BENCH_ROWS=1000000 bench/gateway.sh
#   KOMODO_BENCH_ROUND_TRIPS=20000 bench/gateway.sh   # longer round-trip phases (profiling)
#
# Builds the platform in the bench profile (release without LTO), the one
# build every script shares (bench/lib.sh); the first build compiles
# DataFusion and takes a long time on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build_server
cargo bench -p komodo-server --bench gateway
