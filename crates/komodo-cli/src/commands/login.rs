//! `komodo login` and `komodo logout`.

use std::sync::Arc;

use indicatif::ProgressBar;
use komodo::login::{DEFAULT_PROFILE, LoggedOut};
use komodo::oauth::{DeviceAuthorization, DevicePoll, LoginMode, LoginPrompt};
use parking_lot::Mutex;

use crate::Context;
use crate::cli::LoginArgs;
use crate::output::{Failure, Ui};

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
        *self.spinner.lock() = Some(self.ui.spinner("Waiting for you to log in"));
    }

    fn poll(&self, event: DevicePoll) {
        if let (DevicePoll::Unreachable(wait), Some(spinner)) = (event, self.spinner.lock().as_ref()) {
            spinner.set_message(format!("Cannot reach the platform; retrying in {}s", wait.as_secs()));
        }
    }

    fn finished(&self) {
        if let Some(spinner) = self.spinner.lock().take() {
            spinner.finish_and_clear();
        }
    }
}

/// `komodo login`.
pub(crate) async fn login(ctx: &Context, args: LoginArgs) -> Result<(), Failure> {
    ctx.default_only("login")?;
    let mode = LoginMode::choose(ctx.config.env(), args.device, args.port, args.no_browser);
    let prompt = Arc::new(CliPrompt { ui: ctx.ui.clone(), spinner: Mutex::new(None) });
    let logged_in = komodo::login::login(&ctx.config, mode, prompt).await?;
    let (user, account, path) = (&logged_in.user, logged_in.account.as_ref(), &logged_in.path);
    if ctx.ui.json() {
        ctx.ui.json_data(&serde_json::json!({
            "user_id": user.user_id,
            "email": user.email,
            "account_id": account.map(|a| &a.account_id),
            "account_slug": account.map(|a| &a.slug),
            "credentials_path": path,
        }));
    }
    ctx.ui.success(format!("Logged in as {} (saved to [default] in {})", user.email, path.display()));
    let accounts = logged_in.accounts().count();
    match account {
        Some(account) => ctx.ui.message(format!("Account: {} ({})", account.slug, account.account_id)),
        None if accounts == 0 => ctx.ui.warn("you belong to no account yet; ask an account admin to add you"),
        None => ctx.ui.message(format!(
            "You belong to {accounts} accounts; choose one with `komodo account set` (`komodo account list` shows them)"
        )),
    }
    Ok(())
}

/// `komodo logout`: revoke, then remove the token keys and nothing else.
pub(crate) async fn logout(ctx: &Context) -> Result<(), Failure> {
    let name = ctx.global.profile.clone().unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    match komodo::login::logout(&ctx.config, &name).await? {
        LoggedOut::NoCredentialsFile => ctx.ui.message("Not logged in: there is no credentials file."),
        LoggedOut::NoTokens => ctx.ui.message(format!("Not logged in: [{name}] holds no tokens.")),
        LoggedOut::Revoked => ctx.ui.success(format!("Logged out: the login in [{name}] is revoked and removed")),
        LoggedOut::NotRevoked(err) => ctx.ui.warn(format!(
            "removed the tokens of [{name}], but the platform could not revoke them ({err}); they stay valid until they expire"
        )),
        _ => ctx.ui.success(format!("Logged out of [{name}]")),
    }
    Ok(())
}
