//! Password hashing with argon2id (default parameters), off the async
//! runtime.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use komodo_protocol::secret::Password;

/// A PHC-format argon2id hash of `password`.
pub async fn hash(password: &Password) -> String {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .expect("argon2 hashing with default parameters cannot fail")
            .to_string()
    })
    .await
    .expect("the hashing task does not panic")
}

/// A valid hash of a random password, checked against when a login names an
/// unknown user so that both cases take the same time.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = crate::crypto::random_token::<16>();
        Argon2::default().hash_password(random.as_bytes()).expect("argon2 hashing cannot fail").to_string()
    })
}

/// Whether `password` matches `stored` (a PHC hash); with `None`, runs a
/// dummy verification and returns false.
pub async fn verify(password: &Password, stored: Option<String>) -> bool {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match &stored {
            Some(hash) => (hash.as_str(), true),
            None => (dummy_hash(), false),
        };
        let ok = Argon2::default().verify_password(password.expose_secret().as_bytes(), hash).is_ok();
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// Checks a new password's minimum quality.
pub fn check_new(password: &Password) -> Result<(), String> {
    let len = password.expose_secret().chars().count();
    if len < 8 {
        return Err("the password must be at least 8 characters long".into());
    }
    if len > 1024 {
        return Err("the password must be at most 1024 characters long".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let password = Password::new("correct horse battery");
        let hashed = hash(&password).await;
        assert!(hashed.starts_with("$argon2id$"));
        assert!(verify(&password, Some(hashed.clone())).await);
        assert!(!verify(&Password::new("wrong"), Some(hashed)).await);
        assert!(!verify(&password, None).await);
    }
}
