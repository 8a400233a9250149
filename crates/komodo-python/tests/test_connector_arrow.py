"""Arrow results for the unmodified snowflake-connector-python: the gateway
answers it in Snowflake's own Arrow encoding (its default), so that
`fetch_pandas_all`, `fetch_pandas_batches`, `fetch_arrow_all` and
`fetch_arrow_batches` work; every type decodes to the same values from
Arrow and from JSON, and as the project's own package reads them; a
session can ask for JSON; `cursor.describe()` never runs its statement."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

import pandas
import pyarrow
import pytest
import snowflake.connector
from snowflake.connector import errors as sf_errors


UTC = dt.timezone.utc

# One column of every type.
COLUMNS = [
    ("N", "NUMBER"),
    ("D", "NUMBER(10,2)"),
    ("F", "FLOAT"),
    ("S", "VARCHAR"),
    ("B", "BOOLEAN"),
    ("DT", "DATE"),
    ("TM", "TIME"),
    ("NTZ", "TIMESTAMP_NTZ"),
    ("LTZ", "TIMESTAMP_LTZ"),
    ("TZ", "TIMESTAMP_TZ"),
    ("BIN", "BINARY"),
    ("V", "VARIANT"),
    ("O", "OBJECT"),
    ("A", "ARRAY"),
]
VALUES = [
    "-42",
    "12.50::number(10,2)",
    "1.25::float",
    "'text with ''quotes'''",
    "true",
    "'2024-01-02'::date",
    "'13:45:30.123'::time",
    "'2024-01-02 03:04:05.123456'::timestamp_ntz",
    "to_timestamp_ltz('2024-01-02 03:04:05.5')",
    "to_timestamp_tz('2024-01-02 03:04:05 +01:00')",
    "X'00ABFF'",
    "parse_json('{\"a\": {\"b\": [1, 2.5, \"x\", null]}, \"t\": true}')",
    "object_construct('k', 2, 'l', array_construct('m'))",
    "array_construct(1, 'two', object_construct('three', 3))",
]
EXPECTED = (
    -42,
    decimal.Decimal("12.50"),
    1.25,
    "text with 'quotes'",
    True,
    dt.date(2024, 1, 2),
    dt.time(13, 45, 30, 123000),
    dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
    dt.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
    dt.datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC),
    b"\x00\xab\xff",
    {"a": {"b": [1, 2.5, "x", None]}, "t": True},
    {"k": 2, "l": ["m"]},
    [1, "two", {"three": 3}],
)
SEMI = {"V", "O", "A"}
# The values of every type, and NULL of every type.
TYPED = "select " + ", ".join(f"{v} as {c}" for v, (c, _) in zip(VALUES, COLUMNS))
NULLS = "select " + ", ".join(f"null::{t} as {c}" for c, t in COLUMNS)


@pytest.fixture
def connector_env(home, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
    return home


@pytest.fixture(scope="module")
def sp(platform):
    return platform.service_principal("py-connector-arrow")


def access_token(platform, sp: dict) -> str:
    """A Komodo access token of `sp` (client credentials at the token endpoint)."""
    body = urlencode({"grant_type": "client_credentials", "client_id": sp["client_id"], "client_secret": sp["client_secret"]})
    with urlopen(Request(f"{platform.url}/oauth/token", data=body.encode()), timeout=30) as response:
        return json.load(response)["access_token"]


def connect(platform, sp: dict, **kwargs):
    token = access_token(platform, sp)
    url = urlsplit(platform.url)
    return snowflake.connector.connect(
        host=url.hostname,
        port=url.port,
        protocol=url.scheme,
        account=sp["account_id"],
        authenticator="oauth",
        token=token,
        **kwargs,
    )


def own(sp: dict):
    import komodo

    return komodo.get_snowflake_connection(
        client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
    )


def plain(value):
    """A value as comparable Python: pandas/NumPy scalars and timestamps as
    Python's, NaN/NaT as None, JSON text parsed."""
    if value is None or value is pandas.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pandas.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (bytes, str)):
        return value.item()
    if isinstance(value, bytearray):
        return bytes(value)
    return value


def decoded(row) -> tuple:
    """A row with its semi-structured values parsed and its timestamps with
    an offset compared as instants."""
    out = []
    for (name, _), value in zip(COLUMNS, row):
        value = plain(value)
        if name in SEMI and isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        out.append(value)
    return tuple(out)


def test_every_type_decodes_alike_from_arrow_json_and_the_komodo_package(connector_env, platform, sp):
    with connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute(TYPED)
        assert cur._query_result_format == "arrow", "Arrow is the connector's default"
        arrow_rows = cur.fetchall() + cur.execute(NULLS).fetchall()
        description = [(d.name, d.type_code, d.scale) for d in cur.execute(TYPED).description]
        frame = cur.execute(TYPED).fetch_pandas_all()
        null_frame = cur.execute(NULLS).fetch_pandas_all()
        table = cur.execute(TYPED).fetch_arrow_all()

    assert decoded(arrow_rows[0]) == EXPECTED
    assert arrow_rows[1] == (None,) * len(COLUMNS)
    assert isinstance(arrow_rows[0][0], int) and arrow_rows[0][1] == decimal.Decimal("12.50")
    assert arrow_rows[0][8].utcoffset() is not None, "TIMESTAMP_LTZ in the session's time zone"
    assert arrow_rows[0][9].utcoffset() == dt.timedelta(hours=1), "TIMESTAMP_TZ keeps the value's own offset"

    # A session whose login asks for JSON gets JSON, decoded to the same values.
    with connect(platform, sp, session_parameters={"PYTHON_CONNECTOR_QUERY_RESULT_FORMAT": "JSON"}) as conn:
        cur = conn.cursor()
        cur.execute(TYPED)
        assert cur._query_result_format == "json"
        json_rows = cur.fetchall() + cur.execute(NULLS).fetchall()
        assert [(d.name, d.type_code, d.scale) for d in cur.execute(TYPED).description] == description
        with pytest.raises(sf_errors.NotSupportedError):
            cur.execute(TYPED).fetch_pandas_all()
    assert json_rows == arrow_rows
    assert json_rows[0][9].utcoffset() == dt.timedelta(hours=1)

    # pandas: the types Snowflake's connector gives them.
    assert list(frame.columns) == [c for c, _ in COLUMNS] and len(frame) == 1
    assert frame["N"].dtype == "int64"
    assert frame["D"].dtype == "float64", "a scaled NUMBER is a float64 column, as from Snowflake"
    assert frame["F"].dtype == "float64"
    assert str(frame["NTZ"].dtype).startswith("datetime64")
    assert str(frame["LTZ"].dtype).startswith("datetime64") and "UTC" in str(frame["LTZ"].dtype)
    first = decoded(frame.iloc[0].tolist())
    assert first[0] == -42 and first[1] == pytest.approx(12.5) and first[2:] == EXPECTED[2:]
    assert len(null_frame) == 1 and all(plain(v) is None for v in null_frame.iloc[0].tolist())
    assert table.num_rows == 1 and table.schema.names == [c for c, _ in COLUMNS]

    # The project's own package reads the same values.
    with own(sp) as conn:
        cur = conn.cursor()
        ours = cur.execute(TYPED).fetchall() + cur.execute(NULLS).fetchall()
        ours_frame = cur.execute(TYPED).fetch_pandas_all()
    assert decoded(ours[0])[2:] == EXPECTED[2:]
    assert decoded(ours[0])[0] == -42 and decimal.Decimal(str(ours[0][1])) == decimal.Decimal("12.50")
    assert all(v is None for v in ours[1])
    assert ours[0][9].utcoffset() == dt.timedelta(hours=1)
    assert list(ours_frame.columns) == list(frame.columns) and len(ours_frame) == 1


def use_own_database(cur) -> None:
    """Temporary tables live in the current database: one of the account's own."""
    cur.execute("create database if not exists ARROW_TESTS")
    cur.execute("use database ARROW_TESTS")


def test_a_session_switches_between_json_and_arrow(connector_env, platform, sp):
    with connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute("alter session set PYTHON_CONNECTOR_QUERY_RESULT_FORMAT = 'JSON'")
        cur.execute("select 1 as X, 'a' as Y")
        assert cur._query_result_format == "json" and cur.fetchall() == [(1, "a")]
        with pytest.raises(sf_errors.NotSupportedError):
            cur.execute("select 1 as X").fetch_pandas_all()
        cur.execute("alter session set QUERY_RESULT_FORMAT = 'ARROW'")
        frame = cur.execute("select 1 as X, 'a' as Y").fetch_pandas_all()
        assert cur._query_result_format == "arrow"
        assert frame.to_dict("records") == [{"X": 1, "Y": "a"}]
        cur.execute("alter session unset QUERY_RESULT_FORMAT")
        assert cur.execute("select 2 as X").fetch_pandas_all()["X"].tolist() == [2]


def test_empty_and_dml_results_in_arrow(connector_env, platform, sp):
    with connect(platform, sp) as conn:
        cur = conn.cursor()
        use_own_database(cur)
        cur.execute("create or replace temporary table E (a int, s varchar)")
        cur.execute("insert into E values (1, 'x'), (2, 'y')")
        assert cur.rowcount == 2
        empty = cur.execute("select a, s from E where a < 0").fetch_pandas_all()
        assert list(empty.columns) == ["A", "S"] and len(empty) == 0
        assert cur.execute("select a, s from E where a < 0").fetchall() == []
        assert cur.execute("select a, s from E where a < 0").fetch_arrow_all() is None
        assert cur.execute("select a, s from E order by a").fetchall() == [(1, "x"), (2, "y")]


def test_arrow_batches_over_a_chunked_result(connector_env, platform, sp):
    rows = 700_000  # the inline rows and two chunks
    sql = (
        "select seq as N, seq * 0.5 as H, 'row ' || seq as S "
        f"from (select \"value\" as seq from table(generate_series(1, {rows}))) order by N"
    )
    with connect(platform, sp) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        assert len(cur._result_set.batches) >= 3, "the result comes in chunks"
        batches = list(cur.fetch_arrow_batches())
        assert len(batches) >= 3 and all(isinstance(b, pyarrow.Table) for b in batches)
        table = pyarrow.concat_tables(batches)
        assert table.num_rows == rows
        assert table.column("N").to_pylist() == list(range(1, rows + 1))
        assert table.column("S")[rows - 1].as_py() == f"row {rows}"

        frames = list(cur.execute(sql).fetch_pandas_batches())
        assert len(frames) >= 3 and sum(len(f) for f in frames) == rows
        frame = cur.execute(sql).fetch_pandas_all()
        assert frame["N"].is_monotonic_increasing and frame["H"].iloc[-1] == rows * 0.5

        cur.execute(sql)
        seen = 0
        for n, h, s in cur:
            seen += 1
            if seen in (1, 65_536, 65_537, rows):
                assert (n, float(h), s) == (seen, seen * 0.5, f"row {seen}")
        assert seen == rows


def test_variant_values_round_trip(connector_env, platform, sp):
    docs = [
        {"name": "a", "tags": ["x", "y"], "n": {"deep": [1, {"k": None}]}},
        [1, 2.5, "three", False],
        "just a string",
        12345678901234,
    ]
    with connect(platform, sp, paramstyle="qmark") as conn:
        cur = conn.cursor()
        use_own_database(cur)
        cur.execute("create or replace temporary table DOCS (i int, v variant)")
        for i, doc in enumerate(docs):
            cur.execute("insert into DOCS select ?, parse_json(?)", [i, json.dumps(doc)])
        rows = cur.execute("select v from DOCS order by i").fetchall()
        assert [json.loads(v) for (v,) in rows] == docs
        frame = cur.execute("select i, v, v:name::string as NAME, v:n.deep[1].k as K from DOCS order by i").fetch_pandas_all()
        assert [json.loads(v) for v in frame["V"]] == docs
        assert frame["NAME"].tolist()[0] == "a" and frame["NAME"].isna().tolist()[1:] == [True, True, True]
        assert cur.execute("select typeof(v) from DOCS order by i").fetchall() == [
            ("OBJECT",),
            ("ARRAY",),
            ("VARCHAR",),
            ("INTEGER",),
        ]
        cur.execute("select object_construct('d', v) from DOCS where i = 0")
        assert json.loads(cur.fetchone()[0]) == {"d": docs[0]}


def test_timestamp_tz_values_keep_their_offsets(connector_env, platform, sp):
    hours = lambda h: dt.timezone(dt.timedelta(hours=h))  # noqa: E731
    bound = [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=hours(5.5)), dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=hours(-8))]
    written = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=hours(2))
    texts = [("2024-01-02 03:04:05.000 +0530",), ("2024-01-02 03:04:05.250 -0800",), ("2024-01-02 03:04:05.000 +0200",)]
    with connect(platform, sp, paramstyle="qmark") as conn:
        cur = conn.cursor()
        use_own_database(cur)
        cur.execute("create or replace table ZONED (i int, at timestamp_tz)")
        for i, value in enumerate(bound):
            cur.execute("insert into ZONED values (?, ?)", [i, ("TIMESTAMP_TZ", value)])
        cur.execute("insert into ZONED values (2, '2024-01-02 03:04:05 +02:00')")
        rows = [at for (at,) in cur.execute("select at from ZONED order by i").fetchall()]
        assert rows == bound + [written]
        assert [at.utcoffset() for at in rows] == [dt.timedelta(hours=h) for h in (5.5, -8, 2)]
        assert cur.execute("select at::varchar from ZONED order by i").fetchall() == texts
        assert cur.execute("select i from ZONED where at = ?", [("TIMESTAMP_TZ", written.astimezone(UTC))]).fetchall() == [(2,)]
        frame = cur.execute("select at from ZONED order by i").fetch_pandas_all()
        assert [plain(v).astimezone(UTC) for v in frame["AT"]] == [v.astimezone(UTC) for v in rows]
    with own(sp) as conn:
        cur = conn.cursor()
        cur.execute("use database ARROW_TESTS")
        ours = [at for (at,) in cur.execute("select at from ZONED order by i").fetchall()]
        assert [at.utcoffset() for at in ours] == [dt.timedelta(hours=h) for h in (5.5, -8, 2)]
        ours_frame = cur.execute("select at from ZONED order by i").fetch_pandas_all()
        assert str(ours_frame["AT"].dtype) == "datetime64[ns, UTC]"
        assert [plain(v) for v in ours_frame["AT"]] == [v.astimezone(UTC) for v in rows]


def test_describe_of_an_insert_inserts_nothing(connector_env, platform, sp):
    with connect(platform, sp) as conn:
        cur = conn.cursor()
        use_own_database(cur)
        # A temporary table.
        cur.execute("create or replace temporary table DESCRIBED (a int, s varchar)")
        description = cur.describe("insert into DESCRIBED values (1, 'one')")
        assert description and description[0].name == "number of rows inserted"
        assert cur.execute("select count(*) from DESCRIBED").fetchone() == (0,)
        # A table of the account's own database.
        cur.execute("create database if not exists DESCRIBE_DB")
        cur.execute("create or replace table DESCRIBE_DB.PUBLIC.T (a int)")
        cur.describe("insert into DESCRIBE_DB.PUBLIC.T select 1")
        cur.describe("insert into DESCRIBE_DB.PUBLIC.T values (2), (3)")
        assert cur.execute("select count(*) from DESCRIBE_DB.PUBLIC.T").fetchone() == (0,)
        # A query's description is its result's, without its rows.
        described = cur.describe("select a, a * 1.5 as H from DESCRIBE_DB.PUBLIC.T")
        cur.execute("select a, a * 1.5 as H from DESCRIBE_DB.PUBLIC.T")
        assert [(d.name, d.type_code) for d in described] == [(d.name, d.type_code) for d in cur.description]
        cur.execute("drop table DESCRIBE_DB.PUBLIC.T")
