//! Users, organisations, accounts, memberships, service principals and
//! registered OAuth clients.

use std::sync::Arc;

use komodo_protocol::iam::Role;
use uuid::Uuid;

use super::{Store, StoreError, conflict_as};
use crate::clock::now;

/// A user, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// Id (UUID).
    pub id: String,
    /// Email address, lower case.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrganizationRow {
    /// Id (UUID).
    pub id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    /// Id (UUID).
    pub id: String,
    /// The organisation it belongs to.
    pub organization_id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Creation time, epoch seconds.
    pub created_at: i64,
}

/// A user's membership with its account and organisation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MembershipRow {
    /// Account id.
    pub account_id: String,
    /// Account slug.
    pub account_slug: String,
    /// Account name.
    pub account_name: String,
    /// Organisation id.
    pub organization_id: String,
    /// Organisation slug.
    pub organization_slug: String,
    /// Organisation name.
    pub organization_name: String,
    /// `admin` or `member`.
    pub role: String,
}

/// A service principal (never with its secret hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServicePrincipalRow {
    /// Id (UUID).
    pub id: String,
    /// The one account it belongs to.
    pub account_id: String,
    /// OAuth client id.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time, epoch seconds.
    pub created_at: i64,
    /// The id of its current secret (not the secret): tokens minted from
    /// the secret carry it as `sid`, and rotating the secret changes it,
    /// which ends those tokens and their gateway sessions (F07). `None`
    /// for a principal created before secrets had ids and never rotated.
    pub secret_id: Option<String>,
}

/// The grants a client registered before grants were recorded may use.
pub const DEFAULT_CLIENT_GRANTS: [&str; 3] = ["authorization_code", "refresh_token", "device"];

/// A registered OAuth client: public (no secret) or confidential (a keyed
/// hash of its secret), with the grants it may use and the audiences it may
/// ask for beside the platform's own.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// Client id.
    pub client_id: String,
    /// Display name shown on the consent page.
    pub name: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The keyed hash of a confidential client's secret (hex); `None` for a
    /// public client.
    pub secret_hash: Option<String>,
    /// Grants it may use: `authorization_code`, `refresh_token`, `device`.
    pub grants: Vec<String>,
    /// Audiences it may ask for besides the platform's.
    pub audiences: Vec<String>,
    /// Registration time.
    pub created_at: i64,
}

impl ClientRow {
    /// A public client with the default grants and no audience of its own.
    pub fn public(client_id: &str, name: &str, redirect_uris: &[&str]) -> ClientRow {
        ClientRow {
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            secret_hash: None,
            grants: DEFAULT_CLIENT_GRANTS.iter().map(|s| s.to_string()).collect(),
            audiences: Vec::new(),
            created_at: now(),
        }
    }

    /// Whether the client has no secret.
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: &str) -> bool {
        self.grants.iter().any(|g| g == grant)
    }
}

/// The secret's hash is left out.
impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.is_public())
            .field("grants", &self.grants)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// Lower-cases and trims an email address.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A principal and its secret's keyed hash.
#[derive(Clone)]
pub struct PrincipalSecret {
    /// The principal.
    pub principal: ServicePrincipalRow,
    /// The keyed hash of its secret (hex).
    pub secret_hash: String,
}

/// The hash is not secret, but it is nothing a log needs either.
impl std::fmt::Debug for PrincipalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalSecret").field("principal", &self.principal).finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct SpAuthRow {
    id: String,
    account_id: String,
    client_id: String,
    name: String,
    description: Option<String>,
    created_at: i64,
    secret_id: Option<String>,
    secret_hash: String,
}

const SP_COLUMNS: &str = "id, account_id, client_id, name, description, created_at, secret_id";

/// What a password reset ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PasswordReset {
    /// Logins (refresh-token families) revoked.
    pub logins_ended: u64,
    /// Open gateway sessions closed.
    pub sessions_ended: u64,
}

impl Store {
    /// Creates an organisation.
    pub async fn create_organization(&self, slug: &str, name: &str) -> Result<OrganizationRow, StoreError> {
        let row = OrganizationRow {
            id: Uuid::new_v4().to_string(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            created_at: now(),
        };
        sqlx::query("INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&row.id)
            .bind(&row.slug)
            .bind(&row.name)
            .bind(row.created_at)
            .execute(self.pool())
            .await
            .map_err(conflict_as(&format!("organization `{slug}`")))?;
        Ok(row)
    }

    /// Finds an organisation by slug.
    pub async fn organization_by_slug(&self, slug: &str) -> Result<Option<OrganizationRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, slug, name, created_at FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Creates an account in the organisation with slug `org_slug`.
    pub async fn create_account(&self, org_slug: &str, slug: &str, name: &str) -> Result<AccountRow, StoreError> {
        let org = self
            .organization_by_slug(org_slug)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("organization `{org_slug}`")))?;
        let row = AccountRow {
            id: Uuid::new_v4().to_string(),
            organization_id: org.id,
            slug: slug.to_owned(),
            name: name.to_owned(),
            created_at: now(),
        };
        sqlx::query("INSERT INTO accounts (id, organization_id, slug, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&row.id)
            .bind(&row.organization_id)
            .bind(&row.slug)
            .bind(&row.name)
            .bind(row.created_at)
            .execute(self.pool())
            .await
            .map_err(conflict_as(&format!("account `{slug}`")))?;
        Ok(row)
    }

    /// Finds an account by id or slug.
    pub async fn account_by_ref(&self, id_or_slug: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, organization_id, slug, name, created_at FROM accounts WHERE id = $1 OR slug = $1",
        )
        .bind(id_or_slug)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Creates a user with an already-hashed password.
    pub async fn create_user(
        &self,
        email: &str,
        name: Option<&str>,
        password_hash: &str,
    ) -> Result<UserRow, StoreError> {
        let email = normalise_email(email);
        let row = UserRow {
            id: Uuid::new_v4().to_string(),
            email: email.clone(),
            name: name.map(str::to_owned),
            created_at: now(),
        };
        sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&row.id)
            .bind(&row.email)
            .bind(&row.name)
            .bind(password_hash)
            .bind(row.created_at)
            .execute(self.pool())
            .await
            .map_err(conflict_as(&format!("user `{email}`")))?;
        Ok(row)
    }

    /// Finds a user by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Finds a user by email.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE email = $1")
            .bind(normalise_email(email))
            .fetch_optional(self.pool())
            .await?)
    }

    /// A user's id and password hash, for login.
    pub async fn credentials_by_email(&self, email: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(normalise_email(email))
            .fetch_optional(self.pool())
            .await?)
    }

    /// Replaces a user's password hash (an administrator's reset) and ends
    /// everything the old password opened, in one transaction: every login
    /// of the user (refresh-token families, and so their access tokens) and
    /// every open gateway session of the user (F07).
    pub async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<PasswordReset, StoreError> {
        let email = normalise_email(email);
        let mut tx = self.pool().begin().await?;
        let user_id: Option<String> = sqlx::query_scalar(
            "UPDATE users SET password_hash = $1, password_change_required = 0 WHERE email = $2 RETURNING id",
        )
        .bind(password_hash)
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            return Err(StoreError::NotFound(format!("user `{email}`")));
        };
        let t = now();
        let logins = sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(t)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        let sessions =
            sqlx::query("UPDATE gateway_sessions SET closed_at = $1 WHERE subject = $2 AND closed_at IS NULL")
                .bind(t)
                .bind(format!("{}{user_id}", komodo_protocol::oauth::USER_SUB_PREFIX))
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(PasswordReset { logins_ended: logins.rows_affected(), sessions_ended: sessions.rows_affected() })
    }

    /// Replaces a user's password hash by id and clears any pending
    /// password-change requirement.
    pub async fn set_password_hash_by_id(&self, user_id: &str, password_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, password_change_required = 0 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Requires (or stops requiring) the user to choose a new password at
    /// the next sign-in.
    pub async fn set_password_change_required(&self, user_id: &str, required: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_change_required = $1 WHERE id = $2")
            .bind(i64::from(required))
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether the user must choose a new password before continuing.
    pub async fn password_change_required(&self, user_id: &str) -> Result<bool, StoreError> {
        let flag: Option<i64> = sqlx::query_scalar("SELECT password_change_required FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(flag.unwrap_or(0) != 0)
    }

    /// Adds a member to an account, or changes the role of an existing one.
    pub async fn upsert_membership(&self, account_id: &str, user_id: &str, role: Role) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO memberships (account_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(account_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The user's role in the account, if a member.
    pub async fn role_of(&self, user_id: &str, account_id: &str) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND account_id = $2")
                .bind(user_id)
                .bind(account_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(role.and_then(|r| r.parse().ok()))
    }

    /// Every membership of a user, with account and organisation.
    pub async fn memberships_of(&self, user_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id AS account_id, a.slug AS account_slug, a.name AS account_name, \
                    o.id AS organization_id, o.slug AS organization_slug, o.name AS organization_name, m.role AS role \
             FROM memberships m JOIN accounts a ON a.id = m.account_id JOIN organizations o ON o.id = a.organization_id \
             WHERE m.user_id = $1 ORDER BY o.slug, a.slug",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores a new service principal with its secret's keyed hash.
    pub async fn create_service_principal(
        &self,
        account_id: &str,
        name: &str,
        description: Option<&str>,
        client_id: &str,
        secret_hash: &str,
    ) -> Result<ServicePrincipalRow, StoreError> {
        let row = ServicePrincipalRow {
            id: Uuid::new_v4().to_string(),
            account_id: account_id.to_owned(),
            client_id: client_id.to_owned(),
            name: name.to_owned(),
            description: description.map(str::to_owned),
            created_at: now(),
            secret_id: Some(Uuid::new_v4().to_string()),
        };
        sqlx::query(
            "INSERT INTO service_principals (id, account_id, client_id, name, description, secret_hash, created_at, \
             secret_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.id)
        .bind(&row.account_id)
        .bind(&row.client_id)
        .bind(&row.name)
        .bind(&row.description)
        .bind(secret_hash)
        .bind(row.created_at)
        .bind(&row.secret_id)
        .execute(self.pool())
        .await
        .map_err(conflict_as("service principal client id"))?;
        Ok(row)
    }

    /// An active service principal and its secret hash, by client id:
    /// from this replica's cache when it holds a fresh entry (see
    /// [`principals`](super::principals)), else from the database.
    pub async fn service_principal_for_auth(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<PrincipalSecret>>, StoreError> {
        if let Some(hit) = self.principals.get(client_id) {
            return Ok(Some(hit));
        }
        let generation = self.principals.generation();
        let row: Option<SpAuthRow> = sqlx::query_as(
            "SELECT id, account_id, client_id, name, description, created_at, secret_id, secret_hash \
             FROM service_principals WHERE client_id = $1 AND deleted_at IS NULL",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| {
            let principal = ServicePrincipalRow {
                id: r.id,
                account_id: r.account_id,
                client_id: r.client_id,
                name: r.name,
                description: r.description,
                created_at: r.created_at,
                secret_id: r.secret_id,
            };
            let found = Arc::new(PrincipalSecret { principal, secret_hash: r.secret_hash });
            self.principals.insert(generation, client_id, found.clone());
            found
        }))
    }

    /// An active service principal by id.
    pub async fn service_principal_by_id(&self, id: &str) -> Result<Option<ServicePrincipalRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SP_COLUMNS} FROM service_principals WHERE id = $1 AND deleted_at IS NULL"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The account's active service principals.
    pub async fn list_service_principals(&self, account_id: &str) -> Result<Vec<ServicePrincipalRow>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SP_COLUMNS} FROM service_principals WHERE account_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
        )))
        .bind(account_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes (tombstones) a service principal of the account; returns
    /// whether one was deleted.
    pub async fn delete_service_principal(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let deleted: Option<String> = sqlx::query_scalar(
            "UPDATE service_principals SET deleted_at = $1, secret_hash = '' \
             WHERE id = $2 AND account_id = $3 AND deleted_at IS NULL RETURNING client_id",
        )
        .bind(now())
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(client_id) = &deleted {
            self.announce_principal_change(&mut tx, client_id).await?;
        }
        tx.commit().await?;
        if let Some(client_id) = &deleted {
            self.principals.invalidate(client_id);
        }
        Ok(deleted.is_some())
    }

    /// Replaces a service principal's secret hash and gives the new secret
    /// a new id; returns the principal. In the same transaction, closes the
    /// principal's open gateway sessions: every one of them was opened with
    /// a token minted from the old secret (F07). Those tokens stop working
    /// too, since their `sid` no longer names the current secret.
    pub async fn rotate_service_principal_secret(
        &self,
        account_id: &str,
        id: &str,
        secret_hash: &str,
    ) -> Result<Option<ServicePrincipalRow>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let rotated: Option<ServicePrincipalRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE service_principals SET secret_hash = $1, secret_id = $2 \
             WHERE id = $3 AND account_id = $4 AND deleted_at IS NULL RETURNING {SP_COLUMNS}"
        )))
        .bind(secret_hash)
        .bind(Uuid::new_v4().to_string())
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = &rotated {
            sqlx::query("UPDATE gateway_sessions SET closed_at = $1 WHERE subject = $2 AND closed_at IS NULL")
                .bind(now())
                .bind(format!("{}{}", komodo_protocol::oauth::SERVICE_PRINCIPAL_SUB_PREFIX, row.id))
                .execute(&mut *tx)
                .await?;
            self.announce_principal_change(&mut tx, &row.client_id).await?;
        }
        tx.commit().await?;
        if let Some(row) = &rotated {
            self.principals.invalidate(&row.client_id);
        }
        Ok(rotated)
    }

    /// Registers the built-in public client (or updates its name and
    /// redirect URIs, leaving what an operator changed alone).
    pub async fn upsert_client(&self, client: &ClientRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients (client_id, name, redirect_uris, created_at, secret_hash, grants, audiences) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (client_id) DO UPDATE SET name = excluded.name, redirect_uris = excluded.redirect_uris",
        )
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(json_list(&client.redirect_uris))
        .bind(client.created_at)
        .bind(&client.secret_hash)
        .bind(json_list(&client.grants))
        .bind(json_list(&client.audiences))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Registers a new client; [`StoreError::Conflict`] when the id is taken
    /// by a client or a service principal.
    pub async fn insert_client(&self, client: &ClientRow) -> Result<(), StoreError> {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM service_principals WHERE client_id = $1 AND deleted_at IS NULL")
                .bind(&client.client_id)
                .fetch_optional(self.pool())
                .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!("client id `{}`", client.client_id)));
        }
        let what = format!("client id `{}`", client.client_id);
        sqlx::query(
            "INSERT INTO clients (client_id, name, redirect_uris, created_at, secret_hash, grants, audiences) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&client.client_id)
        .bind(&client.name)
        .bind(json_list(&client.redirect_uris))
        .bind(client.created_at)
        .bind(&client.secret_hash)
        .bind(json_list(&client.grants))
        .bind(json_list(&client.audiences))
        .execute(self.pool())
        .await
        .map_err(conflict_as(&what))?;
        Ok(())
    }

    /// A registered client by id.
    pub async fn client_by_id(&self, client_id: &str) -> Result<Option<ClientRow>, StoreError> {
        let row: Option<ClientDbRow> = sqlx::query_as(
            "SELECT client_id, name, redirect_uris, secret_hash, grants, audiences, created_at FROM clients \
             WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(ClientDbRow::into_row))
    }

    /// Every registered client, by id.
    pub async fn clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let rows: Vec<ClientDbRow> = sqlx::query_as(
            "SELECT client_id, name, redirect_uris, secret_hash, grants, audiences, created_at FROM clients \
             ORDER BY client_id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(ClientDbRow::into_row).collect())
    }

    /// Deletes a client and ends what it was issued: its users' sessions
    /// (refresh tokens and the access tokens of those sessions) and the
    /// gateway sessions opened with them. False when there was no such
    /// client.
    pub async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let t = now();
        let mut tx = self.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE gateway_sessions SET closed_at = $1 WHERE closed_at IS NULL AND token_family IN \
             (SELECT id FROM token_families WHERE client_id = $2 AND revoked_at IS NULL)",
        )
        .bind(t)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE token_families SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL")
            .bind(t)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// A list column, as JSON text.
fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

#[derive(sqlx::FromRow)]
struct ClientDbRow {
    client_id: String,
    name: String,
    redirect_uris: String,
    secret_hash: Option<String>,
    grants: String,
    audiences: String,
    created_at: i64,
}

impl ClientDbRow {
    fn into_row(self) -> ClientRow {
        ClientRow {
            client_id: self.client_id,
            name: self.name,
            redirect_uris: serde_json::from_str(&self.redirect_uris).unwrap_or_default(),
            secret_hash: self.secret_hash,
            grants: serde_json::from_str(&self.grants).unwrap_or_default(),
            audiences: serde_json::from_str(&self.audiences).unwrap_or_default(),
            created_at: self.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_principal_secret_leaves_out_the_hash() {
        let secret = PrincipalSecret {
            principal: ServicePrincipalRow {
                id: "id-a".into(),
                account_id: "acct".into(),
                client_id: "a".into(),
                name: "etl".into(),
                description: None,
                created_at: 0,
                secret_id: None,
            },
            secret_hash: "feedface".into(),
        };
        let shown = format!("{secret:?}");
        assert!(!shown.contains("feedface"), "{shown}");
    }
}
