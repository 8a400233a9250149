"""The measurements of bench/connector.sh (run it rather than this file)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from python_bench import COLUMNS, PG_TABLE, PG_URL, ROWS, Server, load_postgres, log  # noqa: E402

RUNS = int(os.environ.get("KOMODO_BENCH_RUNS", "3"))


def timed(runs: int, work) -> tuple[float, object]:
    """The median wall time of `work()` over `runs` runs (ms), and its last result."""
    samples, result = [], None
    for _ in range(runs):
        result = None
        start = time.perf_counter()
        result = work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, result


def main() -> None:
    import pandas
    import psycopg
    import snowflake.connector

    import komodo

    rows: list[tuple[str, str, float, str]] = []
    sql = f"select {COLUMNS} from DEMO.HEALTHCARE.CLAIMS"
    names = [c.strip() for c in COLUMNS.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / ".komodo").mkdir(parents=True, mode=0o700)
        os.environ.update(HOME=str(home))
        log(f"starting the platform with {ROWS} claims of demo data ...")
        server = Server(Path(tmp) / "data")
        try:
            os.environ.update(KOMODO_API_URL=server.url)
            sp = server.service_principal()
            ours = komodo.get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            )
            load_postgres(ours, psycopg)
            token = komodo.Client(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            ).access_token()
            url = urlsplit(server.url)
            official = snowflake.connector.connect(
                host=url.hostname, port=url.port, protocol=url.scheme, account=sp["account_id"],
                authenticator="oauth", token=token,
            )

            def check(frame) -> None:
                assert len(frame) == ROWS and list(frame.columns) == names, (len(frame), list(frame.columns))

            log(f"fetch_pandas_all of {ROWS} rows x 6 columns, the official connector (Arrow) ...")
            ms, frame = timed(RUNS, lambda: official.cursor().execute(sql).fetch_pandas_all())
            check(frame)
            del frame
            rows.append(("fetch_pandas_all", "snowflake-connector-python (official, Arrow)", ms, ""))

            log("... the komodo package (its own Arrow) ...")
            ms, frame = timed(RUNS, lambda: ours.cursor().execute(sql).fetch_pandas_all())
            check(frame)
            del frame
            rows.append(("fetch_pandas_all", "komodo package (own connection, Arrow)", ms, ""))

            log("... psycopg + pandas from PostgreSQL ...")

            def from_postgres():
                with psycopg.connect(PG_URL) as pg:
                    cur = pg.execute(f"select {COLUMNS.lower()} from {PG_TABLE}")
                    return pandas.DataFrame(cur.fetchall(), columns=[d.name.upper() for d in cur.description])

            ms, frame = timed(min(RUNS, 2), from_postgres)
            check(frame)
            del frame
            rows.append(("fetch_pandas_all", "psycopg 3 + pandas, same rows from local PostgreSQL", ms, ""))

            log(f"JSON access over {ROWS} rows ...")
            cur = ours.cursor()
            cur.execute("create database if not exists BENCH")
            cur.execute("use database BENCH")
            cur.execute(
                "create temporary table BENCH_DOCS as select CLAIM_ID, STATUS, "
                "object_construct('a', object_construct('b', STATUS, 'n', CLAIM_ID)) as DOC "
                "from DEMO.HEALTHCARE.CLAIMS"
            )
            plain_sql = "select count(*) from BENCH_DOCS where STATUS = 'PAID'"
            json_sql = "select count(*) from BENCH_DOCS where DOC:a.b::string = 'PAID'"
            plain_ms, plain = timed(RUNS, lambda: cur.execute(plain_sql).fetchone())
            json_ms, by_path = timed(RUNS, lambda: cur.execute(json_sql).fetchone())
            assert plain == by_path, (plain, by_path)
            rows.append(("count where ... = 'PAID'", "plain column `STATUS`", plain_ms, ""))
            rows.append(("count where ... = 'PAID'", "JSON path `DOC:a.b::string`", json_ms,
                         f"{json_ms / plain_ms:.1f}x the plain column"))
            official.close()
            ours.close()
        finally:
            server.stop()

    print(f"| measurement ({ROWS:,} rows) | through | median of {RUNS} | note |")
    print("|---|---|---:|---|")
    base = {name: ms for name, through, ms, _ in rows if through.startswith("psycopg")}
    for name, through, ms, note in rows:
        if name == "fetch_pandas_all" and not through.startswith("psycopg"):
            note = f"{base[name] / ms:.1f}x faster than psycopg + pandas"
        print(f"| `{name}` | {through} | {ms:,.0f} ms | {note} |")


if __name__ == "__main__":
    main()
