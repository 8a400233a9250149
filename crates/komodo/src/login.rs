//! The login saved in the credentials file: what `komodo login`, `komodo
//! logout` and `komodo account set` do, as SDK calls. The CLI only shows
//! their progress and results.
//!
//! Every write goes through [`LoginProfileEdit`], the one writer of a login
//! profile's keys (refreshes use it too).

use std::path::PathBuf;
use std::sync::Arc;

use komodo_protocol::iam::{Account, UserMe};

use crate::Error;
use crate::auth::{AuthError, TokenError};
use crate::config::ProviderConfig;
use crate::credentials::{CredentialsStore, LoginProfileEdit, Profile, TokenProfile};
use crate::iam::IamClient;
use crate::oauth::{BrowserLogin, LoginMode, LoginPrompt, OAuthClient};
use crate::platform;

/// The profile `komodo login` writes.
pub const DEFAULT_PROFILE: &str = "default";

/// A completed [`login`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoggedIn {
    /// The user, with their organisations and accounts.
    pub user: UserMe,
    /// The account now selected: the one selected before if the user still
    /// belongs to it, else their only account, else none.
    pub account: Option<Account>,
    /// The credentials file the login was saved to.
    pub path: PathBuf,
}

impl LoggedIn {
    /// Every account the user belongs to.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.user.organizations.iter().flat_map(|o| o.accounts.iter())
    }
}

/// What [`logout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoggedOut {
    /// There is no credentials file: nothing to do.
    NoCredentialsFile,
    /// The profile holds no tokens: nothing to do.
    NoTokens,
    /// The tokens were revoked and removed.
    Revoked,
    /// The tokens were removed, but the platform could not revoke them:
    /// they stay valid until they expire.
    NotRevoked(TokenError),
}

/// The login saved in profile `name`, if any; a profile holding service
/// principal credentials is an error, never overwritten.
fn saved_login(store: &CredentialsStore, name: &str) -> Result<Option<TokenProfile>, Error> {
    let Some(doc) = store.read()? else { return Ok(None) };
    match Profile::from_document(&doc, name, store.path())? {
        Some(Profile::Token(profile)) => Ok(Some(profile)),
        Some(Profile::ClientCredentials(_)) => {
            Err(AuthError::HoldsClientCredentials { name: name.to_owned(), path: store.path().to_owned() }.into())
        }
        None => Ok(None),
    }
}

/// Logs in interactively (in `mode`, showing its instructions through
/// `prompt`) to the platform the configuration names (or the one the
/// previous login was made on), and saves the tokens in `[default]` with
/// the account it selects.
///
/// A credentials file that cannot be parsed stops the login before it
/// starts, and is never overwritten.
pub async fn login(config: &ProviderConfig, mode: LoginMode, prompt: Arc<dyn LoginPrompt>) -> Result<LoggedIn, Error> {
    let store = CredentialsStore::locate(config.env())?;
    let previous = saved_login(&store, DEFAULT_PROFILE)?.unwrap_or_default();
    let api_url = platform::api_url(config.env(), previous.api_url.as_deref())?;
    let tokens =
        BrowserLogin::new(config.clone(), mode, prompt).run(Some(api_url.as_str())).await.map_err(AuthError::from)?;

    let user = IamClient::new(config.http().clone(), api_url.clone()).me(&tokens.access_token).await?;
    let accounts: Vec<&Account> = user.organizations.iter().flat_map(|o| o.accounts.iter()).collect();
    // The previous choice is kept while the user still belongs to it, and
    // dropped otherwise.
    let kept = previous.account_id.as_deref().and_then(|id| accounts.iter().find(|a| a.account_id == id));
    let account = kept.or(if accounts.len() == 1 { accounts.first() } else { None }).map(|a| (*a).clone());
    let recorded_url = (!platform::is_default(&api_url)).then_some(api_url.as_str());

    store.update(|doc| {
        LoginProfileEdit::new(doc, DEFAULT_PROFILE, store.path())
            .tokens(&tokens)?
            .account(account.as_ref().map(|a| (a.account_id.as_str(), a.slug.as_str())))?
            .api_url(recorded_url)?;
        Ok(())
    })?;
    Ok(LoggedIn { user, account, path: store.path().to_owned() })
}

/// Logs out of the login saved in profile `name`: revokes its refresh token
/// (or its access token) on the platform, then removes the tokens and
/// nothing else, even when the platform cannot be reached.
pub async fn logout(config: &ProviderConfig, name: &str) -> Result<LoggedOut, Error> {
    let store = CredentialsStore::locate(config.env())?;
    if store.read()?.is_none() {
        return Ok(LoggedOut::NoCredentialsFile);
    }
    let profile = match saved_login(&store, name)? {
        Some(profile) if profile.token.is_some() || profile.refresh_token.is_some() => profile,
        _ => return Ok(LoggedOut::NoTokens),
    };
    let api_url = platform::api_url(config.env(), profile.api_url.as_deref())?;
    let oauth = OAuthClient::new(config.http().clone(), api_url);
    let revoked = match (&profile.refresh_token, &profile.token) {
        (Some(refresh), _) => oauth.revoke(refresh.expose_secret(), "refresh_token").await,
        (None, Some(token)) => oauth.revoke(token.expose_secret(), "access_token").await,
        (None, None) => Ok(()),
    };
    store.update(|doc| {
        LoginProfileEdit::new(doc, name, store.path()).clear_tokens();
        Ok(())
    })?;
    Ok(match revoked {
        Ok(()) => LoggedOut::Revoked,
        Err(err) => LoggedOut::NotRevoked(err),
    })
}

/// Selects `account` for the login saved in `[default]`.
pub fn select_account(config: &ProviderConfig, account: &Account) -> Result<(), Error> {
    let store = CredentialsStore::locate(config.env())?;
    store.update(|doc| {
        LoginProfileEdit::new(doc, DEFAULT_PROFILE, store.path())
            .account(Some((account.account_id.as_str(), account.slug.as_str())))?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;

    fn config(home: &std::path::Path) -> ProviderConfig {
        // Nothing listens on port 9: a test that got past the file checks
        // would fail differently.
        ProviderConfig::new(Env::from_slice(&[
            ("HOME", home.to_str().unwrap()),
            ("KOMODO_API_URL", "http://127.0.0.1:9"),
        ]))
    }

    fn write(home: &std::path::Path, text: &str) -> PathBuf {
        let path = home.join(".komodo/credentials");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[tokio::test]
    async fn a_login_never_overwrites_service_principal_credentials() {
        let home = tempfile::tempdir().unwrap();
        let text = "[default]\nclient_id = c\nclient_secret = s\n";
        let path = write(home.path(), text);
        let prompt = Arc::new(crate::oauth::StderrPrompt);
        let err = login(&config(home.path()), LoginMode::Device { open: false }, prompt).await.unwrap_err();
        assert!(matches!(err, Error::Auth(AuthError::HoldsClientCredentials { .. })), "{err:?}");
        let err = logout(&config(home.path()), "default").await.unwrap_err();
        assert!(matches!(err, Error::Auth(AuthError::HoldsClientCredentials { .. })), "{err:?}");
        assert_eq!(std::fs::read_to_string(path).unwrap(), text);
    }

    #[tokio::test]
    async fn logging_out_removes_the_tokens_even_when_the_platform_is_unreachable() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(logout(&config(home.path()), "default").await.unwrap(), LoggedOut::NoCredentialsFile);
        let path = write(home.path(), "[default]\ntoken = t\nrefresh_token = r\naccount_id = a\n");
        let out = logout(&config(home.path()), "default").await.unwrap();
        assert!(matches!(out, LoggedOut::NotRevoked(TokenError::Unavailable(_))), "{out:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[default]\naccount_id = a\n");
        assert_eq!(logout(&config(home.path()), "default").await.unwrap(), LoggedOut::NoTokens);
    }

    #[test]
    fn selecting_an_account_writes_it_to_default() {
        let home = tempfile::tempdir().unwrap();
        let path = write(home.path(), "[default]\ntoken = t\n");
        let account = Account {
            account_id: "a1".into(),
            slug: "acme".into(),
            name: "Acme".into(),
            role: komodo_protocol::iam::Role::Member,
        };
        select_account(&config(home.path()), &account).unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "[default]\ntoken = t\naccount_id = a1\naccount_slug = acme\n"
        );
    }
}
