//! `komodo login` and `komodo logout`.

use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use komodo::Error;
use komodo::auth::{LoginError, TokenSet, unix_seconds};
use komodo::credentials::{CredentialsError, Document, Profile, TokenProfile, keys};
use komodo::iam::IamClient;
use komodo::oauth::{BrowserLogin, DeviceAuthorization, DevicePoll, LoginMode, LoginPrompt, OAuthClient};
use komodo::platform;
use komodo_protocol::iam::Account;

use super::edit_error;
use crate::Context;
use crate::cli::LoginArgs;
use crate::output::{Failure, Ui, exit};

const DEFAULT: &str = "default";

/// Shows the login instructions and a spinner on stderr.
#[derive(Debug)]
struct CliPrompt {
    ui: Ui,
    spinner: Mutex<Option<ProgressBar>>,
}

impl LoginPrompt for CliPrompt {
    fn authorize(&self, url: &str, opened: bool) {
        if opened {
            self.ui.message(format!("Opening your browser to log in. If it does not open, visit:\n\n    {url}\n"));
        } else {
            self.ui.message(format!("Open this address in a browser on this machine to log in:\n\n    {url}\n"));
        }
    }

    fn device(&self, device: &DeviceAuthorization, _opened: bool) {
        self.ui.message(format!(
            "To log in, visit {} and enter the code:\n\n    {}\n",
            device.verification_uri, device.user_code
        ));
        if let Some(complete) = &device.verification_uri_complete {
            self.ui.message(format!("Or open {complete}\n"));
        }
    }

    fn waiting(&self) {
        *self.spinner.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.ui.spinner("Waiting for you to log in"));
    }

    fn poll(&self, event: DevicePoll) {
        if let (DevicePoll::Unreachable(wait), Some(spinner)) =
            (event, self.spinner.lock().unwrap_or_else(|e| e.into_inner()).as_ref())
        {
            spinner.set_message(format!("Cannot reach the platform; retrying in {}s", wait.as_secs()));
        }
    }

    fn finished(&self) {
        if let Some(spinner) = self.spinner.lock().unwrap_or_else(|e| e.into_inner()).take() {
            spinner.finish_and_clear();
        }
    }
}

fn login_failure(err: LoginError) -> Failure {
    let code = match &err {
        LoginError::Cancelled => exit::INTERRUPTED,
        LoginError::Token(komodo::auth::TokenError::Unavailable(_)) => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    };
    Failure::new(code, format!("login failed: {err}"))
}

/// `komodo login`.
pub(crate) async fn login(ctx: &Context, args: LoginArgs) -> Result<(), Failure> {
    ctx.default_only("login")?;
    let env = ctx.config.env();
    let store = ctx.store()?;
    // A file that cannot be parsed stops the login before it starts.
    let previous = match store.read().map_err(Error::Credentials)? {
        Some(doc) => match Profile::from_document(&doc, DEFAULT, store.path()).map_err(Error::Credentials)? {
            Some(Profile::Token(profile)) => profile,
            Some(Profile::ClientCredentials(_)) => {
                return Err(Failure::new(
                    exit::CONFIG,
                    format!("[default] in {} holds service principal credentials", store.path().display()),
                )
                .hint("move them to a named profile, then run `komodo login` again"));
            }
            None => TokenProfile::default(),
        },
        None => TokenProfile::default(),
    };
    let api_url = platform::api_url(env, previous.api_url.as_deref()).map_err(Error::Platform)?;

    let browser_none = env.get("BROWSER").is_some_and(|b| b.trim() == "none");
    let remote = env.get("SSH_CONNECTION").is_some() && env.get("DISPLAY").is_none();
    let mode = if args.device || ((browser_none || remote) && args.port.is_none() && !args.no_browser) {
        LoginMode::Device { open: !(args.no_browser || browser_none || remote) }
    } else {
        LoginMode::Browser { port: args.port, open: !(args.no_browser || browser_none) }
    };
    let prompt = Arc::new(CliPrompt { ui: ctx.ui.clone(), spinner: Mutex::new(None) });
    let tokens =
        BrowserLogin::new(ctx.config.clone(), mode, prompt).run(Some(api_url.as_str())).await.map_err(login_failure)?;

    let iam = IamClient::new(ctx.config.http().clone(), api_url.clone());
    let me = iam.me(&tokens.access_token).await.map_err(Error::Iam)?;
    let accounts: Vec<&Account> = me.organizations.iter().flat_map(|o| o.accounts.iter()).collect();
    let kept = previous.account_id.as_deref().and_then(|id| accounts.iter().find(|a| a.account_id == id));
    let choice = kept.or(if accounts.len() == 1 { accounts.first() } else { None }).copied();
    let record_url =
        platform::parse(platform::DEFAULT_API_URL, "the default platform URL").ok().as_ref() != Some(&api_url);

    store
        .update(|doc| write_login(doc, &tokens, choice, record_url.then_some(api_url.as_str()), store.path()))
        .map_err(Error::Credentials)?;

    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({
            "user_id": me.user_id,
            "email": me.email,
            "account_id": choice.map(|a| &a.account_id),
            "account_slug": choice.map(|a| &a.slug),
            "credentials_path": store.path(),
        }));
    }
    ctx.ui.success(format!("Logged in as {} (saved to [default] in {})", me.email, store.path().display()));
    match choice {
        Some(account) => ctx.ui.message(format!("Account: {} ({})", account.slug, account.account_id)),
        None if accounts.is_empty() => ctx.ui.warn("you belong to no account yet; ask an account admin to add you"),
        None => ctx.ui.message(format!(
            "You belong to {} accounts; choose one with `komodo account set` (`komodo account list` shows them)",
            accounts.len()
        )),
    }
    Ok(())
}

fn write_login(
    doc: &mut Document,
    tokens: &TokenSet,
    account: Option<&Account>,
    api_url: Option<&str>,
    path: &std::path::Path,
) -> Result<(), CredentialsError> {
    let edit = edit_error(path);
    doc.set(DEFAULT, keys::TOKEN, tokens.access_token.expose_secret()).map_err(&edit)?;
    let expiration = tokens.expires_at.or_else(|| komodo::auth::jwt_expiry(&tokens.access_token));
    match expiration {
        Some(at) => {
            doc.set(DEFAULT, keys::TOKEN_EXPIRATION, &unix_seconds(at).to_string()).map_err(&edit)?;
        }
        None => {
            doc.remove(DEFAULT, keys::TOKEN_EXPIRATION);
        }
    }
    match &tokens.refresh_token {
        Some(refresh) => {
            doc.set(DEFAULT, keys::REFRESH_TOKEN, refresh.expose_secret()).map_err(&edit)?;
        }
        None => {
            doc.remove(DEFAULT, keys::REFRESH_TOKEN);
        }
    }
    match account {
        Some(account) => {
            doc.set(DEFAULT, keys::ACCOUNT_ID, &account.account_id).map_err(&edit)?;
            doc.set(DEFAULT, keys::ACCOUNT_SLUG, &account.slug).map_err(&edit)?;
        }
        None => {
            // A previous choice this user cannot use any more is dropped.
            doc.remove(DEFAULT, keys::ACCOUNT_ID);
            doc.remove(DEFAULT, keys::ACCOUNT_SLUG);
        }
    }
    match api_url {
        Some(url) => {
            doc.set(DEFAULT, keys::API_URL, url).map_err(&edit)?;
        }
        None => {
            doc.remove(DEFAULT, keys::API_URL);
        }
    }
    Ok(())
}

/// `komodo logout`: revoke, then remove the token keys and nothing else.
pub(crate) async fn logout(ctx: &Context) -> Result<(), Failure> {
    let name = ctx.global.profile.clone().unwrap_or_else(|| DEFAULT.to_owned());
    let store = ctx.store()?;
    let Some(doc) = store.read().map_err(Error::Credentials)? else {
        ctx.ui.message("Not logged in: there is no credentials file.");
        return Ok(());
    };
    let profile = match Profile::from_document(&doc, &name, store.path()).map_err(Error::Credentials)? {
        Some(Profile::Token(profile)) if profile.token.is_some() || profile.refresh_token.is_some() => profile,
        Some(Profile::ClientCredentials(_)) => {
            return Err(Failure::new(
                exit::CONFIG,
                format!("profile [{name}] holds service principal credentials, not a login"),
            )
            .hint("delete the service principal with `komodo service-principal delete ID`, or remove the profile from the file"));
        }
        _ => {
            ctx.ui.message(format!("Not logged in: [{name}] holds no tokens."));
            return Ok(());
        }
    };
    let api_url = platform::api_url(ctx.config.env(), profile.api_url.as_deref()).map_err(Error::Platform)?;
    let oauth = OAuthClient::new(ctx.config.http().clone(), api_url);
    let revoked = match (&profile.refresh_token, &profile.token) {
        (Some(refresh), _) => oauth.revoke(refresh.expose_secret(), "refresh_token").await,
        (None, Some(token)) => oauth.revoke(token.expose_secret(), "access_token").await,
        (None, None) => Ok(()),
    };
    store
        .update(|doc| {
            for key in [keys::TOKEN, keys::TOKEN_EXPIRATION, keys::REFRESH_TOKEN] {
                doc.remove(&name, key);
            }
            Ok(())
        })
        .map_err(Error::Credentials)?;
    match revoked {
        Ok(()) => ctx.ui.success(format!("Logged out: the login in [{name}] is revoked and removed")),
        Err(err) => ctx.ui.warn(format!(
            "removed the tokens of [{name}], but the platform could not revoke them ({err}); they stay valid until they expire"
        )),
    }
    Ok(())
}
