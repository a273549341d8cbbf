//! Payments: the provider interface and what the sale service does with it.
//!
//! - [`signature`]: webhook signatures (HMAC-SHA256 over timestamp and body).
//! - [`sandbox`]: a provider for dev and tests that behaves like a card
//!   processor: answers later, by a signed webhook, and retries delivery.
//! - [`ledger`]: the PostgreSQL side: payment attempts, applied events, and
//!   the order transitions they cause.
//!
//! A payment never changes stock: a pending order already holds its units
//! and `paid` keeps holding them. A payment that succeeds after its order
//! stopped holding (expired, cancelled) is refunded; see [`ledger`].

pub mod ledger;
pub mod sandbox;
pub mod signature;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A charge to start; its outcome arrives at the webhook.
#[derive(Debug, Clone)]
pub struct Charge {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub method: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("unknown payment method {0:?}")]
    UnknownMethod(String),
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment processor. Both calls only start the work: results come back
/// as signed webhook events ([`WebhookEvent`]). Both must be idempotent on
/// the payment id, so a retry never charges or refunds twice.
pub trait PaymentProvider: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Fails fast for a method the provider does not know.
    fn check_method(&self, method: &str) -> Result<(), ProviderError>;
    fn charge(&self, charge: Charge) -> BoxFuture<'_, Result<(), ProviderError>>;
    fn refund(
        &self,
        payment_id: Uuid,
        order_id: Uuid,
        amount_cents: i64,
        currency: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>>;
}

/// What a provider reports, as the webhook's JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookEvent {
    /// The provider's event id: an event applies at most once.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "payment.succeeded")]
    PaymentSucceeded,
    #[serde(rename = "payment.declined")]
    PaymentDeclined,
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentSucceeded => "payment.succeeded",
            Self::PaymentDeclined => "payment.declined",
            Self::RefundSucceeded => "refund.succeeded",
        }
    }
}

/// Asks the provider again for refunds requested before `older_than` and
/// not confirmed by a `refund.succeeded` event (the first request failed, or
/// its confirmation was lost). Returns how many were asked.
pub async fn retry_refunds(
    db: &sqlx::PgPool,
    provider: &dyn PaymentProvider,
    older_than: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<usize> {
    let due = ledger::refunds_to_retry(db, older_than).await?;
    for payment in &due {
        provider
            .refund(
                payment.id,
                payment.order_id,
                payment.amount_cents,
                payment.currency.clone(),
            )
            .await?;
    }
    Ok(due.len())
}
