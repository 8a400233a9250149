//! Administrative operations behind `komodo-server admin ...`, usable while
//! a server runs (they go through the store, which both share). The test
//! kit uses the same functions for its fixtures.

use std::sync::Arc;

use komodo_protocol::iam::{CreatedServicePrincipal, Role};
use komodo_protocol::secret::Password;

use crate::bootstrap::load_demo_into;
use crate::config::Config;
use crate::crypto::Secrets;
use crate::identity::{password, service_principals};
use crate::keys::{KeyError, KeyRing};
use crate::state::{OpenError, open_store_and_secrets};
use crate::store::iam::{AccountRow, OrganizationRow, PasswordReset, UserRow};
use crate::store::{Store, StoreError};

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

    /// `add-member`.
    pub async fn add_member(
        &self,
        account: &str,
        email: &str,
        role: Role,
    ) -> Result<(AccountRow, UserRow), AdminError> {
        let account_row = self
            .store
            .account_by_ref(account)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account `{account}`")))?;
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
        let account_row = self
            .store
            .account_by_ref(account)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("account `{account}`")))?;
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
