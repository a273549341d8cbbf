//! Admission tokens: EdDSA JWTs bound to one user and one drop.
//!
//! `queue` signs one for each admitted fan ([`AdmissionSigner`]); `sale` verifies
//! it with public keys only ([`AdmissionVerifier`], several at once so keys can be
//! rotated). Only `EdDSA` is accepted: `alg: none`, HMAC and every other
//! algorithm are refused before any signature is looked at.
//!
//! Between our own services a cheaper check stands in for the signature:
//! with a [`MacKey`] shared by the queue and the sale, the queue puts an
//! HMAC-SHA256 of the token's `kid` and claims in its header (`lmac`), and
//! the sale checks that (about a microsecond) instead of the Ed25519
//! signature (tens of microseconds). Third parties ignore the parameter and
//! verify the signature with the published keys; a token without a valid
//! `lmac` (minted elsewhere, or under another MAC key during a rotation) is
//! verified by its signature as before. Forging a token takes the signing
//! key or the MAC key: keep the MAC key as secret as the signing key.

use crate::keys::{AdmissionKeyPair, Jwks};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signer;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The header parameter that carries the admission MAC.
pub const MAC_PARAM: &str = "lmac";

/// The secret the queue and the sale share for the cheap check (see the
/// module's doc): at least 32 bytes.
///
/// Held as the HMAC already keyed: each check clones it rather than
/// hashing the key's two pads again.
#[derive(Clone)]
pub struct MacKey(Hmac<Sha256>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    pub fn new(secret: &str) -> anyhow::Result<Self> {
        if secret.len() < 32 {
            anyhow::bail!("the admission MAC key must be at least 32 bytes");
        }
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Ok(Self(keyed))
    }

    fn mac(&self, kid: &str, payload: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(kid.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }

    /// The tag of a token's `kid` and payload segment, base64url.
    fn tag(&self, kid: &str, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(kid, payload).finalize().into_bytes())
    }

    /// Whether `tag` is the tag of `kid` and `payload` (constant time).
    fn checks(&self, kid: &str, payload: &str, tag: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(tag)
            .is_ok_and(|raw| self.mac(kid, payload).verify_slice(&raw).is_ok())
    }
}

/// The header of a token with a MAC. Read borrowing from the decoded
/// header where it can (no string of it is kept past the check).
#[derive(Serialize, Deserialize)]
struct MacHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    lmac: Option<Cow<'a, str>>,
}

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

/// Signs admission tokens with one key (and, given a [`MacKey`], adds the
/// MAC our own services check instead of the signature).
#[derive(Clone)]
pub struct AdmissionSigner {
    kid: String,
    key: Arc<jsonwebtoken::EncodingKey>,
    signing: Arc<ed25519_dalek::SigningKey>,
    mac: Option<MacKey>,
}

impl AdmissionSigner {
    pub fn new(key: &AdmissionKeyPair) -> anyhow::Result<Self> {
        Ok(Self {
            kid: key.kid().to_string(),
            key: Arc::new(key.encoding_key()?),
            signing: Arc::new(key.signing_key().clone()),
            mac: None,
        })
    }

    /// Adds the MAC to every token signed from now on.
    pub fn with_mac(mut self, mac: Option<MacKey>) -> Self {
        self.mac = mac;
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &AdmissionClaims) -> anyhow::Result<String> {
        let Some(mac) = &self.mac else {
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(self.kid.clone());
            return jsonwebtoken::encode(&header, claims, &self.key)
                .map_err(|e| anyhow::anyhow!("signing admission token: {e}"));
        };
        // The same JWS as jsonwebtoken makes, with one more header parameter.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let header = MacHeader {
            alg: "EdDSA".into(),
            typ: Some("JWT".into()),
            kid: Some(self.kid.as_str().into()),
            lmac: Some(mac.tag(&self.kid, &payload).into()),
        };
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.signing.sign(input.as_bytes()).to_bytes());
        Ok(format!("{input}.{signature}"))
    }
}

/// Verifies admission tokens against a set of public keys, found by `kid`
/// (or, given a [`MacKey`], by the MAC in their header).
#[derive(Clone)]
pub struct AdmissionVerifier {
    keys: Arc<HashMap<String, DecodingKey>>,
    validation: Arc<Validation>,
    mac: Option<MacKey>,
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
            mac: None,
        })
    }

    /// Checks the MAC, when a token carries a valid one, instead of the
    /// signature.
    pub fn with_mac(mut self, mac: Option<MacKey>) -> Self {
        self.mac = mac;
        self
    }

    /// The cheap check: `Some` with the verdict when the token carries a
    /// valid MAC for a trusted `kid`; `None` to verify its signature.
    fn verify_mac(
        &self,
        mac: &MacKey,
        token: &str,
        drop: &str,
        grace_secs: u64,
    ) -> Option<Result<AdmissionClaims, TokenError>> {
        let mut parts = token.split('.');
        let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header = URL_SAFE_NO_PAD.decode(header).ok()?;
        let header: MacHeader = serde_json::from_slice(&header).ok()?;
        if header.alg != "EdDSA" {
            return None;
        }
        let kid = header.kid?;
        if !self.keys.contains_key(kid.as_ref()) || !mac.checks(&kid, payload, &header.lmac?) {
            return None;
        }
        let claims: AdmissionClaims =
            match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?) {
                Ok(claims) => claims,
                Err(_) => return Some(Err(TokenError::Malformed)),
            };
        let now = crate::unix_now();
        Some(if claims.sub.is_empty() {
            Err(TokenError::Malformed)
        } else if claims.exp + LEEWAY_SECS + grace_secs < now {
            Err(TokenError::Expired)
        } else if claims.nbf > now + LEEWAY_SECS {
            Err(TokenError::NotYetValid)
        } else if claims.drop != drop {
            Err(TokenError::WrongDrop)
        } else {
            Ok(claims)
        })
    }

    /// Checks signature, algorithm, `kid`, `exp`, `nbf` and that the token is
    /// for `drop`; returns its claims.
    pub fn verify(&self, token: &str, drop: &str) -> Result<AdmissionClaims, TokenError> {
        self.verify_with_grace(token, drop, 0)
    }

    /// As [`Self::verify`], but a token that expired at most `grace_secs`
    /// ago still passes. For a step that some other proof already limits in
    /// time (ordering the seats of a live hold made with a valid token), so
    /// that the token's expiry does not cut short what it began.
    pub fn verify_with_grace(
        &self,
        token: &str,
        drop: &str,
        grace_secs: u64,
    ) -> Result<AdmissionClaims, TokenError> {
        if let Some(verdict) = self
            .mac
            .as_ref()
            .and_then(|mac| self.verify_mac(mac, token, drop, grace_secs))
        {
            return verdict;
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::WrongAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let graced;
        let validation = if grace_secs == 0 {
            &*self.validation
        } else {
            let mut v = (*self.validation).clone();
            v.leeway = LEEWAY_SECS + grace_secs;
            graced = v;
            &graced
        };
        let data =
            jsonwebtoken::decode::<AdmissionClaims>(token, key, validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                    _ => TokenError::Malformed,
                }
            })?;
        if grace_secs > 0 && data.claims.nbf > crate::unix_now() + LEEWAY_SECS {
            // The grace stretched the leeway on `nbf` too; not for that.
            return Err(TokenError::NotYetValid);
        }
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

    fn mac() -> MacKey {
        MacKey::new("a-mac-key-shared-by-queue-and-sale-0123").expect("key")
    }

    #[test]
    fn a_mac_token_verifies_cheaply_and_by_its_signature_alike() {
        let (signer, verifier, _) = pair();
        let signer = signer.with_mac(Some(mac()));
        let claims = AdmissionClaims::new("alice", "sneaker", unix_now(), 600);
        let token = signer.sign(&claims).expect("sign");
        // Our sale: the MAC.
        let ours = verifier.clone().with_mac(Some(mac()));
        assert_eq!(ours.verify(&token, "sneaker"), Ok(claims.clone()));
        assert_eq!(ours.verify(&token, "other"), Err(TokenError::WrongDrop));
        // A third party (no MAC key): the very same token, by its signature.
        assert_eq!(verifier.verify(&token, "sneaker"), Ok(claims));
    }

    #[test]
    fn a_grace_admits_a_lately_expired_token_and_nothing_more() {
        let (signer, plain, _) = pair();
        let now = unix_now();
        for (signer, verifier) in [
            (signer.clone(), plain.clone()),
            (
                signer.clone().with_mac(Some(mac())),
                plain.clone().with_mac(Some(mac())),
            ),
        ] {
            // Expired 100 s ago: refused plainly, accepted within 1,800 s.
            let lapsed = AdmissionClaims::new("a", "d", now - 700, 600);
            let token = signer.sign(&lapsed).expect("sign");
            assert_eq!(verifier.verify(&token, "d"), Err(TokenError::Expired));
            assert_eq!(verifier.verify_with_grace(&token, "d", 1800), Ok(lapsed));
            assert_eq!(
                verifier.verify_with_grace(&token, "other", 1800),
                Err(TokenError::WrongDrop)
            );
            // Expired 2,000 s ago: past the grace.
            let old = AdmissionClaims::new("a", "d", now - 2600, 600);
            let token = signer.sign(&old).expect("sign");
            assert_eq!(
                verifier.verify_with_grace(&token, "d", 1800),
                Err(TokenError::Expired)
            );
            // The grace is on the expiry only, not on a token not valid yet.
            let future = AdmissionClaims::new("a", "d", now + 1000, 600);
            let token = signer.sign(&future).expect("sign");
            assert_eq!(
                verifier.verify_with_grace(&token, "d", 1800),
                Err(TokenError::NotYetValid)
            );
        }
    }

    #[test]
    fn without_a_valid_mac_the_signature_decides() {
        let (signer, verifier, key) = pair();
        let ours = verifier.with_mac(Some(mac()));
        // Minted without a MAC (`admission mint`): verified by signature.
        let plain = signer
            .sign(&AdmissionClaims::new("a", "d", unix_now(), 60))
            .expect("sign");
        assert!(ours.verify(&plain, "d").is_ok());
        // Under another MAC key (a rotation): still good by signature.
        let rotated = AdmissionSigner::new(&key)
            .expect("signer")
            .with_mac(Some(
                MacKey::new("another-mac-key-of-at-least-32-bytes!!").expect("key"),
            ))
            .sign(&AdmissionClaims::new("a", "d", unix_now(), 60))
            .expect("sign");
        assert!(ours.verify(&rotated, "d").is_ok());
        // Claims changed after signing: the MAC fails, then the signature.
        let good = signer
            .clone()
            .with_mac(Some(mac()))
            .sign(&AdmissionClaims::new("a", "d", unix_now(), 60))
            .expect("sign");
        let parts: Vec<&str> = good.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AdmissionClaims::new("mallory", "d", unix_now(), 60))
                .expect("json"),
        );
        let tampered = format!("{}.{evil}.{}", parts[0], parts[2]);
        assert_eq!(ours.verify(&tampered, "d"), Err(TokenError::BadSignature));
        // A forger with another Ed25519 key and no MAC key gets nowhere.
        let forger = AdmissionKeyPair::generate();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_string());
        let forged = jsonwebtoken::encode(
            &header,
            &AdmissionClaims::new("a", "d", unix_now(), 60),
            &forger.encoding_key().expect("key"),
        )
        .expect("sign");
        assert_eq!(ours.verify(&forged, "d"), Err(TokenError::BadSignature));
        // An expired token with a valid MAC is still expired.
        let old = signer
            .with_mac(Some(mac()))
            .sign(&AdmissionClaims::new("a", "d", unix_now() - 1000, 600))
            .expect("sign");
        assert_eq!(ours.verify(&old, "d"), Err(TokenError::Expired));
        assert!(MacKey::new("short").is_err());
    }

    #[test]
    fn garbage_is_malformed() {
        let (_, verifier, _) = pair();
        for junk in ["", "abc", "a.b.c", "....", "eyJhbGciOiJFZERTQSJ9.e30.AAAA"] {
            assert!(verifier.verify(junk, "d").is_err(), "{junk}");
        }
    }
}
