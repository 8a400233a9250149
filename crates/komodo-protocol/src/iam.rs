//! IAM API wire types: the current user, the caller's identity, and service
//! principals, with the field names of `PROTOCOL.md`.
//!
//! Identifiers (user, organisation, account and service principal ids) are
//! UUIDs in their canonical hyphenated text form.

use serde::{Deserialize, Serialize};

use crate::secret::{AccessToken, ClientSecret};

/// The header that scopes an IAM call to one account.
pub const ACCOUNT_ID_HEADER: &str = "x-account-id";
/// The prefix of every service principal client secret, for leak scanners.
pub const CLIENT_SECRET_PREFIX: &str = "kmd_sp_";
/// The prefix of every service principal client id.
pub const CLIENT_ID_PREFIX: &str = "kmd_spc_";

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May manage the account's service principals.
    Admin,
    /// May use the account: read its data and change its own databases.
    Member,
    /// May read the account's data and change none of it.
    Reader,
}

impl Role {
    /// The role's wire name (`admin`, `member` or `reader`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Reader => "reader",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "reader" => Ok(Role::Reader),
            other => Err(format!("unknown role `{other}`: expected `admin`, `member` or `reader`")),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/iam/users/me?expand=organizations.accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMe {
    /// The user's id.
    pub user_id: String,
    /// The user's email address.
    pub email: String,
    /// The user's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Organisations in which the user is a member of at least one account.
    #[serde(default)]
    pub organizations: Vec<Organization>,
}

/// An organisation with the accounts the caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The organisation's id.
    pub organization_id: String,
    /// Display name.
    pub name: String,
    /// URL-safe unique name.
    pub slug: String,
    /// The caller's accounts in this organisation.
    #[serde(default)]
    pub accounts: Vec<Account>,
}

/// An account and the caller's role in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account's id (UUID).
    pub account_id: String,
    /// URL-safe unique name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The caller's role.
    pub role: Role,
}

/// `GET /v1/iam/identity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `user` or `service_principal`.
    pub jwt_type: JwtType,
    /// Set when `jwt_type` is `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<IdentityUser>,
    /// Set when `jwt_type` is `service_principal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<ServicePrincipal>,
}

/// What kind of principal a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JwtType {
    /// A person who logged in.
    User,
    /// A machine identity bound to one account.
    ServicePrincipal,
}

/// The user part of an [`Identity`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityUser {
    /// The user's id.
    pub user_id: String,
    /// The user's email address.
    pub email: String,
    /// The user's display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `active` (a user who can sign in).
    #[serde(default)]
    pub status: String,
    /// `EXTERNAL` (a customer's user) or `INTERNAL`.
    #[serde(default)]
    pub user_type: String,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// Last change of the record, RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// A user's `status` in an [`Identity`]: every user the platform knows can
/// sign in.
pub const USER_STATUS_ACTIVE: &str = "active";
/// A user's `user_type` in an [`Identity`]: the platform's users are its
/// customers' people.
pub const USER_TYPE_EXTERNAL: &str = "EXTERNAL";

/// A service principal as listed and described (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePrincipal {
    /// The service principal's id.
    pub service_principal_id: String,
    /// Its OAuth client id.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Free-text description (`""` when none was given).
    #[serde(default)]
    pub description: Option<String>,
    /// The one account it belongs to.
    pub account_id: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last change of the record, RFC 3339.
    #[serde(default)]
    pub updated_at: String,
}

/// `POST /v1/iam/service-principals/token` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePrincipalTokenRequest {
    /// The service principal's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: ClientSecret,
}

/// `POST /v1/iam/service-principals/token` response (201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicePrincipalTokenResponse {
    /// The access token (the same the client credentials grant issues).
    pub access_token: AccessToken,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// The service principal's id.
    pub service_principal_id: String,
}

/// `POST /internal/service-principals` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateServicePrincipalRequest {
    /// Name.
    pub name: String,
    /// Free-text description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `POST /internal/service-principals` response (201): the only time the
/// secret is ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedServicePrincipal {
    /// The service principal's id.
    pub service_principal_id: String,
    /// Its OAuth client id.
    pub client_id: String,
    /// Its secret (prefix `kmd_sp_`).
    pub client_secret: ClientSecret,
    /// Name.
    pub name: String,
    /// Free-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// The account it belongs to.
    pub account_id: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// `GET /internal/service-principals` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePrincipalList {
    /// The account's service principals.
    pub service_principals: Vec<ServicePrincipal>,
}

/// `POST /internal/service-principals/{id}/rotate-secret` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedSecret {
    /// The service principal's id.
    pub service_principal_id: String,
    /// Its client id (unchanged).
    pub client_id: String,
    /// The new secret; the old one stops working at once.
    pub client_secret: ClientSecret,
}

/// The error body of every IAM call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A stable machine-readable code (`unauthorized`, `forbidden`,
    /// `not_found`, `invalid_request`, `conflict`, ...).
    pub error: String,
    /// A human-readable explanation.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_uses_snake_case_jwt_type() {
        let identity = Identity { jwt_type: JwtType::ServicePrincipal, user: None, service_principal: None };
        let json = serde_json::to_string(&identity).unwrap();
        assert_eq!(json, r#"{"jwt_type":"service_principal"}"#);
    }

    #[test]
    fn created_principal_debug_hides_the_secret() {
        let created = CreatedServicePrincipal {
            service_principal_id: "id".into(),
            client_id: "kmd_spc_x".into(),
            client_secret: ClientSecret::new("kmd_sp_topsecret"),
            name: "n".into(),
            description: None,
            account_id: "a".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        assert!(!format!("{created:?}").contains("topsecret"));
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["client_secret"], "kmd_sp_topsecret");
    }

    #[test]
    fn roles_parse() {
        assert_eq!("admin".parse::<Role>().unwrap(), Role::Admin);
        assert!("owner".parse::<Role>().is_err());
    }
}

/// `GET /internal/warehouse` (with `x-account-id`): where the account's
/// statements run. Never a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountWarehouse {
    /// The account's id.
    pub account_id: String,
    /// `embedded` (the platform's own warehouse) or `snowflake` (an
    /// upstream Snowflake account behind the gateway).
    pub backend: String,
    /// The upstream, for `snowflake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snowflake: Option<UpstreamWarehouse>,
}

/// The upstream Snowflake account an account's statements run in, as its
/// members may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamWarehouse {
    /// The Snowflake account name.
    pub account_name: String,
    /// The virtual warehouse, if set.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// The role, if set.
    #[serde(default)]
    pub role: Option<String>,
    /// The starting database, if set.
    #[serde(default)]
    pub database: Option<String>,
    /// The starting schema, if set.
    #[serde(default)]
    pub schema: Option<String>,
}
