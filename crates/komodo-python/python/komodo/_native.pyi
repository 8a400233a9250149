"""Type stubs of the native module ``komodo._native``."""

import os
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union, final

__version__: str
__all__ = [
    "__version__",
    "ArgumentError",
    "ArrowBatch",
    "ArrowStream",
    "Connection",
    "Cursor",
    "connect",
    "Client",
    "CredentialsFileError",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Warning",
    "gateway_login",
    "EmptyArgumentError",
    "IncompleteClientCredentialsError",
    "KomodoError",
    "LoginError",
    "LoginRequiredError",
    "MissingAccountIdError",
    "MixedAuthenticationMethodsError",
    "PlatformError",
    "ProfileError",
    "ProfileNotFoundError",
    "ProfileWithAccountIdError",
    "UnsetAccountError",
    "main",
    "validate_arguments",
]

class KomodoError(Exception):
    """The base class of the komodo package's errors."""

class Warning(Exception):
    """PEP 249: an important warning (never raised by komodo itself)."""

class Error(KomodoError):
    """PEP 249: the base class of every database and interface error."""

    errno: Optional[int]
    sqlstate: Optional[str]
    sfqid: Optional[str]
    query: Optional[str]

class InterfaceError(Error):
    """PEP 249: an error of the client rather than the warehouse."""

class DatabaseError(Error):
    """PEP 249: an error of the warehouse."""

class DataError(DatabaseError):
    """PEP 249: a problem with the data (a value out of range, ...)."""

class OperationalError(DatabaseError):
    """PEP 249: the warehouse's operation failed (lost connection, cancelled or timed-out statement, ...)."""

class IntegrityError(DatabaseError):
    """PEP 249: a constraint was violated."""

class InternalError(DatabaseError):
    """PEP 249: the warehouse hit an internal error."""

class ProgrammingError(DatabaseError):
    """PEP 249: a SQL error (syntax, unknown table, wrong number of parameters, ...)."""

class NotSupportedError(DatabaseError):
    """PEP 249: a method or feature that is not supported."""

class ArgumentError(ValueError):
    """Credentials passed (or set in KOMODO_* variables) break one of the rules."""

class MixedAuthenticationMethodsError(ArgumentError):
    """Two authentication methods were mixed."""

class ProfileWithAccountIdError(ArgumentError):
    """A profile was combined with an account id."""

class IncompleteClientCredentialsError(ArgumentError):
    """Only half of the client credentials."""

class MissingAccountIdError(ArgumentError):
    """A JWT or client credentials without an account id."""

class EmptyArgumentError(ArgumentError):
    """An empty string where a value is expected."""

class UnsetAccountError(InterfaceError):
    """No account is selected."""

class ProfileNotFoundError(InterfaceError):
    """The named profile is not in the credentials file."""

class ProfileError(InterfaceError):
    """A named profile cannot be used (it holds a login token)."""

class CredentialsFileError(InterfaceError):
    """The credentials file is unreadable or malformed."""

class LoginRequiredError(InterfaceError):
    """No usable credentials: run `komodo login`."""

class LoginError(InterfaceError):
    """The interactive login failed."""

class PlatformError(OperationalError):
    """The platform refused a request or could not be reached."""

def gateway_login(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
) -> tuple[str, str, str]:
    """Resolves credentials (an account is required): the platform URL, the account id and an access token."""

def validate_arguments(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
) -> None:
    """Checks credentials arguments against the six rules without any I/O."""

def main() -> None:
    """The `komodo` console script."""

@final
class Client:
    """A handle on the platform for one set of credentials."""

    def __new__(
        cls,
        account_id: Optional[str] = None,
        jwt: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        profile: Optional[str] = None,
    ) -> "Client": ...
    @property
    def account_id(self) -> Optional[str]: ...
    @property
    def api_url(self) -> str: ...
    @property
    def provenance(self) -> str: ...
    def access_token(self) -> str: ...
    def identity(self) -> dict[str, Any]: ...
    def me(self) -> dict[str, Any]: ...
    def accounts(self) -> list[dict[str, Any]]: ...
    def create_service_principal(self, name: str, description: Optional[str] = None) -> dict[str, Any]: ...
    def list_service_principals(self) -> list[dict[str, Any]]: ...
    def delete_service_principal(self, service_principal_id: str) -> None: ...
    def rotate_service_principal_secret(self, service_principal_id: str) -> dict[str, Any]: ...

def connect(
    account_id: Optional[str] = None,
    jwt: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    profile: Optional[str] = None,
    database: Optional[str] = None,
    schema: Optional[str] = None,
) -> Connection:
    """Opens a warehouse session with credentials resolved through the chain."""

@final
class Connection:
    """A warehouse session (the native half of `komodo.Connection`)."""

    @property
    def account_id(self) -> str: ...
    @property
    def session_id(self) -> int: ...
    @property
    def database(self) -> Optional[str]: ...
    @property
    def schema(self) -> Optional[str]: ...
    @property
    def closed(self) -> bool: ...
    def cursor(self) -> Cursor: ...
    def query_status(self, sfqid: str) -> str: ...
    def abort_query(self, sfqid: str) -> bool: ...
    def load_bytes(
        self, table: str, data: bytes, format: str = "arrow", create: bool = False, overwrite: bool = False
    ) -> dict[str, Any]: ...
    def load_file(
        self,
        table: str,
        path: Union[str, os.PathLike[str]],
        format: Optional[str] = None,
        create: bool = False,
        overwrite: bool = False,
    ) -> dict[str, Any]: ...
    def close(self) -> None: ...

@final
class Cursor:
    """Runs statements and fetches results (the native half of `komodo.Cursor`)."""

    def execute(self, sql: str, params: Optional[Sequence[Any]] = None, timeout: Optional[float] = None) -> None: ...
    def executemany(self, sql: str, seq_of_params: Iterable[Sequence[Any]]) -> None: ...
    def execute_async(self, sql: str, params: Optional[Sequence[Any]] = None) -> str: ...
    def get_results_from_sfqid(self, sfqid: str) -> None: ...
    def cancel(self) -> bool: ...
    def fetchone(self) -> Optional[tuple[Any, ...]]: ...
    def fetchmany(self, size: int) -> list[tuple[Any, ...]]: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetch_arrow_batch(self) -> Optional[ArrowBatch]: ...
    def fetch_arrow_all(self) -> ArrowStream: ...
    def close(self) -> None: ...
    @property
    def description(
        self,
    ) -> Optional[list[tuple[str, int, Optional[int], Optional[int], Optional[int], Optional[int], bool]]]: ...
    @property
    def rowcount(self) -> Optional[int]: ...
    @property
    def sfqid(self) -> Optional[str]: ...
    @property
    def sqlstate(self) -> Optional[str]: ...
    @property
    def rownumber(self) -> Optional[int]: ...

@final
class ArrowBatch:
    """One Arrow record batch, exported once through the Arrow C data interface."""

    def __arrow_c_array__(self, requested_schema: Optional[object] = None) -> tuple[object, object]: ...

@final
class ArrowStream:
    """Record batches exported once as an Arrow C stream."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...
