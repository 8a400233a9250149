//! Python bindings of the Komodo SDK: the native half of the `komodo`
//! package. The Python half (`python/komodo/`) re-exports these names and
//! adds nothing of substance: every rule lives in the Rust core.
//!
//! One tokio runtime serves the process; every network call runs with the
//! GIL released and stops at Ctrl-C.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use komodo::auth::{ArgsError, AuthArgs, AuthError};
use komodo::config::ProviderConfig;
use komodo::{Client as CoreClient, Error};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PySystemExit, PyValueError};
use pyo3::prelude::*;

create_exception!(komodo, KomodoError, PyException, "The base class of the komodo package's errors.");
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
create_exception!(komodo, UnsetAccountError, KomodoError, "No account is selected.");
create_exception!(komodo, ProfileNotFoundError, KomodoError, "The named profile is not in the credentials file.");
create_exception!(komodo, ProfileError, KomodoError, "A named profile cannot be used (it holds a login token).");
create_exception!(komodo, CredentialsFileError, KomodoError, "The credentials file is unreadable or malformed.");
create_exception!(komodo, LoginRequiredError, KomodoError, "No usable credentials: run `komodo login`.");
create_exception!(komodo, LoginError, KomodoError, "The interactive login failed.");
create_exception!(komodo, PlatformError, KomodoError, "The platform refused a request or could not be reached.");

/// The process's one runtime.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("komodo")
            .enable_all()
            .build()
            .expect("cannot start the komodo runtime")
    })
}

/// Runs `future` with the GIL released, checking for Ctrl-C (and other
/// signals) every 100 ms; a pending signal drops the future, which cancels
/// the operation, and raises in Python.
fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        runtime().block_on(async {
            tokio::pin!(future);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    output = &mut future => return Ok(output),
                    _ = tick.tick() => Python::attach(|py| py.check_signals())?,
                }
            }
        })
    })
}

fn args_error(err: &ArgsError) -> PyErr {
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
/// message is the core's, word for word.
fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match &err {
        Error::Auth(AuthError::InvalidArguments(args)) => args_error(args),
        Error::Auth(AuthError::InvalidEnvironment(args)) => {
            let converted = args_error(args);
            Python::attach(|py| {
                let kind = converted.get_type(py);
                PyErr::from_type(kind, message)
            })
        }
        Error::Auth(AuthError::UnsetAccount { .. }) => UnsetAccountError::new_err(message),
        Error::Auth(AuthError::ProfileNotFound { .. }) => ProfileNotFoundError::new_err(message),
        Error::Auth(AuthError::ProfileHoldsToken { .. }) => ProfileError::new_err(message),
        Error::Auth(AuthError::Credentials(_)) | Error::Credentials(_) => CredentialsFileError::new_err(message),
        _ if err.is_login_required() => LoginRequiredError::new_err(message),
        Error::TokenExpired { .. } => LoginRequiredError::new_err(message),
        Error::Auth(AuthError::Login(_)) => LoginError::new_err(message),
        Error::Platform(_) => KomodoError::new_err(message),
        _ => PlatformError::new_err(message),
    }
}

fn auth_args(
    account_id: Option<String>,
    jwt: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    profile: Option<String>,
) -> AuthArgs {
    AuthArgs { jwt: jwt.map(Into::into), client_id, client_secret: client_secret.map(Into::into), account_id, profile }
}

fn json_to_py<T: serde::Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| KomodoError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

/// Checks credentials arguments against the six rules without any I/O,
/// raising the rule's `ValueError` subclass.
#[pyfunction]
#[pyo3(signature = (account_id=None, jwt=None, client_id=None, client_secret=None, profile=None))]
fn validate_arguments(
    account_id: Option<String>,
    jwt: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    profile: Option<String>,
) -> PyResult<()> {
    auth_args(account_id, jwt, client_id, client_secret, profile).validate().map(drop).map_err(|e| args_error(&e))
}

/// A handle on the platform for one set of credentials, resolved like
/// `get_snowflake_connection` resolves them (arguments, `KOMODO_*`
/// variables, the `[default]` profile, then a web login kept in memory).
#[pyclass(module = "komodo", frozen)]
struct Client {
    inner: Arc<CoreClient>,
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (account_id=None, jwt=None, client_id=None, client_secret=None, profile=None))]
    fn new(
        py: Python<'_>,
        account_id: Option<String>,
        jwt: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        profile: Option<String>,
    ) -> PyResult<Self> {
        let args = auth_args(account_id, jwt, client_id, client_secret, profile);
        args.validate().map_err(|e| args_error(&e))?;
        let config = ProviderConfig::from_process();
        let login = komodo::client::sdk_web_login(&config);
        let builder = CoreClient::builder(config).args(args).web_login(login).require_account(false);
        let client = block_on(py, builder.build())?.map_err(to_py)?;
        Ok(Self { inner: Arc::new(client) })
    }

    /// The selected account's id, if any.
    #[getter]
    fn account_id(&self) -> Option<String> {
        self.inner.account_id().map(str::to_owned)
    }

    /// The platform's base URL.
    #[getter]
    fn api_url(&self) -> String {
        self.inner.api_url().to_string()
    }

    /// Which source the credentials came from, and what they shadowed.
    #[getter]
    fn provenance(&self) -> String {
        self.inner.resolved().provenance.to_string()
    }

    /// A usable access token (renewed when due).
    fn access_token(&self, py: Python<'_>) -> PyResult<String> {
        let inner = self.inner.clone();
        let token = block_on(py, async move { inner.access_token().await })?.map_err(to_py)?;
        Ok(token.expose_secret().to_owned())
    }

    /// Who the credentials belong to (`jwt_type`, `user` or `service_principal`).
    fn identity(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let identity = block_on(py, async move { inner.identity().await })?.map_err(to_py)?;
        json_to_py(py, &identity)
    }

    /// The user with their organisations and accounts (`users/me`).
    fn me(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let me = block_on(py, async move { inner.me().await })?.map_err(to_py)?;
        json_to_py(py, &me)
    }

    /// The accounts the user belongs to, each with its organisation.
    fn accounts(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let me = block_on(py, async move { inner.me().await })?.map_err(to_py)?;
        let accounts: Vec<serde_json::Value> = me
            .organizations
            .iter()
            .flat_map(|org| {
                org.accounts.iter().map(move |a| {
                    serde_json::json!({
                        "account_id": a.account_id, "slug": a.slug, "name": a.name, "role": a.role,
                        "organization_id": org.organization_id, "organization_slug": org.slug,
                    })
                })
            })
            .collect();
        json_to_py(py, &accounts)
    }

    /// Creates a service principal in the selected account; the result
    /// holds its `client_secret`, shown only this once.
    #[pyo3(signature = (name, description=None))]
    fn create_service_principal(
        &self,
        py: Python<'_>,
        name: String,
        description: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let created = block_on(py, async move { inner.create_service_principal(&name, description.as_deref()).await })?
            .map_err(to_py)?;
        json_to_py(py, &created)
    }

    /// The service principals of the selected account.
    fn list_service_principals(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let list = block_on(py, async move { inner.list_service_principals().await })?.map_err(to_py)?;
        json_to_py(py, &list)
    }

    /// Deletes a service principal; its tokens stop working at once.
    fn delete_service_principal(&self, py: Python<'_>, service_principal_id: String) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move { inner.delete_service_principal(&service_principal_id).await })?.map_err(to_py)
    }

    /// Gives a service principal a new secret; the old one stops working.
    fn rotate_service_principal_secret(&self, py: Python<'_>, service_principal_id: String) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let rotated = block_on(py, async move { inner.rotate_service_principal_secret(&service_principal_id).await })?
            .map_err(to_py)?;
        json_to_py(py, &rotated)
    }

    fn __repr__(&self) -> String {
        let source = self.inner.resolved().provenance.winner().map(|(s, _)| s.to_string()).unwrap_or_default();
        format!(
            "komodo.Client(api_url={:?}, account_id={:?}, source={:?})",
            self.inner.api_url().as_str(),
            self.inner.account_id(),
            source
        )
    }
}

/// The `komodo` console script: the same code as the `komodo` binary.
#[pyfunction]
fn main(py: Python<'_>) -> PyResult<()> {
    let argv: Vec<String> = py.import("sys")?.getattr("argv")?.extract()?;
    let code = py.detach(|| komodo_cli::run_code(argv));
    if code != 0 {
        return Err(PySystemExit::new_err(code));
    }
    Ok(())
}

/// The native module `komodo._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(validate_arguments, m)?)?;
    m.add_class::<Client>()?;
    m.add("KomodoError", py.get_type::<KomodoError>())?;
    m.add("ArgumentError", py.get_type::<ArgumentError>())?;
    m.add("MixedAuthenticationMethodsError", py.get_type::<MixedAuthenticationMethodsError>())?;
    m.add("ProfileWithAccountIdError", py.get_type::<ProfileWithAccountIdError>())?;
    m.add("IncompleteClientCredentialsError", py.get_type::<IncompleteClientCredentialsError>())?;
    m.add("MissingAccountIdError", py.get_type::<MissingAccountIdError>())?;
    m.add("EmptyArgumentError", py.get_type::<EmptyArgumentError>())?;
    m.add("UnsetAccountError", py.get_type::<UnsetAccountError>())?;
    m.add("ProfileNotFoundError", py.get_type::<ProfileNotFoundError>())?;
    m.add("ProfileError", py.get_type::<ProfileError>())?;
    m.add("CredentialsFileError", py.get_type::<CredentialsFileError>())?;
    m.add("LoginRequiredError", py.get_type::<LoginRequiredError>())?;
    m.add("LoginError", py.get_type::<LoginError>())?;
    m.add("PlatformError", py.get_type::<PlatformError>())?;
    Ok(())
}
