//! Client authentication at the token, device authorization, revocation
//! and introspection endpoints: `client_secret_basic`,
//! `client_secret_post`, or a public client naming itself with
//! `client_id`; and the registered client (public or confidential) a
//! request comes from.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use komodo_protocol::secret::ClientSecret;

use super::OAuthError;
use crate::state::AppState;
use crate::store::iam::ClientRow;

/// A registered client's grant: the authorization code grant.
pub const CLIENT_GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// A registered client's grant: refresh tokens.
pub const CLIENT_GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// A registered client's grant: the device authorization grant.
pub const CLIENT_GRANT_DEVICE: &str = "device";
/// Every grant a registered client can be given.
pub const CLIENT_GRANTS: [&str; 3] = [CLIENT_GRANT_AUTHORIZATION_CODE, CLIENT_GRANT_REFRESH_TOKEN, CLIENT_GRANT_DEVICE];

/// The registered client that presented these credentials: a public client
/// presenting no secret, or a confidential one presenting its secret
/// (checked against its keyed hash in constant time, S01).
pub async fn registered_client(state: &AppState, client: &PresentedClient) -> Result<ClientRow, OAuthError> {
    let Some(row) = state.store().client_by_id(&client.client_id).await? else {
        if client.secret.is_some() {
            return Err(OAuthError::invalid_client(
                "this grant is for registered clients; service principals use client_credentials",
                client.basic,
            ));
        }
        return Err(OAuthError::invalid_client("unknown client", client.basic));
    };
    match (&row.secret_hash, &client.secret) {
        (None, None) => Ok(row),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is public: send no client_secret (service principals use client_credentials)",
            client.basic,
        )),
        (Some(_), None) => {
            Err(OAuthError::invalid_client("this client is confidential: authenticate with its secret", client.basic))
        }
        (Some(hash), Some(secret)) => {
            if state.secrets().verify_client_secret(secret.expose_secret(), hash) {
                Ok(row)
            } else {
                Err(OAuthError::invalid_client("invalid client credentials", client.basic))
            }
        }
    }
}

/// The credentials a request presented.
#[derive(Debug, Clone)]
pub struct PresentedClient {
    /// The client id.
    pub client_id: String,
    /// The secret, for confidential clients.
    pub secret: Option<ClientSecret>,
    /// Whether it came in an HTTP Basic header.
    pub basic: bool,
}

/// Undoes `application/x-www-form-urlencoded` encoding (RFC 6749 section
/// 2.3.1 encodes the id and secret so before Base64).
fn form_decode(s: &str) -> Option<String> {
    if !s.bytes().any(|b| matches!(b, b'%' | b'+' | b'&')) {
        return Some(s.to_owned());
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={s}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// Reads the client's credentials from the Basic header or the form.
pub fn presented(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&ClientSecret>,
) -> Result<PresentedClient, OAuthError> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some((scheme, encoded)) = value.split_once(' ')
        && scheme.eq_ignore_ascii_case("basic")
    {
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not Basic and client_secret together",
            ));
        }
        let malformed = || OAuthError::invalid_client("malformed HTTP Basic credentials", true);
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let id = form_decode(id).ok_or_else(malformed)?;
        let secret = ClientSecret::new(form_decode(secret).ok_or_else(malformed)?);
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request("client_id in the form differs from the Basic credentials"));
        }
        return Ok(PresentedClient { client_id: id, secret: Some(secret), basic: true });
    }
    let client_id = form_id.filter(|s| !s.is_empty()).ok_or_else(|| {
        OAuthError::invalid_client(
            "client authentication required: send client_id (and client_secret for service principals)",
            false,
        )
    })?;
    Ok(PresentedClient { client_id: client_id.to_owned(), secret: form_secret.cloned(), basic: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Headers with `client_id:client_secret` in HTTP Basic.
    fn basic(credentials: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode(credentials);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Basic {encoded}")).unwrap());
        headers
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let presented = presented(&basic("my%20id:s%3Acret"), None, None).unwrap();
        assert_eq!(presented.client_id, "my id");
        assert_eq!(presented.secret.unwrap().expose_secret(), "s:cret");
        assert!(presented.basic);
    }

    #[test]
    fn basic_credentials_without_escapes_are_taken_as_they_are() {
        let presented = presented(&basic("sp-123:kmd_sp_abc-DEF_9"), None, None).unwrap();
        assert_eq!(presented.client_id, "sp-123");
        assert_eq!(presented.secret.unwrap().expose_secret(), "kmd_sp_abc-DEF_9");
        assert_eq!(form_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(form_decode("a&b").as_deref(), Some("a"), "as the form decoder reads it");
    }

    #[test]
    fn two_methods_are_rejected() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
        let err = presented(&headers, None, Some(&ClientSecret::new("x"))).unwrap_err();
        assert_eq!(err.error, "invalid_request");
    }
}
