"""`komodo.get_snowflake_connection()` against the real platform: the seed's
examples as written, its invalid examples, the web-login fallback, PEP 249
behaviour, threads, Arrow and pandas results, and Ctrl-C."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pandas
import pyarrow
import pytest

import komodo
from conftest import BROWSER_SCRIPT, RUNAWAY, write_credentials

CLAIMS = "DEMO.HEALTHCARE.CLAIMS"
PATIENTS = "DEMO.HEALTHCARE.PATIENTS"


def profile_text(name: str, sp: dict) -> str:
    return (
        f"[{name}]\nclient_id = {sp['client_id']}\nclient_secret = {sp['client_secret']}\n"
        f"account_id = {sp['account_id']}\naccount_slug = demo\n"
    )


@pytest.fixture(scope="module")
def sp(platform):
    return platform.service_principal("py-warehouse")


@pytest.fixture
def conn(home, sp):
    connection = komodo.get_snowflake_connection(
        client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
    )
    yield connection
    connection.close()


@pytest.fixture
def backend_conn(home, backend_sp):
    """A connection to an account on each warehouse backend (conftest's
    `backend_sp`: embedded, then an upstream Snowflake account)."""
    connection = komodo.get_snowflake_connection(
        client_id=backend_sp["client_id"], client_secret=backend_sp["client_secret"], account_id=backend_sp["account_id"]
    )
    yield connection
    connection.close()


def count(connection, sql: str, params=None) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        (n,) = cur.fetchone()
        return n


# -- the seed's examples, as written ----------------------------------------


def test_seed_default_profile_example(home, platform, sp):
    token = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]).access_token()
    write_credentials(home, f"[default]\ntoken = {token}\naccount_id = {sp['account_id']}\naccount_slug = demo\n")

    from komodo import get_snowflake_connection

    # Uses credentials from [default] profile
    conn = get_snowflake_connection()

    assert conn.account_id == sp["account_id"]
    assert count(conn, f"select count(*) from {PATIENTS}") > 0
    conn.close()


def test_seed_jwt_example(home, sp):
    from komodo import get_snowflake_connection

    jwt = komodo.Client(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]).access_token()  # From `komodo jwt`
    account_id = sp["account_id"]  # From `komodo account get`
    conn = get_snowflake_connection(jwt=jwt, account_id=account_id)

    assert count(conn, "select 1") == 1
    conn.close()


def test_seed_client_credentials_example(home, sp):
    from komodo import get_snowflake_connection

    conn = get_snowflake_connection(
        client_id=sp["client_id"],
        client_secret=sp["client_secret"],
        account_id=sp["account_id"],
    )

    assert count(conn, f"select count(*) from {CLAIMS} where STATUS = ?", ["PAID"]) > 0
    conn.close()


def test_seed_named_profiles_example(home, platform):
    production, development = platform.service_principal("py-production"), platform.service_principal("py-development")
    write_credentials(home, profile_text("production", production) + "\n" + profile_text("development", development))

    from komodo import get_snowflake_connection

    # Use a named profile
    conn = get_snowflake_connection(profile="production")
    # Or use a different profile
    other = get_snowflake_connection(profile="development")

    for connection, sp in ((conn, production), (other, development)):
        assert connection.account_id == sp["account_id"]
        assert count(connection, "select 1") == 1
        connection.close()


# The seed's invalid examples (and the other rules), each with its documented error.
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(profile="production", client_id="..."), komodo.MixedAuthenticationMethodsError,
         "cannot mix authentication methods: `profile` cannot be combined with `client_id`"),
        (dict(profile="production", account_id="..."), komodo.ProfileWithAccountIdError,
         "cannot combine `profile` with `account_id`: the profile contains the account ID"),
        (dict(jwt="j", client_id="c", client_secret="s", account_id="a"), komodo.MixedAuthenticationMethodsError,
         "`jwt` cannot be combined with `client_id`"),
        (dict(client_id="c", account_id="a"), komodo.IncompleteClientCredentialsError,
         "`client_id` was given without `client_secret`"),
        (dict(jwt="j"), komodo.MissingAccountIdError, "`jwt` requires `account_id`"),
        (dict(client_id="c", client_secret="s"), komodo.MissingAccountIdError,
         "`client_id + client_secret` requires `account_id`"),
        (dict(profile=""), komodo.EmptyArgumentError, "`profile` is empty"),
    ],
)
def test_seed_invalid_examples_raise_the_documented_error(home, kwargs, error, message):
    with pytest.raises(error) as raised:
        komodo.get_snowflake_connection(**kwargs)
    assert isinstance(raised.value, ValueError)
    assert message in str(raised.value)
    assert not (home / ".komodo").exists()


def test_a_missing_profile_lists_the_others(home, sp):
    write_credentials(home, profile_text("production", sp))
    with pytest.raises(komodo.ProfileNotFoundError, match=r"available profiles: \[production\]") as raised:
        komodo.get_snowflake_connection(profile="staging")
    assert isinstance(raised.value, komodo.InterfaceError) and isinstance(raised.value, komodo.Error)


def test_web_login_fallback_leaves_the_credentials_file_untouched(home, platform, monkeypatch):
    """No usable credentials (the file holds only a named profile): the SDK
    logs in through the browser once for all threads, keeps the tokens in
    memory, and the file stays byte for byte as it was. In a fresh process,
    since the web login is one per process."""
    platform.create_user("py-wh-web@example.com", "a warehouse passphrase")
    other = platform.service_principal("py-wh-other")
    path = write_credentials(home, "# my profiles\n" + profile_text("production", other))
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    log = home / "browser.log"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSER_SCRIPT}")
    monkeypatch.setenv("KOMODO_TEST_EMAIL", "py-wh-web@example.com")
    monkeypatch.setenv("KOMODO_TEST_PASSWORD", "a warehouse passphrase")
    monkeypatch.setenv("KOMODO_TEST_BROWSER_LOG", str(log))
    script = textwrap.dedent(
        f"""
        import threading
        from komodo import get_snowflake_connection

        results = []

        def connect():
            # An account passed alone selects the account for the web login.
            conn = get_snowflake_connection(account_id={other["account_id"]!r})
            cur = conn.cursor()
            cur.execute("select count(*) from {PATIENTS}")
            results.append(cur.fetchone()[0])
            conn.close()

        threads = [threading.Thread(target=connect) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(len(results), min(results))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    connections, patients = map(int, done.stdout.split())
    assert connections == 4 and patients > 0
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert log.read_text().splitlines() == ["Logged in"], "more than one browser login"
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime, "the web login touched the credentials file"
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith(".")) == ["credentials"]


# -- PEP 249 -----------------------------------------------------------------


def test_module_globals_and_type_objects():
    assert komodo.apilevel == "2.0" and komodo.threadsafety == 2 and komodo.paramstyle == "qmark"
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
                 "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(komodo, name), Exception)
    assert issubclass(komodo.ProgrammingError, komodo.DatabaseError) and issubclass(komodo.DatabaseError, komodo.Error)
    assert issubclass(komodo.InterfaceError, komodo.Error) and not issubclass(komodo.Warning, komodo.Error)
    assert issubclass(komodo.Error, komodo.KomodoError) and issubclass(komodo.PlatformError, komodo.OperationalError)
    assert komodo.NUMBER == 0 and komodo.NUMBER == 1 and komodo.NUMBER != 2
    assert komodo.STRING == 2 and komodo.DATETIME == 3 and komodo.DATETIME == 8 and komodo.BINARY == 11
    assert komodo.ROWID != 0 and komodo.NUMBER == "fixed"
    assert komodo.Date(2024, 1, 2) == dt.date(2024, 1, 2)
    assert komodo.Timestamp(2024, 1, 2, 3, 4, 5) == dt.datetime(2024, 1, 2, 3, 4, 5)
    assert komodo.Binary(b"ab") == b"ab"
    assert komodo.DateFromTicks(0) == dt.date.fromtimestamp(0)
    assert komodo.TimestampFromTicks(86400.5) == dt.datetime.fromtimestamp(86400).replace(microsecond=0)
    assert komodo.TimeFromTicks(3600) == dt.datetime.fromtimestamp(3600).time()
    assert komodo.connect is komodo.get_snowflake_connection


def test_cursor_fetches_describes_and_iterates(backend_conn):
    conn = backend_conn
    cur = conn.cursor()
    assert cur.description is None and cur.rowcount == -1 and cur.arraysize == 1
    assert cur.execute(f"select PATIENT_ID, STATE, BIRTH_DATE from {PATIENTS} order by PATIENT_ID limit 10") is cur
    names = [d.name for d in cur.description]
    assert names == ["PATIENT_ID", "STATE", "BIRTH_DATE"]
    assert cur.description[0][1] == komodo.NUMBER and cur.description[1][1] == komodo.STRING
    assert cur.description[2].type_code == komodo.DATETIME
    assert cur.rowcount == 10 and cur.sfqid and cur.rownumber == 0
    first = cur.fetchone()
    assert first[0] == 1 and isinstance(first[2], dt.date) and cur.rownumber == 1
    assert len(cur.fetchmany()) == 1  # arraysize
    cur.arraysize = 3
    assert len(cur.fetchmany()) == 3
    assert [row[0] for row in cur] == [6, 7, 8, 9, 10]
    assert cur.fetchone() is None and cur.fetchall() == [] and cur.fetchmany(5) == []
    with pytest.raises(komodo.ProgrammingError):
        cur.fetchmany(-1)
    assert cur.nextset() is None
    with pytest.raises(komodo.NotSupportedError):
        cur.callproc("p")
    cur.close()
    cur.close()
    with pytest.raises(komodo.InterfaceError, match="cursor is closed"):
        cur.execute("select 1")
    with pytest.raises(komodo.InterfaceError):
        cur.fetchall()


def test_values_and_parameters_round_trip(conn):
    values = [
        42, -(2**62), 10**20, "text with 'quotes'", 1.5, True, False, None,
        decimal.Decimal("12.50"), dt.date(2024, 1, 2), dt.time(1, 2, 3, 500000),
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456), b"\x01\xab",
    ]
    with conn.cursor() as cur:
        row = cur.execute("select " + ", ".join("?" for _ in values), values).fetchone()
        assert row[:8] == (42, -(2**62), 10**20, "text with 'quotes'", 1.5, True, False, None)
        assert row[8] == decimal.Decimal("12.50") and isinstance(row[8], decimal.Decimal)
        assert row[9:] == (dt.date(2024, 1, 2), dt.time(1, 2, 3, 500000), dt.datetime(2024, 1, 2, 3, 4, 5, 123456), b"\x01\xab")
        # Numeric placeholders, by position.
        assert cur.execute("select :2 as b, :1 as a", ("one", "two")).fetchall() == [("two", "one")]
        with pytest.raises(komodo.ProgrammingError, match="by position"):
            cur.execute("select ?", {"a": 1})
        with pytest.raises(komodo.ProgrammingError, match="cannot bind a parameter of type object"):
            cur.execute("select ?", [object()])


def test_executemany_into_a_temporary_table(conn):
    with conn.cursor() as cur:
        cur.execute("use schema DEMO.HEALTHCARE")
        cur.execute("create temporary table PEOPLE (ID int, NAME varchar)")
        cur.executemany("insert into PEOPLE values (?, ?)", [(1, "ada"), (2, "grace"), (3, "edsger")])
        assert cur.rowcount == 3
        assert cur.execute("select NAME from PEOPLE order by ID").fetchall() == [("ada",), ("grace",), ("edsger",)]


def test_errors_carry_snowflake_code_state_and_query(backend_conn):
    conn = backend_conn
    cur = conn.cursor()
    with pytest.raises(komodo.ProgrammingError) as raised:
        cur.execute(f"select * from DEMO.HEALTHCARE.NO_SUCH_TABLE")
    err = raised.value
    assert err.errno == 2003 and err.sqlstate == "42S02" and err.sfqid
    assert err.query == "select * from DEMO.HEALTHCARE.NO_SUCH_TABLE"
    assert str(err).startswith("002003 (42S02): ")
    with pytest.raises(komodo.ProgrammingError) as raised:
        cur.execute("selec 1")
    assert raised.value.errno == 1003
    # The cursor stays usable.
    assert cur.execute("select 2").fetchone() == (2,)


def test_context_managers_and_closed_connection(home, sp):
    with komodo.get_snowflake_connection(
        client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"],
        database="DEMO", schema="HEALTHCARE",
    ) as connection:
        assert connection.database == "DEMO" and connection.schema == "HEALTHCARE"
        with connection.cursor() as cur:
            assert cur.execute("select count(*) from PATIENTS").fetchone()[0] > 0
        assert cur.closed
        cur = connection.cursor()
        connection.commit()
        connection.rollback()
    assert connection.closed and connection.is_closed()
    with pytest.raises(komodo.InterfaceError, match="already closed"):
        connection.close()  # PEP 249: a closed connection is unusable, close() included
    with pytest.raises(komodo.InterfaceError, match="connection is closed"):
        connection.cursor()
    with pytest.raises(komodo.InterfaceError, match="connection is closed"):
        cur.execute("select 1")
    assert sp["client_secret"] not in repr(connection)


def test_rollback_and_commit_end_a_transaction(conn):
    cur = conn.cursor()
    cur.execute("create database if not exists txn_py")
    cur.execute("create or replace table txn_py.public.t (v int)")
    cur.execute("insert into txn_py.public.t values (1)")
    cur.execute("begin")
    cur.execute("insert into txn_py.public.t values (2)")
    assert count(conn, "select count(*) from txn_py.public.t") == 2
    conn.rollback()
    assert count(conn, "select count(*) from txn_py.public.t") == 1
    cur.execute("alter session set autocommit = false")
    cur.execute("delete from txn_py.public.t")
    conn.commit()
    cur.execute("alter session set autocommit = true")
    assert count(conn, "select count(*) from txn_py.public.t") == 0
    cur.execute("drop database txn_py")


def test_async_execution_and_results_by_query_id(backend_conn):
    conn = backend_conn
    cur = conn.cursor()
    qid = cur.execute_async(f"select count(*) from {CLAIMS}")
    assert qid == cur.sfqid
    while conn.is_still_running(conn.get_query_status(qid)):
        time.sleep(0.05)
    assert conn.get_query_status_throw_if_error(qid) == "SUCCESS"
    other = conn.cursor()
    (n,) = other.get_results_from_sfqid(qid).fetchone()
    assert n == count(conn, f"select count(*) from {CLAIMS}")


def other_account_stays_fast(platform) -> None:
    """Another account's `select 1` is answered within a few seconds, three times."""
    other = platform.other_account_service_principal()
    with komodo.get_snowflake_connection(
        client_id=other["client_id"], client_secret=other["client_secret"], account_id=other["account_id"]
    ) as connection:
        for _ in range(3):
            started = time.monotonic()
            assert connection.cursor().execute("select 1").fetchone() == (1,)
            assert time.monotonic() - started < 10, "another account's select 1 waited"


def test_a_timeout_cancels_the_statement(conn, platform):
    """`execute(timeout=...)` stops a statement whose operators never yield
    where it runs (SECURITY.md F03): no warehouse task is left 2 s later,
    and another account is served meanwhile."""
    cur = conn.cursor()
    errors = []

    def run() -> None:
        try:
            cur.execute(RUNAWAY, timeout=4)
        except komodo.OperationalError as e:
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1)
    other_account_stays_fast(platform)
    worker.join(timeout=60)
    assert len(errors) == 1 and "timeout" in str(errors[0]), errors
    assert errors[0].errno == 604
    platform.assert_warehouse_idle_within(2)
    assert cur.execute("select 3").fetchone() == (3,)


def test_concurrent_cursors_on_one_connection(conn):
    expected = {
        state: n
        for state, n in conn.cursor().execute(f"select STATE, count(*) from {PATIENTS} group by STATE").fetchall()
    }
    states = sorted(expected)[:8]
    results, errors = {}, []

    def work(state: str) -> None:
        try:
            with conn.cursor() as cur:
                for _ in range(5):
                    cur.execute(f"select count(*) from {PATIENTS} where STATE = ?", [state])
                    results[state] = cur.fetchone()[0]
                rows = cur.execute(f"select PATIENT_ID from {PATIENTS} where STATE = ?", [state]).fetchall()
                assert len(rows) == expected[state]
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(s,)) for s in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert results == {s: expected[s] for s in states}


def test_connections_from_many_threads(home, sp):
    errors = []

    def work() -> None:
        try:
            with komodo.get_snowflake_connection(
                client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"]
            ) as connection:
                assert count(connection, "select 7") == 7
        except Exception as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors


# -- Arrow and pandas ----------------------------------------------------------


def test_arrow_results(conn):
    cur = conn.cursor()
    total = count(conn, f"select count(*) from {CLAIMS}")
    cur.execute(f"select CLAIM_ID, CLAIM_AMOUNT, STATUS from {CLAIMS}")
    table = cur.fetch_arrow_all()
    assert isinstance(table, pyarrow.Table) and table.num_rows == total
    assert table.column_names == ["CLAIM_ID", "CLAIM_AMOUNT", "STATUS"]
    assert pyarrow.types.is_decimal(table.schema.field("CLAIM_AMOUNT").type)
    assert cur.fetch_arrow_all() is None and cur.fetch_arrow_all(force_return_table=True).num_rows == 0
    assert cur.fetchall() == []

    cur.execute(f"select CLAIM_ID from {CLAIMS}")
    batches = list(cur.fetch_arrow_batches())
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == total
    assert all(isinstance(b, pyarrow.Table) for b in batches)

    cur.execute(f"select CLAIM_ID from {CLAIMS} where CLAIM_ID < 0")
    assert cur.fetch_arrow_all() is None

    # Rows already fetched one by one stay fetched.
    cur.execute(f"select CLAIM_ID from {CLAIMS} order by CLAIM_ID limit 5")
    assert cur.fetchone() == (1,)
    with pytest.raises(komodo.NotSupportedError):
        cur.fetch_arrow_all()


def test_pandas_results_match_rows(backend_conn):
    conn = backend_conn
    sql = f"select CLAIM_ID, SERVICE_DATE, CLAIM_AMOUNT, PAID_AMOUNT, STATUS from {CLAIMS} order by CLAIM_ID limit 2000"
    rows = conn.cursor().execute(sql).fetchall()
    frame = conn.cursor().execute(sql).fetch_pandas_all()
    assert isinstance(frame, pandas.DataFrame) and list(frame.columns) == ["CLAIM_ID", "SERVICE_DATE", "CLAIM_AMOUNT", "PAID_AMOUNT", "STATUS"]
    assert len(frame) == len(rows) == 2000
    assert frame["CLAIM_ID"].tolist() == [r[0] for r in rows]
    assert frame["STATUS"].tolist() == [r[4] for r in rows]
    assert [None if pandas.isna(v) else v for v in frame["PAID_AMOUNT"]] == [r[3] for r in rows]
    batches = list(conn.cursor().execute(sql).fetch_pandas_batches())
    assert sum(len(b) for b in batches) == 2000
    empty = conn.cursor().execute(f"select CLAIM_ID, STATUS from {CLAIMS} where CLAIM_ID < 0").fetch_pandas_all()
    assert list(empty.columns) == ["CLAIM_ID", "STATUS"] and len(empty) == 0


def test_pandas_read_sql(backend_conn):
    conn = backend_conn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas: "only supports SQLAlchemy"
        frame = pandas.read_sql(
            f"select PATIENT_ID, STATE from {PATIENTS} where STATE = ? order by PATIENT_ID limit 5", conn, params=["NY"]
        )
    assert list(frame.columns) == ["PATIENT_ID", "STATE"]
    assert 0 < len(frame) <= 5 and set(frame["STATE"]) == {"NY"}


# -- Ctrl-C ------------------------------------------------------------------


def test_ctrl_c_cancels_a_running_query(home, sp, platform):
    script = textwrap.dedent(
        f"""
        import sys, time, komodo
        conn = komodo.get_snowflake_connection(client_id={sp['client_id']!r}, client_secret={sp['client_secret']!r},
                                               account_id={sp['account_id']!r})
        cur = conn.cursor()
        print("running", flush=True)
        started = time.monotonic()
        try:
            cur.execute("{RUNAWAY}")
        except KeyboardInterrupt:
            print(f"interrupted after {{time.monotonic() - started:.1f}} s", flush=True)
            print(cur.execute("select 5").fetchone(), flush=True)
            conn.close()
            sys.exit(0)
        print("finished", flush=True)
        sys.exit(1)
        """
    )
    env = dict(os.environ)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "running"
    time.sleep(1.5)
    other_account_stays_fast(platform)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, (out, err)
    lines = out.splitlines()
    assert lines[0].startswith("interrupted after") and lines[1] == "(5,)", out
    platform.assert_warehouse_idle_within(2)


def test_put_and_get_move_files_over_the_gateway(conn, tmp_path):
    # This package's cursor sends PUT's files over the gateway's HTTP (no
    # shared file system needed) and fetches GET's back, with Snowflake's
    # result rows.
    import gzip

    (tmp_path / "a.csv").write_text("1,ann\n2,bo\n")
    (tmp_path / "b.csv").write_text("3,cy\n")
    with conn.cursor() as cur:
        cur.execute("create or replace database py_transfers")
        cur.execute("create table py_transfers.public.people (id int, name varchar)")
        cur.execute(f"PUT 'file://{tmp_path}/*.csv' @~/py_in/ OVERWRITE = TRUE")
        assert [d.name for d in cur.description][:3] == ["source", "target", "source_size"]
        rows = cur.fetchall()
        assert [(r[0], r[1], r[4], r[5], r[6]) for r in rows] == [
            ("a.csv", "a.csv.gz", "NONE", "GZIP", "UPLOADED"),
            ("b.csv", "b.csv.gz", "NONE", "GZIP", "UPLOADED"),
        ]
        assert rows[0][2] == 11
        cur.execute("COPY INTO py_transfers.public.people FROM @~/py_in/ FILE_FORMAT = (TYPE = CSV)")
        assert sorted((r[0], r[1], r[3]) for r in cur.fetchall()) == [
            ("py_in/a.csv.gz", "LOADED", 2),
            ("py_in/b.csv.gz", "LOADED", 1),
        ]
        out = tmp_path / "back"
        cur.execute(f"GET @~/py_in/a.csv.gz 'file://{out}/'")
        assert [(r[0], r[2]) for r in cur.fetchall()] == [("a.csv.gz", "DOWNLOADED")]
        with gzip.open(out / "a.csv.gz", "rt") as f:
            assert f.read() == "1,ann\n2,bo\n"
        with pytest.raises(komodo.InterfaceError, match="missing.csv"):
            cur.execute(f"PUT file://{tmp_path}/missing.csv @~/py_in/")
        cur.execute("drop database py_transfers")
