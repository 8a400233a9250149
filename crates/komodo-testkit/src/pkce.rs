//! PKCE (RFC 7636) helpers and authorization URLs for tests.

use aws_lc_rs::{digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pair {
    /// The verifier (43 base64url characters).
    pub verifier: String,
    /// `BASE64URL(SHA256(verifier))`.
    pub challenge: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair").field("challenge", &self.challenge).finish_non_exhaustive()
    }
}

impl Pair {
    /// A fresh random pair.
    pub fn new() -> Pair {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes).expect("system random");
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        Pair { verifier, challenge }
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

/// An authorization URL for the CLI client with PKCE S256.
pub fn authorize_url(platform_url: &str, redirect_uri: &str, scope: &str, state: &str, pair: &Pair) -> String {
    let mut url =
        url::Url::parse(&format!("{}/oauth/authorize", platform_url.trim_end_matches('/'))).expect("platform URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", komodo_protocol::oauth::CLI_CLIENT_ID)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", &pair.challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}
