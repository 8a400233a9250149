#!/usr/bin/env bash
# Benchmarks the platform's token endpoint against oidc-provider (npm), and
# access-token verification per core.
#
#   bench/oidc.sh            # 10 s per run; DURATION=30s bench/oidc.sh for longer runs
#
# Prints a table: client_credentials grants per second and p50/p99 latency
# at 16 and 64 connections (wrk, 2 threads, loopback) for komodo-server
# (SQLite, secrets stored as HMAC-SHA256, ES256 JWT access tokens) and for
# oidc-provider (in-memory adapter, ES256 JWT access tokens), the ratio, the
# HTTP floor (komodo-server's GET /healthz under the same load), JWT
# verifications and ES256 signatures per second on one core (criterion,
# `benches/jwt.rs`), OpenSSL's raw P-256 figures, and the ceiling those
# set: the grants/s of a server whose grant cost only the floor and one
# signature.
# All traffic stays on 127.0.0.1 and every run is bounded by DURATION. The
# server is the bench profile's build that every script shares (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-16 64}"
log() { printf '==> %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk from Debian's packages"
  apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
command -v node >/dev/null || { echo "error: node is required for the oidc-provider baseline" >&2; exit 1; }

build_server
log "installing oidc-provider"
(cd bench/oidc-provider && npm install --no-audit --no-fund --silent >/dev/null)

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_line() { # file -> URL after "listening on "
  for _ in $(seq 1 200); do
    if grep -q 'listening on ' "$1" 2>/dev/null; then
      grep -o 'listening on http://[^ ]*' "$1" | head -n1 | sed 's/listening on //'
      return 0
    fi
    sleep 0.1
  done
  echo "error: server did not start; log:" >&2; cat "$1" >&2; exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

log "starting komodo-server"
RUST_LOG=warn "$SERVER_BIN" --listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/komodo.log" &
pids+=($!)
komodo_url="$(wait_for_line "$work/komodo.log")"
sp_json="$("$SERVER_BIN" admin --data-dir "$work/data" --output json create-service-principal --account demo --name bench)"
komodo_id="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$sp_json")"
komodo_secret="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$sp_json")"

log "starting oidc-provider"
op_port="$(free_port)"
op_secret="bench-secret-$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
node bench/oidc-provider/server.mjs "$op_port" bench-client "$op_secret" 2>"$work/op.log" &
pids+=($!)
op_url="$(wait_for_line "$work/op.log")"

# One request each to prove the setup before measuring.
curl -sf -u "$komodo_id:$komodo_secret" -d grant_type=client_credentials "$komodo_url/oauth/token" >/dev/null
curl -sf -u "bench-client:$op_secret" -d grant_type=client_credentials -d scope=api "$op_url/token" >/dev/null

run() { # name url auth connections [script] -> "rps p50 p99"
  local out script="${5:-bench/token.lua}"
  out="$(AUTH="$3" wrk -t"$THREADS" -c"$4" -d"$DURATION" --latency -s "$script" "$2" 2>"$work/wrk.err")"
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "error: $1 answered errors under load:" >&2; grep 'Non-2xx' <<<"$out" >&2; exit 1
  fi
  if grep -q 'Socket errors' <<<"$out"; then
    log "$1: $(grep 'Socket errors' <<<"$out" | sed 's/^ *//')"
  fi
  local rps p50 p99
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
  p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
  echo "$rps $p50 $p99"
}

komodo_auth="$(printf '%s:%s' "$komodo_id" "$komodo_secret" | base64 -w0)"
op_auth="$(printf '%s:%s' bench-client "$op_secret" | base64 -w0)"

log "warming up"
DURATION=2s run komodo "$komodo_url/oauth/token" "$komodo_auth" 16 >/dev/null
DURATION=2s run oidc-provider "$op_url/token" "$op_auth" 16 >/dev/null

printf '\nclient_credentials grant, %s per run, wrk %s threads, loopback, %s cores\n\n' "$DURATION" "$THREADS" "$(nproc)"
printf '%-6s | %-15s | %12s | %9s | %9s\n' conns server grants/s p50 p99
printf '%s\n' '-------+-----------------+--------------+-----------+----------'
declare -A op_rps floor_rps
for c in $CONNECTIONS; do
  read -r k_rps k_p50 k_p99 <<<"$(run komodo "$komodo_url/oauth/token" "$komodo_auth" "$c")"
  read -r o_rps o_p50 o_p99 <<<"$(run oidc-provider "$op_url/token" "$op_auth" "$c")"
  # The HTTP floor: komodo-server's cheapest answer (GET /healthz: HTTP,
  # routing, metrics, loopback TCP and wrk's own share of the cores).
  read -r h_rps h_p50 h_p99 <<<"$(run healthz "$komodo_url/healthz" "" "$c" bench/get.lua)"
  op_rps[$c]=$o_rps floor_rps[$c]=$h_rps
  printf '%-6s | %-15s | %12s | %9s | %9s\n' "$c" komodo-server "$k_rps" "$k_p50" "$k_p99"
  printf '%-6s | %-15s | %12s | %9s | %9s\n' "$c" oidc-provider "$o_rps" "$o_p50" "$o_p99"
  printf '%-6s | %-15s | %11sx |\n' "$c" ratio "$(python3 -c "print(f'{$k_rps/$o_rps:.1f}')")"
  printf '%-6s | %-15s | %12s | %9s | %9s\n' "$c" "GET /healthz" "$h_rps" "$h_p50" "$h_p99"
done

log "JWT verification and signing (criterion, one core)"
jwt="$(cargo bench -q -p komodo-server --bench jwt -- --warm-up-time 1 --measurement-time 3 'jwt/(verify|sign_ES256)' 2>/dev/null \
  | awk '/^jwt\// {name=$1} /thrpt:/ && /elem\/s/ {gsub(/\[/,""); print name, $4, $5}')"
printf '\n'
while read -r name value unit; do
  printf '%-24s %s %s (one core)\n' "$name" "$value" "$unit"
done <<<"$jwt"

# The machine's own ceiling for the ES256 figures: the raw ECDSA P-256
# operations of the system's OpenSSL on one core, in this run.
if command -v openssl >/dev/null; then
  openssl speed -seconds 3 ecdsap256 2>/dev/null \
    | awk '/nistp256/ {printf "%-24s %.2f Kelem/s sign, %.2f Kelem/s verify (OpenSSL %s, raw P-256, one core)\n", "openssl/p256", $(NF-1)/1000, $NF/1000, v}' v="$(openssl version | awk '{print $2}')"
fi

# What any server answering on this HTTP path could reach if a grant cost
# nothing beyond the floor and one ES256 JWT signature: per grant, the
# floor's core-seconds (cores / floor rate) plus one signature's.
sign="$(awk '$1=="jwt/sign_ES256" {v=$2; if ($3=="Kelem/s") v*=1000; if ($3=="Melem/s") v*=1e6; print v}' <<<"$jwt")"
if [ -n "$sign" ]; then
  cores="$(nproc)"
  printf '\nceiling: the HTTP floor plus one ES256 signature per grant (%s cores)\n' "$cores"
  for c in $CONNECTIONS; do
    python3 -c "
floor, sign, cores, op = ${floor_rps[$c]}, $sign, $cores, ${op_rps[$c]}
bound = cores / (cores / floor + 1 / sign)
print(f'{\"$c\":<6} | {bound:,.0f} grants/s at most = {bound / op:.1f}x oidc-provider')"
  done
fi
