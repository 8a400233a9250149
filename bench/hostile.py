"""The measurements of bench/hostile.sh (run it rather than this file).

Standard library only: the gateway is spoken to over http.client the way a
connector does (OAuth token, login-request, query-request)."""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

SERVER = os.environ["KOMODO_SERVER_BIN"]
SECONDS = float(os.environ.get("KOMODO_BENCH_SECONDS", "60"))
STATEMENT_TIMEOUT = 5

LIST = ",".join(str(i) for i in range(25_000))
HOSTILE = [
    # Runaway: a cross join whose operators never wait (ends at the limit).
    "SELECT COUNT(*) FROM TABLE(GENERATE_SERIES(1, 1000000)) a CROSS JOIN TABLE(GENERATE_SERIES(1, 1000000)) b",
    # Huge: a 300 MB value, a 30M-row result, a 139 KB one-line IN list.
    "select length(x) from (select repeat('x', 300000000) as x)",
    "select * from generate_series(1, 30000000)",
    f"select 1 as x where 1 in ({LIST})",
    # Deeply nested: rewrites, the parser's budget, the nesting limit.
    f"select {'DIV0NULL(1, ' * 40}1{')' * 40} as x",
    f"select {'CASE WHEN 1 = 1 THEN ' * 30})",
    f"select {'(' * 5000}1{')' * 5000}",
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / "server.log", "w+b")
        env = dict(os.environ, KOMODO_SERVER_DEMO_CLAIMS="100000")
        self.process = subprocess.Popen(
            [SERVER, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
             "--statement-timeout", str(STATEMENT_TIMEOUT)],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            self.log.seek(0)
            match = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", self.log.read())
            if match:
                self.url = match.group(1).decode()
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError(self.log.read().decode(errors="replace"))

    def admin(self, *args: str) -> dict:
        out = subprocess.run([SERVER, "admin", "--data-dir", str(self.data_dir), "--output", "json", *args],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout) if out.stdout.strip() else {}

    def rss_and_cpu(self) -> tuple[int, float]:
        with open(f"/proc/{self.process.pid}/status") as f:
            rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


class Session:
    """One gateway session of a service principal, over one keep-alive connection."""

    def __init__(self, server: Server, sp: dict) -> None:
        url = urllib.parse.urlsplit(server.url)
        self.http = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": sp["client_id"],
                                       "client_secret": sp["client_secret"]})
        token = self.call("POST", "/oauth/token", form, {"content-type": "application/x-www-form-urlencoded"})
        login = self.call("POST", f"/session/v1/login-request?request_id={uuid.uuid4()}", json.dumps({"data": {
            "ACCOUNT_NAME": sp["account_id"], "AUTHENTICATOR": "OAUTH", "TOKEN": token["access_token"],
            "CLIENT_APP_ID": "Bench", "CLIENT_APP_VERSION": "1"}}))
        self.token = login["data"]["token"]

    def call(self, method: str, path: str, body: str, headers: dict | None = None) -> dict:
        headers = headers or {"content-type": "application/json"}
        if hasattr(self, "token"):
            headers["authorization"] = f'Snowflake Token="{self.token}"'
        for attempt in range(2):
            try:
                self.http.request(method, path, body=body.encode(), headers=headers)
                return json.loads(self.http.getresponse().read())
            except (ConnectionError, http.client.HTTPException):
                # The server closes keep-alive connections idle for a while.
                self.http.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def query(self, sql: str) -> dict:
        return self.call("POST", f"/queries/v1/query-request?requestId={uuid.uuid4()}",
                         json.dumps({"sqlText": sql, "asyncExec": False, "sequenceId": 1}))


def round_trips(session: Session, seconds: float) -> list[float]:
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        answer = session.query("SELECT 1")
        samples.append(time.perf_counter() - started)
        assert answer["data"]["rowset"] == [["1"]], answer
        time.sleep(0.02)
    return samples


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data")
        try:
            sps = []
            for slug in ("hostile-a", "hostile-b", "quiet"):
                server.admin("create-org", "--name", slug, "--slug", slug)
                server.admin("create-account", "--org", slug, "--name", slug, "--slug", slug)
                sps.append(server.admin("create-service-principal", "--account", slug, "--name", "bench"))
            hostile = [Session(server, sp) for sp in sps[:2]]
            quiet = Session(server, sps[2])
            log("SELECT 1 of the quiet account, no load")
            idle = round_trips(quiet, min(SECONDS, 10))
            _, cpu_before = server.rss_and_cpu()

            stop = threading.Event()
            sent = [0, 0]
            codes: dict[str, int] = {}

            def attack(i: int) -> None:
                n = i
                while not stop.is_set():
                    answer = hostile[i].query(HOSTILE[n % len(HOSTILE)])
                    code = answer.get("code") or "ok"
                    codes[code] = codes.get(code, 0) + 1
                    sent[i] += 1
                    n += 1

            threads = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(2)]
            peak_rss = 0

            def watch() -> None:
                nonlocal peak_rss
                while not stop.is_set():
                    peak_rss = max(peak_rss, server.rss_and_cpu()[0])
                    time.sleep(0.1)

            watcher = threading.Thread(target=watch, daemon=True)
            for t in [*threads, watcher]:
                t.start()
            log(f"SELECT 1 of the quiet account while two sessions attack for {SECONDS:.0f} s")
            loaded = round_trips(quiet, SECONDS)
            stop.set()
            for t in threads:
                t.join(timeout=STATEMENT_TIMEOUT + 30)
            watcher.join()
            _, cpu_after = server.rss_and_cpu()

            print(f"\n| SELECT 1 round trip (quiet account) | samples | p50 ms | p99 ms | max ms |")
            print("|---|---|---|---|---|")
            for name, s in (("no load", idle), ("under hostile load", loaded)):
                print(f"| {name} | {len(s)} | {statistics.median(s) * 1000:.2f} | {percentile(s, 99):.2f} | "
                      f"{max(s) * 1000:.2f} |")
            print(f"\nhostile statements sent: {sum(sent)} ({', '.join(f'{k}: {v}' for k, v in sorted(codes.items()))})")
            print(f"server peak RSS under load: {peak_rss / 2**20:.0f} MiB (goal < 1536 MiB)")
            print(f"server CPU time under load: {cpu_after - cpu_before:.1f} s over {SECONDS:.0f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
