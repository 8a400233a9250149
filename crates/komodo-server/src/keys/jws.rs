//! Compact JWS (RFC 7515) as the key ring writes and reads it: the header
//! it signs with, the parts of a presented token decoded once, and the
//! time, issuer and audience checks of an access token's claims (D02).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::oauth::AccessTokenClaims;
use serde::{Deserialize, Serialize};

use super::error::{KeyError, TokenError};
use super::set::LoadedKey;

/// Tokens longer than this are refused before any parsing.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The JOSE header the signer writes.
#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    kid: &'a str,
}

/// Signs `claims` with `key`, with header `typ`.
pub(crate) fn sign<T: Serialize>(key: &LoadedKey, typ: &str, claims: &T) -> Result<String, KeyError> {
    let header = serde_json::to_vec(&SignHeader { alg: key.alg.as_str(), typ, kid: &key.kid })
        .map_err(|e| KeyError::Sign(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
    let mut jws = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
    URL_SAFE_NO_PAD.encode_string(&header, &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut jws);
    let signature = key.signer.sign(jws.as_bytes())?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
    Ok(jws)
}

/// The JOSE header fields the verifier looks at.
#[derive(Deserialize)]
pub(crate) struct JoseHeader {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) crit: Option<serde_json::Value>,
}

/// A presented token split into its parts, the header decoded.
pub(crate) struct Presented<'a> {
    pub(crate) header: JoseHeader,
    /// `header.claims`, what the signature covers.
    pub(crate) signing_input: &'a str,
    /// The claims, still base64url.
    pub(crate) claims: &'a str,
    /// The signature, still base64url.
    pub(crate) signature: &'a str,
}

/// Splits a compact JWS and decodes its header; no unknown critical
/// header is accepted.
pub(crate) fn split(token: &str) -> Result<Presented<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, claims) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    let header: JoseHeader = decode_part(header)?;
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    Ok(Presented { header, signing_input, claims, signature })
}

/// Whether `typ` names an access token (`at+jwt`, RFC 9068).
pub(crate) fn is_access_token_type(typ: Option<&str>) -> bool {
    matches!(
        typ.map(str::to_ascii_lowercase).as_deref(),
        Some(komodo_protocol::oauth::ACCESS_TOKEN_TYP) | Some("application/at+jwt")
    )
}

/// Checks the signature of `presented` with `key`, and decodes its claims.
pub(crate) fn verified_claims(key: &LoadedKey, presented: &Presented<'_>) -> Result<AccessTokenClaims, TokenError> {
    let signature = URL_SAFE_NO_PAD.decode(presented.signature).map_err(|_| TokenError::Malformed)?;
    key.verifier.verify_sig(presented.signing_input.as_bytes(), &signature).map_err(|_| TokenError::Signature)?;
    decode_part::<AccessTokenClaims>(presented.claims).map_err(|_| TokenError::Claims)
}

/// What an access token's claims must satisfy at `t`, whatever signed them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    /// The audiences this platform's resource servers accept.
    pub(crate) audiences: &'a [String],
    /// Clock leeway in seconds.
    pub(crate) leeway: i64,
}

impl Expected<'_> {
    /// `exp` and `nbf`/`iat` with the leeway, then `iss` and `aud`.
    pub(crate) fn check(&self, claims: &AccessTokenClaims, t: i64) -> Result<(), TokenError> {
        // Saturating: `exp` is whatever integer the signed claims hold.
        if claims.exp.saturating_add(self.leeway) <= t {
            return Err(TokenError::Expired);
        }
        let latest = t.saturating_add(self.leeway);
        if claims.nbf.is_some_and(|nbf| nbf > latest) || claims.iat > latest {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        if !self.audiences.contains(&claims.aud) {
            return Err(TokenError::Audience);
        }
        Ok(())
    }
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64, iat: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://issuer".into(),
            sub: "user:1".into(),
            aud: "komodo".into(),
            exp,
            iat,
            nbf: Some(iat),
            jti: "j".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            account_id: None,
            sid: None,
        }
    }

    #[test]
    fn claims_are_checked_in_time_then_issuer_and_audience() {
        let audiences = ["komodo".to_owned(), "https://api.example/".to_owned()];
        let expected = Expected { issuer: "https://issuer", audiences: &audiences, leeway: 5 };
        assert_eq!(expected.check(&claims(100, 50), 90), Ok(()));
        assert_eq!(expected.check(&claims(100, 50), 104), Ok(()), "within the leeway");
        assert_eq!(expected.check(&claims(100, 50), 105), Err(TokenError::Expired));
        assert_eq!(expected.check(&claims(i64::MAX, 50), 60), Ok(()), "no overflow");
        assert_eq!(expected.check(&claims(200, 120), 100), Err(TokenError::NotYetValid));
        let other = Expected { issuer: "https://elsewhere", ..expected };
        assert_eq!(other.check(&claims(100, 50), 90), Err(TokenError::Issuer));
        let others = ["other".to_owned()];
        let other = Expected { audiences: &others, ..expected };
        assert_eq!(other.check(&claims(100, 50), 90), Err(TokenError::Audience));
        let mut second = claims(100, 50);
        second.aud = "https://api.example/".into();
        assert_eq!(expected.check(&second, 90), Ok(()), "a further configured audience");
        second.aud = "https://api.example".into();
        assert_eq!(expected.check(&second, 90), Err(TokenError::Audience), "compared exactly");
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_key_is_looked_up() {
        assert!(matches!(split("abc"), Err(TokenError::Malformed)));
        assert!(matches!(split(&"a.".repeat(MAX_TOKEN_LEN)), Err(TokenError::Malformed)));
        let crit = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k","crit":["exp"]}"#);
        assert!(matches!(split(&format!("{crit}.e30.sig")), Err(TokenError::Malformed)));
        let fine = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k","typ":"at+JWT"}"#);
        let token = format!("{fine}.e30.sig");
        let presented = split(&token).ok().unwrap();
        assert!(is_access_token_type(presented.header.typ.as_deref()));
        assert!(!is_access_token_type(Some("JWT")));
    }
}
