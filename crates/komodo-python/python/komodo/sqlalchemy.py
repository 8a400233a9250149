"""A SQLAlchemy dialect for your account's warehouse: ``komodo://`` URLs.

Install the extra (``pip install 'komodo[sqlalchemy]'``) and name the
credentials in the URL's query, as ``komodo.get_snowflake_connection``
takes them::

    from sqlalchemy import create_engine
    import pandas as pd

    engine = create_engine("komodo://?profile=production")
    engine = create_engine("komodo:///DEMO/HEALTHCARE?account_id=...&client_id=...&client_secret=...")
    pd.read_sql("select STATE, count(*) from PATIENTS group by STATE", engine)

The URL's path names the current database and schema
(``komodo:///DATABASE/SCHEMA``; or the ``database`` and ``schema`` query
parameters). The query parameters ``account_id``, ``jwt``, ``client_id``,
``client_secret`` and ``profile`` choose the credentials; without any, the
chain of ``komodo.get_snowflake_connection`` applies (``KOMODO_*``
variables, the ``[default]`` profile, an in-memory web login). Any other
query parameter (``paramstyle``, ``login_timeout``, ...) goes to
``snowflake.connector.connect``.

The dialect is snowflake-sqlalchemy's, over the connection
``komodo.snowflake_connector.get_snowflake_connection`` makes: every
pooled connection resolves the credentials when it opens, so a long-lived
engine keeps working as access tokens expire. A ``komodo://`` URL carries
a secret when it names ``client_secret`` or ``jwt``: do not log it.
"""

from __future__ import annotations

from typing import Any

from komodo import snowflake_connector
from komodo._native import NotSupportedError

try:
    from snowflake.sqlalchemy.snowdialect import SnowflakeDialect
except ImportError as err:  # pragma: no cover - depends on the environment
    raise NotSupportedError(
        "snowflake-sqlalchemy is not installed: pip install 'komodo[sqlalchemy]'"
    ) from err

__all__ = ["KomodoDialect", "dialect"]

#: The query parameters that choose the credentials.
CREDENTIAL_PARAMETERS = ("account_id", "jwt", "client_id", "client_secret", "profile")

# What snowflake-sqlalchemy's URLs may name that a komodo:// URL cannot:
# the platform and the credentials are chosen by the parameters above.
_REFUSED = frozenset({"host", "port", "protocol", "account", "authenticator", "token", "user", "password"})


class KomodoDialect(SnowflakeDialect):
    """snowflake-sqlalchemy's dialect, connecting through the Komodo
    gateway with the Komodo credential chain."""

    name = "komodo"
    driver = "komodo"
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        """snowflake-connector-python, whose errors and types the
        connections of ``komodo.snowflake_connector`` use."""
        return SnowflakeDialect.import_dbapi()

    def create_connect_args(self, url: Any) -> tuple[list[Any], dict[str, Any]]:
        if url.username or url.password or url.host or url.port:
            raise NotSupportedError(
                "a komodo:// URL names no user, password, host or port: write komodo://?profile=NAME "
                "(or account_id=, client_id=, client_secret=, jwt= query parameters)"
            )
        refused = sorted(_REFUSED.intersection(url.query))
        if refused:
            raise NotSupportedError(
                f"a komodo:// URL cannot set {', '.join(refused)}: the credentials parameters choose the "
                "platform and the login"
            )
        path = [part for part in (url.database or "").split("/") if part]
        if len(path) > 2:
            raise NotSupportedError("the URL's path names at most a database and a schema: komodo:///DATABASE/SCHEMA")
        # snowflake-sqlalchemy's own reading of the rest: the path as the
        # database and schema, its dialect options, typed query parameters.
        return super().create_connect_args(url.set(database="/".join(path) or None))

    def has_table(self, connection: Any, table_name: str, schema: Any = None, **kw: Any) -> bool:
        """Whether the table exists, asked with ``SHOW TABLES LIKE``: one
        round trip, and no error to catch for a table that is not there
        (snowflake-sqlalchemy asks ``DESC TABLE`` and catches the error)."""
        from sqlalchemy import text

        name = self.denormalize_name(table_name)
        scope = ""
        if schema is not None:
            scope = " IN " + ".".join(self.identifier_preparer.quote_identifier(p) for p in str(schema).split("."))
        pattern = name.replace("\\", "\\\\").replace("'", "''")
        rows = connection.execute(text(f"SHOW TABLES LIKE '{pattern}'{scope}")).fetchall()
        return any(row[1] == name for row in rows if len(row) > 1) or any(name in tuple(row) for row in rows)

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        credentials = {name: cparams.pop(name) for name in CREDENTIAL_PARAMETERS if name in cparams}
        return snowflake_connector.get_snowflake_connection(**credentials, **cparams)


dialect = KomodoDialect
