//! Snowflake's key-pair authentication, as its documentation describes it:
//! an RSA private key (PKCS#8, encrypted PKCS#8 or PKCS#1 PEM, 2048 bits
//! or more) signs a short-lived RS256 JWT whose issuer names the public
//! key's fingerprint:
//!
//! - `iss`: `<ACCOUNT>.<USER>.SHA256:<base64 of the SHA-256 of the public
//!   key's DER SubjectPublicKeyInfo>`,
//! - `sub`: `<ACCOUNT>.<USER>`,
//! - `iat` now, `exp` at most an hour later,
//!
//! with the account's name upper-cased and cut at its first `.` (an account
//! locator's region is not part of it), the user upper-cased. The JWT goes
//! in the login request with `AUTHENTICATOR = SNOWFLAKE_JWT`.
//!
//! The fingerprint is the one `openssl rsa -pubout -outform DER | openssl
//! dgst -sha256 -binary | openssl enc -base64` prints, and what Snowflake
//! shows as `RSA_PUBLIC_KEY_FP` after `ALTER USER ... SET RSA_PUBLIC_KEY`.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// How long a key-pair JWT is valid (Snowflake accepts at most an hour).
pub const JWT_LIFETIME: Duration = Duration::from_secs(59 * 60);

/// The smallest RSA key Snowflake accepts.
const MIN_BITS: usize = 2048;

/// Why a private key cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not PEM, or not a private key.
    #[error(
        "not a PEM private key: give the PKCS#8 file Snowflake's documentation makes (-----BEGIN PRIVATE KEY----- \
         or -----BEGIN ENCRYPTED PRIVATE KEY-----), or a PKCS#1 RSA key"
    )]
    NotPem,
    /// An encrypted key without a passphrase.
    #[error("the private key is encrypted: give its passphrase (--private-key-passphrase-stdin)")]
    PassphraseNeeded,
    /// The passphrase does not open the key (or the file is damaged).
    #[error("the passphrase does not decrypt the private key")]
    WrongPassphrase,
    /// An encryption this platform does not read.
    #[error("the private key is encrypted with {0}; re-encrypt it with PBES2 (openssl pkcs8 -topk8 -v2 aes256)")]
    UnsupportedEncryption(String),
    /// Not an RSA key, or one Snowflake would refuse.
    #[error("{0}")]
    Rejected(String),
}

/// An RSA key that signs Snowflake key-pair JWTs. Its `Debug` shows the
/// fingerprint only.
pub struct SigningKey {
    pair: KeyPair,
    /// `SHA256:<base64>`.
    fingerprint: String,
    /// The private key as PKCS#8 DER (what is stored, sealed).
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("fingerprint", &self.fingerprint).finish_non_exhaustive()
    }
}

/// The claims of a key-pair JWT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// `<ACCOUNT>.<USER>.SHA256:<fingerprint>`.
    pub iss: String,
    /// `<ACCOUNT>.<USER>`.
    pub sub: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expires at (seconds since the epoch).
    pub exp: u64,
}

impl SigningKey {
    /// Reads a PEM private key, decrypting it with `passphrase` when it is
    /// an encrypted PKCS#8 key.
    pub fn from_pem(pem: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyError> {
        let (label, der) = pem_block(pem).ok_or(KeyError::NotPem)?;
        let der = Zeroizing::new(der);
        let pair = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der).map_err(|e| KeyError::Rejected(rejected(&e)))?,
            "RSA PRIVATE KEY" => KeyPair::from_der(&der).map_err(|e| KeyError::Rejected(rejected(&e)))?,
            "ENCRYPTED PRIVATE KEY" => {
                let passphrase = passphrase.ok_or(KeyError::PassphraseNeeded)?;
                let plain = pbes2_decrypt(&der, passphrase)?;
                KeyPair::from_pkcs8(&plain).map_err(|_| KeyError::WrongPassphrase)?
            }
            _ => return Err(KeyError::NotPem),
        };
        Self::from_pair(pair)
    }

    /// Reads the PKCS#8 DER that [`SigningKey::pkcs8_der`] gave.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_pair(KeyPair::from_pkcs8(der).map_err(|e| KeyError::Rejected(rejected(&e)))?)
    }

    fn from_pair(pair: KeyPair) -> Result<Self, KeyError> {
        let bits = pair.public_modulus_len() * 8;
        if bits < MIN_BITS {
            return Err(KeyError::Rejected(format!(
                "the RSA key has {bits} bits; Snowflake takes keys of {MIN_BITS} bits or more"
            )));
        }
        let spki =
            pair.public_key().as_der().map_err(|_| KeyError::Rejected("the public key cannot be encoded".into()))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref());
        let fingerprint = format!("SHA256:{}", STANDARD.encode(digest.as_ref()));
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Rejected("the private key cannot be encoded".into()))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Ok(Self { pair, fingerprint, pkcs8 })
    }

    /// `SHA256:<base64>`, as Snowflake shows `RSA_PUBLIC_KEY_FP`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The public key as PEM (what `ALTER USER ... SET RSA_PUBLIC_KEY`
    /// takes, without its first and last lines).
    pub fn public_key_pem(&self) -> String {
        let der = self.pair.public_key().as_der().map(|d| d.as_ref().to_vec()).unwrap_or_default();
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }

    /// The private key as PKCS#8 DER, to seal into the store.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The claims of a JWT for `account` and `user` issued at `now`
    /// (seconds since the epoch).
    pub fn claims(&self, account: &str, user: &str, now: u64) -> Claims {
        let account = account.split('.').next().unwrap_or(account).to_ascii_uppercase();
        let user = user.to_ascii_uppercase();
        let sub = format!("{account}.{user}");
        Claims { iss: format!("{sub}.{}", self.fingerprint), sub, iat: now, exp: now + JWT_LIFETIME.as_secs() }
    }

    /// A signed RS256 JWT for `account` and `user`, issued at `now`.
    pub fn jwt(&self, account: &str, user: &str, now: u64) -> Result<String, KeyError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::to_vec(&self.claims(account, user, now))
            .map_err(|e| KeyError::Rejected(format!("the claims cannot be encoded: {e}")))?;
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| KeyError::Rejected("the key could not sign".into()))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

fn rejected(e: &aws_lc_rs::error::KeyRejected) -> String {
    format!(
        "not a usable RSA private key ({e}); Snowflake's key-pair authentication takes RSA keys of 2048 bits or more"
    )
}

/// The label and bytes of the first PEM block of `text`.
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----")?;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    Some((label.to_owned(), STANDARD.decode(body).ok()?))
}

/// One DER element: its tag, and its contents.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The elements of a DER sequence's contents.
fn der_items(mut contents: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut items = Vec::new();
    while !contents.is_empty() {
        let (tag, value, rest) = der_element(contents)?;
        items.push((tag, value));
        contents = rest;
    }
    Some(items)
}

const SEQUENCE: u8 = 0x30;
const OCTET_STRING: u8 = 0x04;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const HMAC_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07];
const HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];

/// At most this many PBKDF2 iterations (a hostile key file must not hold
/// the admin command for minutes).
const MAX_ITERATIONS: u32 = 10_000_000;

/// Decrypts an EncryptedPrivateKeyInfo (RFC 5958) protected by PBES2
/// (RFC 8018): PBKDF2 with HMAC-SHA-256 or HMAC-SHA-1, AES-128-CBC or
/// AES-256-CBC, what `openssl pkcs8 -topk8 -v2 aes256` writes.
fn pbes2_decrypt(der: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let malformed = || KeyError::Rejected("the encrypted private key is malformed".into());
    let (tag, info, _) = der_element(der).ok_or_else(malformed)?;
    let items = der_items(info).filter(|_| tag == SEQUENCE).ok_or_else(malformed)?;
    let [(SEQUENCE, algorithm), (OCTET_STRING, encrypted)] = items.as_slice() else { return Err(malformed()) };
    let algorithm = der_items(algorithm).ok_or_else(malformed)?;
    let [(OID, scheme), (SEQUENCE, params)] = algorithm.as_slice() else { return Err(malformed()) };
    if *scheme != PBES2 {
        return Err(KeyError::UnsupportedEncryption("a scheme other than PBES2".into()));
    }
    let params = der_items(params).ok_or_else(malformed)?;
    let [(SEQUENCE, kdf), (SEQUENCE, cipher)] = params.as_slice() else { return Err(malformed()) };
    let kdf = der_items(kdf).ok_or_else(malformed)?;
    let [(OID, kdf_oid), (SEQUENCE, kdf_params)] = kdf.as_slice() else { return Err(malformed()) };
    if *kdf_oid != PBKDF2 {
        return Err(KeyError::UnsupportedEncryption("a key derivation other than PBKDF2 (scrypt?)".into()));
    }
    let kdf_params = der_items(kdf_params).ok_or_else(malformed)?;
    let (salt, iterations, rest) = match kdf_params.as_slice() {
        [(OCTET_STRING, salt), (INTEGER, count), rest @ ..] => (*salt, *count, rest),
        _ => return Err(malformed()),
    };
    let iterations = iterations.iter().try_fold(0u32, |acc, b| acc.checked_mul(256).map(|a| a | u32::from(*b)));
    let iterations = iterations.filter(|n| *n <= MAX_ITERATIONS).and_then(NonZeroU32::new).ok_or_else(malformed)?;
    // An optional key length, then the PRF (HMAC-SHA-1 when absent).
    let prf = rest.iter().find(|(tag, _)| *tag == SEQUENCE).map(|(_, v)| *v);
    let prf = match prf {
        None => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
        Some(prf) => match der_items(prf).ok_or_else(malformed)?.first() {
            Some((OID, oid)) if *oid == HMAC_SHA256 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            Some((OID, oid)) if *oid == HMAC_SHA1 => aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1,
            _ => return Err(KeyError::UnsupportedEncryption("a PBKDF2 PRF other than HMAC-SHA-256 or SHA-1".into())),
        },
    };
    let cipher = der_items(cipher).ok_or_else(malformed)?;
    let [(OID, cipher_oid), (OCTET_STRING, iv)] = cipher.as_slice() else { return Err(malformed()) };
    let (algorithm, key_len) = match *cipher_oid {
        oid if oid == AES256_CBC => (&aws_lc_rs::cipher::AES_256, 32),
        oid if oid == AES128_CBC => (&aws_lc_rs::cipher::AES_128, 16),
        _ => return Err(KeyError::UnsupportedEncryption("a cipher other than AES-CBC".into())),
    };
    let iv: [u8; 16] = (*iv).try_into().map_err(|_| malformed())?;
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    aws_lc_rs::pbkdf2::derive(prf, iterations, salt, passphrase, &mut key);
    let unbound = aws_lc_rs::cipher::UnboundCipherKey::new(algorithm, &key).map_err(|_| malformed())?;
    let decrypting = aws_lc_rs::cipher::PaddedBlockDecryptingKey::cbc_pkcs7(unbound).map_err(|_| malformed())?;
    let mut buffer = Zeroizing::new(encrypted.to_vec());
    let plain = decrypting
        .decrypt(&mut buffer, aws_lc_rs::cipher::DecryptionContext::Iv128(iv.into()))
        .map_err(|_| KeyError::WrongPassphrase)?
        .to_vec();
    Ok(Zeroizing::new(plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test keys made with openssl (`openssl genrsa 2048 | openssl pkcs8
    /// -topk8 -nocrypt`, then `-v2 aes256` with the passphrase below, and
    /// `openssl rsa -traditional`); the fingerprint is what openssl printed
    /// for them. They protect nothing.
    const PKCS8: &str = include_str!("testdata/test_key.p8");
    const ENCRYPTED: &str = include_str!("testdata/test_key_encrypted.p8");
    const PKCS1: &str = include_str!("testdata/test_key_pkcs1.pem");
    const PASSPHRASE: &[u8] = b"komodo test";
    const OPENSSL_FINGERPRINT: &str = "SHA256:mNasgZCw3y8zkcyQwPgLLIUYaFgzaBLZaCXaAA9lA/E=";

    #[test]
    fn every_form_of_the_key_has_openssls_fingerprint() {
        for key in [
            SigningKey::from_pem(PKCS8, None).unwrap(),
            SigningKey::from_pem(PKCS1, None).unwrap(),
            SigningKey::from_pem(ENCRYPTED, Some(PASSPHRASE)).unwrap(),
        ] {
            assert_eq!(key.fingerprint(), OPENSSL_FINGERPRINT);
            let again = SigningKey::from_pkcs8_der(key.pkcs8_der()).unwrap();
            assert_eq!(again.fingerprint(), OPENSSL_FINGERPRINT);
            assert!(!format!("{key:?}").contains(&STANDARD.encode(key.pkcs8_der())[..40]));
        }
    }

    #[test]
    fn encrypted_keys_need_the_right_passphrase() {
        assert_eq!(SigningKey::from_pem(ENCRYPTED, None).unwrap_err(), KeyError::PassphraseNeeded);
        assert_eq!(SigningKey::from_pem(ENCRYPTED, Some(b"wrong")).unwrap_err(), KeyError::WrongPassphrase);
        assert_eq!(SigningKey::from_pem("not a key", None).unwrap_err(), KeyError::NotPem);
        let public = SigningKey::from_pem(PKCS8, None).unwrap().public_key_pem();
        assert_eq!(SigningKey::from_pem(&public, None).unwrap_err(), KeyError::NotPem);
    }

    #[test]
    fn jwts_carry_snowflakes_claims_and_verify_with_the_public_key() {
        let key = SigningKey::from_pem(PKCS8, None).unwrap();
        let jwt = key.jwt("xy12345.us-east-2.aws", "etl_user", 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims.sub, "XY12345.ETL_USER");
        assert_eq!(claims.iss, format!("XY12345.ETL_USER.{OPENSSL_FINGERPRINT}"));
        assert_eq!((claims.iat, claims.exp), (1_700_000_000, 1_700_000_000 + 59 * 60));
        // Verified as Snowflake does: RS256 against the registered public key.
        let public = pem_block(&key.public_key_pem()).unwrap().1;
        let verifier =
            aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256, &public);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        let tampered = format!("{}.{}x", parts[0], parts[1]);
        assert!(verifier.verify(tampered.as_bytes(), &signature).is_err());
    }
}
