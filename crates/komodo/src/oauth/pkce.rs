//! PKCE (RFC 7636, S256 only) and the `state` parameter.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::secret::CodeVerifier;

/// `n` random bytes, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).expect("the system random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh code verifier (256 bits of randomness, 43 characters) and its
/// S256 challenge.
pub fn pkce_pair() -> (CodeVerifier, String) {
    let verifier = random_token(32);
    let challenge = s256_challenge(&verifier);
    (CodeVerifier::new(verifier), challenge)
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_and_distinct() {
        let (a, ca) = pkce_pair();
        let (b, _) = pkce_pair();
        assert_eq!(a.expose_secret().len(), 43);
        assert_ne!(a, b);
        assert_eq!(ca, s256_challenge(a.expose_secret()));
    }
}
