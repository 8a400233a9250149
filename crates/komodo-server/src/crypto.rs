//! Cryptographic building blocks, all on aws-lc-rs: randomness, hashing of
//! stored tokens, the keyed hash (HMAC-SHA256 with a pepper) of service
//! principal secrets, AES-256-GCM for private keys at rest, and the master
//! key they all derive from.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Errors of the crypto layer. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The master key file could not be read or written.
    #[error("master key file {path}: {source}")]
    MasterKeyIo {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The master key file exists but is not a valid key.
    #[error("master key file {path} is malformed (expected 32 base64-encoded bytes)")]
    MasterKeyMalformed {
        /// The file.
        path: String,
    },
    /// Decryption failed: wrong master key or corrupted data.
    #[error("could not decrypt a private signing key: wrong master key or corrupted store")]
    Decrypt,
    /// A key operation failed.
    #[error("cryptographic operation failed: {0}")]
    Operation(&'static str),
}

/// Fills a fresh array with cryptographically secure random bytes.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::fill(&mut out).expect("the system random number generator failed");
    out
}

/// A random token of `N` bytes, base64url without padding.
pub(crate) fn random_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// SHA-256 of a high-entropy token, hex: how codes, refresh tokens and
/// device codes are stored (S02).
pub fn token_hash(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// The base64url SHA-256 of a PKCE verifier (RFC 7636 S256).
pub(crate) fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Constant-time equality.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// The 256-bit master key. Lives in a 0600 file in the data directory, never
/// in the store and never in a log; everything else derives from it.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// Reads the key at `path`, creating it (mode 0600, directory 0700)
    /// when it does not exist. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let io_err = |source| CryptoError::MasterKeyIo { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::parse(text.trim(), path)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    create_private_dir(dir).map_err(io_err)?;
                }
                let key = Zeroizing::new(random_bytes::<32>());
                let encoded = Zeroizing::new(STANDARD.encode(*key));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(encoded.as_bytes()).map_err(io_err)?;
                        file.write_all(b"\n").map_err(io_err)?;
                        file.sync_all().map_err(io_err)?;
                        Ok((MasterKey(key), true))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let text = std::fs::read_to_string(path).map_err(io_err)?;
                        Ok((Self::parse(text.trim(), path)?, false))
                    }
                    Err(e) => Err(io_err(e)),
                }
            }
            Err(e) => Err(io_err(e)),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self, CryptoError> {
        let malformed = || CryptoError::MasterKeyMalformed { path: path.display().to_string() };
        let bytes = Zeroizing::new(STANDARD.decode(text).map_err(|_| malformed())?);
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| malformed())?;
        Ok(MasterKey(Zeroizing::new(key)))
    }

    /// A 32-byte subkey for one purpose (HMAC-SHA256 of the label).
    fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.0.as_slice());
        let tag = hmac::sign(&key, label.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// The raw key bytes, for tests that check it never leaks.
    pub fn expose_bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Creates a directory (and parents) readable only by its owner.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The keys derived from the master key.
pub struct Secrets {
    pepper: hmac::Key,
    csrf: hmac::Key,
    aead: LessSafeKey,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

impl Secrets {
    /// Derives the pepper, the CSRF key and the key-encryption key.
    pub fn from_master(master: &MasterKey) -> Self {
        let pepper = hmac::Key::new(hmac::HMAC_SHA256, master.derive("komodo/secret-pepper/v1").as_slice());
        let csrf = hmac::Key::new(hmac::HMAC_SHA256, master.derive("komodo/csrf/v1").as_slice());
        let kek = master.derive("komodo/signing-key-encryption/v1");
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.as_slice()).expect("a 32-byte AES key"));
        Secrets { pepper, csrf, aead }
    }

    /// HMAC-SHA256 of a client secret with the pepper, hex (S01).
    pub fn hash_client_secret(&self, secret: &str) -> String {
        hex::encode(hmac::sign(&self.pepper, secret.as_bytes()))
    }

    /// Checks a client secret against its stored keyed hash in constant time.
    pub fn verify_client_secret(&self, secret: &str, stored_hex: &str) -> bool {
        match hex::decode(stored_hex) {
            Ok(tag) => hmac::verify(&self.pepper, secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }

    /// The CSRF token that goes with a browser binding secret.
    pub(crate) fn csrf_token(&self, browser_secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf, browser_secret.as_bytes()))
    }

    /// Checks a submitted CSRF token in constant time.
    pub(crate) fn verify_csrf(&self, browser_secret: &str, submitted: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(submitted) {
            Ok(tag) => hmac::verify(&self.csrf, browser_secret.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }

    /// Encrypts `plaintext` with AES-256-GCM; `aad` binds it to its row.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buffer = Zeroizing::new(plaintext.to_vec());
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut *buffer,
            )
            .map_err(|_| CryptoError::Operation("seal"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buffer);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts what [`Secrets::seal`] produced.
    pub(crate) fn open(&self, sealed: &str, aad: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Decrypt)?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plain_len = self
            .aead
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buffer)
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        let dir = std::env::temp_dir().join(format!("komodo-crypto-{}", random_token::<8>()));
        let (key, created) = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
        assert!(created);
        let (again, created) = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
        assert!(!created);
        assert_eq!(key.expose_bytes(), again.expose_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
        Secrets::from_master(&key)
    }

    #[test]
    fn seal_and_open_round_trip_and_bind_aad() {
        let secrets = secrets();
        let sealed = secrets.seal(b"private key", "kid-1").unwrap();
        assert_eq!(&*secrets.open(&sealed, "kid-1").unwrap(), b"private key");
        assert!(secrets.open(&sealed, "kid-2").is_err());
    }

    #[test]
    fn client_secret_hash_verifies_only_the_secret() {
        let secrets = secrets();
        let hash = secrets.hash_client_secret("kmd_sp_abc");
        assert!(secrets.verify_client_secret("kmd_sp_abc", &hash));
        assert!(!secrets.verify_client_secret("kmd_sp_abd", &hash));
        assert!(!secrets.verify_client_secret("kmd_sp_abc", "zz"));
    }

    #[test]
    fn pkce_matches_rfc_7636_example() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let dir = std::env::temp_dir().join(format!("komodo-crypto-{}", random_token::<8>()));
        let (key, _) = MasterKey::load_or_create(&dir.join("master.key")).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
        assert_eq!(format!("{:?}", Secrets::from_master(&key)), "Secrets([redacted])");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
