//! What a section of the credentials file means.

use std::path::Path;

use komodo_protocol::secret::{AccessToken, ClientSecret, RefreshToken};

use super::{CredentialsError, Document};
use crate::token::{TokenSet, jwt_expiry, unix_seconds};

/// The keys Komodo reads and writes.
pub mod keys {
    /// The access token (JWT) written by `komodo login`.
    pub const TOKEN: &str = "token";
    /// The access token's expiry, in seconds since the Unix epoch.
    pub const TOKEN_EXPIRATION: &str = "token_expiration";
    /// The refresh token written by `komodo login`.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// The account the profile acts on.
    pub const ACCOUNT_ID: &str = "account_id";
    /// The account's human-readable slug.
    pub const ACCOUNT_SLUG: &str = "account_slug";
    /// A service principal's client id.
    pub const CLIENT_ID: &str = "client_id";
    /// A service principal's client secret.
    pub const CLIENT_SECRET: &str = "client_secret";
    /// The platform URL this profile belongs to.
    pub const API_URL: &str = "api_url";
}

/// A login profile's contents (what `komodo login` writes to `[default]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenProfile {
    /// The access token, if any.
    pub token: Option<AccessToken>,
    /// The access token's expiry (Unix seconds), if recorded.
    pub token_expiration: Option<u64>,
    /// The refresh token, if any.
    pub refresh_token: Option<RefreshToken>,
    /// The selected account.
    pub account_id: Option<String>,
    /// The selected account's slug.
    pub account_slug: Option<String>,
    /// The platform URL the tokens were issued by.
    pub api_url: Option<String>,
}

/// A service principal profile's contents (the seed's `[production]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsProfile {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: ClientSecret,
    /// The account the service principal belongs to.
    pub account_id: Option<String>,
    /// The account's slug.
    pub account_slug: Option<String>,
    /// The platform URL the principal belongs to.
    pub api_url: Option<String>,
}

/// The meaning of one section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// Tokens from a web login (possibly none left, after `komodo logout`).
    Token(TokenProfile),
    /// Service principal credentials.
    ClientCredentials(ClientCredentialsProfile),
}

impl Profile {
    /// Reads section `name` of `doc`; `Ok(None)` when there is no such section.
    ///
    /// A section holding only one of `client_id` / `client_secret`, both a
    /// token and client credentials, or a `token_expiration` that is not a
    /// number is an error naming the line.
    pub fn from_document(doc: &Document, name: &str, path: &Path) -> Result<Option<Self>, CredentialsError> {
        let Some(section) = doc.section(name) else { return Ok(None) };
        let invalid = |line: usize, problem: String| CredentialsError::InvalidProfile {
            path: path.to_owned(),
            profile: name.to_owned(),
            line,
            problem,
        };
        let non_empty = |key: &str| section.get(key).filter(|v| !v.is_empty()).map(str::to_owned);
        let line_of = |key: &str| section.entry(key).map_or(section.header_line(), |(_, _, line)| line);
        let account_id = non_empty(keys::ACCOUNT_ID);
        let account_slug = non_empty(keys::ACCOUNT_SLUG);
        let api_url = non_empty(keys::API_URL);
        let client_id = non_empty(keys::CLIENT_ID);
        let client_secret = non_empty(keys::CLIENT_SECRET);
        let token = non_empty(keys::TOKEN);

        if client_id.is_some() || client_secret.is_some() {
            if token.is_some() {
                return Err(invalid(
                    line_of(keys::TOKEN),
                    "holds both a token and client credentials; keep one of them (a login token belongs in [default])"
                        .into(),
                ));
            }
            return match (client_id, client_secret) {
                (Some(client_id), Some(client_secret)) => {
                    Ok(Some(Profile::ClientCredentials(ClientCredentialsProfile {
                        client_id,
                        client_secret: ClientSecret::new(client_secret),
                        account_id,
                        account_slug,
                        api_url,
                    })))
                }
                (Some(_), None) => Err(invalid(
                    line_of(keys::CLIENT_ID),
                    "has `client_id` but no `client_secret`; add the secret".into(),
                )),
                _ => Err(invalid(
                    line_of(keys::CLIENT_SECRET),
                    "has `client_secret` but no `client_id`; add the client id".into(),
                )),
            };
        }

        let token_expiration = match section.entry(keys::TOKEN_EXPIRATION) {
            Some((_, "", _)) => None,
            Some((_, value, line)) => Some(value.parse::<u64>().map_err(|_| {
                invalid(line, format!("`token_expiration` must be seconds since the Unix epoch, not {value:?}"))
            })?),
            None => None,
        };
        Ok(Some(Profile::Token(TokenProfile {
            token: token.map(AccessToken::new),
            token_expiration,
            refresh_token: non_empty(keys::REFRESH_TOKEN).map(RefreshToken::new),
            account_id,
            account_slug,
            api_url,
        })))
    }

    /// The account the profile names.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Profile::Token(p) => p.account_id.as_deref(),
            Profile::ClientCredentials(p) => p.account_id.as_deref(),
        }
    }

    /// The platform URL the profile names.
    pub fn api_url(&self) -> Option<&str> {
        match self {
            Profile::Token(p) => p.api_url.as_deref(),
            Profile::ClientCredentials(p) => p.api_url.as_deref(),
        }
    }
}

/// Edits of a login profile (what `komodo login` keeps in `[default]`):
/// the one place its keys are written, by `komodo login`, `komodo logout`,
/// `komodo account set` and every refresh.
///
/// ```
/// use komodo::auth::TokenSet;
/// use komodo::credentials::{Document, LoginProfileEdit};
///
/// let mut doc = Document::parse("# mine\n[default]\naccount_id = a\n").unwrap();
/// let tokens = TokenSet { access_token: "t".into(), expires_at: None, refresh_token: Some("r".into()) };
/// LoginProfileEdit::new(&mut doc, "default", "credentials".as_ref()).tokens(&tokens).unwrap();
/// assert_eq!(doc.render(), "# mine\n[default]\naccount_id = a\ntoken = t\nrefresh_token = r\n");
/// ```
#[derive(Debug)]
pub struct LoginProfileEdit<'a> {
    doc: &'a mut Document,
    name: &'a str,
    path: &'a Path,
}

impl<'a> LoginProfileEdit<'a> {
    /// Edits section `name` of `doc`, the contents of the file at `path`
    /// (named in errors).
    pub fn new(doc: &'a mut Document, name: &'a str, path: &'a Path) -> Self {
        Self { doc, name, path }
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), CredentialsError> {
        self.doc
            .set(self.name, key, value)
            .map(drop)
            .map_err(|source| CredentialsError::Edit { path: self.path.to_owned(), source })
    }

    fn set_or_remove(&mut self, key: &str, value: Option<&str>) -> Result<(), CredentialsError> {
        match value {
            Some(value) => self.set(key, value),
            None => {
                self.doc.remove(self.name, key);
                Ok(())
            }
        }
    }

    /// Writes a login's tokens: the access token, its expiry (the token
    /// set's, else the JWT's `exp`; removed when unknown) and the refresh
    /// token (removed when the set holds none).
    pub fn tokens(&mut self, tokens: &TokenSet) -> Result<&mut Self, CredentialsError> {
        self.set(keys::TOKEN, tokens.access_token.expose_secret())?;
        let expiration = tokens.expires_at.or_else(|| jwt_expiry(&tokens.access_token));
        self.set_or_remove(keys::TOKEN_EXPIRATION, expiration.map(|at| unix_seconds(at).to_string()).as_deref())?;
        self.set_or_remove(keys::REFRESH_TOKEN, tokens.refresh_token.as_ref().map(RefreshToken::expose_secret))?;
        Ok(self)
    }

    /// Removes the tokens and nothing else (`komodo logout`).
    pub fn clear_tokens(&mut self) -> &mut Self {
        for key in [keys::TOKEN, keys::TOKEN_EXPIRATION, keys::REFRESH_TOKEN] {
            self.doc.remove(self.name, key);
        }
        self
    }

    /// Selects the account (`account_id`, `account_slug`), or removes the
    /// selection when `None`.
    pub fn account(&mut self, account: Option<(&str, &str)>) -> Result<&mut Self, CredentialsError> {
        self.set_or_remove(keys::ACCOUNT_ID, account.map(|(id, _)| id))?;
        self.set_or_remove(keys::ACCOUNT_SLUG, account.map(|(_, slug)| slug))?;
        Ok(self)
    }

    /// Records the platform the tokens belong to, or removes it when `None`
    /// (the default platform).
    pub fn api_url(&mut self, api_url: Option<&str>) -> Result<&mut Self, CredentialsError> {
        self.set_or_remove(keys::API_URL, api_url)?;
        Ok(self)
    }
}

impl ClientCredentialsProfile {
    /// Writes these credentials into section `name` of `doc` (the file at
    /// `path`): client id, secret and account, the slug when known, and
    /// the platform URL when one is recorded.
    pub fn write(&self, doc: &mut Document, name: &str, path: &Path) -> Result<(), CredentialsError> {
        let edit = |doc: &mut Document, key: &str, value: &str| {
            doc.set(name, key, value)
                .map(drop)
                .map_err(|source| CredentialsError::Edit { path: path.to_owned(), source })
        };
        edit(doc, keys::CLIENT_ID, &self.client_id)?;
        edit(doc, keys::CLIENT_SECRET, self.client_secret.expose_secret())?;
        if let Some(account_id) = &self.account_id {
            edit(doc, keys::ACCOUNT_ID, account_id)?;
        }
        if let Some(slug) = &self.account_slug {
            edit(doc, keys::ACCOUNT_SLUG, slug)?;
        }
        if let Some(api_url) = &self.api_url {
            edit(doc, keys::API_URL, api_url)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str, name: &str) -> Result<Option<Profile>, CredentialsError> {
        Profile::from_document(&Document::parse(text).unwrap(), name, Path::new("/tmp/credentials"))
    }

    #[test]
    fn reads_token_and_client_credential_profiles() {
        let text = "[default]\ntoken = t\ntoken_expiration = 42\nrefresh_token = r\naccount_id = a\n\
                    [production]\nclient_id = c\nclient_secret = s\naccount_id = 1\naccount_slug = prod-org\n";
        let Some(Profile::Token(default)) = profile(text, "default").unwrap() else { panic!() };
        assert_eq!(default.token, Some(AccessToken::new("t")));
        assert_eq!(default.token_expiration, Some(42));
        assert_eq!(default.refresh_token, Some(RefreshToken::new("r")));
        let Some(Profile::ClientCredentials(prod)) = profile(text, "production").unwrap() else { panic!() };
        assert_eq!(prod.client_id, "c");
        assert_eq!(prod.account_slug.as_deref(), Some("prod-org"));
        assert!(profile(text, "staging").unwrap().is_none());
    }

    #[test]
    fn incomplete_or_ambiguous_profiles_name_the_line() {
        let err = profile("[p]\naccount_id = 1\nclient_id = c\n", "p").unwrap_err();
        assert!(matches!(err, CredentialsError::InvalidProfile { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("no `client_secret`"));
        let err = profile("[p]\nclient_secret = s\n", "p").unwrap_err();
        assert!(err.to_string().contains("no `client_id`"));
        let err = profile("[p]\ntoken = t\nclient_id = c\nclient_secret = s\n", "p").unwrap_err();
        assert!(err.to_string().contains("both a token and client credentials"));
        let err = profile("[default]\ntoken = t\ntoken_expiration = soon\n", "default").unwrap_err();
        assert!(matches!(err, CredentialsError::InvalidProfile { line: 3, .. }));
    }

    #[test]
    fn login_edits_write_their_keys_and_keep_the_rest() {
        let path = Path::new("/tmp/credentials");
        let mut doc = Document::parse("[default]\n# a note\ntoken = old\nrefresh_token = r0\nextra = kept\n").unwrap();
        let tokens = TokenSet {
            access_token: "t1".into(),
            expires_at: Some(crate::token::from_unix_seconds(42)),
            refresh_token: None,
        };
        LoginProfileEdit::new(&mut doc, "default", path)
            .tokens(&tokens)
            .unwrap()
            .account(Some(("a1", "acme")))
            .unwrap()
            .api_url(Some("https://platform.example.com/"))
            .unwrap();
        let Some(Profile::Token(profile)) = Profile::from_document(&doc, "default", path).unwrap() else { panic!() };
        assert_eq!(profile.token, Some(AccessToken::new("t1")));
        assert_eq!(profile.token_expiration, Some(42));
        assert_eq!(profile.refresh_token, None, "a login without a refresh token drops the old one");
        assert_eq!((profile.account_id.as_deref(), profile.account_slug.as_deref()), (Some("a1"), Some("acme")));
        assert!(doc.render().contains("# a note\n") && doc.get("default", "extra") == Some("kept"));
        LoginProfileEdit::new(&mut doc, "default", path).clear_tokens().account(None).unwrap().api_url(None).unwrap();
        assert_eq!(doc.render(), "[default]\n# a note\nextra = kept\n");
    }

    #[test]
    fn client_credentials_are_written_as_they_are_read() {
        let path = Path::new("/tmp/credentials");
        let written = ClientCredentialsProfile {
            client_id: "c".into(),
            client_secret: ClientSecret::new("s"),
            account_id: Some("1".into()),
            account_slug: None,
            api_url: Some("https://platform.example.com/".into()),
        };
        let mut doc = Document::default();
        written.write(&mut doc, "ci", path).unwrap();
        assert_eq!(Profile::from_document(&doc, "ci", path).unwrap(), Some(Profile::ClientCredentials(written)));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let text = "[default]\ntoken = tok-SECRET\nrefresh_token = ref-SECRET\n[p]\nclient_id = c\nclient_secret = cs-SECRET\n";
        let debug = format!("{:?} {:?}", profile(text, "default").unwrap(), profile(text, "p").unwrap());
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
