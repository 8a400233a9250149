#!/usr/bin/env bash
# Cold-process wall time of `komodo --version`, `komodo jwt` and
# `komodo account get` with a valid [default] profile (goal: each <= 5 ms
# median), side by side with the existing Python client (the `komodo`
# package on PyPI) run against the same credentials file in the same run.
#
# Needs hyperfine (Debian's package); the baseline is installed into a
# virtual environment under target/bench/ (set BASELINE=0 to skip it).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cargo build --release -p komodo-cli --quiet
bin="$PWD/target/release/komodo"

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
mkdir -m 700 "$home/.komodo"
# A syntactically valid JWT expiring in 2100, and an account.
payload=$(printf '{"sub":"user:1","exp":4102444800}' | base64 -w0 | tr '+/' '-_' | tr -d '=')
cat > "$home/.komodo/credentials" <<INI
[default]
token = eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.${payload}.c2lnbmF0dXJl
token_expiration = 4102444800
account_id = 123e4567-e89b-12d3-a456-426614174000
account_slug = my-organization
INI
chmod 600 "$home/.komodo/credentials"

commands=(
  -n "komodo --version" "$bin --version"
  -n "komodo jwt" "$bin jwt"
  -n "komodo account get" "$bin account get"
)
if [ "${BASELINE:-1}" = 1 ]; then
  venv="$PWD/target/bench/python-komodo-3.4.4"
  if [ ! -x "$venv/bin/komodo" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet komodo==3.4.4
  fi
  commands+=(
    -n "python client: komodo --version" "$venv/bin/komodo --version"
    -n "python client: komodo jwt" "$venv/bin/komodo jwt"
    -n "python client: komodo account get" "$venv/bin/komodo account get"
  )
fi

HOME="$home" NO_COLOR=1 hyperfine --shell=none --warmup 10 --min-runs 50 --style none \
  --export-json "$home/results.json" "${commands[@]}"
python3 - "$home/results.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
by_name = {r["command"]: r for r in results}
print("| command | median ms | mean ms | min ms | python client median ms | speed-up |")
print("|---|---:|---:|---:|---:|---:|")
for r in results:
    if r["command"].startswith("python client"):
        continue
    base = by_name.get("python client: " + r["command"])
    median = r["median"] * 1000
    cells = [r["command"], f"{median:.2f}", f"{r['mean'] * 1000:.2f}", f"{r['min'] * 1000:.2f}"]
    if base:
        cells += [f"{base['median'] * 1000:.0f}", f"{base['median'] / r['median']:.0f}x"]
    else:
        cells += ["-", "-"]
    print("| " + " | ".join(cells) + " |")
PY
