//! Admission tokens: EdDSA JWTs bound to one user and one drop.
//!
//! `queue` signs one for each admitted fan ([`AdmissionSigner`]); `sale` verifies
//! it with public keys only ([`AdmissionVerifier`], several at once so keys can be
//! rotated). Only `EdDSA` is accepted: `alg: none`, HMAC and every other
//! algorithm are refused before any signature is looked at.

use crate::keys::{AdmissionKeyPair, Jwks};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 5;

/// The claims of an admission token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionClaims {
    /// The user id the token was issued to.
    pub sub: String,
    /// The drop the token admits to.
    pub drop: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    /// Unique token id, for audit and per-token accounting.
    pub jti: String,
}

impl AdmissionClaims {
    /// Claims for `user` in `drop`, valid from `now` for `ttl_secs`.
    pub fn new(user: &str, drop: &str, now: u64, ttl_secs: u64) -> Self {
        Self {
            sub: user.to_string(),
            drop: drop.to_string(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the admission token is malformed")]
    Malformed,
    #[error("the admission token is not signed with EdDSA")]
    WrongAlgorithm,
    #[error("the admission token is signed by an unknown key")]
    UnknownKey,
    #[error("the admission token signature is invalid")]
    BadSignature,
    #[error("the admission token has expired")]
    Expired,
    #[error("the admission token is not valid yet")]
    NotYetValid,
    #[error("the admission token is for another drop")]
    WrongDrop,
}

/// Signs admission tokens with one key.
#[derive(Clone)]
pub struct AdmissionSigner {
    kid: String,
    key: Arc<jsonwebtoken::EncodingKey>,
}

impl AdmissionSigner {
    pub fn new(key: &AdmissionKeyPair) -> anyhow::Result<Self> {
        Ok(Self {
            kid: key.kid().to_string(),
            key: Arc::new(key.encoding_key()?),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &AdmissionClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| anyhow::anyhow!("signing admission token: {e}"))
    }
}

/// Verifies admission tokens against a set of public keys, found by `kid`.
#[derive(Clone)]
pub struct AdmissionVerifier {
    keys: Arc<HashMap<String, DecodingKey>>,
    validation: Arc<Validation>,
}

impl AdmissionVerifier {
    /// A verifier trusting every key of `jwks` (Ed25519 OKP keys only).
    pub fn from_jwks(jwks: &Jwks) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
                anyhow::bail!("admission key {} is not an Ed25519 OKP key", jwk.kid);
            }
            let raw = URL_SAFE_NO_PAD
                .decode(&jwk.x)
                .map_err(|e| anyhow::anyhow!("admission key {}: bad x: {e}", jwk.kid))?;
            if raw.len() != 32 {
                anyhow::bail!("admission key {}: x is not 32 bytes", jwk.kid);
            }
            let key = DecodingKey::from_ed_components(&jwk.x)
                .map_err(|e| anyhow::anyhow!("admission key {}: {e}", jwk.kid))?;
            keys.insert(jwk.kid.clone(), key);
        }
        if keys.is_empty() {
            anyhow::bail!("no admission verification keys configured");
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
        Ok(Self {
            keys: Arc::new(keys),
            validation: Arc::new(validation),
        })
    }

    /// Checks signature, algorithm, `kid`, `exp`, `nbf` and that the token is
    /// for `drop`; returns its claims.
    pub fn verify(&self, token: &str, drop: &str) -> Result<AdmissionClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let data =
            jsonwebtoken::decode::<AdmissionClaims>(token, key, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                    _ => TokenError::Malformed,
                }
            })?;
        if data.claims.drop != drop {
            return Err(TokenError::WrongDrop);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unix_now;

    fn pair() -> (AdmissionSigner, AdmissionVerifier, AdmissionKeyPair) {
        let key = AdmissionKeyPair::generate();
        let signer = AdmissionSigner::new(&key).expect("signer");
        let verifier = AdmissionVerifier::from_jwks(&Jwks {
            keys: vec![key.public_jwk()],
        })
        .expect("verifier");
        (signer, verifier, key)
    }

    #[test]
    fn a_fresh_token_verifies_for_its_drop_only() {
        let (signer, verifier, _) = pair();
        let claims = AdmissionClaims::new("alice", "sneaker", unix_now(), 600);
        let token = signer.sign(&claims).expect("sign");
        assert_eq!(verifier.verify(&token, "sneaker"), Ok(claims));
        assert_eq!(verifier.verify(&token, "other"), Err(TokenError::WrongDrop));
    }

    #[test]
    fn expired_and_future_tokens_are_refused() {
        let (signer, verifier, _) = pair();
        let now = unix_now();
        let old = AdmissionClaims::new("a", "d", now - 1000, 600);
        let token = signer.sign(&old).expect("sign");
        assert_eq!(verifier.verify(&token, "d"), Err(TokenError::Expired));
        let future = AdmissionClaims::new("a", "d", now + 1000, 600);
        let token = signer.sign(&future).expect("sign");
        assert_eq!(verifier.verify(&token, "d"), Err(TokenError::NotYetValid));
    }

    #[test]
    fn a_token_from_an_unknown_key_is_refused() {
        let (_, verifier, _) = pair();
        let (other_signer, _, _) = pair();
        let token = other_signer
            .sign(&AdmissionClaims::new("a", "d", unix_now(), 600))
            .expect("sign");
        assert_eq!(verifier.verify(&token, "d"), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_forged_kid_does_not_help() {
        // Signed by another key but claiming the trusted key's kid.
        let (_, verifier, trusted) = pair();
        let forger = AdmissionKeyPair::generate();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(trusted.kid().to_string());
        let token = jsonwebtoken::encode(
            &header,
            &AdmissionClaims::new("a", "d", unix_now(), 600),
            &forger.encoding_key().expect("key"),
        )
        .expect("sign");
        assert_eq!(verifier.verify(&token, "d"), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_and_hmac_are_refused() {
        let (_, verifier, key) = pair();
        let claims = AdmissionClaims::new("a", "d", unix_now(), 600);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
        let none_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            key.kid()
        ));
        let unsigned = format!("{none_header}.{body}.");
        assert!(verifier.verify(&unsigned, "d").is_err());

        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().to_string());
        let hmac = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key.public_jwk().x.as_bytes()),
        )
        .expect("sign");
        assert_eq!(verifier.verify(&hmac, "d"), Err(TokenError::WrongAlgorithm));
    }

    #[test]
    fn rotation_accepts_every_published_key() {
        let old = AdmissionKeyPair::generate();
        let new = AdmissionKeyPair::generate();
        let verifier = AdmissionVerifier::from_jwks(&Jwks {
            keys: vec![old.public_jwk(), new.public_jwk()],
        })
        .expect("verifier");
        for key in [&old, &new] {
            let token = AdmissionSigner::new(key)
                .expect("signer")
                .sign(&AdmissionClaims::new("a", "d", unix_now(), 60))
                .expect("sign");
            assert!(verifier.verify(&token, "d").is_ok());
        }
    }

    #[test]
    fn garbage_is_malformed() {
        let (_, verifier, _) = pair();
        for junk in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
            assert!(verifier.verify(junk, "d").is_err(), "{junk}");
        }
    }
}
