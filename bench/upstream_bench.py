"""The measurements of bench/upstream.sh (run it rather than this file)."""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
SERVER = os.environ["KOMODO_SERVER_BIN"]
KEY = REPO / "crates" / "komodo-server" / "src" / "upstream" / "testdata" / "test_key.p8"
ROUND_TRIPS = int(os.environ.get("KOMODO_BENCH_ROUND_TRIPS", "500"))
ROWS = int(os.environ.get("KOMODO_BENCH_ROWS", "1000000"))
FETCHES = int(os.environ.get("KOMODO_BENCH_RUNS", "5"))


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the upstream exited")
            time.sleep(0.1)
    raise RuntimeError("the upstream did not start")


def start_platform(data_dir: Path, log_file) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [SERVER, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=log_file, env=dict(os.environ, KOMODO_SERVER_DEMO_CLAIMS="1000"),
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        log_file.seek(0)
        match = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", log_file.read())
        if match:
            return process, match.group(1).decode()
        if process.poll() is not None:
            break
        time.sleep(0.1)
    log_file.seek(0)
    raise RuntimeError(log_file.read().decode(errors="replace"))


def admin(data_dir: Path, *args: str) -> dict:
    out = subprocess.run(
        [SERVER, "admin", "--data-dir", str(data_dir), "--output", "json", *args],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout)


def round_trips(conn, n: int) -> list[float]:
    cur = conn.cursor()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        cur.execute("select 1").fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run() -> None:
    import snowflake.connector

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        upstream = subprocess.Popen(
            [sys.executable, "-m", "fakesnow", "-s", "--host", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        platform_log = open(tmp / "server.log", "w+b")
        platform = None
        try:
            wait_for_port(port, upstream)
            direct = snowflake.connector.connect(
                user="fake", password="snow", account="fakesnow", host="127.0.0.1", port=port, protocol="http",
                database="BENCH", schema="PUBLIC",
            )
            log(f"a table of {ROWS} rows upstream ...")
            direct.cursor().execute(
                "create or replace table BIG as select seq4() as ID, uniform(1, 1000000, random()) as V "
                f"from table(generator(rowcount => {ROWS}))"
            )

            log("the platform, an account on the upstream ...")
            platform, url = start_platform(tmp / "data", platform_log)
            data_dir = tmp / "data"
            admin(data_dir, "create-org", "--name", "Bench", "--slug", "bench")
            admin(data_dir, "create-account", "--org", "bench", "--name", "Bench", "--slug", "bench")
            admin(
                data_dir, "set-warehouse", "--account", "bench", "snowflake", "--host", f"http://127.0.0.1:{port}",
                "--account-name", "fakesnow", "--user", "fake", "--private-key-file", str(KEY),
                "--database", "BENCH", "--schema", "PUBLIC",
            )
            sp = admin(data_dir, "create-service-principal", "--account", "bench", "--name", "bench")
            token = access_token(url, sp)
            parts = urlsplit(url)
            gateway = snowflake.connector.connect(
                host=parts.hostname, port=parts.port, protocol=parts.scheme, account=sp["account_id"],
                authenticator="oauth", token=token,
            )

            log(f"SELECT 1 round trips, {ROUND_TRIPS} each way, interleaved in blocks ...")
            round_trips(direct, 20)
            round_trips(gateway, 20)
            direct_ms: list[float] = []
            gateway_ms: list[float] = []
            block = max(1, ROUND_TRIPS // 10)
            for _ in range(10):
                direct_ms += round_trips(direct, block)
                gateway_ms += round_trips(gateway, block)

            log(f"fetch_arrow_all of {ROWS} rows, {FETCHES} each way ...")
            direct_s: list[float] = []
            gateway_s: list[float] = []
            for _ in range(FETCHES):
                for conn, samples in ((direct, direct_s), (gateway, gateway_s)):
                    start = time.perf_counter()
                    table = conn.cursor().execute("select ID, V from BIG").fetch_arrow_all()
                    samples.append(time.perf_counter() - start)
                    assert table.num_rows == ROWS, table.num_rows
                    del table
        finally:
            if platform is not None:
                platform.terminate()
                platform.wait(timeout=60)
            upstream.terminate()
            upstream.wait(timeout=60)

    def q(samples: list[float], p: float) -> float:
        ordered = sorted(samples)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    d50, g50 = statistics.median(direct_ms), statistics.median(gateway_ms)
    print()
    print("| measurement | directly to the upstream | through the gateway | gateway's share |")
    print("|---|---:|---:|---:|")
    print(
        f"| `SELECT 1` round trip, median (p90) | {d50:.2f} ms ({q(direct_ms, 0.9):.2f}) "
        f"| {g50:.2f} ms ({q(gateway_ms, 0.9):.2f}) | +{g50 - d50:.2f} ms |"
    )
    ds, gs = statistics.median(direct_s), statistics.median(gateway_s)
    print(
        f"| {ROWS:,}-row Arrow fetch, median | {ds * 1000:.0f} ms ({ROWS / ds / 1e6:.2f} M rows/s) "
        f"| {gs * 1000:.0f} ms ({ROWS / gs / 1e6:.2f} M rows/s) | {ds / gs * 100:.0f}% of direct throughput |"
    )
    print()
    print(f"({ROUND_TRIPS} round trips and {FETCHES} fetches each way, snowflake-connector-python "
          f"{snowflake.connector.VERSION[:3]}; the upstream is fakesnow on 127.0.0.1)")


def access_token(url: str, sp: dict) -> str:
    """A client credentials token from the platform (no SDK needed)."""
    import base64
    import urllib.request

    basic = base64.b64encode(f"{sp['client_id']}:{sp['client_secret']}".encode()).decode()
    request = urllib.request.Request(
        f"{url}/oauth/token", data=b"grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


if __name__ == "__main__":
    run()
