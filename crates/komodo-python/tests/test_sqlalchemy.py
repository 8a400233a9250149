"""`komodo://` SQLAlchemy URLs (snowflake-sqlalchemy's dialect over the
Komodo connection) against the real platform: sessions with and without a
current database, reflection, `pandas.read_sql` and `to_sql` into a table
of the account's own, the credential parameters and profiles; and the
PEP 249 details of `komodo`'s own cursor and connection."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pandas
import pytest
import sqlalchemy
from sqlalchemy import create_engine, inspect, text

import komodo
from conftest import write_credentials


@pytest.fixture(scope="module")
def sp(platform):
    return platform.service_principal("py-sqlalchemy")


def url(sp: dict, path: str = "", **extra: str) -> str:
    query = {"client_id": sp["client_id"], "client_secret": sp["client_secret"], "account_id": sp["account_id"], **extra}
    return f"komodo://{path}?{urlencode(query)}"


def test_the_entry_point_names_the_dialect():
    from komodo.sqlalchemy import KomodoDialect

    assert sqlalchemy.engine.url.make_url("komodo://").get_dialect() is KomodoDialect


def test_a_session_with_a_database_answers_reads_and_reflects(home, sp):
    engine = create_engine(url(sp, "/DEMO/HEALTHCARE"))
    with engine.connect() as connection:
        row = connection.execute(text("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()")).one()
        assert tuple(row) == ("DEMO", "HEALTHCARE")
        assert list(row._mapping) == ["CURRENT_DATABASE()", "CURRENT_SCHEMA()"], "Snowflake's column names"
        assert connection.execute(text("select count(*) from PATIENTS")).scalar() > 0
    inspector = inspect(engine)
    assert engine.dialect.default_schema_name == "healthcare"
    tables = inspector.get_table_names()
    assert {"patients", "claims"} <= set(tables), tables
    frame = pandas.read_sql("select STATE, count(*) AS N from PATIENTS group by STATE order by STATE", engine)
    assert list(frame.columns) == ["state", "n"] and frame["n"].sum() > 0


def test_a_session_without_a_database_works(home, sp):
    engine = create_engine(url(sp))
    with engine.connect() as connection:
        row = connection.execute(text("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()")).one()
        assert tuple(row) == (None, None)
        assert list(row._mapping) == ["CURRENT_DATABASE()", "CURRENT_SCHEMA()"]
        assert connection.execute(text("select count(*) from DEMO.HEALTHCARE.PATIENTS")).scalar() > 0
    assert engine.dialect.default_schema_name is None
    frame = pandas.read_sql("select count(*) AS N from DEMO.HEALTHCARE.CLAIMS", engine)
    assert frame["n"][0] > 0


def test_to_sql_writes_a_table_of_the_accounts_own(home, sp):
    database = f"SQLA_{uuid.uuid4().hex[:8].upper()}"
    setup = create_engine(url(sp))
    with setup.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
    engine = create_engine(url(sp, f"/{database}/PUBLIC"))
    frame = pandas.DataFrame({"state": ["CA", "NY", "TX"], "patients": [3, 1, 2]})
    frame.to_sql("states", engine, index=False)
    back = pandas.read_sql("select STATE, PATIENTS from STATES order by STATE", engine)
    assert back.to_dict("list") == {"state": ["CA", "NY", "TX"], "patients": [3, 1, 2]}
    assert "states" in inspect(engine).get_table_names()
    frame.to_sql("states", engine, index=False, if_exists="append")
    assert pandas.read_sql("select count(*) AS N from STATES", engine)["n"][0] == 6


def test_reflection_lists_views_schemas_and_columns(home, sp):
    """snowflake-sqlalchemy's reflection reads SHOW results by position
    (the name is the second column) and INFORMATION_SCHEMA.COLUMNS with
    Snowflake's full set of columns."""
    database = f"SQLA_{uuid.uuid4().hex[:8].upper()}"
    setup = create_engine(url(sp))
    with setup.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {database}"))
        connection.execute(text(f"CREATE SCHEMA {database}.STAGING"))
        connection.execute(text(f"CREATE TABLE {database}.PUBLIC.ITEMS (ID INT NOT NULL, NAME VARCHAR, PRICE NUMBER(10,2))"))
        connection.execute(text(f"CREATE VIEW {database}.PUBLIC.CHEAP AS SELECT ID, NAME FROM {database}.PUBLIC.ITEMS"))
    engine = create_engine(url(sp, f"/{database}/PUBLIC"))
    inspector = inspect(engine)
    assert inspector.get_view_names() == ["cheap"]
    assert inspector.get_table_names() == ["items"]
    assert {"public", "staging", "information_schema"} <= set(inspector.get_schema_names())
    assert "SELECT ID, NAME" in inspector.get_view_definition("cheap")
    columns = {c["name"]: c for c in inspector.get_columns("items")}
    assert list(columns) == ["id", "name", "price"]
    assert columns["id"]["nullable"] is False and columns["name"]["nullable"] is True
    assert (columns["price"]["type"].precision, columns["price"]["type"].scale) == (10, 2)
    assert inspector.has_table("items") and not inspector.has_table("nothing_here")


def test_a_profile_chooses_the_credentials(home, sp):
    write_credentials(
        home,
        f"[production]\nclient_id = {sp['client_id']}\nclient_secret = {sp['client_secret']}\n"
        f"account_id = {sp['account_id']}\n",
    )
    engine = create_engine("komodo:///DEMO/HEALTHCARE?profile=production")
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from PROVIDERS")).scalar() > 0


@pytest.mark.parametrize(
    "bad, message",
    [
        ("komodo://user:pw@host/", "names no user"),
        ("komodo://?host=elsewhere", "cannot set host"),
        ("komodo:///A/B/C", "at most a database and a schema"),
    ],
)
def test_urls_that_would_choose_the_platform_are_refused(home, bad, message):
    with pytest.raises(komodo.NotSupportedError, match=message):
        create_engine(bad).connect()


def test_fetching_before_a_statement_raises_and_closing_twice_raises(home, sp):
    connection = komodo.get_snowflake_connection(
        client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
    )
    cur = connection.cursor()
    for fetch in (cur.fetchone, cur.fetchall, lambda: cur.fetchmany(2), lambda: next(iter(cur))):
        with pytest.raises(komodo.ProgrammingError, match="call execute"):
            fetch()
    qid = cur.execute_async("select 1")
    with pytest.raises(komodo.ProgrammingError, match="get_results_from_sfqid"):
        cur.fetchone()
    assert cur.get_results_from_sfqid(qid).fetchone() == (1,)
    # A statement without rows keeps Snowflake's one-row status result.
    cur.execute("alter session set QUERY_TAG = 'pep249'")
    assert cur.sfqid and cur.fetchone() is not None
    connection.close()
    with pytest.raises(komodo.InterfaceError, match="already closed"):
        connection.close()
