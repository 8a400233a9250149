//! The platform's IAM API: the user and their accounts, the caller's
//! identity, and service principals.

use std::fmt;

use komodo_protocol::iam::{
    ACCOUNT_ID_HEADER, AccountWarehouse, ApiError, CreateServicePrincipalRequest, CreatedServicePrincipal, Identity,
    RotatedSecret, ServicePrincipal, ServicePrincipalList, ServicePrincipalTokenRequest, ServicePrincipalTokenResponse,
    UserMe,
};
use komodo_protocol::secret::{AccessToken, ClientSecret};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

/// Why an IAM call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IamError {
    /// The platform answered with an error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error code (`forbidden`, `not_found`, ...).
        code: String,
        /// The platform's explanation.
        message: String,
    },
    /// The platform could not be reached.
    #[error("cannot reach the platform: {0}")]
    Unavailable(String),
    /// The platform answered something this client does not understand.
    #[error("unexpected answer from the platform: {0}")]
    Protocol(String),
}

impl IamError {
    /// Whether the platform refused the token (HTTP 401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, IamError::Api { status: 401, .. })
    }

    /// Whether the caller lacks the right (HTTP 403).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, IamError::Api { status: 403, .. })
    }

    /// Whether the thing asked for does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, IamError::Api { status: 404, .. })
    }
}

/// A client of one platform's IAM API.
#[derive(Clone)]
pub struct IamClient {
    http: reqwest::Client,
    base: Url,
}

impl fmt::Debug for IamClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamClient").field("base", &self.base.as_str()).finish()
    }
}

impl IamClient {
    /// The IAM API of the platform at `base`.
    pub fn new(http: reqwest::Client, base: Url) -> Self {
        Self { http, base }
    }

    /// The user, with their organisations and accounts.
    pub async fn me(&self, token: &AccessToken) -> Result<UserMe, IamError> {
        self.call(Method::GET, "v1/iam/users/me?expand=organizations.accounts", token, None, None::<&()>).await
    }

    /// Who the token belongs to: a user or a service principal.
    pub async fn identity(&self, token: &AccessToken) -> Result<Identity, IamError> {
        self.call(Method::GET, "v1/iam/identity", token, None, None::<&()>).await
    }

    /// Exchanges service principal credentials for an access token (the
    /// peer-compatible endpoint; the OAuth client credentials grant gives
    /// the same token).
    pub async fn service_principal_token(
        &self,
        client_id: &str,
        client_secret: &ClientSecret,
    ) -> Result<ServicePrincipalTokenResponse, IamError> {
        let body =
            ServicePrincipalTokenRequest { client_id: client_id.to_owned(), client_secret: client_secret.clone() };
        let request = self.http.post(self.url("v1/iam/service-principals/token")).json(&body);
        decode(request.send().await).await
    }

    /// Creates a service principal in `account_id` (account admins only).
    /// The response holds the secret: the only time it is ever shown.
    pub async fn create_service_principal(
        &self,
        token: &AccessToken,
        account_id: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<CreatedServicePrincipal, IamError> {
        let body = CreateServicePrincipalRequest { name: name.to_owned(), description: description.map(str::to_owned) };
        self.call(Method::POST, "internal/service-principals", token, Some(account_id), Some(&body)).await
    }

    /// The service principals of `account_id` (never their secrets).
    pub async fn list_service_principals(
        &self,
        token: &AccessToken,
        account_id: &str,
    ) -> Result<Vec<ServicePrincipal>, IamError> {
        let list: ServicePrincipalList =
            self.call(Method::GET, "internal/service-principals", token, Some(account_id), None::<&()>).await?;
        Ok(list.service_principals)
    }

    /// Where `account_id`'s statements run: the embedded warehouse or an
    /// upstream Snowflake account.
    pub async fn warehouse(&self, token: &AccessToken, account_id: &str) -> Result<AccountWarehouse, IamError> {
        self.call(Method::GET, "internal/warehouse", token, Some(account_id), None::<&()>).await
    }

    /// Deletes a service principal; its tokens stop working at once.
    pub async fn delete_service_principal(
        &self,
        token: &AccessToken,
        account_id: &str,
        id: &str,
    ) -> Result<(), IamError> {
        let path = format!("internal/service-principals/{}", encode_segment(id));
        let request = self.authorized(Method::DELETE, &path, token, Some(account_id));
        let response = request.send().await.map_err(|e| IamError::Unavailable(e.to_string()))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(api_error(response).await)
    }

    /// Gives a service principal a new secret; the old one stops working.
    pub async fn rotate_secret(
        &self,
        token: &AccessToken,
        account_id: &str,
        id: &str,
    ) -> Result<RotatedSecret, IamError> {
        let path = format!("internal/service-principals/{}/rotate-secret", encode_segment(id));
        self.call(Method::POST, &path, token, Some(account_id), None::<&()>).await
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    fn authorized(
        &self,
        method: Method,
        path: &str,
        token: &AccessToken,
        account_id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token.expose_secret());
        if let Some(account_id) = account_id {
            request = request.header(ACCOUNT_ID_HEADER, account_id);
        }
        request
    }

    async fn call<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        method: Method,
        path: &str,
        token: &AccessToken,
        account_id: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, IamError> {
        let mut request = self.authorized(method, path, token, account_id);
        if let Some(body) = body {
            request = request.json(body);
        }
        decode(request.send().await).await
    }
}

fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

async fn decode<T: DeserializeOwned>(response: Result<reqwest::Response, reqwest::Error>) -> Result<T, IamError> {
    let response = response.map_err(|e| IamError::Unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(api_error(response).await);
    }
    let bytes = response.bytes().await.map_err(|e| IamError::Unavailable(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| IamError::Protocol(format!("cannot decode the response: {e}")))
}

async fn api_error(response: reqwest::Response) -> IamError {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(body) => IamError::Api { status: status.as_u16(), code: body.error, message: body.message },
        Err(_) => IamError::Api {
            status: status.as_u16(),
            code: status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "_"),
            message: match status {
                StatusCode::UNAUTHORIZED => "the platform refused the access token".to_owned(),
                _ => format!("the platform answered {status}"),
            },
        },
    }
}
