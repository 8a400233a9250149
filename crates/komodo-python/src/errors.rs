//! The package's one exception hierarchy and the conversions into it.
//!
//! ```text
//! Exception
//! ├── ValueError
//! │   └── ArgumentError                   a broken credentials rule (six subclasses)
//! ├── Warning                             PEP 249
//! └── KomodoError
//!     └── Error                           PEP 249's base
//!         ├── InterfaceError              the client side: credentials, closed objects
//!         │   ├── UnsetAccountError, ProfileNotFoundError, ProfileError,
//!         │   └── CredentialsFileError, LoginRequiredError, LoginError
//!         └── DatabaseError
//!             ├── OperationalError
//!             │   └── PlatformError       the platform refused a request or could not be reached
//!             └── DataError, IntegrityError, InternalError, ProgrammingError, NotSupportedError
//! ```
//!
//! Every `Error` carries `errno`, `sqlstate`, `sfqid` and `query` (each
//! `None` unless the warehouse sent it), as snowflake-connector-python's do.
//! Messages never hold a secret: they are the core's, which redacts them.

use komodo::ErrorKind;
use komodo::auth::{ArgsError, AuthError};
use komodo::warehouse::{InterfaceError as WhInterfaceError, WarehouseError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

create_exception!(komodo, KomodoError, PyException, "The base class of the komodo package's errors.");
create_exception!(komodo, Warning, PyException, "PEP 249: an important warning (never raised by komodo itself).");
create_exception!(komodo, Error, KomodoError, "PEP 249: the base class of every database and interface error.");
create_exception!(komodo, InterfaceError, Error, "PEP 249: an error of the client rather than the warehouse.");
create_exception!(komodo, DatabaseError, Error, "PEP 249: an error of the warehouse.");
create_exception!(komodo, DataError, DatabaseError, "PEP 249: a problem with the data (a value out of range, ...).");
create_exception!(
    komodo,
    OperationalError,
    DatabaseError,
    "PEP 249: the warehouse's operation failed (lost connection, cancelled or timed-out statement, ...)."
);
create_exception!(komodo, IntegrityError, DatabaseError, "PEP 249: a constraint was violated.");
create_exception!(komodo, InternalError, DatabaseError, "PEP 249: the warehouse hit an internal error.");
create_exception!(
    komodo,
    ProgrammingError,
    DatabaseError,
    "PEP 249: a SQL error (syntax, unknown table, wrong number of parameters, ...)."
);
create_exception!(komodo, NotSupportedError, DatabaseError, "PEP 249: a method or feature that is not supported.");

create_exception!(
    komodo,
    ArgumentError,
    PyValueError,
    "Credentials passed (or set in KOMODO_* variables) break one of the rules."
);
create_exception!(komodo, MixedAuthenticationMethodsError, ArgumentError, "Two authentication methods were mixed.");
create_exception!(komodo, ProfileWithAccountIdError, ArgumentError, "A profile was combined with an account id.");
create_exception!(komodo, IncompleteClientCredentialsError, ArgumentError, "Only half of the client credentials.");
create_exception!(komodo, MissingAccountIdError, ArgumentError, "A JWT or client credentials without an account id.");
create_exception!(komodo, EmptyArgumentError, ArgumentError, "An empty string where a value is expected.");
create_exception!(komodo, UnsetAccountError, InterfaceError, "No account is selected.");
create_exception!(komodo, ProfileNotFoundError, InterfaceError, "The named profile is not in the credentials file.");
create_exception!(komodo, ProfileError, InterfaceError, "A named profile cannot be used (it holds a login token).");
create_exception!(komodo, CredentialsFileError, InterfaceError, "The credentials file is unreadable or malformed.");
create_exception!(komodo, LoginRequiredError, InterfaceError, "No usable credentials: run `komodo login`.");
create_exception!(komodo, LoginError, InterfaceError, "The interactive login failed.");
create_exception!(komodo, PlatformError, OperationalError, "The platform refused a request or could not be reached.");

/// Adds every exception to the module, and the `errno`, `sqlstate`,
/// `sfqid` and `query` class attributes (all `None`) to `Error`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = py.get_type::<Error>();
    for attribute in ["errno", "sqlstate", "sfqid", "query"] {
        base.setattr(attribute, py.None())?;
    }
    macro_rules! add {
        ($($name:ident),* $(,)?) => { $( m.add(stringify!($name), py.get_type::<$name>())?; )* };
    }
    add!(
        KomodoError,
        Warning,
        Error,
        InterfaceError,
        DatabaseError,
        DataError,
        OperationalError,
        IntegrityError,
        InternalError,
        ProgrammingError,
        NotSupportedError,
        ArgumentError,
        MixedAuthenticationMethodsError,
        ProfileWithAccountIdError,
        IncompleteClientCredentialsError,
        MissingAccountIdError,
        EmptyArgumentError,
        UnsetAccountError,
        ProfileNotFoundError,
        ProfileError,
        CredentialsFileError,
        LoginRequiredError,
        LoginError,
        PlatformError,
    );
    Ok(())
}

/// The `ValueError` subclass of a broken rule.
pub(crate) fn args_error(err: &ArgsError) -> PyErr {
    let message = err.to_string();
    match err {
        ArgsError::JwtWithClientCredentials { .. } | ArgsError::ProfileWithCredentials { .. } => {
            MixedAuthenticationMethodsError::new_err(message)
        }
        ArgsError::ProfileWithAccountId { .. } => ProfileWithAccountIdError::new_err(message),
        ArgsError::IncompleteClientCredentials { .. } => IncompleteClientCredentialsError::new_err(message),
        ArgsError::MissingAccountId { .. } => MissingAccountIdError::new_err(message),
        ArgsError::Empty { .. } => EmptyArgumentError::new_err(message),
        _ => ArgumentError::new_err(message),
    }
}

/// The one conversion from the core's errors to Python exceptions; the
/// message is the core's, word for word, followed by its causes.
pub(crate) fn to_py(err: komodo::Error) -> PyErr {
    convert(err, None)
}

/// The core's message followed by its causes, on one line: the exception's
/// text.
fn message(err: &komodo::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// [`to_py`] for an error of the statement `sql` (kept as the exception's
/// `query`). The class follows the core's classification
/// ([`komodo::Error::kind`]); errors the warehouse reported take the PEP 249
/// class their SQLSTATE or code names, with their attributes.
pub(crate) fn convert(err: komodo::Error, sql: Option<&str>) -> PyErr {
    use komodo::Error as E;
    let text = message(&err);
    if let E::Warehouse(warehouse) = &err {
        let py_err = warehouse_class(warehouse)(text);
        Python::attach(|py| set_attributes(py, &py_err, warehouse, sql));
        return py_err;
    }
    match err.kind() {
        ErrorKind::InvalidArguments => match err.args_error() {
            // The rule's own class, with the core's message (which names
            // the variables when the environment broke it).
            Some(args) => {
                let class = args_error(args);
                Python::attach(|py| PyErr::from_type(class.get_type(py), text))
            }
            None => ArgumentError::new_err(text),
        },
        ErrorKind::Configuration => match &err {
            E::Auth(AuthError::UnsetAccount { .. }) => UnsetAccountError::new_err(text),
            E::Auth(AuthError::ProfileNotFound { .. }) => ProfileNotFoundError::new_err(text),
            E::Auth(AuthError::ProfileHoldsToken { .. } | AuthError::HoldsClientCredentials { .. }) => {
                ProfileError::new_err(text)
            }
            E::Auth(AuthError::Credentials(_)) | E::Credentials(_) => CredentialsFileError::new_err(text),
            _ => InterfaceError::new_err(text),
        },
        ErrorKind::LoginRequired => LoginRequiredError::new_err(text),
        ErrorKind::LoginFailed | ErrorKind::Cancelled => LoginError::new_err(text),
        ErrorKind::Interface => match &err {
            E::Interface(WhInterfaceError::NoResult | WhInterfaceError::InvalidQueryId(_)) => {
                ProgrammingError::new_err(text)
            }
            E::Interface(WhInterfaceError::NotArrow | WhInterfaceError::UnsupportedType { .. }) => {
                NotSupportedError::new_err(text)
            }
            E::Interface(WhInterfaceError::BadValue { .. }) => DataError::new_err(text),
            _ => InterfaceError::new_err(text),
        },
        _ => PlatformError::new_err(text),
    }
}

/// The PEP 249 class of a warehouse error: by SQLSTATE class where it is
/// telling, else by Snowflake's code (`390xxx`: session and login).
fn warehouse_class(err: &WarehouseError) -> fn(String) -> PyErr {
    let state = err.sql_state.as_deref().unwrap_or_default();
    if err.is_cancelled() || err.is_timeout() || state == "57014" {
        return OperationalError::new_err;
    }
    if err.code == "100072" || state.starts_with("23") {
        return IntegrityError::new_err;
    }
    if state.starts_with("22") {
        return DataError::new_err;
    }
    if state.starts_with("0A") {
        return NotSupportedError::new_err;
    }
    if state.starts_with("08") || err.code.starts_with("390") {
        return OperationalError::new_err;
    }
    if state.starts_with("XX") {
        return InternalError::new_err;
    }
    ProgrammingError::new_err
}

/// Sets `errno`, `sqlstate`, `sfqid` and `query` on a raised exception.
pub(crate) fn set_attributes(py: Python<'_>, py_err: &PyErr, err: &WarehouseError, sql: Option<&str>) {
    let value = py_err.value(py);
    let errno = err.code.parse::<i64>().ok();
    // Setting attributes on a fresh exception instance cannot fail.
    let _ = value.setattr("errno", errno);
    let _ = value.setattr("sqlstate", err.sql_state.as_deref());
    let _ = value.setattr("sfqid", err.query_id.as_deref());
    let _ = value.setattr("query", sql);
}
