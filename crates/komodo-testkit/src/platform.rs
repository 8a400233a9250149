//! The real platform on `127.0.0.1:0`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use komodo_protocol::iam::{CreatedServicePrincipal, Role};
use komodo_protocol::oauth::{CLI_CLIENT_ID, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS, TokenResponse};
use komodo_protocol::secret::{ClientSecret, Password};
use komodo_server::admin::Admin;
use komodo_server::bootstrap::BootstrapReport;
use komodo_server::{AppState, Config, Server};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A statement that, in practice, never ends and whose operators never
/// wait on anything: a cross join of two generated series (10^12 rows)
/// counted. What SECURITY.md F03 is about: cancelling it, or reaching its
/// deadline, must stop it where it runs.
pub const RUNAWAY_SQL: &str =
    "SELECT COUNT(*) FROM TABLE(GENERATE_SERIES(1, 1000000)) a CROSS JOIN TABLE(GENERATE_SERIES(1, 1000000)) b";

/// A user created by a fixture, with the password it was given.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// User id (UUID).
    pub id: String,
    /// Email address.
    pub email: String,
    /// Password.
    pub password: Password,
}

/// An account created by a fixture.
#[derive(Debug, Clone)]
pub struct TestAccount {
    /// Account id (UUID).
    pub id: String,
    /// Slug.
    pub slug: String,
}

/// The configuration tests start from: port 0, a 1 s device poll interval,
/// keys re-read every second, a demo data set of [`TEST_DEMO_CLAIMS`]
/// claims; everything else as in production.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config::new(data_dir);
    config.listen = "127.0.0.1:0".into();
    config.device_poll_interval = Duration::from_secs(1);
    config.key_refresh_interval = Duration::from_secs(1);
    // A small demo data set keeps every start fast; tests that need more
    // call `Platform::load_demo`.
    config.demo_claims = TEST_DEMO_CLAIMS;
    config
}

/// Claims in the demo data set of a test platform's `demo` account.
pub const TEST_DEMO_CLAIMS: u64 = 1_000;

/// One configuration change queued on a [`PlatformBuilder`].
type ConfigAdjustment = Box<dyn FnOnce(&mut Config) + Send>;

/// Builds a [`Platform`] with adjusted configuration.
pub struct PlatformBuilder {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    issuer: Option<String>,
    adjust: Vec<ConfigAdjustment>,
}

impl std::fmt::Debug for PlatformBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformBuilder")
            .field("data_dir", &self.data_dir)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl PlatformBuilder {
    /// Uses `dir` as the data directory instead of a new temporary one
    /// (replicas share the master key through it).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Uses a database URL (for example a [`crate::TestDatabase`]).
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }

    /// Sets the issuer (replicas behind one name share it).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adjusts the configuration (TTLs, limits, algorithm...).
    pub fn config(mut self, adjust: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Starts the platform and waits until it serves.
    pub async fn start(self) -> Platform {
        let temp = match &self.data_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("create a temporary data directory")),
        };
        let data_dir = self.data_dir.clone().unwrap_or_else(|| temp.as_ref().expect("temp dir").path().to_path_buf());
        let mut config = test_config(&data_dir);
        config.database_url = self.database_url;
        config.issuer = self.issuer;
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let mut server = Server::bind(config).await.unwrap_or_else(|e| panic!("the platform failed to start: {e}"));
        let url = server.url();
        let state = server.state().clone();
        let bootstrap = server.take_bootstrap_report();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        let platform = Platform {
            url,
            admin: Admin::from_state(&state),
            state,
            data_dir,
            bootstrap,
            stop: Some(stop),
            task: Some(task),
            _temp: temp,
        };
        platform.wait_ready().await;
        platform
    }
}

/// A running platform. Dropping it stops the server.
pub struct Platform {
    url: String,
    state: AppState,
    admin: Admin,
    data_dir: PathBuf,
    bootstrap: Option<BootstrapReport>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), komodo_server::server::ServeError>>>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").field("url", &self.url).field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

impl Platform {
    /// Starts a platform with the [`test_config`] on SQLite in a temporary
    /// directory.
    pub async fn start() -> Platform {
        Platform::builder().start().await
    }

    /// A builder for a platform with adjusted configuration.
    pub fn builder() -> PlatformBuilder {
        PlatformBuilder { data_dir: None, database_url: None, issuer: None, adjust: Vec::new() }
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(response) = client.get(self.url_for("/readyz")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the platform at {} did not become ready", self.url);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An absolute URL for `path`.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// The issuer (`iss` of its tokens).
    pub fn issuer(&self) -> &str {
        self.state.issuer()
    }

    /// The server's state (store, keys, config).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Administrative operations (the `komodo-server admin` commands).
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The bootstrap admin's email and one-time password, when this start
    /// created them.
    pub fn bootstrap_admin(&self) -> Option<(&str, &Password)> {
        self.bootstrap.as_ref().map(|b| (b.admin_email.as_str(), &b.admin_password))
    }

    /// The `demo` account's id, when this start created it.
    pub fn demo_account_id(&self) -> Option<&str> {
        self.bootstrap.as_ref().map(|b| b.account_id.as_str())
    }

    /// Generates the demo data set with `claims` claims into an account's
    /// warehouse (replacing what the account had there).
    pub async fn load_demo(&self, account_id: &str, claims: u64) {
        let options = komodo_server::warehouse::demo::DemoOptions { claims, ..Default::default() };
        komodo_server::bootstrap::load_demo_into(
            self.state.gateway().embedded().expect("the test platform runs the embedded engine"),
            account_id,
            options,
        )
        .await
        .unwrap_or_else(|e| panic!("load demo data into {account_id}: {e}"));
    }

    /// Creates a user with `password`.
    pub async fn create_user(&self, email: &str, password: &str) -> TestUser {
        let password = Password::new(password);
        let user = self
            .admin
            .create_user(email, Some("Test User"), &password)
            .await
            .unwrap_or_else(|e| panic!("create user {email}: {e}"));
        TestUser { id: user.id, email: user.email, password }
    }

    /// Tasks of statements alive on the warehouse's threads.
    pub fn warehouse_tasks(&self) -> usize {
        self.state().gateway().engine().active_tasks()
    }

    /// Waits until the warehouse runs no statement, failing the test if
    /// one is still alive after `within` (SECURITY.md F03: a cancelled or
    /// timed-out statement stops within a second or so).
    pub async fn assert_warehouse_idle_within(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.warehouse_tasks() > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} warehouse tasks still alive {within:?} after the statement ended",
                self.warehouse_tasks()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates an account `slug` in organisation `org_slug` (created if
    /// missing).
    pub async fn create_account(&self, org_slug: &str, slug: &str) -> TestAccount {
        if self.admin.store().organization_by_slug(org_slug).await.expect("store").is_none() {
            self.admin
                .create_org(org_slug, org_slug)
                .await
                .unwrap_or_else(|e| panic!("create organization {org_slug}: {e}"));
        }
        let account = self
            .admin
            .create_account(org_slug, slug, slug)
            .await
            .unwrap_or_else(|e| panic!("create account {slug}: {e}"));
        TestAccount { id: account.id, slug: account.slug }
    }

    /// Adds `email` to `account` (slug or id) with `role`.
    pub async fn add_member(&self, account: &str, email: &str, role: Role) {
        self.admin.add_member(account, email, role).await.unwrap_or_else(|e| panic!("add {email} to {account}: {e}"));
    }

    /// Creates a service principal in `account` (slug or id).
    pub async fn create_service_principal(&self, account: &str, name: &str) -> CreatedServicePrincipal {
        self.admin
            .create_service_principal(account, name, None)
            .await
            .unwrap_or_else(|e| panic!("create service principal in {account}: {e}"))
    }

    /// Signs `user` in through the real pages (authorization code + PKCE,
    /// the CLI client, a loopback redirect that is not followed) and
    /// redeems the code: the tokens a `komodo login` would get.
    pub async fn login(&self, user: &TestUser, scope: &str) -> TokenResponse {
        let pair = crate::pkce::Pair::new();
        let redirect_uri = "http://127.0.0.1:9/callback";
        let url = crate::pkce::authorize_url(&self.url, redirect_uri, scope, "testkit", &pair);
        let redirect = crate::Browser::new(&self.url)
            .authorize(&url, &user.email, &user.password, crate::Decision::Approve)
            .await
            .unwrap_or_else(|e| panic!("login of {}: {e}", user.email));
        let code = redirect
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code in the redirect: {redirect}"));
        let form = [
            ("grant_type", GRANT_AUTHORIZATION_CODE),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", CLI_CLIENT_ID),
            ("code_verifier", pair.verifier.as_str()),
        ];
        self.token(&form, None).await
    }

    /// The client credentials grant for a service principal.
    pub async fn client_credentials(&self, client_id: &str, client_secret: &ClientSecret) -> TokenResponse {
        self.token(&[("grant_type", GRANT_CLIENT_CREDENTIALS)], Some((client_id, client_secret))).await
    }

    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &ClientSecret)>) -> TokenResponse {
        let mut request = reqwest::Client::new().post(self.url_for("/oauth/token")).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret.expose_secret()));
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("token request: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            panic!("token request failed with {status}: {text}");
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("token response: {e}"))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
