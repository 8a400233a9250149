"""``komodo.write_pandas``: a DataFrame into a table of the account, read
back through the package and through the unmodified
snowflake-connector-python."""

from __future__ import annotations

import datetime as dt

import pandas
import pytest

import komodo
from test_connector_arrow import connect, plain

UTC = dt.timezone.utc


@pytest.fixture
def connector_env(home, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
    return home


@pytest.fixture(scope="module")
def sp(platform):
    return platform.service_principal("py-write-pandas")


def own(sp: dict, **kwargs):
    return komodo.get_snowflake_connection(
        client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"], **kwargs
    )


@pytest.fixture
def conn(connector_env, sp):
    with own(sp) as setup:
        setup.cursor().execute("create database if not exists PANDAS_TESTS")
    with own(sp, database="PANDAS_TESTS", schema="PUBLIC") as c:
        yield c


def frame() -> pandas.DataFrame:
    return pandas.DataFrame(
        {
            "id": pandas.array([1, 2, None], dtype="Int64"),
            "price": [1.5, None, -2.25],
            "name": ["ann", None, "c'est \"quoted\""],
            "ok": pandas.array([True, None, False], dtype="boolean"),
            "day": [dt.date(2024, 1, 2), None, dt.date(1969, 12, 31)],
            "at": pandas.to_datetime(["2024-01-02 03:04:05.123456", None, "1999-12-31 23:59:59.000000"]),
            "at_utc": pandas.to_datetime(["2024-01-02 03:04:05", "2024-06-01 00:00:00", None], utc=True),
        }
    )


EXPECTED = [
    (1, 1.5, "ann", True, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5, 123456), dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (2, None, None, None, None, None, dt.datetime(2024, 6, 1, tzinfo=UTC)),
    (None, -2.25, "c'est \"quoted\"", False, dt.date(1969, 12, 31), dt.datetime(1999, 12, 31, 23, 59, 59), None),
]


def normalised(rows) -> list[tuple]:
    out = []
    for row in rows:
        values = []
        for value in row:
            value = plain(value)
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC)
            values.append(value)
        out.append(tuple(values))
    return sorted(out, key=lambda r: (r[0] is None, r[0] or 0))


SELECT = 'select "id", "price", "name", "ok", "day", "at", "at_utc" from PANDAS_TESTS.PUBLIC."people"'


def test_write_pandas_round_trips_every_type_and_nulls(conn, platform, sp):
    conn.cursor().execute('drop table if exists "people"')
    success, nchunks, nrows, output = komodo.write_pandas(conn, frame(), "people", auto_create_table=True, chunk_size=2)
    assert (success, nchunks, nrows) == (True, 2, 3)
    assert [(o[1], o[3]) for o in output] == [("LOADED", 2), ("LOADED", 1)]

    # Through the package.
    cur = conn.cursor()
    assert normalised(cur.execute(SELECT).fetchall()) == EXPECTED
    ours = cur.execute(SELECT).fetch_pandas_all()
    assert list(ours.columns) == ["id", "price", "name", "ok", "day", "at", "at_utc"]
    assert normalised(ours.itertuples(index=False)) == EXPECTED

    # Through the unmodified snowflake-connector-python, rows and pandas.
    with connect(platform, sp) as sf:
        sf_cur = sf.cursor()
        assert normalised(sf_cur.execute(SELECT).fetchall()) == EXPECTED
        theirs = sf_cur.execute(SELECT).fetch_pandas_all()
    assert normalised(theirs.itertuples(index=False)) == EXPECTED

    # Appending adds the rows; overwriting replaces them.
    assert komodo.write_pandas(conn, frame(), "people")[2] == 3
    assert cur.execute('select count(*) from "people"').fetchone() == (6,)
    assert komodo.write_pandas(conn, frame().head(1), "people", overwrite=True)[:3] == (True, 1, 1)
    assert cur.execute('select count(*) from "people"').fetchone() == (1,)


def test_write_pandas_names_and_failures(conn):
    df = pandas.DataFrame({"Id": [1, 2], "Label": ["a", "b"]})
    conn.cursor().execute("drop table if exists UPPERED")
    # Unquoted names are upper-cased, as Snowflake reads them.
    assert komodo.write_pandas(conn, df, "uppered", quote_identifiers=False, auto_create_table=True)[2] == 2
    cur = conn.cursor()
    assert cur.execute("select ID, LABEL from UPPERED order by ID").fetchall() == [(1, "a"), (2, "b")]
    # Columns are matched by name whatever their case; a missing table needs auto_create_table.
    assert komodo.write_pandas(conn, df, "UPPERED", database="PANDAS_TESTS", schema="PUBLIC")[2] == 2
    with pytest.raises(komodo.ProgrammingError, match="002003"):
        komodo.write_pandas(conn, df, "missing_table")
    with pytest.raises(komodo.ProgrammingError, match="'EXTRA'"):
        komodo.write_pandas(conn, df.assign(EXTRA=1), "UPPERED")
    with pytest.raises(komodo.DatabaseError):
        komodo.write_pandas(conn, pandas.DataFrame({"ID": ["not a number"]}), "UPPERED")
    with pytest.raises(komodo.ProgrammingError, match="Schema has to be provided"):
        komodo.write_pandas(conn, df, "UPPERED", database="PANDAS_TESTS")
    with pytest.raises(komodo.NotSupportedError):
        komodo.write_pandas(conn, df, "UPPERED", create_temp_table=True)
    # Nothing of the failed loads was written.
    assert cur.execute("select count(*) from UPPERED").fetchone() == (4,)
