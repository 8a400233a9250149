//! Where the platform is: `KOMODO_API_URL`, `KOMODO_ENVIRONMENT`, a
//! profile's `api_url`, or the local platform.

use url::Url;

use crate::env::{Env, KOMODO_API_URL, KOMODO_ENVIRONMENT};

/// The local platform `komodo-server` serves with no configuration.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8787";

/// The named environments of `KOMODO_ENVIRONMENT`, with their aliases, as
/// existing Komodo clients name them.
pub const ENVIRONMENTS: &[(&[&str], &str)] = &[
    (&["local"], DEFAULT_API_URL),
    (&["staging", "stage", "dev", "integration"], "https://connector-gateway.staging.onkomodo.com"),
    (&["production", "prod"], "https://connector-gateway.onkomodo.com"),
];

/// Why no platform URL could be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The URL does not parse.
    #[error("{origin} is not a valid URL ({value:?}): {reason}")]
    InvalidUrl {
        /// Where the URL came from.
        origin: String,
        /// The value.
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Plain HTTP to a host other than this machine.
    #[error(
        "{origin} uses plain http for {host}; use https (plain http is allowed only for 127.0.0.1, [::1] and localhost)"
    )]
    InsecureUrl {
        /// Where the URL came from.
        origin: String,
        /// The host.
        host: String,
    },
    /// An unknown `KOMODO_ENVIRONMENT`.
    #[error("KOMODO_ENVIRONMENT={0:?} is not a known environment; use one of local, staging, production")]
    UnknownEnvironment(String),
}

/// The platform's base URL: `KOMODO_API_URL`, else `KOMODO_ENVIRONMENT`,
/// else the profile's `api_url`, else [`DEFAULT_API_URL`].
pub fn api_url(env: &Env, profile_api_url: Option<&str>) -> Result<Url, PlatformError> {
    if let Some(value) = env.get(KOMODO_API_URL).filter(|v| !v.is_empty()) {
        return parse(&value, KOMODO_API_URL);
    }
    if let Some(name) = env.get(KOMODO_ENVIRONMENT).filter(|v| !v.is_empty()) {
        let lower = name.to_ascii_lowercase();
        let (_, url) = ENVIRONMENTS
            .iter()
            .find(|(names, _)| names.contains(&lower.as_str()))
            .ok_or(PlatformError::UnknownEnvironment(name))?;
        return parse(url, KOMODO_ENVIRONMENT);
    }
    if let Some(value) = profile_api_url.filter(|v| !v.is_empty()) {
        return parse(value, "the profile's api_url");
    }
    parse(DEFAULT_API_URL, "the default platform URL")
}

/// Whether `url` is the local platform of [`DEFAULT_API_URL`], which a
/// profile need not record.
pub fn is_default(url: &Url) -> bool {
    parse(DEFAULT_API_URL, "the default platform URL").is_ok_and(|default| default == *url)
}

/// Parses a platform URL, refusing plain http beyond this machine.
pub fn parse(value: &str, origin: &str) -> Result<Url, PlatformError> {
    let invalid =
        |reason: String| PlatformError::InvalidUrl { origin: origin.to_owned(), value: value.to_owned(), reason };
    let mut url = Url::parse(value).map_err(|e| invalid(e.to_string()))?;
    let host = url.host_str().ok_or_else(|| invalid("it has no host".into()))?.to_owned();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(PlatformError::InsecureUrl { origin: origin.to_owned(), host }),
        other => return Err(invalid(format!("the scheme must be http or https, not {other}"))),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_validation() {
        let env =
            Env::from_slice(&[(KOMODO_API_URL, "https://platform.example.com/base"), (KOMODO_ENVIRONMENT, "local")]);
        assert_eq!(api_url(&env, Some("http://127.0.0.1:1")).unwrap().as_str(), "https://platform.example.com/base/");
        let env = Env::from_slice(&[(KOMODO_ENVIRONMENT, "PROD")]);
        assert_eq!(api_url(&env, None).unwrap().as_str(), "https://connector-gateway.onkomodo.com/");
        let env = Env::from_slice(&[]);
        assert_eq!(api_url(&env, Some("http://[::1]:9000")).unwrap().as_str(), "http://[::1]:9000/");
        assert_eq!(api_url(&env, None).unwrap().as_str(), "http://127.0.0.1:8787/");
        let err = api_url(&Env::from_slice(&[(KOMODO_API_URL, "http://example.com")]), None).unwrap_err();
        assert!(err.to_string().contains("use https"), "{err}");
        let err = api_url(&Env::from_slice(&[(KOMODO_ENVIRONMENT, "moon")]), None).unwrap_err();
        assert!(err.to_string().contains("local, staging, production"));
        assert!(api_url(&Env::from_slice(&[(KOMODO_API_URL, "ftp://x")]), None).is_err());
    }

    #[test]
    fn only_the_local_platform_is_the_default() {
        assert!(is_default(&parse("http://127.0.0.1:8787", "test").unwrap()));
        assert!(!is_default(&parse("http://127.0.0.1:9000", "test").unwrap()));
        assert!(!is_default(&parse("https://connector-gateway.onkomodo.com", "test").unwrap()));
    }
}
