//! A CAPTCHA on joining, optional and per deployment: a join (HTTP or
//! WebSocket) carries a token from a Turnstile- or hCaptcha-style widget,
//! which the queue checks against the provider's site-verify endpoint
//! (`POST` form `secret`, `response`, `remoteip`; answer JSON
//! `{"success": bool, ...}`), and spends so it joins once.
//!
//! - Off unless `CAPTCHA_VERIFY_URL` is set (https through rustls with
//!   the public web roots compiled in, plus `CAPTCHA_CA_FILE`'s). `sandbox` (dev mode only) is a
//!   verifier in the process, after the providers' test keys: a token that
//!   starts with `sandbox-pass` passes, any other fails.
//! - Bounded: at most `CAPTCHA_MAX_CONCURRENT` verifications in flight on a
//!   node (past it a join is refused at once, its token not spent), each
//!   within `CAPTCHA_TIMEOUT_MS`.
//! - Fails closed: a verifier that is down, slow, or answers anything but
//!   the JSON above refuses the join (503 `captcha_unavailable`), it never
//!   lets it through.
//! - Spent once: before it is verified, the token's SHA-256 is set with
//!   `SET NX PX` under the drop's hash tag for [`TOKEN_TTL`] (the providers'
//!   token lifetime), so a token joins at most once even while the verifier
//!   is asked (providers also refuse a second verification).

use crate::spent::spend_once;
use admission::contract::DropKeys;
use runtime::redis::Redis;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a token is remembered as spent: the providers' tokens live
/// 300 s.
pub const TOKEN_TTL: Duration = Duration::from_secs(300);
/// Longest token accepted (Turnstile's are up to 2,048 characters).
pub const MAX_TOKEN_BYTES: usize = 4096;
/// What `CAPTCHA_VERIFY_URL` says for the sandbox verifier.
pub const SANDBOX: &str = "sandbox";
/// A sandbox token that starts with this passes.
pub const SANDBOX_PASS: &str = "sandbox-pass";
/// Longest verifier answer read.
const MAX_REPLY_BYTES: usize = 16 * 1024;

/// How a deployment set the CAPTCHA up (see `queue --help`).
#[derive(Debug, Clone, Default)]
pub struct CaptchaSettings {
    /// The site-verify URL, `sandbox`, or nothing (off).
    pub verify_url: Option<String>,
    pub secret: Option<String>,
    pub site_key: Option<String>,
    /// The widget's script, loaded by the fan page.
    pub script_url: Option<String>,
    /// Extra roots (PEM) the verifier's https certificate may chain to.
    pub ca_file: Option<std::path::PathBuf>,
    pub timeout: Duration,
    pub max_concurrent: usize,
}

/// Why a join's CAPTCHA was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    #[error("this line asks for a CAPTCHA: solve it and join again")]
    Required,
    #[error("the CAPTCHA token is malformed")]
    Malformed,
    #[error("the CAPTCHA was not passed")]
    Failed,
    #[error("this CAPTCHA token was used already: solve it again")]
    Reused,
    #[error("the CAPTCHA could not be checked just now; try again shortly")]
    Unavailable,
}

impl CaptchaError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Required => "captcha_required",
            Self::Malformed => "captcha_malformed",
            Self::Failed => "captcha_failed",
            Self::Reused => "captcha_reused",
            Self::Unavailable => "captcha_unavailable",
        }
    }
}

/// The CAPTCHA check of this node; cheap to clone.
#[derive(Clone)]
pub struct Captcha(Option<Arc<Inner>>);

struct Inner {
    verifier: Verifier,
    site_key: String,
    script_url: Option<String>,
    redis: Redis,
    prefix: String,
}

enum Verifier {
    Sandbox,
    Remote {
        client: reqwest::Client,
        url: String,
        secret: String,
        slots: Semaphore,
        timeout: Duration,
    },
}

impl Captcha {
    /// No CAPTCHA.
    pub fn off() -> Self {
        Self(None)
    }

    /// The deployment's CAPTCHA; the sandbox only in dev mode.
    pub fn new(
        settings: &CaptchaSettings,
        dev: bool,
        redis: Redis,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let Some(url) = settings.verify_url.as_deref().map(str::trim) else {
            return Ok(Self::off());
        };
        let verifier = if url == SANDBOX {
            anyhow::ensure!(dev, "CAPTCHA_VERIFY_URL=sandbox is for dev mode only");
            Verifier::Sandbox
        } else {
            anyhow::ensure!(
                url.starts_with("https://") || url.starts_with("http://"),
                "CAPTCHA_VERIFY_URL must be an https:// (or http://) URL, or `sandbox`"
            );
            let secret = settings
                .secret
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| anyhow::anyhow!("CAPTCHA_VERIFY_URL needs CAPTCHA_SECRET"))?;
            let timeout = settings.timeout.max(Duration::from_millis(50));
            Verifier::Remote {
                client: verifier_client(timeout, settings.ca_file.as_deref())?,
                url: url.to_string(),
                secret,
                slots: Semaphore::new(settings.max_concurrent.max(1)),
                timeout,
            }
        };
        Ok(Self(Some(Arc::new(Inner {
            verifier,
            site_key: settings.site_key.clone().unwrap_or_default(),
            script_url: settings.script_url.clone().filter(|s| !s.is_empty()),
            redis,
            prefix: prefix.to_string(),
        }))))
    }

    /// True when joins need a token.
    pub fn required(&self) -> bool {
        self.0.is_some()
    }

    /// What the fan page needs to show the widget:
    /// `{"siteKey", "sandbox", "script"}`, or nothing when off.
    pub fn page_settings(&self) -> Option<serde_json::Value> {
        let inner = self.0.as_ref()?;
        Some(serde_json::json!({
            "siteKey": inner.site_key,
            "sandbox": matches!(inner.verifier, Verifier::Sandbox),
            "script": inner.script_url,
        }))
    }

    /// The widget script's URL, for the page's Content-Security-Policy.
    pub fn script_url(&self) -> Option<&str> {
        self.0.as_ref()?.script_url.as_deref()
    }

    /// Checks the token a join of `drop` from `client` carries, and spends
    /// it. Changes nothing but the spent mark.
    pub async fn check(
        &self,
        drop: &str,
        token: Option<&str>,
        client: IpAddr,
    ) -> Result<(), CaptchaError> {
        let Some(inner) = &self.0 else {
            return Ok(());
        };
        let token = token.map(str::trim).unwrap_or("");
        if token.is_empty() {
            return Err(CaptchaError::Required);
        }
        if token.len() > MAX_TOKEN_BYTES || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CaptchaError::Malformed);
        }
        match &inner.verifier {
            Verifier::Sandbox => {
                inner.spend(drop, token).await?;
                match token.starts_with(SANDBOX_PASS) {
                    true => Ok(()),
                    false => Err(CaptchaError::Failed),
                }
            }
            Verifier::Remote {
                client: http,
                url,
                secret,
                slots,
                timeout,
            } => {
                // A node at its bound refuses at once, the token unspent.
                let _slot = slots.try_acquire().map_err(|_| {
                    metrics::counter!("queue_captcha_busy_total").increment(1);
                    CaptchaError::Unavailable
                })?;
                inner.spend(drop, token).await?;
                tokio::time::timeout(*timeout, site_verify(http, url, secret, token, client))
                    .await
                    .unwrap_or(Err(CaptchaError::Unavailable))
            }
        }
    }
}

/// The HTTP client for the verifier: https through rustls with the public
/// web roots compiled in (webpki-roots), plus the roots in `ca_file`; no
/// redirects followed; every call bounded by `timeout`.
fn verifier_client(
    timeout: Duration,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<reqwest::Client> {
    use anyhow::Context;
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("CAPTCHA_CA_FILE {} unreadable", path.display()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("CAPTCHA_CA_FILE {}: not PEM certificates", path.display()))?;
        anyhow::ensure!(
            !roots.is_empty(),
            "CAPTCHA_CA_FILE {} holds no certificate",
            path.display()
        );
        for root in roots {
            builder = builder.add_root_certificate(root);
        }
    }
    builder
        .build()
        .context("the CAPTCHA verifier's HTTP client")
}

impl Inner {
    async fn spend(&self, drop: &str, token: &str) -> Result<(), CaptchaError> {
        let digest = Sha256::digest(token.as_bytes());
        let tag = hex::encode(&digest[..16]);
        let key = DropKeys::new(&self.prefix, drop).key(&format!("captcha:{tag}"));
        let first = spend_once(&self.redis, key, TOKEN_TTL)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "CAPTCHA spend: Redis unavailable");
                CaptchaError::Unavailable
            })?;
        if first {
            Ok(())
        } else {
            Err(CaptchaError::Reused)
        }
    }
}

/// One site-verify call: success, refusal, or unavailable (any transport
/// error, a non-2xx status, an answer that is not the expected JSON).
async fn site_verify(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    token: &str,
    client: IpAddr,
) -> Result<(), CaptchaError> {
    let remoteip = client.to_string();
    let form = [
        ("secret", secret),
        ("response", token),
        ("remoteip", remoteip.as_str()),
    ];
    let unavailable = |why: &dyn std::fmt::Display| {
        tracing::warn!(%why, "CAPTCHA verifier unavailable");
        metrics::counter!("queue_captcha_unavailable_total").increment(1);
        CaptchaError::Unavailable
    };
    let response = http
        .post(url)
        .form(&form)
        .send()
        .await
        .map_err(|e| unavailable(&e))?;
    if !response.status().is_success() {
        return Err(unavailable(&response.status()));
    }
    let body = response.bytes().await.map_err(|e| unavailable(&e))?;
    if body.len() > MAX_REPLY_BYTES {
        return Err(unavailable(&"answer too long"));
    }
    #[derive(serde::Deserialize)]
    struct Reply {
        success: bool,
        #[serde(default, rename = "error-codes")]
        error_codes: Vec<String>,
    }
    let reply: Reply = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
    if reply.success {
        Ok(())
    } else {
        tracing::debug!(codes = ?reply.error_codes, "CAPTCHA refused");
        Err(CaptchaError::Failed)
    }
}
