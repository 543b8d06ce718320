//! RS256 for `jsonwebtoken`, computed by ring.
//!
//! RS256 (RSASSA-PKCS1-v1_5 with SHA-256) is the one JWT algorithm leadscore uses:
//! - it signs Salesforce's JWT bearer assertions (`crm::oauth`);
//! - it verifies an identity provider's tokens (`adapters::oidc`).
//!
//! ring is the TLS stack's own cryptography (rustls), so it is in every binary already.
//! jsonwebtoken's bundled providers would add a second set: RustCrypto's RSA, P-256, P-384,
//! Ed25519 and HMAC, all linked because `encode` and `decode` pick an algorithm at run time.
//! Any other algorithm is refused with `UnsupportedAlgorithm`.
//!
//! [`install`] makes this jsonwebtoken's provider for the process. The two call sites call it
//! before they sign or verify, so nothing else has to remember to.

use std::sync::Once;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey,
};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: public_components,
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _: &EllipticCurve| {
            Err(ErrorKind::UnsupportedAlgorithm.into())
        },
        compute_digest: digest,
    },
};

/// Makes ring's RS256 jsonwebtoken's provider for this process. Idempotent. A provider
/// installed before is kept; nothing in this workspace installs another, and none is built
/// in (the workspace enables neither of jsonwebtoken's provider features).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

/// An RSA private key as ring takes it, or why it is not one. `EncodingKey::from_rsa_pem`
/// keeps the PKCS#1 `RSAPrivateKey` (from a PKCS#1 or a PKCS#8 PEM); ring takes 2048 to
/// 4096-bit keys.
pub fn key_pair(key: &EncodingKey) -> std::result::Result<RsaKeyPair, String> {
    if key.family() != AlgorithmFamily::Rsa {
        return Err("not an RSA key".to_owned());
    }
    RsaKeyPair::from_der(key.as_bytes()).map_err(|e| format!("an unusable RSA key ({e})"))
}

fn rs256_only(algorithm: &Algorithm) -> Result<()> {
    match algorithm {
        Algorithm::RS256 => Ok(()),
        _ => Err(ErrorKind::UnsupportedAlgorithm.into()),
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    rs256_only(algorithm)?;
    let pair = key_pair(key).map_err(ErrorKind::InvalidRsaKey)?;
    Ok(Box::new(Rs256Signer(pair)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    rs256_only(algorithm)?;
    if key.family() != AlgorithmFamily::Rsa {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(Rs256Verifier(key.clone())))
}

struct Rs256Signer(RsaKeyPair);

impl Signer<Vec<u8>> for Rs256Signer {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        let mut out = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out)
            .map_err(|_| signature::Error::new())?;
        Ok(out)
    }
}

impl JwtSigner for Rs256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

struct Rs256Verifier(DecodingKey);

impl Verifier<Vec<u8>> for Rs256Verifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        let checked =
            match self.0.kind() {
                // A JWK's `n` and `e`.
                DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature),
                // `DecodingKey::from_rsa_pem`: a PKCS#1 `RSAPublicKey`.
                DecodingKeyKind::SecretOrDer(der) => {
                    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
                        .verify(message, signature)
                }
            };
        checked.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

/// A private key's public half as a JWK publishes it (`n`, `e`).
fn public_components(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let pair = RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((public.n, public.e))
}

/// A JWK thumbprint's hash (RFC 7638).
fn digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(ring::digest::digest(algorithm, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;
    use serde_json::{Value, json};

    use super::*;

    /// The test suite's Salesforce key pair (2048-bit RSA; PKCS#8 and SPKI PEM).
    const KEY: &str = include_str!("../../../tests/fixtures/crm/jwt-test-key.pem");
    const PUBLIC_KEY: &str = include_str!("../../../tests/fixtures/crm/jwt-test-key.pub.pem");

    /// PKCS#1 v1.5 signatures are deterministic, so ring's must be OpenSSL's, byte for byte:
    /// `printf leadscore | openssl dgst -sha256 -sign tests/fixtures/crm/jwt-test-key.pem |
    /// basenc --base64url -w0`.
    const OPENSSL_SIGNATURE: &str = "dgNE7r5o8xImVYsUpkU4LomG73uT4_kN3TWdFf0n-U4Cr2POeWzEabx4EfNB73ZwplybORfKzmReCEXmp6OfaGoGEG5QYG6ZoLw5yBvorfP_xktPj4GHr4mWQKJLhXlG3QGY2x7RYtJUX_tte5_Aig7nf8insI3srDh8yuAg3VSv8PEycS8ywzY7iuK_9MRksYrhhMuG4TEknV3ARitjtrGWbUWiYvxnCWCgi_nj4daeTtXdt1pSOorT95HGzj7sbIu3TLKqEhTxMEeQNz1mBxugx2U4cwUJ1SyTLw3mCrOOjyRvrwGoBC84SeSN_kuyxQUu2kxu8hUW2Oo3Zi3U7w==";

    fn private() -> EncodingKey {
        EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap()
    }

    /// The key as an issuer's key set publishes it: a JWK's modulus and exponent.
    fn published() -> DecodingKey {
        let (n, e) = public_components(private().as_bytes()).unwrap();
        DecodingKey::from_rsa_raw_components(&n, &e)
    }

    #[test]
    fn signs_as_openssl_does() {
        let signature = signer(&Algorithm::RS256, &private())
            .unwrap()
            .try_sign(b"leadscore")
            .unwrap();
        assert_eq!(signature, URL_SAFE.decode(OPENSSL_SIGNATURE).unwrap());
    }

    #[test]
    fn verifies_openssl_signatures_by_pem_and_by_published_components() {
        let openssl = URL_SAFE.decode(OPENSSL_SIGNATURE).unwrap();
        let pem = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
        for key in [pem, published()] {
            let check = verifier(&Algorithm::RS256, &key).unwrap();
            assert!(check.verify(b"leadscore", &openssl).is_ok());
            assert!(
                check.verify(b"leadscorf", &openssl).is_err(),
                "another message"
            );
            let mut forged = openssl.clone();
            forged[17] ^= 1;
            assert!(
                check.verify(b"leadscore", &forged).is_err(),
                "a changed signature"
            );
        }
    }

    #[test]
    fn tokens_round_trip_through_jsonwebtoken_and_a_changed_claim_is_refused() {
        install();
        let claims = json!({"sub": "rep-1", "exp": 4_000_000_000u64});
        let header = jsonwebtoken::Header::new(Algorithm::RS256);
        let token = jsonwebtoken::encode(&header, &claims, &private()).unwrap();
        let validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        let read = jsonwebtoken::decode::<Value>(&token, &published(), &validation).unwrap();
        assert_eq!(read.claims, claims);

        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE
            .encode(br#"{"sub":"rep-2","exp":4000000000}"#)
            .replace('=', "");
        parts[1] = &other;
        let forged = parts.join(".");
        let refused = jsonwebtoken::decode::<Value>(&forged, &published(), &validation);
        assert_eq!(
            refused.unwrap_err().kind(),
            &ErrorKind::InvalidSignature,
            "a token whose claims were changed after signing"
        );
    }

    #[test]
    fn other_algorithms_and_other_keys_are_refused() {
        for algorithm in [
            Algorithm::HS256,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::ES256,
        ] {
            let signing = signer(&algorithm, &private()).err().unwrap();
            assert_eq!(
                signing.kind(),
                &ErrorKind::UnsupportedAlgorithm,
                "{algorithm:?}"
            );
            let verifying = verifier(&algorithm, &published()).err().unwrap();
            assert_eq!(
                verifying.kind(),
                &ErrorKind::UnsupportedAlgorithm,
                "{algorithm:?}"
            );
        }
        let secret = EncodingKey::from_secret(b"a shared secret").unwrap();
        assert_eq!(key_pair(&secret).err().unwrap(), "not an RSA key");
        let garbage = EncodingKey::from_rsa_der(b"not a key");
        assert!(
            key_pair(&garbage)
                .err()
                .unwrap()
                .starts_with("an unusable RSA key")
        );
    }

    #[test]
    fn thumbprints_hash_with_the_named_function() {
        let sha256 = digest(b"abc", ThumbprintHash::SHA256).unwrap();
        assert_eq!(
            hex::encode(sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digest(b"abc", ThumbprintHash::SHA384).unwrap().len(), 48);
        assert_eq!(digest(b"abc", ThumbprintHash::SHA512).unwrap().len(), 64);
    }
}
