"""A real ``snowflake.connector`` connection to your account's warehouse,
for code that needs the full snowflake-connector-python API.

Install the extra (``pip install 'komodo[snowflake]'``) and change only the
import::

    from komodo.snowflake_connector import get_snowflake_connection

    conn = get_snowflake_connection(profile="production")
    cur = conn.cursor()
    cur.execute("select count(*) from DEMO.HEALTHCARE.CLAIMS where STATUS = ?", ["PAID"])

Credentials are resolved exactly as ``komodo.get_snowflake_connection``
resolves them (arguments, ``KOMODO_*`` variables, the ``[default]`` profile,
then an in-memory web login). The connector then logs in to the Komodo
gateway at the platform's URL with ``authenticator="oauth"`` and the Komodo
access token; the gateway speaks Snowflake's REST protocol. The connector's
default ``paramstyle`` is ``pyformat`` (bound in the client); pass
``paramstyle="qmark"`` to have the warehouse bind ``?`` parameters.

This module imports ``snowflake.connector`` only when a connection is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from komodo import _native
from komodo._native import NotSupportedError

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from snowflake.connector import SnowflakeConnection

__all__ = ["connection_parameters", "get_snowflake_connection"]

# Keyword arguments that this module sets from the resolved credentials.
_RESERVED = frozenset({"host", "port", "protocol", "account", "authenticator", "token", "token_file_path", "user", "password"})


def connection_parameters(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
) -> dict[str, Any]:
    """The keyword arguments of ``snowflake.connector.connect`` that reach
    the Komodo gateway with the resolved credentials: ``host``, ``port``,
    ``protocol``, ``account`` (the account id), ``authenticator="oauth"``
    and ``token`` (a Komodo access token, valid for the login only; the
    session renews itself afterwards).

    The result holds a secret: do not log it.
    """
    api_url, account, token = _native.gateway_login(
        account_id=account_id, jwt=jwt, client_id=client_id, client_secret=client_secret, profile=profile
    )
    url = urlsplit(api_url)
    if url.path not in ("", "/"):
        raise NotSupportedError(
            f"the platform URL {api_url} has a path; snowflake-connector-python reaches only a host's root"
        )
    if url.hostname is None:
        raise NotSupportedError(f"the platform URL {api_url} has no host")
    protocol = url.scheme
    port = url.port if url.port is not None else (443 if protocol == "https" else 80)
    return {
        "host": url.hostname,
        "port": port,
        "protocol": protocol,
        "account": account,
        "authenticator": "oauth",
        "token": token,
    }


def get_snowflake_connection(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
    **connect_kwargs: Any,
) -> SnowflakeConnection:
    """A ``snowflake.connector.SnowflakeConnection`` to your account's
    warehouse through the Komodo gateway.

    The credentials arguments follow the same rules and chain as
    ``komodo.get_snowflake_connection``. Other keyword arguments
    (``database``, ``schema``, ``paramstyle``, ``session_parameters``,
    ``login_timeout``, ...) go to ``snowflake.connector.connect``; the ones
    that choose the server or the credentials are set here and cannot be
    passed.
    """
    reserved = sorted(_RESERVED.intersection(connect_kwargs))
    if reserved:
        raise TypeError(f"get_snowflake_connection() sets {', '.join(reserved)} itself")
    try:
        import snowflake.connector
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise NotSupportedError(
            "snowflake-connector-python is not installed: pip install 'komodo[snowflake]'"
        ) from err
    parameters = connection_parameters(account_id, jwt, client_id, client_secret, profile)
    return snowflake.connector.connect(**parameters, **connect_kwargs)
