"""An unmodified snowflake-connector-python against the platform's gateway:
directly (host/port/protocol of the platform, account = the account id,
authenticator="oauth", token = a Komodo access token), and through
``komodo.snowflake_connector.get_snowflake_connection``."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import warnings
from urllib.parse import urlsplit

import pandas
import pytest
import snowflake.connector
from snowflake.connector import errors as sf_errors

import komodo
from komodo.snowflake_connector import connection_parameters, get_snowflake_connection

PATIENTS = "DEMO.HEALTHCARE.PATIENTS"


@pytest.fixture
def connector_env(home, monkeypatch):
    """No proxy for loopback, and no probing of cloud metadata addresses by
    the connector's platform detection."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
    return home


@pytest.fixture
def sp(platform):
    return platform.service_principal("py-snowflake")


def access_token(sp: dict) -> str:
    client = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"])
    return client.access_token()


def raw_connect(platform, sp: dict, **kwargs):
    url = urlsplit(platform.url)
    return snowflake.connector.connect(
        host=url.hostname,
        port=url.port,
        protocol=url.scheme,
        account=sp["account_id"],
        authenticator="oauth",
        token=access_token(sp),
        **kwargs,
    )


def test_the_connector_logs_in_with_oauth_and_runs_queries(connector_env, platform, backend_sp):
    sp = backend_sp
    with raw_connect(platform, sp, paramstyle="qmark") as conn:
        cur = conn.cursor()
        cur.execute("select 1 as x, 'a' as y")
        assert [(d.name, d.type_code) for d in cur.description] == [("X", 0), ("Y", 2)]
        assert cur.fetchall() == [(1, "a")]
        assert cur.rowcount == 1
        assert cur.sfqid

        cur.execute(f"select count(*) as n from {PATIENTS}")
        (count,) = cur.fetchone()
        assert count > 0

        cur.execute(
            f"select PATIENT_ID, STATE from {PATIENTS} where STATE = ? order by PATIENT_ID limit ?", ["CA", 3]
        )
        rows = cur.fetchall()
        assert [d.name for d in cur.description] == ["PATIENT_ID", "STATE"]
        assert 0 < len(rows) <= 3 and all(state == "CA" for _, state in rows)


def test_qmark_bindings_of_every_type_round_trip(connector_env, platform, sp):
    values = [
        42,
        "text with 'quotes'",
        1.5,
        True,
        None,
        decimal.Decimal("12.50"),
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        b"\x01\xab",
    ]
    with raw_connect(platform, sp, paramstyle="qmark") as conn:
        cur = conn.cursor()
        cur.execute("select " + ", ".join("?" for _ in values), values)
        row = cur.fetchone()
    assert row[0] == 42 and row[1] == "text with 'quotes'" and row[2] == 1.5 and row[3] is True and row[4] is None
    assert decimal.Decimal(row[5]) == decimal.Decimal("12.50")
    assert row[6] == dt.date(2024, 1, 2)
    assert row[7] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert row[8] == b"\x01\xab"


def test_client_side_pyformat_binding(connector_env, platform, backend_sp):
    sp = backend_sp
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute("select %s as s, %s as n", ("it's", 7))
        assert cur.fetchall() == [("it's", 7)]


def test_pandas_read_sql(connector_env, platform, backend_sp):
    sp = backend_sp
    with raw_connect(platform, sp, paramstyle="qmark") as conn:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas: "only supports SQLAlchemy"
            frame = pandas.read_sql(
                f"select PATIENT_ID, STATE from {PATIENTS} where STATE = ? order by PATIENT_ID limit 5",
                conn,
                params=["NY"],
            )
    assert list(frame.columns) == ["PATIENT_ID", "STATE"]
    assert 0 < len(frame) <= 5
    assert set(frame["STATE"]) == {"NY"}


def test_connector_transactions_and_autocommit(connector_env, platform, sp):
    # The connector's own transaction calls: autocommit(False) sends
    # ALTER SESSION SET AUTOCOMMIT = FALSE, rollback()/commit() end it.
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute("create database if not exists txn_connector")
        cur.execute("create or replace table txn_connector.public.t (v int)")
        conn.autocommit(False)
        cur.execute("insert into txn_connector.public.t values (1), (2)")
        assert cur.execute("select count(*) from txn_connector.public.t").fetchone() == (2,)
        conn.rollback()
        assert cur.execute("select count(*) from txn_connector.public.t").fetchone() == (0,)
        cur.execute("insert into txn_connector.public.t values (3)")
        conn.commit()
        conn.autocommit(True)
        with raw_connect(platform, sp) as other:
            assert other.cursor().execute("select v from txn_connector.public.t").fetchall() == [(3,)]
        cur.execute("drop database txn_connector")


def test_errors_carry_snowflake_codes(connector_env, platform, backend_sp):
    sp = backend_sp
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        with pytest.raises(sf_errors.ProgrammingError) as raised:
            cur.execute("select * from DEMO.HEALTHCARE.NO_SUCH_TABLE")
        assert raised.value.errno == 2003
        assert raised.value.sfqid
        with pytest.raises(sf_errors.ProgrammingError) as raised:
            cur.execute("selec 1")
        assert raised.value.errno == 1003


def test_a_bad_token_is_refused_at_login(connector_env, platform, backend_sp):
    sp = backend_sp
    url = urlsplit(platform.url)
    with pytest.raises(sf_errors.DatabaseError) as raised:
        snowflake.connector.connect(
            host=url.hostname, port=url.port, protocol=url.scheme, account=sp["account_id"],
            authenticator="oauth", token="not-a-token", login_timeout=20,
        )
    assert raised.value.errno == 390303


def test_timeout_and_abort_stop_the_statement_where_it_runs(connector_env, platform, sp):
    """The connector's `execute(timeout=...)` and `abort_query` stop a
    statement whose operators never yield (SECURITY.md F03): no warehouse
    task is left 2 s later, and another account is served meanwhile."""
    import threading
    import time

    from conftest import RUNAWAY

    other = platform.other_account_service_principal()
    with raw_connect(platform, sp) as conn, raw_connect(platform, other) as other_conn:
        errors = []

        def run() -> None:
            try:
                conn.cursor().execute(RUNAWAY, timeout=3)
            except sf_errors.Error as e:
                errors.append(e)

        worker = threading.Thread(target=run)
        worker.start()
        time.sleep(1)
        for _ in range(3):
            started = time.monotonic()
            assert other_conn.cursor().execute("select 1").fetchone() == (1,)
            assert time.monotonic() - started < 10
        worker.join(timeout=60)
        assert len(errors) == 1 and errors[0].errno == 604, errors
        platform.assert_warehouse_idle_within(2)

        cur = conn.cursor()
        cur.execute_async(RUNAWAY)
        time.sleep(1)
        assert cur.abort_query(cur.sfqid)
        platform.assert_warehouse_idle_within(2)
        assert conn.cursor().execute("select 7").fetchone() == (7,)


def test_async_query_and_results_by_query_id(connector_env, platform, backend_sp):
    sp = backend_sp
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute_async(f"select count(*) from {PATIENTS}")
        qid = cur.sfqid
        assert qid
        while conn.is_still_running(conn.get_query_status(qid)):
            pass
        cur.get_results_from_sfqid(qid)
        (count,) = cur.fetchone()
        assert count > 0


def test_komodo_snowflake_connector_resolves_credentials_like_the_sdk(connector_env, platform, sp):
    from conftest import write_credentials

    write_credentials(
        connector_env,
        f"[production]\nclient_id = {sp['client_id']}\nclient_secret = {sp['client_secret']}\n"
        f"account_id = {sp['account_id']}\n",
    )
    conn = get_snowflake_connection(profile="production", paramstyle="qmark", database="DEMO", schema="HEALTHCARE")
    try:
        assert isinstance(conn, snowflake.connector.SnowflakeConnection)
        cur = conn.cursor()
        cur.execute("select count(*) from PATIENTS where STATE = ?", ["CA"])
        assert cur.fetchone()[0] > 0
    finally:
        conn.close()

    parameters = connection_parameters(profile="production")
    url = urlsplit(platform.url)
    assert (parameters["host"], parameters["port"], parameters["protocol"]) == (url.hostname, url.port, "http")
    assert parameters["account"] == sp["account_id"] and parameters["authenticator"] == "oauth"

    # The same rules as the SDK, before any I/O.
    with pytest.raises(komodo.ProfileWithAccountIdError):
        get_snowflake_connection(profile="production", account_id="x")
    with pytest.raises(TypeError, match="sets token itself"):
        get_snowflake_connection(profile="production", token="t")


def test_connector_put_copy_and_get_through_a_local_stage(connector_env, platform, sp, tmp_path):
    # The unmodified connector's PUT and GET (the platform shares this file
    # system and runs with --local-stage-transfers): PUT gzips the file into
    # the stage, LIST shows it, COPY INTO loads it once, GET brings it back,
    # and an unload lands in the stage.
    source = tmp_path / "people.csv"
    source.write_text("id,name\n1,ann\n2,bob\n")
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute("create database if not exists stage_connector")
        cur.execute("use schema stage_connector.public")
        cur.execute("create or replace table people (id int, name varchar)")
        cur.execute("create or replace stage landing")
        put = cur.execute(f"PUT file://{source} @landing/in").fetchall()
        assert [(r[0], r[1], r[6]) for r in put] == [("people.csv", "people.csv.gz", "UPLOADED")]
        listed = cur.execute("LIST @landing").fetchall()
        assert [r[0] for r in listed] == ["landing/in/people.csv.gz"]
        loaded = cur.execute("COPY INTO people FROM @landing/in FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1)").fetchall()
        assert [(r[0], r[1], r[3]) for r in loaded] == [("landing/in/people.csv.gz", "LOADED", 2)]
        again = cur.execute("COPY INTO people FROM @landing/in FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1)").fetchall()
        assert again == [("Copy executed with 0 files processed.",)]
        assert cur.execute("select name from people order by id").fetchall() == [("ann",), ("bob",)]
        cur.execute("COPY INTO @~/out/ FROM (select id, name from people order by id) FILE_FORMAT = (TYPE = CSV)")
        out = tmp_path / "out"
        out.mkdir()
        got = cur.execute(f"GET @~/out/ file://{out}/").fetchall()
        assert [(r[0], r[2]) for r in got] == [("data_0_0_0.csv.gz", "DOWNLOADED")]
        with gzip.open(out / "data_0_0_0.csv.gz", "rt") as f:
            assert f.read() == "1,ann\n2,bob\n"
        cur.execute("drop database stage_connector")


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_connectors_own_write_pandas_through_a_local_stage(connector_env, platform, sp, overwrite):
    # snowflake.connector.pandas_tools.write_pandas, unmodified: a temporary
    # stage and file format named by IDENTIFIER(?), a PUT of Parquet chunks
    # with its stage bound, INFER_SCHEMA, CREATE TABLE, and a COPY whose
    # transformation picks each column ($1:"col"::TYPE), then (overwrite)
    # a new table renamed over the old one.
    from snowflake.connector.pandas_tools import write_pandas

    frame = pandas.DataFrame(
        {
            "id": [1, 2, 3],
            "Name": ["ann", "bob", None],
            "score": [1.5, None, 3.25],
            "seen": pandas.to_datetime(["2024-01-02 03:04:05", "2024-02-03 04:05:06", "2024-03-04 05:06:07"]),
            "ok": [True, False, True],
        }
    )
    with raw_connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute("create database if not exists connector_pandas")
        cur.execute("use schema connector_pandas.public")
        success, chunks, rows, output = write_pandas(conn, frame, "SCORES", auto_create_table=True, chunk_size=2)
        assert (success, chunks, rows) == (True, 2, 3), output
        success, _, rows, _ = write_pandas(conn, frame.iloc[:1], "SCORES", auto_create_table=True, overwrite=overwrite)
        assert (success, rows) == (True, 1)
        got = cur.execute('select "id", "Name", "score", "seen", "ok" from scores order by "id"').fetchall()
        first = (1, "ann", 1.5, dt.datetime(2024, 1, 2, 3, 4, 5), True)
        if overwrite:
            assert got == [first]
        else:
            assert got == [
                first,
                first,
                (2, "bob", None, dt.datetime(2024, 2, 3, 4, 5, 6), False),
                (3, None, 3.25, dt.datetime(2024, 3, 4, 5, 6, 7), True),
            ]
        types = dict(cur.execute("select column_name, data_type from information_schema.columns where table_name = 'SCORES'").fetchall())
        assert types == {"id": "NUMBER", "Name": "TEXT", "score": "FLOAT", "seen": "TIMESTAMP_NTZ", "ok": "BOOLEAN"}
        # Nothing temporary is left behind in the schema.
        assert [r[1] for r in cur.execute("show tables in schema connector_pandas.public").fetchall()] == ["SCORES"]
        cur.execute("drop database connector_pandas")
