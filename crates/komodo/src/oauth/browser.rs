//! A whole interactive login: in the browser with a loopback redirect, or
//! with the device flow where there is no browser.

use std::fmt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::login::{InteractiveLogin, LoginError};
use super::pkce::{pkce_pair, random_token};
use super::{CLI_SCOPES, DeviceAuthorization, DevicePoll, LoopbackListener, OAuthClient};
use crate::BoxFuture;
use crate::config::ProviderConfig;
use crate::env::Env;
use crate::token::TokenSet;

/// How the login reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    /// Authorization code + PKCE: the browser comes back to a loopback
    /// listener on 127.0.0.1.
    Browser {
        /// The listener's port (a free one when `None`), to pin it for SSH
        /// port forwarding.
        port: Option<u16>,
        /// Whether to open the browser (otherwise only show the URL).
        open: bool,
    },
    /// The device authorization grant: the user enters a code on any device.
    Device {
        /// Whether to open the verification page in a browser.
        open: bool,
    },
    /// Decided when the login starts: the device flow when `BROWSER=none`,
    /// else the browser flow.
    Auto,
}

impl LoginMode {
    /// The mode of an interactive command: the device flow when asked
    /// (`device`), or when no browser can come back to this machine
    /// (`BROWSER=none`, an SSH session without a display) and no `port` is
    /// pinned for forwarding; else the browser flow on `port`. With
    /// `no_browser` the address is shown and no browser opened.
    pub fn choose(env: &Env, device: bool, port: Option<u16>, no_browser: bool) -> Self {
        let browser_none = env.get("BROWSER").is_some_and(|b| b.trim() == "none");
        let remote = env.get("SSH_CONNECTION").is_some() && env.get("DISPLAY").is_none();
        if device || ((browser_none || remote) && port.is_none() && !no_browser) {
            LoginMode::Device { open: !(no_browser || browser_none || remote) }
        } else {
            LoginMode::Browser { port, open: !(no_browser || browser_none) }
        }
    }
}

/// What the user is shown during a login. The CLI draws a spinner; the
/// SDK's default writes plain lines to stderr.
pub trait LoginPrompt: Send + Sync + fmt::Debug {
    /// The login URL, and whether a browser was opened at it.
    fn authorize(&self, url: &str, opened: bool);
    /// The device code to enter, and whether a browser was opened.
    fn device(&self, device: &DeviceAuthorization, opened: bool);
    /// The login is waiting for the user.
    fn waiting(&self) {}
    /// A device poll found no answer yet.
    fn poll(&self, _event: DevicePoll) {}
    /// The login is over, for better or worse.
    fn finished(&self) {}
}

/// Writes the login instructions to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrPrompt;

impl LoginPrompt for StderrPrompt {
    fn authorize(&self, url: &str, opened: bool) {
        if opened {
            eprintln!("Opened your browser to log in to Komodo. If it did not open, visit:\n\n    {url}\n");
        } else {
            eprintln!("To log in to Komodo, open this address in a browser on this machine:\n\n    {url}\n");
        }
    }

    fn device(&self, device: &DeviceAuthorization, _opened: bool) {
        eprintln!(
            "To log in to Komodo, visit {} and enter the code:\n\n    {}\n",
            device.verification_uri, device.user_code
        );
        if let Some(complete) = &device.verification_uri_complete {
            eprintln!("(or open {complete})\n");
        }
    }
}

/// An interactive login against the platform; the SDK's web login.
#[derive(Debug, Clone)]
pub struct BrowserLogin {
    config: ProviderConfig,
    mode: LoginMode,
    prompt: Arc<dyn LoginPrompt>,
    timeout: Duration,
}

impl BrowserLogin {
    /// A login in `mode`, showing its instructions through `prompt`.
    pub fn new(config: ProviderConfig, mode: LoginMode, prompt: Arc<dyn LoginPrompt>) -> Self {
        Self { config, mode, prompt, timeout: Duration::from_secs(10 * 60) }
    }

    /// The SDK's default: the browser flow, or the device flow when
    /// `BROWSER=none` at the time of the login, with instructions on stderr.
    pub fn sdk_default(config: ProviderConfig) -> Self {
        Self::new(config, LoginMode::Auto, Arc::new(StderrPrompt))
    }

    /// How long the browser flow waits for the user (default 10 minutes);
    /// the device flow waits as long as its code lives.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs the login against the platform at `api_url` (the configured
    /// platform when `None`).
    pub async fn run(&self, api_url: Option<&str>) -> Result<TokenSet, LoginError> {
        let base =
            crate::platform::api_url(self.config.env(), api_url).map_err(|e| LoginError::Failed(e.to_string()))?;
        let client = OAuthClient::new(self.config.http().clone(), base);
        let headless = self.config.env().get("BROWSER").is_some_and(|b| b.trim() == "none");
        let result = match self.mode {
            LoginMode::Device { open } => self.device(&client, open).await,
            LoginMode::Browser { port, open } => self.browser(&client, port, open).await,
            LoginMode::Auto if headless => self.device(&client, false).await,
            LoginMode::Auto => self.browser(&client, None, true).await,
        };
        self.prompt.finished();
        result
    }

    async fn device(&self, client: &OAuthClient, open: bool) -> Result<TokenSet, LoginError> {
        let device = client.start_device(CLI_SCOPES).await?;
        let target = device.verification_uri_complete.as_deref().unwrap_or(&device.verification_uri);
        let opened = open && open_browser(self.config.env(), target);
        self.prompt.device(&device, opened);
        self.prompt.waiting();
        client.poll_device(&device, |event| self.prompt.poll(event)).await
    }

    async fn browser(&self, client: &OAuthClient, port: Option<u16>, open: bool) -> Result<TokenSet, LoginError> {
        let discovery = client.discovery().await?;
        let listener = LoopbackListener::bind(port).await?;
        let (verifier, challenge) = pkce_pair();
        let state = random_token(24);
        let mut url = Url::parse(&discovery.authorization_endpoint)
            .map_err(|e| LoginError::Failed(format!("the platform's authorization endpoint is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client.client_id())
            .append_pair("redirect_uri", listener.redirect_uri())
            .append_pair("scope", CLI_SCOPES)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let opened = open && open_browser(self.config.env(), url.as_str());
        self.prompt.authorize(url.as_str(), opened);
        self.prompt.waiting();
        let callback = tokio::time::timeout(self.timeout, listener.wait(&state, &discovery.issuer))
            .await
            .map_err(|_| LoginError::TimedOut)??;
        Ok(client.exchange_code(&callback.code, &verifier, listener.redirect_uri()).await?)
    }
}

/// Opens `url` in the user's browser: the command in `BROWSER` (with `%s`
/// replaced by the URL, or the URL appended), nothing when `BROWSER=none`,
/// else the system's default browser. Returns whether a browser was started.
pub fn open_browser(env: &Env, url: &str) -> bool {
    match env.get("BROWSER").filter(|b| !b.trim().is_empty()) {
        Some(browser) if browser.trim() == "none" => false,
        Some(browser) => {
            // Like xdg-open and Python's webbrowser: a colon-separated list,
            // the first that starts wins.
            browser.split(':').any(|command| {
                let mut parts = command.split_whitespace();
                let Some(program) = parts.next() else { return false };
                let mut args: Vec<String> = parts.map(str::to_owned).collect();
                if args.iter().any(|a| a.contains("%s")) {
                    args.iter_mut().for_each(|a| *a = a.replace("%s", url));
                } else {
                    args.push(url.to_owned());
                }
                Command::new(program)
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .is_ok()
            })
        }
        None => webbrowser::open(url).is_ok(),
    }
}

impl InteractiveLogin for BrowserLogin {
    fn login<'a>(&'a self, api_url: Option<&'a str>) -> BoxFuture<'a, Result<TokenSet, LoginError>> {
        Box::pin(self.run(api_url))
    }
}
