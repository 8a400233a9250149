//! Key material on aws-lc-rs: a new key pair of the signing algorithm, its
//! private half exported as PKCS#8 by aws-lc-rs and its public half as a
//! JWK; and a stored key parsed once into a signer and a verifier (parsing
//! validates the key pair, which costs about as much as a signature).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo_protocol::oauth::Jwk;
use zeroize::Zeroizing;

use super::error::KeyError;
use crate::config::SigningAlg;
use crate::crypto::CryptoError;

/// A private key, parsed once.
pub(crate) enum Signer {
    Ec(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl Signer {
    /// The signature of `message` (fixed-size r‖s for ES256, PKCS#1 v1.5
    /// for RS256).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Signer::Ec(pair) => pair
                .sign(&rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| KeyError::Sign("ECDSA signing failed".into())),
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Sign("RSA signing failed".into()))?;
                Ok(signature)
            }
        }
    }
}

/// A new key pair: its private half to seal and store, its public JWK to
/// publish (without `kid`, `alg` and `use`, which the caller adds).
pub(crate) struct Generated {
    /// PKCS#8 (RFC 5208), as aws-lc-rs exports it.
    pub(crate) private_der: Zeroizing<Vec<u8>>,
    /// The public key as a JWK.
    pub(crate) public: Jwk,
}

/// Generates a key pair for `alg` (RS256: 2048 bits).
pub(crate) fn generate(alg: SigningAlg) -> Result<Generated, CryptoError> {
    let empty = Jwk {
        kty: String::new(),
        kid: String::new(),
        alg: String::new(),
        use_: String::new(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    };
    match alg {
        SigningAlg::Es256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| CryptoError::Operation("generate EC key"))?;
            let pkcs8 = pair.to_pkcs8v1().map_err(|_| CryptoError::Operation("export EC key"))?;
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point[0] != 4 {
                return Err(CryptoError::Operation("unexpected EC public key encoding"));
            }
            Ok(Generated {
                private_der: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public: Jwk {
                    kty: "EC".into(),
                    crv: Some("P-256".into()),
                    x: Some(URL_SAFE_NO_PAD.encode(&point[1..33])),
                    y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
                    ..empty
                },
            })
        }
        SigningAlg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| CryptoError::Operation("generate RSA key"))?;
            let pkcs8: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| CryptoError::Operation("export RSA key"))?;
            let public = pair.public_key();
            Ok(Generated {
                private_der: Zeroizing::new(pkcs8.as_ref().to_vec()),
                public: Jwk {
                    kty: "RSA".into(),
                    n: Some(URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero())),
                    e: Some(URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())),
                    ..empty
                },
            })
        }
    }
}

/// A stored key's algorithm, signer and verifier, from its algorithm name,
/// its public JWK and its private key (PKCS#8; for RS256 also the PKCS#1
/// `RSAPrivateKey` that earlier releases stored). `Err` says why not.
pub(crate) fn parse(alg: &str, jwk: &Jwk, private: &[u8]) -> Result<(SigningAlg, Signer, ParsedPublicKey), String> {
    let b64 = |field: Option<&str>, what: &str| {
        field.and_then(|v| URL_SAFE_NO_PAD.decode(v).ok()).ok_or_else(|| format!("JWK without a valid `{what}`"))
    };
    match alg {
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(b64(jwk.x.as_deref(), "x")?);
            point.extend(b64(jwk.y.as_deref(), "y")?);
            let verifier =
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(|_| "EC public key".to_owned())?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private)
                .map_err(|_| "EC private key".to_owned())?;
            Ok((SigningAlg::Es256, Signer::Ec(pair), verifier))
        }
        "RS256" => {
            let public = RsaPublicKeyComponents { n: b64(jwk.n.as_deref(), "n")?, e: b64(jwk.e.as_deref(), "e")? };
            let verifier =
                public.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256).map_err(|_| "RSA public key".to_owned())?;
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(private)
                .or_else(|_| aws_lc_rs::rsa::KeyPair::from_der(private))
                .map_err(|_| "RSA private key".to_owned())?;
            Ok((SigningAlg::Rs256, Signer::Rsa(pair), verifier))
        }
        _ => Err("unsupported algorithm".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk_of(generated: &Generated) -> Jwk {
        generated.public.clone()
    }

    #[test]
    fn rsa_keys_export_pkcs8_that_signs_and_verifies() {
        let generated = generate(SigningAlg::Rs256).unwrap();
        assert_eq!(generated.public.kty, "RSA");
        assert_eq!(generated.public.e.as_deref(), Some("AQAB"));
        let (alg, signer, verifier) = parse("RS256", &jwk_of(&generated), &generated.private_der).unwrap();
        assert_eq!(alg, SigningAlg::Rs256);
        let signature = signer.sign(b"message").unwrap();
        assert!(verifier.verify_sig(b"message", &signature).is_ok());
        assert!(verifier.verify_sig(b"another", &signature).is_err());
    }

    #[test]
    fn rsa_keys_stored_as_pkcs1_by_earlier_releases_still_load() {
        let generated = generate(SigningAlg::Rs256).unwrap();
        // PKCS#8 v1 ends with the OCTET STRING holding the PKCS#1
        // RSAPrivateKey: `30 82 <len>` running to the end.
        let der = &generated.private_der[..];
        let start = (0..der.len() - 4)
            .rev()
            .find(|&i| {
                der[i] == 0x30
                    && der[i + 1] == 0x82
                    && 4 + usize::from(der[i + 2]) * 256 + usize::from(der[i + 3]) == der.len() - i
            })
            .unwrap();
        let pkcs1 = &der[start..];
        assert!(start > 0 && aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs1).is_err(), "not PKCS#8 any more");
        let (_, signer, verifier) = parse("RS256", &jwk_of(&generated), pkcs1).unwrap();
        assert!(verifier.verify_sig(b"m", &signer.sign(b"m").unwrap()).is_ok());
    }

    #[test]
    fn ec_keys_have_coordinates_and_sign() {
        let generated = generate(SigningAlg::Es256).unwrap();
        assert_eq!(generated.public.crv.as_deref(), Some("P-256"));
        assert_eq!(URL_SAFE_NO_PAD.decode(generated.public.x.as_deref().unwrap()).unwrap().len(), 32);
        let (alg, signer, verifier) = parse("ES256", &jwk_of(&generated), &generated.private_der).unwrap();
        assert_eq!(alg, SigningAlg::Es256);
        assert!(verifier.verify_sig(b"m", &signer.sign(b"m").unwrap()).is_ok());
    }

    #[test]
    fn unusable_keys_say_why() {
        let generated = generate(SigningAlg::Es256).unwrap();
        let mut jwk = jwk_of(&generated);
        jwk.x = None;
        assert_eq!(parse("ES256", &jwk, &generated.private_der).err().as_deref(), Some("JWK without a valid `x`"));
        assert_eq!(parse("HS256", &jwk, &generated.private_der).err().as_deref(), Some("unsupported algorithm"));
        assert_eq!(parse("ES256", &jwk_of(&generated), b"junk").err().as_deref(), Some("EC private key"));
    }
}
