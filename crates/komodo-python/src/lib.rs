//! Python bindings of the Komodo SDK: the native half of the `komodo`
//! package. The Python half (`python/komodo/`) re-exports these names and
//! adds nothing of substance: every rule lives in the Rust core.
//!
//! One tokio runtime serves the process; every network call runs with the
//! GIL released and stops at Ctrl-C.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use komodo::Client as CoreClient;
use komodo::auth::{AuthArgs, WebLogin};
use komodo::config::ProviderConfig;
use pyo3::exceptions::PySystemExit;
use pyo3::prelude::*;

mod arrow_export;
mod errors;
mod values;
mod warehouse;

use errors::{KomodoError, args_error, to_py};

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
    block_on_with(py, move || future)
}

/// [`block_on`] for a future that is not `Send`: `make` builds it on this
/// thread, with the GIL released, and the runtime polls it right here.
fn block_on_with<M, F>(py: Python<'_>, make: M) -> PyResult<F::Output>
where
    M: FnOnce() -> F + Send,
    F: Future,
    F::Output: Send,
{
    py.detach(move || {
        runtime().block_on(async move {
            let future = make();
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

/// The environment as it is now, with one HTTP client (and its pool of
/// open connections) for every call of the process (`Client`, `connect`,
/// `gateway_login`): they all run on the process's one runtime, and a new
/// client per connection would pay for its setup and a new TCP connection
/// each time.
pub(crate) fn provider_config() -> ProviderConfig {
    static SHARED: OnceLock<ProviderConfig> = OnceLock::new();
    let http = SHARED.get_or_init(ProviderConfig::from_process).http().clone();
    ProviderConfig::from_process().with_http(http)
}

/// Resolves `args` through the SDK's chain (which validates them before any
/// I/O), falling back to the process's one in-memory web login.
fn resolve(py: Python<'_>, args: AuthArgs, require_account: bool) -> PyResult<CoreClient> {
    let config = provider_config();
    let login = WebLogin::process(&config);
    let builder = CoreClient::builder(config).args(args).web_login(login).require_account(require_account);
    block_on(py, builder.build())?.map_err(to_py)
}

/// Resolves credentials as `get_snowflake_connection` does (an account is
/// required) and returns what a Snowflake connector needs to log in to the
/// gateway: the platform URL, the account id and a fresh access token.
#[pyfunction]
#[pyo3(signature = (account_id=None, jwt=None, client_id=None, client_secret=None, profile=None))]
fn gateway_login(
    py: Python<'_>,
    account_id: Option<String>,
    jwt: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    profile: Option<String>,
) -> PyResult<(String, String, String)> {
    let client = Arc::new(resolve(py, auth_args(account_id, jwt, client_id, client_secret, profile), true)?);
    let account = client.account_id().map(str::to_owned).ok_or_else(|| {
        errors::UnsetAccountError::new_err("no account is selected: pass `account_id` or run `komodo account set`")
    })?;
    let inner = client.clone();
    let token = block_on(py, async move { inner.access_token().await })?.map_err(to_py)?;
    Ok((client.api_url().to_string(), account, token.expose_secret().to_owned()))
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
        Ok(Self { inner: Arc::new(resolve(py, args, false)?) })
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
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(main, m)?)?;
    m.add_function(wrap_pyfunction!(validate_arguments, m)?)?;
    m.add_function(wrap_pyfunction!(gateway_login, m)?)?;
    m.add_class::<Client>()?;
    m.add_function(wrap_pyfunction!(warehouse::connect, m)?)?;
    m.add_class::<warehouse::Connection>()?;
    m.add_class::<warehouse::Cursor>()?;
    m.add_class::<warehouse::ArrowBatch>()?;
    m.add_class::<warehouse::ArrowStream>()?;
    errors::register(m)?;
    Ok(())
}
