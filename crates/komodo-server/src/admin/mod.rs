//! Administrative operations behind `komodo-server admin ...`, usable while
//! a server runs (they go through the store, which both share). The test
//! kit uses the same functions for its fixtures.

mod warehouse;

use std::sync::Arc;

use komodo_protocol::iam::{CreatedServicePrincipal, Role};
use komodo_protocol::secret::Password;

use crate::bootstrap::load_demo_into;
use crate::config::Config;
use crate::crypto::Secrets;
use crate::identity::{password, service_principals};
use crate::keys::{KeyError, KeyRing};
use crate::state::{OpenError, open_store_and_secrets};
use crate::store::iam::{AccountRow, ClientRow, OrganizationRow, PasswordReset, UserRow};
use crate::store::{Store, StoreError};

pub use warehouse::{SnowflakeBackend, SnowflakeView, WarehouseView};

/// Errors of admin operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The platform could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key rotation failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// An argument is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// A handle for administrative operations on a platform's store.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Store,
    secrets: Arc<Secrets>,
    config: Config,
}

fn check_slug(kind: &str, slug: &str) -> Result<(), AdminError> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "invalid {kind} slug `{slug}`: use 1-63 lower-case letters, digits and dashes, not starting with a dash"
        )))
    }
}

impl Admin {
    /// Opens the store and master key that `config` points at.
    pub async fn open(config: &Config) -> Result<Admin, AdminError> {
        let (store, secrets) = open_store_and_secrets(config).await?;
        Ok(Admin { store, secrets, config: config.clone() })
    }

    /// Builds a handle from an open platform's parts.
    pub fn from_state(state: &crate::AppState) -> Admin {
        Admin { store: state.store().clone(), secrets: state.secrets_arc(), config: state.config().clone() }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// `create-org`.
    pub async fn create_org(&self, name: &str, slug: &str) -> Result<OrganizationRow, AdminError> {
        check_slug("organization", slug)?;
        Ok(self.store.create_organization(slug, name).await?)
    }

    /// `create-account`.
    pub async fn create_account(&self, org_slug: &str, name: &str, slug: &str) -> Result<AccountRow, AdminError> {
        check_slug("account", slug)?;
        Ok(self.store.create_account(org_slug, slug, name).await?)
    }

    /// `create-user`.
    pub async fn create_user(
        &self,
        email: &str,
        name: Option<&str>,
        password: &Password,
    ) -> Result<UserRow, AdminError> {
        if !email.contains('@') || email.trim().len() < 3 {
            return Err(AdminError::Invalid(format!("invalid email address `{email}`")));
        }
        password::check_new(password).map_err(AdminError::Invalid)?;
        let hash = password::hash(password).await;
        Ok(self.store.create_user(email, name, &hash).await?)
    }

    /// The account `account` names (slug or id).
    async fn account(&self, account: &str) -> Result<AccountRow, AdminError> {
        Ok(self
            .store
            .account_by_ref(account)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account `{account}`")))?)
    }

    /// `add-member`.
    pub async fn add_member(
        &self,
        account: &str,
        email: &str,
        role: Role,
    ) -> Result<(AccountRow, UserRow), AdminError> {
        let account_row = self.account(account).await?;
        let user =
            self.store.user_by_email(email).await?.ok_or_else(|| StoreError::NotFound(format!("user `{email}`")))?;
        self.store.upsert_membership(&account_row.id, &user.id, role).await?;
        Ok((account_row, user))
    }

    /// `create-service-principal`.
    pub async fn create_service_principal(
        &self,
        account: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<CreatedServicePrincipal, AdminError> {
        if name.trim().is_empty() {
            return Err(AdminError::Invalid("the service principal name must not be empty".into()));
        }
        let account_row = self.account(account).await?;
        Ok(service_principals::create(&self.store, &self.secrets, &account_row.id, name.trim(), description).await?)
    }

    /// `reset-password`: sets the password and ends the user's logins
    /// (refresh-token families, and the access tokens they issued) and open
    /// gateway sessions, so that whoever held the old password keeps
    /// nothing it opened (F07).
    pub async fn reset_password(&self, email: &str, password: &Password) -> Result<PasswordReset, AdminError> {
        password::check_new(password).map_err(AdminError::Invalid)?;
        let hash = password::hash(password).await;
        let reset = self.store.set_password_hash(email, &hash).await?;
        tracing::info!(
            logins_ended = reset.logins_ended,
            sessions_ended = reset.sessions_ended,
            "password reset; the user's logins and gateway sessions ended"
        );
        Ok(reset)
    }

    /// `rotate-keys`: a new key, published now, signing after the configured
    /// publish delay. Returns its `kid` and activation time (epoch seconds).
    pub async fn rotate_keys(&self) -> Result<(String, i64), AdminError> {
        Ok(KeyRing::rotate(&self.store, &self.secrets, self.config.signing_alg, self.config.key_publish_delay).await?)
    }
}

/// The prefix of confidential clients' secrets, for leak scanners.
pub const CLIENT_APP_SECRET_PREFIX: &str = "kmd_cs_";

/// What `create-client` registers.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// The client id (kept as given: an SDK's compiled-in id).
    pub client_id: String,
    /// Display name (shown on the consent page).
    pub name: String,
    /// Public (no secret) rather than confidential.
    pub public: bool,
    /// Grants (`device`, `authorization_code`, `refresh_token`); empty:
    /// `device` and `refresh_token`, and `authorization_code` too when a
    /// redirect URI is registered.
    pub grants: Vec<String>,
    /// Register the loopback redirect URIs (any port, RFC 8252).
    pub redirect_loopback: bool,
    /// Further exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Audiences it may ask for besides the platform's.
    pub audiences: Vec<String>,
}

/// A registered client and, for a confidential one, its secret (shown once).
#[derive(Debug)]
pub struct CreatedClient {
    /// The stored client.
    pub client: ClientRow,
    /// The secret of a confidential client; exists nowhere else.
    pub secret: Option<komodo_protocol::secret::ClientSecret>,
}

fn check_client(new: &NewClient) -> Result<(), AdminError> {
    let id = &new.client_id;
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
        return Err(AdminError::Invalid(format!("invalid client id `{id}`: use 1-128 letters, digits and `-._~`")));
    }
    if id.starts_with(komodo_protocol::iam::CLIENT_ID_PREFIX) {
        return Err(AdminError::Invalid(format!(
            "client ids starting with `{}` belong to service principals; choose another",
            komodo_protocol::iam::CLIENT_ID_PREFIX
        )));
    }
    if new.name.trim().is_empty() {
        return Err(AdminError::Invalid("the client name must not be empty".into()));
    }
    for grant in &new.grants {
        if !crate::oidc::client_auth::CLIENT_GRANTS.contains(&grant.as_str()) {
            return Err(AdminError::Invalid(format!(
                "unknown grant `{grant}`: use device, authorization_code or refresh_token"
            )));
        }
    }
    for audience in &new.audiences {
        if audience.is_empty() || audience.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AdminError::Invalid(format!("invalid audience `{audience}`: no spaces, not empty")));
        }
    }
    for uri in &new.redirect_uris {
        let parsed = url::Url::parse(uri).map_err(|_| AdminError::Invalid(format!("invalid redirect URI `{uri}`")))?;
        let loopback = matches!(parsed.host_str(), Some("127.0.0.1") | Some("[::1]"));
        if parsed.fragment().is_some() || !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
            return Err(AdminError::Invalid(format!(
                "invalid redirect URI `{uri}`: use https (or http on 127.0.0.1 / [::1]) and no fragment"
            )));
        }
    }
    let redirects = new.redirect_loopback || !new.redirect_uris.is_empty();
    if new.grants.iter().any(|g| g == "authorization_code") && !redirects {
        return Err(AdminError::Invalid(
            "the authorization_code grant needs a redirect URI: add --redirect-loopback or --redirect-uri".into(),
        ));
    }
    Ok(())
}

impl Admin {
    /// `create-client`: registers an OAuth client under the id given. A
    /// confidential client gets a random secret, stored only as a keyed
    /// hash (S01) and returned this once.
    pub async fn create_client(&self, new: &NewClient) -> Result<CreatedClient, AdminError> {
        check_client(new)?;
        let mut grants: Vec<String> = Vec::new();
        let redirects = new.redirect_loopback || !new.redirect_uris.is_empty();
        let asked: Vec<&str> = if new.grants.is_empty() && redirects {
            crate::oidc::client_auth::CLIENT_GRANTS.to_vec()
        } else if new.grants.is_empty() {
            vec!["device", "refresh_token"]
        } else {
            new.grants.iter().map(String::as_str).collect()
        };
        for grant in asked {
            if !grants.iter().any(|g| g == grant) {
                grants.push(grant.to_owned());
            }
        }
        let mut redirect_uris: Vec<String> = Vec::new();
        if new.redirect_loopback {
            redirect_uris.extend(crate::bootstrap::CLI_REDIRECT_URIS.iter().map(|s| s.to_string()));
        }
        redirect_uris.extend(new.redirect_uris.iter().cloned());
        let secret = (!new.public).then(|| {
            komodo_protocol::secret::ClientSecret::new(format!(
                "{CLIENT_APP_SECRET_PREFIX}{}",
                crate::crypto::random_token::<32>()
            ))
        });
        let client = ClientRow {
            client_id: new.client_id.clone(),
            name: new.name.trim().to_owned(),
            redirect_uris,
            secret_hash: secret.as_ref().map(|s| self.secrets.hash_client_secret(s.expose_secret())),
            grants,
            audiences: new.audiences.clone(),
            created_at: crate::clock::now(),
        };
        self.store.insert_client(&client).await?;
        tracing::info!(client_id = %client.client_id, public = client.is_public(), "registered OAuth client");
        Ok(CreatedClient { client, secret })
    }

    /// `list-clients`: every registered client.
    pub async fn list_clients(&self) -> Result<Vec<ClientRow>, AdminError> {
        Ok(self.store.clients().await?)
    }

    /// `delete-client`: removes a client and ends the sessions it was
    /// issued (refresh tokens, their access tokens, gateway sessions).
    pub async fn delete_client(&self, client_id: &str) -> Result<(), AdminError> {
        if client_id == komodo_protocol::oauth::CLI_CLIENT_ID {
            return Err(AdminError::Invalid(format!(
                "`{client_id}` is the platform's own CLI client and is registered again at every start"
            )));
        }
        if !self.store.delete_client(client_id).await? {
            return Err(StoreError::NotFound(format!("client `{client_id}`")).into());
        }
        tracing::info!(client_id, "deleted OAuth client");
        Ok(())
    }
}

impl Admin {
    /// `load-demo`: (re)generates the demo data set for an account (slug or
    /// id) in the warehouse directory that the configuration points at. A
    /// running server sees the new tables from the next statement.
    pub async fn load_demo(
        &self,
        account: &str,
        options: komodo_warehouse::demo::DemoOptions,
    ) -> Result<(AccountRow, komodo_warehouse::demo::DemoSummary), AdminError> {
        let account = self
            .store
            .account_by_ref(account)
            .await?
            .ok_or_else(|| AdminError::Invalid(format!("no account `{account}`; list them with the IAM API")))?;
        if options.claims == 0 {
            return Err(AdminError::Invalid("--claims must be at least 1".into()));
        }
        let engine = komodo_warehouse::Engine::new(self.config.effective_warehouse_dir(), self.config.engine.clone())
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
        let summary =
            load_demo_into(&engine, &account.id, options).await.map_err(|e| AdminError::Invalid(e.to_string()))?;
        Ok((account, summary))
    }
}
