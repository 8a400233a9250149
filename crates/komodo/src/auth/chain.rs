//! [`CredentialChain`]: the sources tried in order, every attempt recorded.

use std::sync::Arc;

use super::source::{ChainContext, ProvideCredentials, Provided};
use super::sources::{DefaultProfileProvider, EnvironmentProvider, ExplicitProvider, WebLoginProvider};
use super::web_login::WebLogin;
use super::{Attempt, AuthArgs, AuthError, Outcome, Provenance, ResolvedCredentials};
use crate::config::ProviderConfig;
use crate::oauth::{HttpTokenEndpoint, TokenEndpoint};

/// The chain of sources, tried in order; the first that finds credentials
/// wins, and what every source said is recorded in the result's
/// [`Provenance`] (or in the error).
///
/// ```
/// use komodo::auth::{CredentialChain, DefaultProfileProvider, EnvironmentProvider, ExplicitProvider};
/// use komodo::config::ProviderConfig;
///
/// let chain = CredentialChain::first_try(ProviderConfig::from_process(), ExplicitProvider)
///     .or_else(EnvironmentProvider)
///     .or_else(DefaultProfileProvider);
/// # drop(chain);
/// ```
#[derive(Debug, Clone)]
pub struct CredentialChain {
    config: ProviderConfig,
    endpoint: Arc<dyn TokenEndpoint>,
    providers: Vec<Arc<dyn ProvideCredentials>>,
    require_account: bool,
}

impl CredentialChain {
    /// A chain starting with `provider`, whose sources get their tokens
    /// from the platform's token endpoint over HTTP.
    pub fn first_try(config: ProviderConfig, provider: impl ProvideCredentials + 'static) -> Self {
        let endpoint = Arc::new(HttpTokenEndpoint::new(config.clone()));
        Self { config, endpoint, providers: vec![Arc::new(provider)], require_account: true }
    }

    /// Adds a provider, tried after the ones before it.
    pub fn or_else(mut self, provider: impl ProvideCredentials + 'static) -> Self {
        self.providers.push(Arc::new(provider));
        self
    }

    /// The token endpoint the sources' token providers use (a refresh of
    /// `[default]`, the client credentials grant) instead of the
    /// platform's over HTTP.
    pub fn token_endpoint(mut self, endpoint: Arc<dyn TokenEndpoint>) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Whether a resolution must name an account (default: yes). Commands
    /// that act on no account (`komodo jwt`, `komodo account list`) turn
    /// it off.
    pub fn require_account(mut self, required: bool) -> Self {
        self.require_account = required;
        self
    }

    /// The SDK's chain: arguments, environment, `[default]`, then the
    /// process-wide web login. Tokens come from `endpoint`, the platform's
    /// over HTTP when `None`.
    pub fn sdk(config: ProviderConfig, endpoint: Option<Arc<dyn TokenEndpoint>>, login: Arc<WebLogin>) -> Self {
        Self::cli(config, endpoint).or_else(WebLoginProvider::new(login))
    }

    /// The CLI's chain: like the SDK's without web login; running out of
    /// sources is a "login required" error.
    pub fn cli(config: ProviderConfig, endpoint: Option<Arc<dyn TokenEndpoint>>) -> Self {
        let chain =
            Self::first_try(config, ExplicitProvider).or_else(EnvironmentProvider).or_else(DefaultProfileProvider);
        match endpoint {
            Some(endpoint) => chain.token_endpoint(endpoint),
            None => chain,
        }
    }

    /// The configuration the chain runs with.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Validates `args`, then asks each source in turn.
    pub async fn resolve(&self, args: &AuthArgs) -> Result<ResolvedCredentials, AuthError> {
        let method = args.validate()?;
        let ctx = ChainContext::new(args, method, &self.config, &self.endpoint, self.require_account);
        let mut provenance = Provenance::default();
        for (index, provider) in self.providers.iter().enumerate() {
            let found = match provider.provide(&ctx).await? {
                Provided::NotMine(reason) => {
                    provenance.attempts.push(Attempt { source: provider.source(), outcome: Outcome::Skipped(reason) });
                    continue;
                }
                Provided::NoAccount(reason) => {
                    provenance.attempts.push(Attempt { source: provider.source(), outcome: Outcome::Skipped(reason) });
                    return Err(AuthError::UnsetAccount { provenance });
                }
                Provided::Found(found) => found,
            };
            provenance.attempts.push(Attempt { source: provider.source(), outcome: Outcome::Used(found.detail) });
            for lower in &self.providers[index + 1..] {
                if let Some(detail) = lower.peek(&ctx) {
                    provenance.attempts.push(Attempt { source: lower.source(), outcome: Outcome::Shadowed(detail) });
                }
            }
            if self.require_account && found.account_id.is_none() {
                return Err(AuthError::UnsetAccount { provenance });
            }
            return Ok(ResolvedCredentials {
                credential: found.credential,
                token_provider: found.token_provider,
                account_id: found.account_id,
                account_slug: found.account_slug,
                api_url: found.api_url,
                provenance,
            });
        }
        Err(AuthError::LoginRequired { provenance })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BoxFuture;
    use crate::auth::fakes::{FakeEndpoint, NOW, config_at};
    use crate::auth::provider::StaticToken;
    use crate::auth::{Credential, Found, Source};

    /// A source that answers as it is told and records that it was asked.
    #[derive(Debug)]
    struct Scripted {
        source: Source,
        answer: fn(&ChainContext<'_>) -> Provided,
        holds: Option<&'static str>,
    }

    impl ProvideCredentials for Scripted {
        fn source(&self) -> Source {
            self.source
        }

        fn peek(&self, _ctx: &ChainContext<'_>) -> Option<String> {
            self.holds.map(str::to_owned)
        }

        fn provide<'a>(&'a self, ctx: &'a ChainContext<'a>) -> BoxFuture<'a, Result<Provided, AuthError>> {
            Box::pin(async move { Ok((self.answer)(ctx)) })
        }
    }

    fn not_mine(_: &ChainContext<'_>) -> Provided {
        Provided::NotMine("nothing here".into())
    }

    fn no_account(_: &ChainContext<'_>) -> Provided {
        Provided::NoAccount("waits for an account".into())
    }

    fn found(ctx: &ChainContext<'_>) -> Provided {
        let provider = StaticToken::new(ctx.config().clone(), "tok".into(), "`jwt`");
        Provided::Found(Found {
            credential: Credential::Token { access_token: "tok".into(), expires_at: None, refresh_token: None },
            token_provider: Arc::new(provider),
            account_id: ctx.account_override(),
            account_slug: None,
            api_url: None,
            detail: "a token".into(),
        })
    }

    fn chain(sources: Vec<Scripted>) -> CredentialChain {
        let (config, _) = config_at(NOW);
        let mut sources = sources.into_iter();
        let first = sources.next().expect("one source");
        sources
            .fold(CredentialChain::first_try(config, first), CredentialChain::or_else)
            .token_endpoint(Arc::new(FakeEndpoint::default()))
    }

    fn scripted(source: Source, answer: fn(&ChainContext<'_>) -> Provided, holds: Option<&'static str>) -> Scripted {
        Scripted { source, answer, holds }
    }

    #[tokio::test]
    async fn every_attempt_is_recorded_with_the_winner_and_what_it_shadowed() {
        let chain = chain(vec![
            scripted(Source::Arguments, not_mine, None),
            scripted(Source::Environment, found, None),
            scripted(Source::DefaultProfile, not_mine, Some("a login")),
            scripted(Source::WebLogin, not_mine, None),
        ]);
        let resolved = chain.resolve(&AuthArgs::new().account_id("acct")).await.unwrap();
        assert_eq!(resolved.provenance.winner(), Some((Source::Environment, "a token")));
        assert_eq!(resolved.provenance.shadowed().collect::<Vec<_>>(), [(Source::DefaultProfile, "a login")]);
        assert_eq!(
            resolved.provenance.to_string(),
            "arguments: nothing here; environment: used (a token); [default] profile: shadowed (a login)"
        );
        assert_eq!(resolved.account_id.as_deref(), Some("acct"));
        // The winner's provider comes along.
        assert_eq!(resolved.token_provider.provide_token(None).await.unwrap().access_token.expose_secret(), "tok");
    }

    #[tokio::test]
    async fn a_source_waiting_for_an_account_stops_the_chain_with_what_was_tried() {
        let chain = chain(vec![
            scripted(Source::DefaultProfile, not_mine, None),
            scripted(Source::WebLogin, no_account, None),
            scripted(Source::Arguments, found, None),
        ]);
        let err = chain.resolve(&AuthArgs::new()).await.unwrap_err();
        let AuthError::UnsetAccount { provenance } = &err else { panic!("{err:?}") };
        assert_eq!(provenance.to_string(), "[default] profile: nothing here; web login: waits for an account");
    }

    #[tokio::test]
    async fn no_source_is_login_required_and_a_winner_without_account_is_unset_account() {
        let err = chain(vec![scripted(Source::Arguments, not_mine, None)]).resolve(&AuthArgs::new()).await.unwrap_err();
        assert!(matches!(&err, AuthError::LoginRequired { provenance } if provenance.attempts.len() == 1), "{err:?}");
        let err = chain(vec![scripted(Source::Arguments, found, None)]).resolve(&AuthArgs::new()).await.unwrap_err();
        assert!(matches!(&err, AuthError::UnsetAccount { .. }), "{err:?}");
        let resolved = chain(vec![scripted(Source::Arguments, found, None)])
            .require_account(false)
            .resolve(&AuthArgs::new())
            .await
            .unwrap();
        assert_eq!(resolved.account_id, None);
    }

    #[tokio::test]
    async fn arguments_are_validated_before_any_source_is_asked() {
        fn unreachable(_: &ChainContext<'_>) -> Provided {
            panic!("a source was asked despite invalid arguments")
        }
        let chain = chain(vec![scripted(Source::Arguments, unreachable, None)]);
        let err = chain.resolve(&AuthArgs::new().profile("p").account_id("a")).await.unwrap_err();
        assert!(matches!(err, AuthError::InvalidArguments(_)), "{err:?}");
    }
}
