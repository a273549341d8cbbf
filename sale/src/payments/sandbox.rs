//! The sandbox payment provider: a card processor in-process, for dev and
//! tests. Like a real one, it answers a charge later, by a signed webhook to
//! the sale service, and retries delivery (with backoff) until it gets a 2xx.
//!
//! Payment methods:
//! - `card_ok`: succeeds after [`SandboxConfig::latency`].
//! - `card_declined`: declined (`card_declined`) after the latency.
//! - `card_insufficient_funds`: declined (`insufficient_funds`).
//! - `card_delayed`: succeeds only after [`SandboxConfig::delayed`] (think 3-D
//!   Secure or a bank transfer): long enough to arrive after the order expired.
//!
//! Refunds succeed after the latency. Charges and refunds are idempotent on
//! the payment id.

use super::{Charge, EventKind, PaymentProvider, ProviderError, WebhookEvent};
use crate::clock::Clock;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use uuid::Uuid;

pub const METHODS: &[&str] = &[
    "card_ok",
    "card_declined",
    "card_insufficient_funds",
    "card_delayed",
];

#[derive(Debug, Clone, Copy)]
pub struct SandboxConfig {
    /// How long an ordinary charge or refund takes.
    pub latency: Duration,
    /// How long `card_delayed` takes.
    pub delayed: Duration,
}

pub struct SandboxProvider {
    config: SandboxConfig,
    secret: Arc<[u8]>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    /// Where events go; set once the service knows its own address.
    webhook_url: OnceLock<String>,
    /// Payment ids already charged / refunded (idempotency).
    seen: Mutex<HashSet<(Uuid, EventKind)>>,
}

impl SandboxProvider {
    pub fn new(config: SandboxConfig, secret: &[u8], clock: Arc<dyn Clock>) -> Self {
        Self {
            config,
            secret: secret.into(),
            clock,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            webhook_url: OnceLock::new(),
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// Points webhooks at the sale service (first call wins).
    pub fn set_webhook_url(&self, url: String) {
        let _ = self.webhook_url.set(url);
    }

    fn first_time(&self, payment_id: Uuid, kind: EventKind) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((payment_id, kind))
    }

    /// Sends `event` after `after`, retrying delivery up to 8 times.
    fn deliver_later(&self, event: WebhookEvent, after: Duration) {
        let Some(url) = self.webhook_url.get().cloned() else {
            tracing::error!("sandbox provider has no webhook URL; event dropped");
            return;
        };
        let (http, secret, clock) = (self.http.clone(), self.secret.clone(), self.clock.clone());
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let body = match serde_json::to_vec(&event) {
                Ok(body) => body,
                Err(error) => return tracing::error!(%error, "sandbox: event not serializable"),
            };
            let mut backoff = Duration::from_millis(200);
            for attempt in 1..=8 {
                let header = super::signature::sign(&secret, clock.now().timestamp(), &body);
                let sent = http
                    .post(&url)
                    .header(super::signature::HEADER, header)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => return,
                    // A 4xx other than 429 will not get better by retrying.
                    Ok(response)
                        if response.status().is_client_error() && response.status() != 429 =>
                    {
                        return tracing::warn!(status = %response.status(), event = event.id, "sandbox: webhook refused");
                    }
                    outcome => {
                        tracing::debug!(
                            attempt,
                            ?outcome,
                            event = event.id,
                            "sandbox: webhook delivery failed, retrying"
                        );
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            tracing::warn!(
                event = event.id,
                "sandbox: webhook not delivered, giving up"
            );
        });
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn check_method(&self, method: &str) -> Result<(), ProviderError> {
        if METHODS.contains(&method) {
            Ok(())
        } else {
            Err(ProviderError::UnknownMethod(method.to_string()))
        }
    }

    fn charge(&self, charge: Charge) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            self.check_method(&charge.method)?;
            if !self.first_time(charge.payment_id, EventKind::PaymentSucceeded) {
                return Ok(());
            }
            let (kind, decline_code, after) = match charge.method.as_str() {
                "card_declined" => (
                    EventKind::PaymentDeclined,
                    Some("card_declined"),
                    self.config.latency,
                ),
                "card_insufficient_funds" => (
                    EventKind::PaymentDeclined,
                    Some("insufficient_funds"),
                    self.config.latency,
                ),
                "card_delayed" => (EventKind::PaymentSucceeded, None, self.config.delayed),
                _ => (EventKind::PaymentSucceeded, None, self.config.latency),
            };
            self.deliver_later(
                WebhookEvent {
                    id: format!("evt_{}", Uuid::new_v4().simple()),
                    kind,
                    payment_id: charge.payment_id,
                    order_id: charge.order_id,
                    amount_cents: charge.amount_cents,
                    currency: charge.currency,
                    decline_code: decline_code.map(str::to_string),
                },
                after,
            );
            Ok(())
        })
    }

    fn refund(
        &self,
        payment_id: Uuid,
        order_id: Uuid,
        amount_cents: i64,
        currency: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            if self.first_time(payment_id, EventKind::RefundSucceeded) {
                self.deliver_later(
                    WebhookEvent {
                        id: format!("evt_{}", Uuid::new_v4().simple()),
                        kind: EventKind::RefundSucceeded,
                        payment_id,
                        order_id,
                        amount_cents,
                        currency,
                        decline_code: None,
                    },
                    self.config.latency,
                );
            }
            Ok(())
        })
    }
}
