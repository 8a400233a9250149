"""The PEP 249 compliance suite (``dbapi20``, from PyPI's
``dbapi-compliance``) against this package: its DDL hooks create and drop
permanent tables in a database of the account's own, and every test opens
its own connections through the platform, as the suite means it to."""

from __future__ import annotations

import dbapi20
import pytest

import komodo


@pytest.fixture(scope="class", autouse=True)
def _account(request, platform, tmp_path_factory):
    sp = platform.service_principal("py-dbapi20")
    credentials = dict(client_id=sp["client_id"], client_secret=sp["client_secret"], account_id=sp["account_id"])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(tmp_path_factory.mktemp("dbapi20-home")))
        env.setenv("KOMODO_API_URL", platform.url)
        env.setenv("BROWSER", "none")
        with komodo.connect(**credentials) as conn:
            conn.cursor().execute("create or replace database DBAPI20")
        request.cls.connect_kw_args = dict(credentials, database="DBAPI20", schema="PUBLIC")
        yield
        with komodo.connect(**credentials) as conn:
            conn.cursor().execute("drop database if exists DBAPI20")


class TestKomodoDbApi20(dbapi20.DatabaseAPI20Test):
    """The suite as it is, but where Snowflake's connectors (and so this
    package) answer otherwise on purpose: a DDL statement returns one
    status row (``Table X successfully created.``), so after it
    ``description`` is that column, ``rowcount`` is 1 and the row can be
    fetched, where the suite expects no result. Those four tests are
    restated with Snowflake's answer and the suite's other checks."""

    driver = komodo
    connect_args = ()
    connect_kw_args: dict = {}

    def _status_row(self, cur):
        assert [d[0] for d in cur.description] == ["status"]
        assert cur.rowcount == 1
        (row,) = cur.fetchall()
        assert "successfully" in row[0] or "already exists" in row[0], row

    def test_description(self):
        con = self._connect()
        try:
            cur = con.cursor()
            assert cur.description is None, "no description before a statement"
            self.executeDDL1(cur)
            self._status_row(cur)
            cur.execute(f"select name from {self.table_prefix}booze")
            assert len(cur.description) == 1
            assert cur.description[0][0].lower() == "name"
            assert cur.description[0][1] == self.driver.STRING
            self.executeDDL2(cur)
            self._status_row(cur)
        finally:
            con.close()

    def test_rowcount(self):
        con = self._connect()
        try:
            cur = con.cursor()
            assert cur.rowcount == -1, "rowcount is -1 before a statement"
            self.executeDDL1(cur)
            self._status_row(cur)
            cur.execute(f"{self.insert} into {self.table_prefix}booze values ('Victoria Bitter')")
            assert cur.rowcount == 1
            cur.execute(f"select name from {self.table_prefix}booze")
            assert cur.rowcount in (-1, 1)
            self.executeDDL2(cur)
            self._status_row(cur)
        finally:
            con.close()

    def test_fetchone(self):
        con = self._connect()
        try:
            cur = con.cursor()
            with pytest.raises(self.driver.Error):
                cur.fetchone()
            self.executeDDL1(cur)
            assert cur.fetchone() is not None and cur.fetchone() is None, "one status row"
            cur.execute(f"select name from {self.table_prefix}booze")
            assert cur.fetchone() is None and cur.rowcount in (-1, 0)
            cur.execute(f"{self.insert} into {self.table_prefix}booze values ('Victoria Bitter')")
            cur.execute(f"select name from {self.table_prefix}booze")
            assert cur.fetchone() == ("Victoria Bitter",)
            assert cur.fetchone() is None and cur.rowcount in (-1, 1)
        finally:
            con.close()

    def test_fetchall(self):
        con = self._connect()
        try:
            cur = con.cursor()
            with pytest.raises(self.driver.Error):
                cur.fetchall()
            self.executeDDL1(cur)
            assert len(cur.fetchall()) == 1, "one status row"
            for sql in self._populate():
                cur.execute(sql)
            cur.execute(f"select name from {self.table_prefix}booze")
            rows = [r[0] for r in cur.fetchall()]
            assert cur.rowcount in (-1, len(self.samples))
            assert sorted(rows) == sorted(self.samples)
            assert cur.fetchall() == [], "nothing left after fetchall"
            assert cur.rowcount in (-1, len(self.samples))
            self.executeDDL2(cur)
            cur.execute(f"select name from {self.table_prefix}barflys")
            assert cur.fetchall() == [] and cur.rowcount in (-1, 0)
        finally:
            con.close()

    def test_ddl_hooks_make_permanent_tables(self):
        # The suite's tables are the account's own, seen by other sessions.
        con = self._connect()
        try:
            self.executeDDL1(con.cursor())
            with self._connect() as other:
                cur = other.cursor()
                cur.execute("select table_type from information_schema.tables where table_name = 'DBAPI20TEST_BOOZE'")
                assert cur.fetchall() == [("BASE TABLE",)]
        finally:
            con.close()

    def test_callproc(self):
        # The warehouse has no stored procedures: PEP 249 lets callproc say so.
        con = self._connect()
        try:
            with pytest.raises(komodo.NotSupportedError):
                con.cursor().callproc(self.lower_func, ("FOO",))
        finally:
            con.close()

    def test_nextset(self):
        # One result per statement: there is never a next set.
        con = self._connect()
        try:
            cur = con.cursor()
            cur.execute("select 1")
            assert cur.nextset() is None
        finally:
            con.close()

    def test_setoutputsize(self):
        # Accepted and ignored, as PEP 249 allows.
        con = self._connect()
        try:
            cur = con.cursor()
            cur.setoutputsize(1000)
            cur.setoutputsize(2000, 0)
            self._paraminsert(cur)  # makes its table, writes and checks the rows
        finally:
            con.close()
