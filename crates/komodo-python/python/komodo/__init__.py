"""Authenticate with the Komodo platform and query your account's warehouse.

```python
from komodo import get_snowflake_connection

conn = get_snowflake_connection(profile="production")
cur = conn.cursor()
cur.execute("select STATE, count(*) from DEMO.HEALTHCARE.PATIENTS group by STATE")
print(cur.fetchall())
```

Credentials are chosen exactly as the ``komodo`` CLI and the Rust SDK choose
them: explicit arguments, then ``KOMODO_*`` environment variables, then the
``[default]`` profile of ``~/.komodo/credentials`` (written by
``komodo login``), then a web login whose tokens stay in memory.

The package is a PEP 249 (DB-API 2.0) module: ``apilevel``,
``threadsafety``, ``paramstyle``, the standard exceptions, type objects and
constructors are here. ``komodo.write_pandas(conn, df, "TABLE",
auto_create_table=True)`` loads a pandas DataFrame into a table (as Arrow,
in one commit). ``komodo.snowflake_connector`` returns a real
snowflake-connector-python connection instead (``komodo[snowflake]``).

Importing this package touches no global state: no logging configuration,
no warning filters, no network.
"""

from komodo._dbapi import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Connection,
    Cursor,
    Date,
    DateFromTicks,
    QueryStatus,
    ResultMetadata,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    apilevel,
    connect,
    get_snowflake_connection,
    paramstyle,
    threadsafety,
)
from komodo._native import (
    ArgumentError,
    Client,
    CredentialsFileError,
    DatabaseError,
    DataError,
    EmptyArgumentError,
    Error,
    IncompleteClientCredentialsError,
    IntegrityError,
    InterfaceError,
    InternalError,
    KomodoError,
    LoginError,
    LoginRequiredError,
    MissingAccountIdError,
    MixedAuthenticationMethodsError,
    NotSupportedError,
    OperationalError,
    PlatformError,
    ProfileError,
    ProfileNotFoundError,
    ProfileWithAccountIdError,
    ProgrammingError,
    UnsetAccountError,
    Warning,
    __version__,
    validate_arguments,
)
from komodo.pandas_tools import write_pandas

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "ArgumentError",
    "Binary",
    "Client",
    "Connection",
    "CredentialsFileError",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "EmptyArgumentError",
    "Error",
    "IncompleteClientCredentialsError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "KomodoError",
    "LoginError",
    "LoginRequiredError",
    "MissingAccountIdError",
    "MixedAuthenticationMethodsError",
    "NotSupportedError",
    "OperationalError",
    "PlatformError",
    "ProfileError",
    "ProfileNotFoundError",
    "ProfileWithAccountIdError",
    "ProgrammingError",
    "QueryStatus",
    "ResultMetadata",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "UnsetAccountError",
    "Warning",
    "__version__",
    "apilevel",
    "connect",
    "get_snowflake_connection",
    "paramstyle",
    "threadsafety",
    "validate_arguments",
    "write_pandas",
]
