"""``write_pandas``: a pandas DataFrame into a table of the account's
warehouse, with the signature and result of
``snowflake.connector.pandas_tools.write_pandas``.

The DataFrame goes to Arrow with pyarrow, then as one Arrow IPC stream to
the platform, which loads it in one commit: no CSV, no stage, no ``COPY``.
pandas and pyarrow are imported only when ``write_pandas`` is called.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

from komodo import _native
from komodo._dbapi import Connection

if TYPE_CHECKING:
    import pandas

__all__ = ["write_pandas"]

#: Rows per Arrow record batch when ``chunk_size`` is not given.
DEFAULT_CHUNK_ROWS = 65_536

#: One row of ``write_pandas``'s ``output`` per chunk, as Snowflake's
#: ``COPY INTO`` reports a file: ``(file, status, rows_parsed, rows_loaded,
#: error_limit, errors_seen, first_error, first_error_line,
#: first_error_character, first_error_column_name)``.
ChunkResult = tuple[str, str, int, int, int, int, Optional[str], Optional[int], Optional[int], Optional[str]]


def _identifier(name: str, quote: bool) -> str:
    """``name`` as a part of the table's name: quoted as written, or bare
    (which the warehouse upper-cases, as Snowflake does)."""
    if quote:
        return '"' + name.replace('"', '""') + '"'
    return name


def write_pandas(
    conn: Connection,
    df: pandas.DataFrame,
    table_name: str,
    database: Optional[str] = None,
    schema: Optional[str] = None,
    chunk_size: Optional[int] = None,
    compression: str = "gzip",
    on_error: str = "abort_statement",
    parallel: int = 4,
    quote_identifiers: bool = True,
    auto_create_table: bool = False,
    create_temp_table: bool = False,
    overwrite: bool = False,
    table_type: str = "",
    use_logical_type: Optional[bool] = None,
    **kwargs: Any,
) -> tuple[bool, int, int, Sequence[ChunkResult]]:
    """Writes ``df`` into ``table_name`` of the account's warehouse; returns
    ``(success, nchunks, nrows, output)`` like
    ``snowflake.connector.pandas_tools.write_pandas``.

    - ``conn``: a connection from ``komodo.get_snowflake_connection``.
    - ``table_name`` in ``database``.``schema`` when given, else in the
      session's current database and schema. With ``quote_identifiers``
      (the default) the table's and the columns' names are used exactly as
      written; without it they are upper-cased, as Snowflake reads
      unquoted names.
    - ``auto_create_table``: create a missing table from the DataFrame's
      columns; ``overwrite``: replace the table's rows instead of appending
      (the table keeps its columns).
    - ``chunk_size``: rows per Arrow record batch (default 65,536;
      ``nchunks`` counts them); every chunk is loaded in the same commit, so
      a load that fails leaves the table as it was.

    The columns are matched to the table's by name (exactly, then ignoring
    case) and their values cast to the columns' types; columns of the table
    the DataFrame lacks are left NULL. ``compression``, ``on_error``,
    ``parallel`` and ``use_logical_type`` are accepted for compatibility and
    change nothing (the data travels as Arrow, and a load stops at its first
    error). Temporary tables are not supported.
    """
    del compression, parallel, use_logical_type
    if not isinstance(conn, Connection):
        raise TypeError(
            "write_pandas needs a connection from komodo.get_snowflake_connection(), "
            f"not {type(conn).__module__}.{type(conn).__qualname__}"
        )
    if kwargs:
        raise TypeError(f"write_pandas() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
    if database is not None and schema is None:
        raise _native.ProgrammingError("Schema has to be provided to write_pandas when a database is provided")
    if create_temp_table or table_type.strip().lower() in ("temp", "temporary"):
        raise _native.NotSupportedError(
            "write_pandas cannot create a temporary table here: write to a permanent table and drop it afterwards"
        )
    if table_type.strip().lower() not in ("", "transient"):
        raise _native.ProgrammingError(f"Unsupported table type {table_type!r}: use '', 'transient' or 'temp'")
    if on_error.strip().lower() not in ("abort_statement", "abort"):
        raise _native.NotSupportedError(
            f"on_error={on_error!r} is not supported: a load stops at its first error and writes nothing"
        )
    if chunk_size is not None and chunk_size <= 0:
        raise _native.ProgrammingError("chunk_size must be a positive number of rows")
    if conn.closed:
        raise _native.InterfaceError("the connection is closed")

    import pyarrow

    names = [str(c) for c in df.columns]
    if not quote_identifiers:
        names = [n.upper() for n in names]
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise _native.ProgrammingError(f"the DataFrame's column names repeat: {', '.join(repeated)}")
    table = pyarrow.Table.from_pandas(df, preserve_index=False)
    table = table.rename_columns(names)
    rows = table.num_rows
    # Batches of a bounded size: the platform streams them one at a time.
    batches = table.to_batches(max_chunksize=chunk_size or DEFAULT_CHUNK_ROWS)
    sink = pyarrow.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    data = sink.getvalue().to_pybytes()

    parts = [p for p in (database, schema, table_name) if p is not None]
    name = ".".join(_identifier(p, quote_identifiers) for p in parts)
    summary = conn._native.load_bytes(name, data, "arrow", create=auto_create_table, overwrite=overwrite)
    loaded = int(summary["rows_loaded"])
    output: list[ChunkResult] = [
        (f"chunk_{i}.arrow", "LOADED", batch.num_rows, batch.num_rows, 1, 0, None, None, None, None)
        for i, batch in enumerate(batches)
    ]
    return loaded == rows, len(batches), loaded, output
