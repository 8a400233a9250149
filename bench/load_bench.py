"""The measurements of bench/load.sh (run it rather than this file).

Three loads of one DataFrame: this package's write_pandas (Arrow over the
gateway), snowflake-connector-python's own write_pandas through the
gateway (Parquet files PUT into a temporary stage the platform shares with
it, then INFER_SCHEMA, CREATE TABLE and COPY), and psycopg's COPY into
local PostgreSQL (the baseline)."""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROWS = int(os.environ.get("KOMODO_BENCH_ROWS", "1000000"))
RUNS = int(os.environ.get("KOMODO_BENCH_RUNS", "3"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from python_bench import PG_URL, Server, log  # noqa: E402


def frame():
    """ROWS rows x 10 columns, deterministic."""
    import numpy
    import pandas

    rng = numpy.random.default_rng(42)
    ids = numpy.arange(ROWS, dtype="int64")
    return pandas.DataFrame(
        {
            "ID": ids,
            "PATIENT_ID": rng.integers(0, 100_000, ROWS),
            "PROVIDER_ID": rng.integers(0, 5_000, ROWS),
            "AMOUNT": rng.random(ROWS) * 1000,
            "PAID": rng.random(ROWS) * 800,
            "CODE": pandas.Series(rng.integers(0, 10_000, ROWS)).map(lambda i: f"C{i:05d}"),
            "STATUS": pandas.Series(rng.integers(0, 3, ROWS)).map({0: "PAID", 1: "DENIED", 2: "PENDING"}),
            "SERVICE_DATE": (pandas.Timestamp("2024-01-01") + pandas.to_timedelta(ids % 365, unit="D")).date,
            "UPDATED_AT": pandas.Timestamp("2024-01-01") + pandas.to_timedelta(ids, unit="s"),
            "FLAG": ids % 2 == 0,
        }
    )


def timed(run, runs: int = RUNS) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    import psycopg

    import komodo

    log(f"building a DataFrame of {ROWS} rows x 10 columns ...")
    df = frame()
    with tempfile.TemporaryDirectory() as tmp:
        # The official connector's PUT needs the platform's local stages.
        server = Server(Path(tmp) / "data", demo_claims=1000, extra_args=("--local-stage-transfers",))
        try:
            sp = server.service_principal()
            os.environ["KOMODO_API_URL"] = server.url
            conn = komodo.get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            )
            conn.cursor().execute("create database if not exists BENCH")
            conn.cursor().execute("use schema BENCH.PUBLIC")

            def komodo_load() -> None:
                conn.cursor().execute("drop table if exists LOADED")
                ok, _, rows, _ = komodo.write_pandas(conn, df, "LOADED", auto_create_table=True)
                assert ok and rows == ROWS

            log("write_pandas ...")
            ours = timed(komodo_load)
            assert conn.cursor().execute("select count(*) from LOADED").fetchone() == (ROWS,)
            conn.close()

            from snowflake.connector.pandas_tools import write_pandas as connector_write_pandas

            from komodo.snowflake_connector import get_snowflake_connection

            official = get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"],
                database="BENCH", schema="PUBLIC",
            )

            def connector_load() -> None:
                official.cursor().execute("drop table if exists LOADED_SF")
                ok, _, rows, _ = connector_write_pandas(official, df, "LOADED_SF", auto_create_table=True)
                assert ok and rows == ROWS

            log("snowflake-connector-python's write_pandas ...")
            connector = timed(connector_load)
            official.close()
        finally:
            server.stop()

    columns = (
        "id bigint, patient_id bigint, provider_id bigint, amount double precision, paid double precision, "
        "code text, status text, service_date date, updated_at timestamp, flag boolean"
    )

    def pg_load() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as pg:
            pg.execute("drop table if exists komodo_bench_loaded")
            pg.execute(f"create table komodo_bench_loaded ({columns})")
            sink = io.StringIO()
            df.to_csv(sink, index=False, header=False)
            with pg.cursor().copy("copy komodo_bench_loaded from stdin (format csv)") as copy:
                copy.write(sink.getvalue())

    log("psycopg COPY ...")
    theirs = timed(pg_load)

    print(f"| what ({ROWS:,} rows x 10 columns, median of {RUNS}) | seconds | rows/s |")
    print("|---|---:|---:|")
    print(f"| `komodo.write_pandas(..., auto_create_table=True)` | {ours:.2f} | {ROWS / ours:,.0f} |")
    print(
        f"| snowflake-connector-python's `write_pandas(..., auto_create_table=True)` (Parquet, PUT to a local stage, "
        f"COPY) | {connector:.2f} | {ROWS / connector:,.0f} |"
    )
    print(f"| psycopg `COPY ... FROM STDIN` (DataFrame to CSV, then COPY) | {theirs:.2f} | {ROWS / theirs:,.0f} |")


if __name__ == "__main__":
    main()
