//! The arguments a caller passes to choose credentials, and the six rules
//! that are checked before any file or network I/O.

use std::fmt;

use komodo_protocol::secret::{AccessToken, ClientSecret};

use crate::env;

/// Credentials passed explicitly, as `get_snowflake_connection(...)` takes
/// them. Every field is optional; [`validate`](AuthArgs::validate) says
/// whether the combination is allowed.
///
/// ```
/// use komodo::auth::AuthArgs;
///
/// let args = AuthArgs::new().profile("production");
/// assert!(args.validate().is_ok());
/// let bad = AuthArgs::new().profile("production").account_id("123");
/// assert!(bad.validate().is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthArgs {
    /// An access token (JWT); needs `account_id`.
    pub jwt: Option<AccessToken>,
    /// A service principal's client id; needs `client_secret` and `account_id`.
    pub client_id: Option<String>,
    /// A service principal's client secret; needs `client_id` and `account_id`.
    pub client_secret: Option<ClientSecret>,
    /// The account to act on.
    pub account_id: Option<String>,
    /// A named profile of the credentials file (client credentials only).
    pub profile: Option<String>,
}

impl fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthArgs")
            .field("jwt", &self.jwt)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("account_id", &self.account_id)
            .field("profile", &self.profile)
            .finish()
    }
}

impl AuthArgs {
    /// No arguments: the `[default]` profile, then web login, decide.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the access token.
    pub fn jwt(mut self, jwt: impl Into<String>) -> Self {
        self.jwt = Some(AccessToken::new(jwt));
        self
    }

    /// Sets the client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the client secret.
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(client_secret));
        self
    }

    /// Sets the account id.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// Sets the profile name.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Checks the combination against the six rules and returns the method
    /// it selects, with its values: what the chain then uses, without
    /// looking at the fields again.
    pub fn validate(&self) -> Result<Method, ArgsError> {
        self.validate_as(&ARGUMENTS)
    }

    pub(crate) fn validate_as(&self, names: &Names) -> Result<Method, ArgsError> {
        // Rule 6: an empty string where a value is expected.
        let empty = [
            (self.jwt.as_ref().is_some_and(AccessToken::is_empty), names.jwt),
            (self.client_id.as_ref().is_some_and(|v| v.trim().is_empty()), names.client_id),
            (self.client_secret.as_ref().is_some_and(ClientSecret::is_empty), names.client_secret),
            (self.account_id.as_ref().is_some_and(|v| v.trim().is_empty()), names.account_id),
            (self.profile.as_ref().is_some_and(|v| v.trim().is_empty()), names.profile),
        ];
        if let Some((_, name)) = empty.iter().find(|(is_empty, _)| *is_empty) {
            return Err(ArgsError::Empty { name });
        }
        // Rule 1: a JWT together with client credentials.
        if self.jwt.is_some() && (self.client_id.is_some() || self.client_secret.is_some()) {
            let client = if self.client_id.is_some() { names.client_id } else { names.client_secret };
            return Err(ArgsError::JwtWithClientCredentials { jwt: names.jwt, client });
        }
        if let Some(name) = &self.profile {
            // Rule 2: a profile together with explicit credentials.
            let other = [
                (self.jwt.is_some(), names.jwt),
                (self.client_id.is_some(), names.client_id),
                (self.client_secret.is_some(), names.client_secret),
            ]
            .into_iter()
            .find_map(|(given, name)| given.then_some(name));
            if let Some(other) = other {
                return Err(ArgsError::ProfileWithCredentials { profile: names.profile, other });
            }
            // Rule 3: a profile together with an account.
            if self.account_id.is_some() {
                return Err(ArgsError::ProfileWithAccountId { profile: names.profile, account_id: names.account_id });
            }
            return Ok(Method::Profile { name: name.clone() });
        }
        // Rule 4: only half of the client credentials.
        let client = match (&self.client_id, &self.client_secret) {
            (Some(_), None) => {
                return Err(ArgsError::IncompleteClientCredentials {
                    given: names.client_id,
                    missing: names.client_secret,
                });
            }
            (None, Some(_)) => {
                return Err(ArgsError::IncompleteClientCredentials {
                    given: names.client_secret,
                    missing: names.client_id,
                });
            }
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
        };
        // Rule 5: a JWT or client credentials without an account.
        let account_id = self.account_id.clone();
        match (&self.jwt, client, account_id) {
            (Some(jwt), _, Some(account_id)) => Ok(Method::Jwt { jwt: jwt.clone(), account_id }),
            (Some(_), _, None) => Err(ArgsError::MissingAccountId { method: names.jwt, account_id: names.account_id }),
            (None, Some((client_id, client_secret)), Some(account_id)) => Ok(Method::ClientCredentials {
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                account_id,
            }),
            (None, Some(_), None) => {
                Err(ArgsError::MissingAccountId { method: names.client_pair, account_id: names.account_id })
            }
            (None, None, Some(account_id)) => Ok(Method::AccountOnly { account_id }),
            (None, None, None) => Ok(Method::None),
        }
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The method a valid set of arguments selects, with the values it uses.
/// `Debug` never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `jwt` + `account_id`.
    Jwt {
        /// The access token.
        jwt: AccessToken,
        /// The account.
        account_id: String,
    },
    /// `client_id` + `client_secret` + `account_id`.
    ClientCredentials {
        /// The service principal's client id.
        client_id: String,
        /// Its secret.
        client_secret: ClientSecret,
        /// The account.
        account_id: String,
    },
    /// `profile`: a named profile holding client credentials.
    Profile {
        /// The profile's name.
        name: String,
    },
    /// `account_id` alone: selects the account for the lower sources.
    AccountOnly {
        /// The account.
        account_id: String,
    },
    /// Nothing at all.
    None,
}

impl Method {
    /// The account the method names on its own, outside a profile.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Method::Jwt { account_id, .. }
            | Method::ClientCredentials { account_id, .. }
            | Method::AccountOnly { account_id } => Some(account_id),
            Method::Profile { .. } | Method::None => None,
        }
    }
}

/// How the rules name each input in messages: argument names for
/// arguments, variable names for the environment.
#[derive(Debug)]
pub(crate) struct Names {
    pub jwt: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
    pub client_pair: &'static str,
    pub account_id: &'static str,
    pub profile: &'static str,
}

pub(crate) const ARGUMENTS: Names = Names {
    jwt: "jwt",
    client_id: "client_id",
    client_secret: "client_secret",
    client_pair: "client_id + client_secret",
    account_id: "account_id",
    profile: "profile",
};

pub(crate) const ENVIRONMENT: Names = Names {
    jwt: env::KOMODO_ACCESS_TOKEN,
    client_id: env::KOMODO_CLIENT_ID,
    client_secret: env::KOMODO_CLIENT_SECRET,
    client_pair: "KOMODO_CLIENT_ID + KOMODO_CLIENT_SECRET",
    account_id: env::KOMODO_ACCOUNT_ID,
    profile: env::KOMODO_PROFILE,
};

/// A combination of credentials that breaks one of the six rules. Each
/// message names the inputs as the caller wrote them and says how to fix
/// the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// Rule 1: a JWT together with client credentials.
    #[error(
        "cannot mix authentication methods: `{jwt}` cannot be combined with `{client}`; \
         authenticate with either a JWT or client credentials"
    )]
    JwtWithClientCredentials {
        /// The JWT input's name.
        jwt: &'static str,
        /// The client credential input's name.
        client: &'static str,
    },
    /// Rule 2: a profile together with explicit credentials.
    #[error(
        "cannot mix authentication methods: `{profile}` cannot be combined with `{other}`; \
         a profile holds its own credentials, so pass either the profile or explicit credentials"
    )]
    ProfileWithCredentials {
        /// The profile input's name.
        profile: &'static str,
        /// The explicit credential's name.
        other: &'static str,
    },
    /// Rule 3: a profile together with an account.
    #[error(
        "cannot combine `{profile}` with `{account_id}`: the profile contains the account ID; remove `{account_id}`"
    )]
    ProfileWithAccountId {
        /// The profile input's name.
        profile: &'static str,
        /// The account input's name.
        account_id: &'static str,
    },
    /// Rule 4: only one of the client id and the client secret.
    #[error("`{given}` was given without `{missing}`: service principal authentication needs both")]
    IncompleteClientCredentials {
        /// The half that was given.
        given: &'static str,
        /// The half that is missing.
        missing: &'static str,
    },
    /// Rule 5: a JWT or client credentials without an account.
    #[error("`{method}` requires `{account_id}`: pass the account ID as well (`komodo account get` prints it)")]
    MissingAccountId {
        /// The method's input names.
        method: &'static str,
        /// The account input's name.
        account_id: &'static str,
    },
    /// Rule 6: an empty string where a value is expected.
    #[error("`{name}` is empty: pass a value or leave it out")]
    Empty {
        /// The empty input's name.
        name: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_valid_usage() {
        assert_eq!(AuthArgs::new().profile("production").validate(), Ok(Method::Profile { name: "production".into() }));
        let m2m = AuthArgs::new().client_id("c").client_secret("s").account_id("a");
        assert_eq!(
            m2m.validate(),
            Ok(Method::ClientCredentials { client_id: "c".into(), client_secret: "s".into(), account_id: "a".into() })
        );
        assert_eq!(
            AuthArgs::new().jwt("j").account_id("a").validate(),
            Ok(Method::Jwt { jwt: "j".into(), account_id: "a".into() })
        );
        assert_eq!(AuthArgs::new().validate(), Ok(Method::None));
        assert_eq!(AuthArgs::new().account_id("a").validate(), Ok(Method::AccountOnly { account_id: "a".into() }));
    }

    #[test]
    fn each_rule_has_its_error() {
        let cases = [
            (AuthArgs::new().jwt("j").client_id("c").account_id("a"), "cannot mix authentication methods: `jwt`"),
            (AuthArgs::new().profile("p").client_id("c"), "`profile` cannot be combined with `client_id`"),
            (AuthArgs::new().profile("p").jwt("j"), "`profile` cannot be combined with `jwt`"),
            (AuthArgs::new().profile("p").account_id("a"), "the profile contains the account ID"),
            (AuthArgs::new().client_id("c").account_id("a"), "`client_id` was given without `client_secret`"),
            (AuthArgs::new().client_secret("s").account_id("a"), "`client_secret` was given without `client_id`"),
            (AuthArgs::new().jwt("j"), "`jwt` requires `account_id`"),
            (AuthArgs::new().client_id("c").client_secret("s"), "`client_id + client_secret` requires `account_id`"),
            (AuthArgs::new().jwt("").account_id("a"), "`jwt` is empty"),
            (AuthArgs::new().profile(" "), "`profile` is empty"),
        ];
        for (args, expected) in cases {
            let err = args.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }

    #[test]
    fn environment_names_variables() {
        let args = AuthArgs::new().client_id("c").account_id("a");
        let err = args.validate_as(&ENVIRONMENT).unwrap_err().to_string();
        assert!(err.contains("`KOMODO_CLIENT_ID` was given without `KOMODO_CLIENT_SECRET`"), "{err}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let args = AuthArgs::new().jwt("eyJ.SECRET.x").client_secret("kmd_sp_SECRET");
        assert!(!format!("{args:?}").contains("SECRET"));
        let methods = [
            AuthArgs::new().jwt("eyJ.SECRET.x").account_id("a").validate().unwrap(),
            AuthArgs::new().client_id("c").client_secret("kmd_sp_SECRET").account_id("a").validate().unwrap(),
        ];
        assert!(!format!("{methods:?}").contains("SECRET"));
    }
}
