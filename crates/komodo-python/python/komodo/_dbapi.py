"""The PEP 249 (DB-API 2.0) surface of the package: module globals, type
objects and constructors, and the `Connection` and `Cursor` that wrap the
native warehouse client.

The native half runs every statement and fetch with the GIL released (one
tokio runtime per process) and stops at Ctrl-C, aborting the running query.
This half adds what PEP 249 asks of Python objects (iteration, context
managers, ``arraysize``, closed-state errors) and the pyarrow and pandas
helpers, whose libraries it imports only when those methods are called.
"""

from __future__ import annotations

import datetime as _dt
import time as _time

from komodo import _native
from komodo._native import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)

# `typing` (and the `re` it imports) is for type checkers only: importing
# komodo stays cheap.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from collections.abc import Iterator, Sequence
    from typing import Any, NamedTuple, Optional

    import pandas
    import pyarrow

    _Parameters = Optional[Sequence[Any]]

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "QueryStatus",
    "ResultMetadata",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "get_snowflake_connection",
    "paramstyle",
    "threadsafety",
]

#: PEP 249: the DB-API level supported.
apilevel = "2.0"

#: PEP 249: threads may share the module and connections, not cursors. A
#: connection runs each cursor's statements independently, so one cursor per
#: thread over a shared connection is the intended use.
threadsafety = 2

#: PEP 249: parameters are bound by the warehouse, by position: ``?``
#: placeholders (qmark) take the parameters in order; numeric ``:1``, ``:2``
#: placeholders are accepted too. Parameters are a sequence, never a mapping,
#: and no value is ever spliced into the SQL text.
paramstyle = "qmark"

# Snowflake's column type codes, as ``description[i].type_code`` reports them
# (the same numbers snowflake-connector-python uses, so code written against
# its ``FIELD_ID_TO_NAME`` keeps working).
_TYPE_CODES = {
    "FIXED": 0,
    "REAL": 1,
    "TEXT": 2,
    "DATE": 3,
    "TIMESTAMP": 4,
    "VARIANT": 5,
    "TIMESTAMP_LTZ": 6,
    "TIMESTAMP_TZ": 7,
    "TIMESTAMP_NTZ": 8,
    "OBJECT": 9,
    "ARRAY": 10,
    "BINARY": 11,
    "TIME": 12,
    "BOOLEAN": 13,
}


class _TypeObject:
    """A PEP 249 type object: equal to each type code (or Snowflake type
    name) of its group, so ``description[i][1] == komodo.NUMBER`` works."""

    __slots__ = ("_codes", "_name", "_names")
    __hash__ = None  # type: ignore[assignment]  # equality is many-to-one

    def __init__(self, name: str, *type_names: str) -> None:
        self._name = name
        self._names = frozenset(type_names)
        self._codes = frozenset(_TYPE_CODES[t] for t in type_names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):
            return False
        if isinstance(other, int):
            return other in self._codes
        if isinstance(other, str):
            return other.upper() in self._names
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __repr__(self) -> str:
        return f"komodo.{self._name}"


#: Text columns, and semi-structured ones (returned as JSON text).
STRING = _TypeObject("STRING", "TEXT", "VARIANT", "OBJECT", "ARRAY")
#: Binary columns.
BINARY = _TypeObject("BINARY", "BINARY")
#: Numeric columns: ``NUMBER``/``DECIMAL``/integers (``FIXED``) and floats (``REAL``).
NUMBER = _TypeObject("NUMBER", "FIXED", "REAL")
#: Dates, times and timestamps of every flavour.
DATETIME = _TypeObject("DATETIME", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIMESTAMP_NTZ")
#: Row ids: Snowflake has none, so no column compares equal to it.
ROWID = _TypeObject("ROWID")

#: PEP 249 constructors.
Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> _dt.date:  # noqa: N802 - PEP 249 name
    """The local date of ``ticks`` seconds since the epoch."""
    return Date(*_time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> _dt.time:  # noqa: N802 - PEP 249 name
    """The local time of day of ``ticks`` seconds since the epoch."""
    return Time(*_time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> _dt.datetime:  # noqa: N802 - PEP 249 name
    """The local date and time of ``ticks`` seconds since the epoch."""
    return Timestamp(*_time.localtime(ticks)[:6])


if TYPE_CHECKING:

    class ResultMetadata(NamedTuple):
        """One column of ``Cursor.description``."""

        name: str
        type_code: int
        display_size: Optional[int]
        internal_size: Optional[int]
        precision: Optional[int]
        scale: Optional[int]
        is_nullable: bool

else:

    class ResultMetadata(tuple):
        """One column of ``Cursor.description``: PEP 249's seven items, with
        snowflake-connector-python's field names (a named tuple; written out
        so that importing komodo does not import ``collections``)."""

        __slots__ = ()
        _fields = ("name", "type_code", "display_size", "internal_size", "precision", "scale", "is_nullable")

        def __new__(cls, name, type_code, display_size, internal_size, precision, scale, is_nullable):
            return tuple.__new__(cls, (name, type_code, display_size, internal_size, precision, scale, is_nullable))

        def __getnewargs__(self):
            return tuple(self)

        def _asdict(self):
            return dict(zip(self._fields, self))

        def __repr__(self):
            fields = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self))
            return f"ResultMetadata({fields})"

        name = property(lambda self: self[0], doc="The column's name.")
        type_code = property(lambda self: self[1], doc="Snowflake's type code (see the type objects).")
        display_size = property(lambda self: self[2], doc="Always None.")
        internal_size = property(lambda self: self[3], doc="The maximum length of text or binary.")
        precision = property(lambda self: self[4], doc="The precision of a number.")
        scale = property(lambda self: self[5], doc="The scale of a number, time or timestamp.")
        is_nullable = property(lambda self: self[6], doc="Whether the column may hold NULL.")

    ResultMetadata.__module__ = "komodo"


class QueryStatus:
    """Status names of an asynchronous query (Snowflake's, as strings)."""

    RUNNING = "RUNNING"
    QUEUED = "QUEUED"
    SUCCESS = "SUCCESS"
    FAILED_WITH_ERROR = "FAILED_WITH_ERROR"
    ABORTING = "ABORTING"
    ABORTED = "ABORTED"
    NO_DATA = "NO_DATA"

    _STILL_RUNNING = frozenset({"RUNNING", "QUEUED", "RESUMING_WAREHOUSE", "QUEUED_REPARING_WAREHOUSE", "BLOCKED", "NO_DATA"})
    _ERRORS = frozenset({"ABORTING", "FAILED_WITH_ERROR", "ABORTED", "FAILED_WITH_INCIDENT", "DISCONNECTED"})


def _positional(parameters: _Parameters) -> Optional[Sequence[Any]]:
    if parameters is None or isinstance(parameters, (list, tuple)):
        return parameters
    if isinstance(parameters, (str, bytes, bytearray)) or hasattr(parameters, "keys") or not hasattr(parameters, "__iter__"):
        raise ProgrammingError(
            "parameters are bound by position (paramstyle 'qmark': `?`, or numeric `:1`): "
            f"pass a list or tuple, not {type(parameters).__name__}"
        )
    return tuple(parameters)


def _import_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise NotSupportedError("pyarrow is not installed: pip install 'komodo[arrow]'") from err
    return pyarrow


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise NotSupportedError("pandas is not installed: pip install 'komodo[pandas]'") from err
    return pandas


class Cursor:
    """A PEP 249 cursor: runs statements on its connection's session and
    fetches their results, as Python rows, Arrow tables or pandas frames.

    One thread at a time may use a cursor; use one cursor per thread to run
    statements concurrently over the same connection.
    """

    #: PEP 249: the default number of rows ``fetchmany()`` returns.
    arraysize: int

    def __init__(self, connection: Connection, native: _native.Cursor) -> None:
        self._connection = connection
        self._native = native
        self._description: Optional[list[ResultMetadata]] = None
        self._closed = False
        self.arraysize = 1

    # -- state ---------------------------------------------------------------

    @property
    def connection(self) -> Connection:
        """PEP 249 extension: the connection this cursor belongs to."""
        return self._connection

    @property
    def description(self) -> Optional[list[ResultMetadata]]:
        """The result's columns, or ``None`` before a statement ran (and
        after ``execute_async``, until its results are fetched)."""
        if self._description is None:
            columns = self._native.description
            if columns is not None:
                self._description = [ResultMetadata(*column) for column in columns]
        return self._description

    @property
    def rowcount(self) -> int:
        """The number of rows the last statement produced or changed, or
        ``-1`` when there is none."""
        count = self._native.rowcount
        return -1 if count is None else count

    @property
    def sfqid(self) -> Optional[str]:
        """The query id of the last statement (Snowflake's ``sfqid``)."""
        return self._native.sfqid

    @property
    def query_id(self) -> Optional[str]:
        """The query id of the last statement; the same as ``sfqid``."""
        return self._native.sfqid

    @property
    def sqlstate(self) -> Optional[str]:
        """The SQLSTATE of the last statement, if the warehouse sent one."""
        return self._native.sqlstate

    @property
    def rownumber(self) -> Optional[int]:
        """PEP 249 extension: the 0-based index of the next row, or ``None``."""
        return self._native.rownumber

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (on this cursor or its connection)."""
        return self._closed or self._connection.closed

    def _check_open(self) -> None:
        if self._closed:
            raise InterfaceError("the cursor is closed")
        if self._connection.closed:
            raise InterfaceError("the connection is closed")

    # -- statements ----------------------------------------------------------

    def execute(self, operation: str, parameters: _Parameters = None, *, timeout: Optional[float] = None) -> Cursor:
        """Runs one statement and waits for its result (Ctrl-C aborts it).

        ``parameters`` is a sequence bound to ``?`` (or ``:1``, ``:2``)
        placeholders by the warehouse. ``timeout`` aborts the statement after
        that many seconds. Returns the cursor, so ``cur.execute(...).fetchall()``
        works.
        """
        self._check_open()
        self._description = None
        self._native.execute(operation, _positional(parameters), timeout)
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> Cursor:
        """Runs ``operation`` once per parameter sequence, in order; ``rowcount``
        is the total of the rows they changed."""
        self._check_open()
        self._description = None
        self._native.executemany(operation, [_positional(p) or () for p in seq_of_parameters])
        return self

    def execute_async(self, operation: str, parameters: _Parameters = None) -> str:
        """Submits a statement without waiting for it and returns its query
        id; the statement runs on even if this cursor is closed. Fetch its
        result later with ``get_results_from_sfqid``."""
        self._check_open()
        self._description = None
        return self._native.execute_async(operation, _positional(parameters))

    def get_results_from_sfqid(self, sfqid: str) -> Cursor:
        """Waits for the query ``sfqid`` (started by ``execute_async`` on any
        connection of the same account) and makes its result this cursor's."""
        self._check_open()
        self._description = None
        self._native.get_results_from_sfqid(sfqid)
        return self

    def query_result(self, sfqid: str) -> Cursor:
        """The same as ``get_results_from_sfqid``."""
        return self.get_results_from_sfqid(sfqid)

    def abort_query(self, sfqid: str) -> bool:
        """Aborts the query ``sfqid``; whether the warehouse accepted the abort."""
        self._check_open()
        return self._connection._native.abort_query(sfqid)

    def cancel(self) -> None:
        """Aborts the statement this cursor is running (from another thread)."""
        self._native.cancel()

    def callproc(self, procname: str, parameters: _Parameters = None) -> Any:
        """Not supported: the warehouse has no stored procedures."""
        raise NotSupportedError("stored procedures are not supported")

    def nextset(self) -> None:
        """Multiple result sets are not supported: always ``None``."""
        self._check_open()
        return None

    def setinputsizes(self, sizes: Any) -> None:
        """PEP 249: accepted and ignored."""

    def setoutputsize(self, size: Any, column: Optional[int] = None) -> None:
        """PEP 249: accepted and ignored."""

    # -- rows ----------------------------------------------------------------

    def fetchone(self) -> Optional[tuple[Any, ...]]:
        """The next row, or ``None`` when the result is exhausted."""
        self._check_open()
        return self._native.fetchone()

    def fetchmany(self, size: Optional[int] = None) -> list[tuple[Any, ...]]:
        """Up to ``size`` rows (``arraysize`` by default); fewer, then none,
        as the result runs out."""
        self._check_open()
        count = self.arraysize if size is None else size
        if count < 0:
            raise ProgrammingError(f"fetchmany size must not be negative, got {count}")
        return self._native.fetchmany(count)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
        self._check_open()
        return self._native.fetchall()

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> tuple[Any, ...]:
        self._check_open()
        row = self._native.fetchone()
        if row is None:
            raise StopIteration
        return row

    # -- Arrow and pandas ----------------------------------------------------

    def fetch_arrow_batches(self) -> Iterator[pyarrow.Table]:
        """The remaining rows as Arrow tables, one per batch the warehouse
        sent, handed to pyarrow without a copy. Needs ``komodo[arrow]``."""
        self._check_open()
        pa = _import_pyarrow()
        while True:
            batch = self._native.fetch_arrow_batch()
            if batch is None:
                return
            yield pa.Table.from_batches([pa.record_batch(batch)])

    def fetch_arrow_all(self, force_return_table: bool = False) -> Optional[pyarrow.Table]:
        """The remaining rows as one Arrow table, handed to pyarrow without a
        copy; ``None`` when there are none unless ``force_return_table``.
        Needs ``komodo[arrow]``."""
        self._check_open()
        pa = _import_pyarrow()
        stream = self._native.fetch_arrow_all()
        table = pa.RecordBatchReader.from_stream(stream).read_all()
        if table.num_rows == 0 and not force_return_table:
            return None
        return table

    def fetch_pandas_batches(self, **to_pandas: Any) -> Iterator[pandas.DataFrame]:
        """The remaining rows as pandas DataFrames, one per batch; keyword
        arguments go to ``pyarrow.Table.to_pandas``. Needs ``komodo[pandas]``."""
        _import_pandas()
        for table in self.fetch_arrow_batches():
            yield table.to_pandas(**to_pandas)

    def fetch_pandas_all(self, **to_pandas: Any) -> pandas.DataFrame:
        """The remaining rows as one pandas DataFrame (with the result's
        columns even when empty); keyword arguments go to
        ``pyarrow.Table.to_pandas``. Needs ``komodo[pandas]``."""
        _import_pandas()
        table = self.fetch_arrow_all(force_return_table=True)
        assert table is not None
        return table.to_pandas(**to_pandas)

    # -- lifetime ------------------------------------------------------------

    def close(self) -> None:
        """Closes the cursor; later calls raise ``InterfaceError``. An
        asynchronous query it started runs on."""
        if not self._closed:
            self._closed = True
            self._native.close()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<komodo.Cursor {state} sfqid={self._native.sfqid!r}>"


class Connection:
    """A PEP 249 connection to the account's warehouse through the Komodo
    gateway: one warehouse session, shared by the cursors it creates.

    Statements commit as they run (the warehouse's sessions are in
    autocommit mode), so ``commit()`` and ``rollback()`` do nothing.
    """

    Error = Error
    Warning = Warning
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, native: _native.Connection) -> None:
        self._native = native

    @property
    def account_id(self) -> str:
        """The account whose warehouse this connection reaches."""
        return self._native.account_id

    @property
    def session_id(self) -> int:
        """The warehouse session's id."""
        return self._native.session_id

    @property
    def database(self) -> Optional[str]:
        """The session's current database."""
        return self._native.database

    @property
    def schema(self) -> Optional[str]:
        """The session's current schema."""
        return self._native.schema

    @property
    def closed(self) -> bool:
        """Whether the connection was closed."""
        return self._native.closed

    def is_closed(self) -> bool:
        """Whether the connection was closed (snowflake-connector-python's name)."""
        return self._native.closed

    def cursor(self) -> Cursor:
        """A new cursor on this connection."""
        if self._native.closed:
            raise InterfaceError("the connection is closed")
        return Cursor(self, self._native.cursor())

    def get_query_status(self, sfqid: str) -> str:
        """The status of the query ``sfqid``: ``"RUNNING"``, ``"SUCCESS"``,
        ``"FAILED_WITH_ERROR"``, ``"ABORTED"``, ... (Snowflake's names)."""
        if self._native.closed:
            raise InterfaceError("the connection is closed")
        return self._native.query_status(sfqid)

    def get_query_status_throw_if_error(self, sfqid: str) -> str:
        """``get_query_status``, raising ``ProgrammingError`` for a failed query."""
        status = self.get_query_status(sfqid)
        if status in QueryStatus._ERRORS:
            raise ProgrammingError(f"query {sfqid} ended with status {status}")
        return status

    @staticmethod
    def is_still_running(status: str) -> bool:
        """Whether a status from ``get_query_status`` means the query has not finished."""
        return status in QueryStatus._STILL_RUNNING

    @staticmethod
    def is_an_error(status: str) -> bool:
        """Whether a status from ``get_query_status`` means the query failed."""
        return status in QueryStatus._ERRORS

    def commit(self) -> None:
        """Nothing to do: every statement commits as it runs."""
        if self._native.closed:
            raise InterfaceError("the connection is closed")

    def rollback(self) -> None:
        """Nothing to undo: every statement commits as it runs."""
        if self._native.closed:
            raise InterfaceError("the connection is closed")

    def close(self) -> None:
        """Ends the warehouse session; its cursors close with it. Closing
        twice is harmless."""
        self._native.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._native.closed else "open"
        return f"<komodo.Connection {state} account_id={self._native.account_id!r}>"


def get_snowflake_connection(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
    *,
    database: Optional[str] = None,
    schema: Optional[str] = None,
) -> Connection:
    """A PEP 249 connection to your account's warehouse.

    Credentials are resolved like the CLI resolves them: these arguments
    (``jwt`` + ``account_id``; ``client_id`` + ``client_secret`` +
    ``account_id``; ``profile``), then the ``KOMODO_*`` environment
    variables, then the ``[default]`` profile written by ``komodo login``,
    then a web login whose tokens stay in memory. Breaking one of the rules
    raises its ``ValueError`` subclass before any I/O.

    ``database`` and ``schema`` set the session's starting namespace.
    """
    native = _native.connect(
        account_id=account_id,
        jwt=jwt,
        client_id=client_id,
        client_secret=client_secret,
        profile=profile,
        database=database,
        schema=schema,
    )
    return Connection(native)


#: PEP 249's constructor name for ``get_snowflake_connection``.
connect = get_snowflake_connection
