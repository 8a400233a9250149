"""Type stubs of the native module ``komodo._native``."""

from typing import Any, Optional, final

__version__: str
__all__ = [
    "__version__",
    "ArgumentError",
    "Client",
    "CredentialsFileError",
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

class UnsetAccountError(KomodoError):
    """No account is selected."""

class ProfileNotFoundError(KomodoError):
    """The named profile is not in the credentials file."""

class ProfileError(KomodoError):
    """A named profile cannot be used (it holds a login token)."""

class CredentialsFileError(KomodoError):
    """The credentials file is unreadable or malformed."""

class LoginRequiredError(KomodoError):
    """No usable credentials: run `komodo login`."""

class LoginError(KomodoError):
    """The interactive login failed."""

class PlatformError(KomodoError):
    """The platform refused a request or could not be reached."""

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
