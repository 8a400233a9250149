"""The measurements of bench/python.sh (run it rather than this file)."""

from __future__ import annotations

import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("KOMODO_BENCH_ROWS", "10000000"))
PG_URL = os.environ.get("KOMODO_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SERVER = os.environ["KOMODO_SERVER_BIN"]
COLUMNS = "CLAIM_ID, PATIENT_ID, PROVIDER_ID, SERVICE_DATE, CLAIM_AMOUNT, STATUS"
PG_TABLE = "komodo_bench_claims"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def cold_runs(code: str, env: dict, runs: int, warmup: int = 3) -> list[float]:
    """Wall time of `python -c code` in fresh processes."""
    samples = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
        if i >= warmup:
            samples.append(time.perf_counter() - start)
    return samples


class Server:
    def __init__(self, data_dir: Path, demo_claims: int = ROWS, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / "server.log", "w+b")
        env = dict(os.environ, KOMODO_SERVER_DEMO_CLAIMS=str(demo_claims))
        self.process = subprocess.Popen(
            [SERVER, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
             "--statement-timeout", "3600", "--session-memory-mib", "16384", "--server-memory-mib", "16384",
             *extra_args],
            stdout=subprocess.DEVNULL, stderr=self.log, env=env,
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            self.log.seek(0)
            match = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", self.log.read())
            if match:
                self.url = match.group(1).decode()
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        raise RuntimeError(self.log.read().decode(errors="replace"))

    def service_principal(self) -> dict:
        out = subprocess.run(
            [SERVER, "admin", "--data-dir", str(self.data_dir), "--output", "json",
             "create-service-principal", "--account", "demo", "--name", "bench"],
            capture_output=True, text=True, check=True,
        )
        return json.loads(out.stdout)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=120)


def load_postgres(conn_komodo, psycopg) -> None:
    """Copies the warehouse's rows into PostgreSQL once (kept across runs)."""
    import pyarrow
    import pyarrow.csv as pacsv

    with psycopg.connect(PG_URL, autocommit=True) as pg:
        exists = pg.execute("select to_regclass(%s)", (PG_TABLE,)).fetchone()[0]
        if exists and pg.execute(f"select count(*) from {PG_TABLE}").fetchone()[0] == ROWS:
            return
        log(f"loading {ROWS} rows into PostgreSQL table {PG_TABLE} ...")
        pg.execute(f"drop table if exists {PG_TABLE}")
        pg.execute(
            f"create table {PG_TABLE} (claim_id bigint not null, patient_id bigint not null, "
            "provider_id bigint not null, service_date date not null, claim_amount numeric(12,2) not null, "
            "status text not null)"
        )
        cur = conn_komodo.cursor()
        cur.execute(f"select {COLUMNS} from DEMO.HEALTHCARE.CLAIMS")
        with pg.cursor().copy(f"copy {PG_TABLE} from stdin (format csv)") as copy:
            for batch in cur.fetch_arrow_batches():
                batch = batch.cast(batch.schema.set(5, batch.schema.field(5).with_type(pyarrow.string())))
                sink = io.BytesIO()
                pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False))
                copy.write(sink.getvalue())
        pg.execute(f"analyze {PG_TABLE}")


def main() -> None:
    import pandas
    import psycopg

    import komodo

    results: list[tuple[str, float, str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / ".komodo").mkdir(parents=True, mode=0o700)
        log(f"starting the platform with {ROWS} claims of demo data ...")
        server = Server(Path(tmp) / "data")
        try:
            sp = server.service_principal()
            env = {k: v for k, v in os.environ.items() if not k.startswith("KOMODO_")}
            env.update(HOME=str(home), KOMODO_API_URL=server.url)
            os.environ.update(HOME=str(home), KOMODO_API_URL=server.url)
            client = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"])
            credentials = home / ".komodo" / "credentials"
            credentials.write_text(f"[default]\ntoken = {client.access_token()}\naccount_id = {sp['account_id']}\n")
            credentials.chmod(0o600)

            log("import time ...")
            base = cold_runs("pass", env, 30)
            imp = cold_runs("import komodo", env, 30)
            results.append(("`python -c \"import komodo\"`", median_ms(imp), "`python -c pass`", median_ms(base), "<= 30 ms"))

            log("cold interpreter to the first row ...")
            first_row = (
                "from komodo import get_snowflake_connection\n"
                "cur = get_snowflake_connection().cursor()\n"
                "cur.execute('SELECT 1')\n"
                "assert cur.fetchone() == (1,)\n"
            )
            connector_first_row = (
                "from komodo.snowflake_connector import get_snowflake_connection\n"
                "cur = get_snowflake_connection().cursor()\n"
                "cur.execute('SELECT 1')\n"
                "assert cur.fetchone() == (1,)\n"
            )
            ours = cold_runs(first_row, env, 20)
            theirs = cold_runs(connector_first_row, env, 5, warmup=1)
            results.append(("cold interpreter to the first row of `SELECT 1` ([default] profile)", median_ms(ours),
                            "the same through snowflake-connector-python", median_ms(theirs), "<= 100 ms"))

            conn = komodo.get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            )
            load_postgres(conn, psycopg)

            log(f"fetch_pandas_all of {ROWS} rows ...")
            sql = f"select {COLUMNS} from DEMO.HEALTHCARE.CLAIMS"
            ours_s, theirs_s = [], []
            for _ in range(3):
                start = time.perf_counter()
                cur = conn.cursor()
                frame = cur.execute(sql).fetch_pandas_all()
                ours_s.append(time.perf_counter() - start)
                assert len(frame) == ROWS and list(frame.columns) == [c.strip() for c in COLUMNS.split(",")]
                del frame, cur
            for _ in range(2):  # each run holds ~60M Python objects at once
                start = time.perf_counter()
                with psycopg.connect(PG_URL) as pg:
                    cur = pg.execute(f"select {COLUMNS.lower()} from {PG_TABLE}")
                    frame = pandas.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
                theirs_s.append(time.perf_counter() - start)
                assert len(frame) == ROWS
                del frame, cur
            conn.close()
            results.append((f"`fetch_pandas_all()`, {ROWS:,} rows x 6 columns", median_ms(ours_s),
                            "psycopg + pandas, same rows from PostgreSQL", median_ms(theirs_s), ">= 3x faster"))
        finally:
            server.stop()

    print("| measurement | komodo (median) | baseline | baseline (median) | ratio | goal |")
    print("|---|---:|---|---:|---:|---|")
    for name, ours_ms, base_name, base_ms, goal in results:
        ratio = f"+{ours_ms - base_ms:.0f} ms" if "import" in name else f"{base_ms / ours_ms:.1f}x faster"
        print(f"| {name} | {ours_ms:,.0f} ms | {base_name} | {base_ms:,.0f} ms | {ratio} | {goal} |")


if __name__ == "__main__":
    main()
