"""The measurements of bench/tables.sh (run it rather than this file)."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from python_bench import PG_URL, ROWS, Server, log  # noqa: E402

RUNS = int(os.environ.get("KOMODO_BENCH_RUNS", "3"))
POINT_RUNS = 20
MERGED = 100_000
PG_TABLE = "komodo_bench_tables"


def timed(runs: int, work) -> float:
    """The median wall time of `work()` over `runs` runs, in ms."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    import psycopg

    import komodo

    # (statement, warehouse ms, PostgreSQL ms)
    results: list[tuple[str, float, float]] = []
    step = ROWS // MERGED
    statements = {
        "UPDATE of 1% of the rows": (
            "UPDATE T SET S = 'u' WHERE ID % 100 = 7",
            f"UPDATE {PG_TABLE} SET s = 'u' WHERE id % 100 = 7",
        ),
        f"MERGE of {MERGED:,} rows (half new)": (
            f'MERGE INTO T USING (SELECT "value" * {2 * step} AS ID, \'m\' AS S FROM TABLE(GENERATE_SERIES(1, {MERGED}))) '
            "SRC ON T.ID = SRC.ID WHEN MATCHED THEN UPDATE SET S = SRC.S "
            "WHEN NOT MATCHED THEN INSERT (ID, GRP, S) VALUES (SRC.ID, 0, SRC.S)",
            f"MERGE INTO {PG_TABLE} t USING (SELECT g * {2 * step} AS id, 'm' AS s FROM generate_series(1, {MERGED}) g) "
            "src ON t.id = src.id WHEN MATCHED THEN UPDATE SET s = src.s "
            "WHEN NOT MATCHED THEN INSERT (id, grp, s) VALUES (src.id, 0, src.s)",
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / ".komodo").mkdir(parents=True, mode=0o700)
        os.environ.update(HOME=str(home))
        log("starting the platform ...")
        server = Server(Path(tmp) / "data", demo_claims=1000)
        try:
            os.environ.update(KOMODO_API_URL=server.url)
            sp = server.service_principal()
            conn = komodo.get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            )
            cur = conn.cursor()
            log(f"making a {ROWS:,}-row table in the warehouse and in PostgreSQL ...")
            for sql in [
                "CREATE DATABASE IF NOT EXISTS BENCH",
                "USE SCHEMA BENCH.PUBLIC",
                'CREATE OR REPLACE TABLE T AS SELECT "value" AS ID, "value" % 1000 AS GRP, \'x\' || "value" AS S '
                f"FROM TABLE(GENERATE_SERIES(1, {ROWS}))",
            ]:
                cur.execute(sql)
            with psycopg.connect(PG_URL, autocommit=True) as pg:
                pg.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
                pg.execute(
                    f"CREATE TABLE {PG_TABLE} AS SELECT g::bigint AS id, g % 1000 AS grp, 'x' || g AS s "
                    f"FROM generate_series(1, {ROWS}) g"
                )
                pg.execute(f"ALTER TABLE {PG_TABLE} ADD PRIMARY KEY (id)")
                pg.execute(f"VACUUM ANALYZE {PG_TABLE}")

                key = ROWS // 2 + 1
                log("point SELECT by key ...")
                ours = timed(POINT_RUNS, lambda: cur.execute(f"SELECT * FROM T WHERE ID = {key}").fetchall())
                theirs = timed(POINT_RUNS, lambda: pg.execute(f"SELECT * FROM {PG_TABLE} WHERE id = {key}").fetchall())
                assert cur.execute(f"SELECT S FROM T WHERE ID = {key}").fetchall() == [(f"x{key}",)]
                results.append(("point SELECT by key", ours, theirs))

                for name, (warehouse_sql, pg_sql) in statements.items():
                    log(f"{name} ...")
                    ours = timed(RUNS, lambda: cur.execute(warehouse_sql))
                    theirs = timed(RUNS, lambda: pg.execute(pg_sql))
                    results.append((name, ours, theirs))
                ours_count = cur.execute("SELECT COUNT(*), COUNT_IF(S = 'u') FROM T").fetchone()
                pg_count = pg.execute(f"SELECT COUNT(*), COUNT(*) FILTER (WHERE s = 'u') FROM {PG_TABLE}").fetchone()
                assert tuple(ours_count) == tuple(pg_count), (ours_count, pg_count)
                pg.execute(f"DROP TABLE {PG_TABLE}")
            conn.close()
        finally:
            server.stop()

    print(f"| statement ({ROWS:,} rows) | warehouse (Delta Lake) | PostgreSQL 15 | ratio |")
    print("|---|---:|---:|---|")
    for name, ours, theirs in results:
        ratio = f"{ours / theirs:.1f}x PostgreSQL's time" if ours >= theirs else f"{theirs / ours:.1f}x faster"
        print(f"| {name} | {ours:,.1f} ms | {theirs:,.1f} ms | {ratio} |")


if __name__ == "__main__":
    main()
