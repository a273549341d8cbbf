//! User tokens: who a fan or an operator is.
//!
//! Lineup does not log anyone in; the site's identity provider does and hands the
//! browser a JWT whose `sub` is the user id (the cap per user is counted against
//! it). [`UserVerifier`] checks such tokens with whatever keys are configured: a
//! shared secret (HS256/384/512), a PEM public key (RSA, EC or Ed25519) or a JWKS
//! file; any of them may be combined. A token with `"operator"` in `roles` (or
//! `role: "operator"`) is an operator. The provider may also say when the
//! account was made (`account_created_at`, seconds since the epoch): the
//! queue asks a young account for more proof of work (README, "Bot
//! defence").
//!
//! [`DevIssuer`] signs such tokens with a dev secret; services expose it as
//! `POST /api/dev/login` only in dev mode.

use anyhow::Context;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

/// The role that makes a user an operator.
pub const OPERATOR_ROLE: &str = "operator";

/// The claims Lineup reads from a user token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When the account was made (Unix seconds), if the identity provider
    /// says; Lineup reads it only to price a young account's proof of work.
    /// A value of another shape (a date string, a negative number) counts
    /// as unsaid rather than making the token invalid.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "unix_seconds_or_none"
    )]
    pub account_created_at: Option<u64>,
}

/// Whole Unix seconds (a fractional number is cut to them), or None for
/// any other JSON value.
fn unix_seconds_or_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value
        .as_u64()
        .or_else(|| value.as_f64().filter(|s| *s >= 0.0).map(|s| s as u64)))
}

impl UserClaims {
    pub fn is_operator(&self) -> bool {
        self.role.as_deref() == Some(OPERATOR_ROLE) || self.roles.iter().any(|r| r == OPERATOR_ROLE)
    }
}

/// Why a user token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the user token is invalid")]
    Invalid,
    #[error("the user token has expired")]
    Expired,
}

/// One trusted key and the algorithms it may sign with.
struct TrustedKey {
    kid: Option<String>,
    key: DecodingKey,
    validation: Validation,
}

/// Verifies user tokens against the configured keys.
#[derive(Clone, Default)]
pub struct UserVerifier {
    keys: Arc<Vec<TrustedKey>>,
}

/// Where user-token keys come from; each is optional.
#[derive(Debug, Clone, Default)]
pub struct UserKeySources<'a> {
    pub shared_secret: Option<&'a str>,
    pub public_key_pem: Option<&'a Path>,
    pub jwks_file: Option<&'a Path>,
}

fn validation_for(algorithms: &[Algorithm]) -> Validation {
    let mut validation = Validation::new(algorithms[0]);
    validation.algorithms = algorithms.to_vec();
    validation.leeway = 5;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation
}

impl UserVerifier {
    /// Builds a verifier from every configured source. Fails when none is given:
    /// a service that cannot tell users apart must not start.
    pub fn from_sources(sources: &UserKeySources<'_>) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        if let Some(secret) = sources.shared_secret {
            if secret.len() < 16 {
                anyhow::bail!("the user-token shared secret must be at least 16 bytes");
            }
            keys.push(TrustedKey {
                kid: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
                validation: validation_for(&[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]),
            });
        }
        if let Some(path) = sources.public_key_pem {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading user-token public key {}", path.display()))?;
            keys.push(Self::pem_key(&pem).with_context(|| format!("{}", path.display()))?);
        }
        if let Some(path) = sources.jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading user-token JWKS {}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text)
                .with_context(|| format!("parsing user-token JWKS {}", path.display()))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk)
                    .with_context(|| format!("user-token JWKS key {:?}", jwk.common.key_id))?;
                let algorithm = jwk
                    .common
                    .key_algorithm
                    .and_then(|a| a.to_string().parse::<Algorithm>().ok())
                    .unwrap_or(match &jwk.algorithm {
                        jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => {
                            Algorithm::ES256
                        }
                        jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
                        _ => Algorithm::RS256,
                    });
                keys.push(TrustedKey {
                    kid: jwk.common.key_id.clone(),
                    key,
                    validation: validation_for(&[algorithm]),
                });
            }
        }
        if keys.is_empty() {
            anyhow::bail!(
                "no user-token keys configured: give a shared secret, a public key or a JWKS file"
            );
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    fn pem_key(pem: &[u8]) -> anyhow::Result<TrustedKey> {
        if let Ok(key) = DecodingKey::from_ed_pem(pem) {
            return Ok(TrustedKey {
                kid: None,
                key,
                validation: validation_for(&[Algorithm::EdDSA]),
            });
        }
        if let Ok(key) = DecodingKey::from_ec_pem(pem) {
            return Ok(TrustedKey {
                kid: None,
                key,
                validation: validation_for(&[Algorithm::ES256, Algorithm::ES384]),
            });
        }
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(TrustedKey {
                kid: None,
                key,
                validation: validation_for(&[
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ]),
            });
        }
        anyhow::bail!("not an RSA, EC or Ed25519 public key in PEM form")
    }

    /// Checks the token against every key that could have signed it.
    pub fn verify(&self, token: &str) -> Result<UserClaims, IdentityError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| IdentityError::Invalid)?;
        let mut expired = false;
        for trusted in self.keys.iter() {
            if !trusted.validation.algorithms.contains(&header.alg) {
                continue;
            }
            if let (Some(want), Some(have)) = (&trusted.kid, &header.kid) {
                if want != have {
                    continue;
                }
            }
            match jsonwebtoken::decode::<UserClaims>(token, &trusted.key, &trusted.validation) {
                Ok(data) if !data.claims.sub.is_empty() && data.claims.sub.len() <= 128 => {
                    return Ok(data.claims)
                }
                Ok(_) => return Err(IdentityError::Invalid),
                Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    expired = true
                }
                Err(_) => {}
            }
        }
        Err(if expired {
            IdentityError::Expired
        } else {
            IdentityError::Invalid
        })
    }
}

/// What a service's settings say about users: the verifier of their tokens
/// and, in dev mode, the issuer of dev logins (it signs with the shared
/// secret, so dev mode without one is a startup error).
pub fn from_settings(
    settings: &runtime::ServiceSettings,
) -> anyhow::Result<(UserVerifier, Option<DevIssuer>)> {
    let users = UserVerifier::from_sources(&UserKeySources {
        shared_secret: settings.user_jwt_secret.as_deref(),
        public_key_pem: settings.user_jwt_public_key.as_deref(),
        jwks_file: settings.user_jwks.as_deref(),
    })?;
    let dev_issuer = match (settings.dev, settings.user_jwt_secret.as_deref()) {
        (true, Some(secret)) => Some(DevIssuer::new(secret)),
        (true, None) => anyhow::bail!("dev mode needs USER_JWT_SECRET to sign dev logins"),
        (false, _) => None,
    };
    Ok((users, dev_issuer))
}

/// Hands out HS256 user tokens signed with the dev secret (dev mode only).
#[derive(Clone)]
pub struct DevIssuer {
    key: Arc<EncodingKey>,
}

impl DevIssuer {
    pub fn new(secret: &str) -> Self {
        Self {
            key: Arc::new(EncodingKey::from_secret(secret.as_bytes())),
        }
    }

    /// A token for `user`, valid for `ttl_secs`, with the operator role when asked.
    pub fn issue(&self, user: &str, operator: bool, ttl_secs: u64) -> anyhow::Result<String> {
        self.issue_for(user, operator, ttl_secs, None)
    }

    /// A token for `user`, valid for `ttl_secs`, with the operator role
    /// when asked, saying when the account was made (Unix seconds) if
    /// `account_created_at` is given, as a provider that knows it would.
    pub fn issue_for(
        &self,
        user: &str,
        operator: bool,
        ttl_secs: u64,
        account_created_at: Option<u64>,
    ) -> anyhow::Result<String> {
        self.issue_claims(&UserClaims {
            sub: user.to_string(),
            exp: crate::unix_now() + ttl_secs,
            roles: if operator {
                vec![OPERATOR_ROLE.to_string()]
            } else {
                vec![]
            },
            role: None,
            account_created_at,
        })
    }

    fn issue_claims(&self, claims: &UserClaims) -> anyhow::Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.key)
            .map_err(|e| anyhow::anyhow!("signing dev user token: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-test-secret-of-some-length";

    fn verifier() -> UserVerifier {
        UserVerifier::from_sources(&UserKeySources {
            shared_secret: Some(SECRET),
            ..Default::default()
        })
        .expect("verifier")
    }

    #[test]
    fn dev_tokens_verify_and_carry_the_role() {
        let issuer = DevIssuer::new(SECRET);
        let fan = verifier()
            .verify(&issuer.issue("alice", false, 60).expect("t"))
            .expect("ok");
        assert_eq!(fan.sub, "alice");
        assert!(!fan.is_operator());
        let op = verifier()
            .verify(&issuer.issue("olga", true, 60).expect("t"))
            .expect("ok");
        assert!(op.is_operator());
        assert_eq!(op.account_created_at, None);
        let young = verifier()
            .verify(
                &issuer
                    .issue_for("bea", false, 60, Some(1_700_000_000))
                    .expect("t"),
            )
            .expect("ok");
        assert_eq!(young.account_created_at, Some(1_700_000_000));
    }

    #[test]
    fn an_account_time_of_another_shape_is_unsaid_not_invalid() {
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let exp = crate::unix_now() + 60;
        let age = |created: serde_json::Value| {
            let claims = serde_json::json!({"sub": "c", "exp": exp, "account_created_at": created});
            let token = jsonwebtoken::encode(&Header::default(), &claims, &key).expect("t");
            verifier().verify(&token).expect("valid").account_created_at
        };
        assert_eq!(age(serde_json::json!(1_700_000_000)), Some(1_700_000_000));
        assert_eq!(age(serde_json::json!(1_700_000_000.7)), Some(1_700_000_000));
        assert_eq!(age(serde_json::json!("2024-01-01T00:00:00Z")), None);
        assert_eq!(age(serde_json::json!(-5)), None);
        assert_eq!(age(serde_json::Value::Null), None);
    }

    #[test]
    fn wrong_secret_expired_and_garbage_are_refused() {
        let other = DevIssuer::new("another-secret-entirely")
            .issue("a", false, 60)
            .expect("t");
        assert_eq!(verifier().verify(&other), Err(IdentityError::Invalid));
        let claims = UserClaims {
            sub: "a".into(),
            exp: 1,
            roles: vec![],
            role: None,
            account_created_at: None,
        };
        let old = jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("t");
        assert_eq!(verifier().verify(&old), Err(IdentityError::Expired));
        assert_eq!(verifier().verify("junk"), Err(IdentityError::Invalid));
    }

    #[test]
    fn an_ed25519_public_key_file_works() {
        let pair = crate::keys::AdmissionKeyPair::generate();
        let dir = std::env::temp_dir().join(format!("lineup-idp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let jwks = dir.join("jwks.json");
        let mut jwk = serde_json::to_value(pair.public_jwk()).expect("json");
        jwk["alg"] = "EdDSA".into();
        std::fs::write(&jwks, serde_json::json!({"keys": [jwk]}).to_string()).expect("write");
        let verifier = UserVerifier::from_sources(&UserKeySources {
            jwks_file: Some(&jwks),
            ..Default::default()
        })
        .expect("verifier");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(pair.kid().to_string());
        let claims = UserClaims {
            sub: "idp-user".into(),
            exp: crate::unix_now() + 60,
            roles: vec![],
            role: None,
            account_created_at: None,
        };
        let token =
            jsonwebtoken::encode(&header, &claims, &pair.encoding_key().expect("k")).expect("t");
        assert_eq!(verifier.verify(&token).expect("ok").sub, "idp-user");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn no_keys_is_a_startup_error() {
        assert!(UserVerifier::from_sources(&UserKeySources::default()).is_err());
    }
}
