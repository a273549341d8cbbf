//! Ed25519 key pairs for admission tokens.
//!
//! A signing key lives in a PKCS#8 PEM file (`admission keygen` writes one); its
//! public half is published as an OKP JWK in a JWKS document, which is all `sale`
//! needs to verify. The `kid` is derived from the public key (the first 16
//! characters of the base64url SHA-256 of its raw bytes), so the same key always
//! has the same id and rotation needs no bookkeeping.

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One public key as a JWK (`kty: OKP`, `crv: Ed25519`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    /// The raw 32-byte public key, base64url without padding.
    pub x: String,
    pub kid: String,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

/// A JWKS document: `{"keys": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// Reads a JWKS file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading JWKS file {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing JWKS file {}", path.display()))
    }
}

/// An Ed25519 signing key with its derived `kid`.
#[derive(Clone)]
pub struct AdmissionKeyPair {
    signing: SigningKey,
    kid: String,
}

impl std::fmt::Debug for AdmissionKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("AdmissionKeyPair")
            .field("kid", &self.kid)
            .finish()
    }
}

impl AdmissionKeyPair {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        let kid = kid_for(signing.verifying_key().as_bytes());
        Self { signing, kid }
    }

    /// Parses a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 PEM private key: {e}"))?;
        Ok(Self::from_signing_key(signing))
    }

    /// Reads a PKCS#8 PEM private key file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("reading admission key {}", path.display()))?;
        Self::from_pem(&pem).with_context(|| format!("loading admission key {}", path.display()))
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pem(&self) -> anyhow::Result<String> {
        let pem = self
            .signing
            .to_pkcs8_pem(Default::default())
            .map_err(|e| anyhow::anyhow!("encoding key as PEM: {e}"))?;
        Ok(pem.to_string())
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
            kid: self.kid.clone(),
            use_: Some("sig".into()),
            alg: Some("EdDSA".into()),
        }
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub(crate) fn encoding_key(&self) -> anyhow::Result<jsonwebtoken::EncodingKey> {
        let pem = self.to_pem()?;
        jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("admission key unusable for signing: {e}"))
    }
}

/// The `kid` of a raw Ed25519 public key.
pub fn kid_for(public_key: &[u8]) -> String {
    let digest = Sha256::digest(public_key);
    URL_SAFE_NO_PAD.encode(digest)[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_kid() {
        let key = AdmissionKeyPair::generate();
        let pem = key.to_pem().expect("pem");
        let again = AdmissionKeyPair::from_pem(&pem).expect("parse");
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.public_jwk(), again.public_jwk());
    }

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(AdmissionKeyPair::from_pem("not a key").is_err());
    }
}
