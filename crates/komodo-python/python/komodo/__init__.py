"""Authenticate with the Komodo platform and reach your account's warehouse.

Credentials are chosen exactly as the ``komodo`` CLI and the Rust SDK choose
them: explicit arguments, then ``KOMODO_*`` environment variables, then the
``[default]`` profile of ``~/.komodo/credentials`` (written by
``komodo login``), then a web login whose tokens stay in memory.

Importing this package touches no global state: no logging configuration,
no warning filters, no network.
"""

from komodo._native import (
    ArgumentError,
    Client,
    CredentialsFileError,
    EmptyArgumentError,
    IncompleteClientCredentialsError,
    KomodoError,
    LoginError,
    LoginRequiredError,
    MissingAccountIdError,
    MixedAuthenticationMethodsError,
    PlatformError,
    ProfileError,
    ProfileNotFoundError,
    ProfileWithAccountIdError,
    UnsetAccountError,
    __version__,
    validate_arguments,
)

__all__ = [
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
    "__version__",
    "validate_arguments",
]
