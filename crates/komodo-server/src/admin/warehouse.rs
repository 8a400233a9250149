//! `set-warehouse` and `show-warehouse`: an account's warehouse backend,
//! the embedded one (the default) or an upstream Snowflake account reached
//! with key-pair authentication, its private key sealed with the master
//! key and never shown again.

use serde::Serialize;
use zeroize::Zeroizing;

use super::{Admin, AdminError};
use crate::store::iam::AccountRow;
use crate::store::warehouses::WarehouseBackendRow;
use crate::upstream::keypair::SigningKey;
use crate::upstream::registry::{key_aad, open_key};

/// What `set-warehouse ... snowflake` takes.
#[derive(Clone)]
pub struct SnowflakeBackend {
    /// The upstream's URL: `https://<account>.snowflakecomputing.com`
    /// (`http://` only for a loopback address, in tests).
    pub host: String,
    /// The Snowflake account name (`xy12345` or `myorg-myaccount`).
    pub account_name: String,
    /// The Snowflake user the gateway logs in as.
    pub user: String,
    /// The private key's PEM text.
    pub private_key_pem: Zeroizing<String>,
    /// The key's passphrase, when it is encrypted.
    pub passphrase: Option<Zeroizing<String>>,
    /// The role sessions use (else the user's default).
    pub role: Option<String>,
    /// The virtual warehouse sessions use.
    pub warehouse: Option<String>,
    /// The database sessions start in.
    pub database: Option<String>,
    /// The schema sessions start in.
    pub schema: Option<String>,
}

impl std::fmt::Debug for SnowflakeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnowflakeBackend")
            .field("host", &self.host)
            .field("account_name", &self.account_name)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// An account's warehouse as `show-warehouse` prints it (never a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarehouseView {
    /// The Komodo account's id.
    pub account_id: String,
    /// Its slug.
    pub account_slug: String,
    /// `embedded` or `snowflake`.
    pub backend: String,
    /// The upstream (Snowflake only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snowflake: Option<SnowflakeView>,
}

/// The upstream's settings, and the public key to register with its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnowflakeView {
    /// The upstream's URL.
    pub host: String,
    /// The Snowflake account name.
    pub account_name: String,
    /// The Snowflake user.
    pub user: String,
    /// `SHA256:<base64>`: Snowflake's `RSA_PUBLIC_KEY_FP` must match it.
    pub key_fingerprint: String,
    /// The role, if set.
    pub role: Option<String>,
    /// The virtual warehouse, if set.
    pub warehouse: Option<String>,
    /// The starting database, if set.
    pub database: Option<String>,
    /// The starting schema, if set.
    pub schema: Option<String>,
}

fn check_name(what: &str, value: &str) -> Result<String, AdminError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 255
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AdminError::Invalid(format!(
            "invalid {what} `{value}`: use letters, digits, `_`, `-`, `.` and `$` (as Snowflake names it, unquoted)"
        )))
    }
}

fn check_host(host: &str) -> Result<String, AdminError> {
    let invalid = |why: &str| {
        AdminError::Invalid(format!(
            "invalid --host `{host}`: {why}; give the account's URL, https://<account>.snowflakecomputing.com"
        ))
    };
    let url = url::Url::parse(host.trim()).map_err(|_| invalid("not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => return Err(invalid("it names no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid("the upstream is reached over https (http only on a loopback address)")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must hold no credentials, query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Admin {
    /// `set-warehouse --account X snowflake ...`: checks the settings and
    /// the key (RSA, 2048 bits or more, its passphrase), seals the key with
    /// the master key and stores them.
    pub async fn set_warehouse_snowflake(
        &self,
        account: &str,
        backend: &SnowflakeBackend,
    ) -> Result<WarehouseView, AdminError> {
        let account = self.account(account).await?;
        let host = check_host(&backend.host)?;
        let account_name = check_name("--account-name", &backend.account_name)?;
        let user = check_name("--user", &backend.user)?;
        let optional = |what: &str, value: &Option<String>| value.as_deref().map(|v| check_name(what, v)).transpose();
        let role = optional("--role", &backend.role)?;
        let warehouse = optional("--warehouse", &backend.warehouse)?;
        let database = optional("--database", &backend.database)?;
        let schema = optional("--schema", &backend.schema)?;
        let passphrase = backend.passphrase.as_ref().map(|p| p.as_bytes());
        let key = SigningKey::from_pem(&backend.private_key_pem, passphrase)
            .map_err(|e| AdminError::Invalid(format!("--private-key-file: {e}")))?;
        let sealed = self
            .secrets
            .seal(key.pkcs8_der(), &key_aad(&account.id))
            .map_err(|e| AdminError::Invalid(format!("cannot seal the private key: {e}")))?;
        let row = WarehouseBackendRow {
            account_id: account.id.clone(),
            kind: "snowflake".into(),
            host,
            account_name,
            user_name: user,
            private_key: sealed,
            key_fingerprint: key.fingerprint().to_owned(),
            role_name: role,
            warehouse,
            database_name: database,
            schema_name: schema,
            updated_at: crate::clock::now(),
        };
        self.store.set_warehouse_backend(&row).await?;
        Ok(view(&account, Some(&row)))
    }

    /// `set-warehouse --account X embedded`: the account's statements run
    /// on the embedded warehouse again.
    pub async fn set_warehouse_embedded(&self, account: &str) -> Result<WarehouseView, AdminError> {
        let account = self.account(account).await?;
        self.store.clear_warehouse_backend(&account.id).await?;
        Ok(view(&account, None))
    }

    /// `show-warehouse --account X`.
    pub async fn show_warehouse(&self, account: &str) -> Result<WarehouseView, AdminError> {
        let account = self.account(account).await?;
        let row = self.store.warehouse_backend(&account.id).await?;
        Ok(view(&account, row.as_ref()))
    }

    /// The signing key of an account's upstream, opened from the store.
    pub async fn warehouse_key(&self, account_id: &str) -> Result<Option<SigningKey>, AdminError> {
        let Some(row) = self.store.warehouse_backend(account_id).await? else { return Ok(None) };
        open_key(&self.secrets, &row)
            .map(Some)
            .map_err(|e| AdminError::Invalid(format!("cannot open the upstream's private key: {e}")))
    }
}

fn view(account: &AccountRow, row: Option<&WarehouseBackendRow>) -> WarehouseView {
    WarehouseView {
        account_id: account.id.clone(),
        account_slug: account.slug.clone(),
        backend: row.map_or("embedded", |r| r.kind.as_str()).to_owned(),
        snowflake: row.map(|r| SnowflakeView {
            host: r.host.clone(),
            account_name: r.account_name.clone(),
            user: r.user_name.clone(),
            key_fingerprint: r.key_fingerprint.clone(),
            role: r.role_name.clone(),
            warehouse: r.warehouse.clone(),
            database: r.database_name.clone(),
            schema: r.schema_name.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_https_or_loopback() {
        assert_eq!(
            check_host("https://xy12345.snowflakecomputing.com/").unwrap(),
            "https://xy12345.snowflakecomputing.com"
        );
        assert!(check_host("http://127.0.0.1:8123").is_ok());
        for bad in ["http://example.com", "ftp://x", "https://u:p@x.com", "https://x.com/?a=1", "nope"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        assert!(check_name("--user", "ETL_USER").is_ok());
        assert!(check_name("--user", "a b").is_err());
        assert!(check_name("--role", "x\"; drop").is_err());
    }
}
