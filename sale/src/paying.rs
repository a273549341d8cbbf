//! Paying: a fan starts a payment of a pending order; the provider reports
//! the outcome as a signed event at the webhook.

use crate::domain::Sale;
use crate::payments::ledger::{self, Applied, PaymentRow, Start};
use crate::payments::signature::{self, SignatureError};
use crate::payments::{Charge, ProviderError, WebhookEvent};
use uuid::Uuid;

/// Why a payment could not start.
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("{0}")]
    InvalidMethod(String),
    #[error("unknown order")]
    UnknownOrder,
    #[error("the order's time to pay is over")]
    Expired,
    #[error("only a pending order can be paid; this one is {0}")]
    NotPending(String),
    #[error("the payment provider did not answer: {0}")]
    ProviderUnavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Why a provider event was refused; each refusal changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    InvalidSignature(SignatureError),
    #[error("{0}")]
    StaleSignature(SignatureError),
    #[error("the body is not JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidEvent(String),
    #[error("unknown payment")]
    UnknownPayment,
    #[error("the event's order, amount or currency differ from the payment's")]
    Mismatch,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What an accepted event did.
#[derive(Debug, Clone)]
pub struct EventOutcome {
    /// `applied` or `duplicate` (a replay: nothing changed).
    pub result: &'static str,
    pub event_id: String,
    /// The order's status afterwards (applied events only).
    pub order_status: Option<String>,
}

impl Sale {
    /// Starts a payment attempt of `user`'s pending order. A decline leaves
    /// the order pending (pay again until it expires); a double click gets
    /// the attempt already in flight.
    pub async fn pay_order(
        &self,
        order_id: Uuid,
        user: &str,
        method: &str,
    ) -> Result<PaymentRow, PayError> {
        self.payments
            .check_method(method)
            .map_err(|e| PayError::InvalidMethod(e.to_string()))?;
        let now = self.clock.now();
        let started =
            ledger::start(&self.db, order_id, user, self.payments.name(), method, now).await?;
        let payment = match started {
            Start::Started(payment) => payment,
            Start::InFlight(payment) => return Ok(payment),
            Start::UnknownOrder => return Err(PayError::UnknownOrder),
            Start::Expired => return Err(PayError::Expired),
            Start::NotPending(status) => return Err(PayError::NotPending(status)),
        };
        let charge = Charge {
            payment_id: payment.id,
            order_id,
            amount_cents: payment.amount_cents,
            currency: payment.currency.clone(),
            method: payment.method.clone(),
        };
        if let Err(error) = self.payments.charge(charge).await {
            ledger::decline(&self.db, payment.id, "provider_unavailable").await?;
            return Err(match error {
                ProviderError::UnknownMethod(_) => PayError::InvalidMethod(error.to_string()),
                ProviderError::Unavailable(_) => PayError::ProviderUnavailable(error.to_string()),
            });
        }
        metrics::counter!("sale_payments_started_total").increment(1);
        Ok(payment)
    }

    /// Applies a provider event. Checked in this order, each failure
    /// changing nothing: signature present, well formed and matching, its
    /// timestamp within 5 minutes; the body an event; the payment known, with
    /// the same order, amount and currency. A replayed event id changes
    /// nothing (`duplicate`). A payment that succeeds after its order
    /// stopped holding units is refunded, never revived.
    pub async fn apply_payment_event(
        &self,
        body: &[u8],
        signature_header: &str,
    ) -> Result<EventOutcome, WebhookError> {
        signature::verify(
            &self.webhook_secret,
            signature_header,
            body,
            self.clock.now().timestamp(),
        )
        .map_err(|error| match error {
            SignatureError::Stale => WebhookError::StaleSignature(error),
            _ => WebhookError::InvalidSignature(error),
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
        let event: WebhookEvent = serde_json::from_value(value)
            .map_err(|e| WebhookError::InvalidEvent(format!("not a payment event: {e}")))?;
        if event.id.is_empty() || event.id.len() > 200 {
            return Err(WebhookError::InvalidEvent(
                "the event id must be 1-200 characters".into(),
            ));
        }
        let applied = ledger::apply(&self.db, &event, self.clock.now()).await?;
        let outcome = match applied {
            Applied::UnknownPayment => return Err(WebhookError::UnknownPayment),
            Applied::Mismatch => return Err(WebhookError::Mismatch),
            Applied::Duplicate => EventOutcome {
                result: "duplicate",
                event_id: event.id.clone(),
                order_status: None,
            },
            Applied::Applied {
                refund,
                order_status,
            } => {
                if let Some(payment) = refund {
                    self.refund_late_payment(&payment).await;
                }
                EventOutcome {
                    result: "applied",
                    event_id: event.id.clone(),
                    order_status: Some(order_status),
                }
            }
        };
        tracing::info!(
            event = event.id,
            kind = event.kind.as_str(),
            result = outcome.result,
            "payment event"
        );
        Ok(outcome)
    }

    async fn refund_late_payment(&self, payment: &PaymentRow) {
        tracing::warn!(payment = %payment.id, order = %payment.order_id, "late payment: refunding");
        metrics::counter!("sale_late_payments_refunded_total").increment(1);
        if let Err(error) = self
            .payments
            .refund(
                payment.id,
                payment.order_id,
                payment.amount_cents,
                payment.currency.clone(),
            )
            .await
        {
            // Recorded as refund_requested: the retry loop asks again.
            tracing::warn!(%error, payment = %payment.id, "refund not requested yet; will retry");
        }
    }
}
