//! The sale's domain handle: [`Sale`] holds what every operation needs
//! (the record, the gate, the writer, the clock, the payment provider) and
//! the operations themselves live next to their subject:
//! [`crate::orders`], [`crate::drops`], [`crate::payments`].

use crate::clock::Clock;
use crate::gate::StockGate;
use crate::payments::PaymentProvider;
use crate::seats::board::Boards;
use crate::seats::gate::SeatGate;
use crate::seats::sale::SeatedSales;
use crate::writer::OrderWriter;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// The sale service's core; cheap to clone (one reference count: every
/// request handler and every order task holds one).
#[derive(Clone)]
pub struct Sale(Arc<SaleHandles>);

/// What a [`Sale`] holds, reached through it by `Deref`: the parts it was
/// made of (reached through `Deref` again) and what it keeps for itself.
pub struct SaleHandles {
    parts: SaleParts,
    /// Seated sales and their maps, loaded in this process.
    pub(crate) seated: SeatedSales,
    /// Work that must run to its end whatever the caller does (an order
    /// once reserved); shutdown waits for it.
    pub(crate) tasks: TaskTracker,
    /// Drops this process is rebuilding into Redis right now.
    pub(crate) rebuilding: Arc<Mutex<HashSet<String>>>,
}

impl std::ops::Deref for Sale {
    type Target = SaleHandles;

    fn deref(&self) -> &SaleHandles {
        &self.0
    }
}

impl std::ops::Deref for SaleHandles {
    type Target = SaleParts;

    fn deref(&self) -> &SaleParts {
        &self.parts
    }
}

/// What a [`Sale`] is made of.
pub struct SaleParts {
    pub db: sqlx::PgPool,
    pub gate: StockGate,
    pub writer: OrderWriter,
    /// Group commit of the holds of seated sales.
    pub hold_writer: crate::seats::writer::HoldWriter,
    pub clock: Arc<dyn Clock>,
    pub payments: Arc<dyn PaymentProvider>,
    /// The seat scripts of seated sales.
    pub seat_gate: SeatGate,
    /// Live seat states of the seated sales watched in this process.
    pub boards: Boards,
    /// The secret provider events are signed with.
    pub webhook_secret: Arc<[u8]>,
    /// Upper bound of one order write.
    pub write_timeout: Duration,
    /// How long an admitted fan counts as an active shopper.
    pub admission_ttl: Duration,
}

impl Sale {
    pub fn new(parts: SaleParts) -> Self {
        Self(Arc::new(SaleHandles {
            parts,
            seated: SeatedSales::default(),
            tasks: TaskTracker::new(),
            rebuilding: Arc::default(),
        }))
    }

    /// Expiry and reconciliation over this sale's handles.
    pub fn expiry(&self) -> crate::expiry::Expiry {
        crate::expiry::Expiry {
            db: self.db.clone(),
            gate: self.gate.clone(),
            seats: self.seat_gate.clone(),
            clock: self.clock.clone(),
        }
    }

    /// How many seated sales this process loaded from PostgreSQL.
    pub fn seated_sale_loads(&self) -> u64 {
        self.seated.loads()
    }

    /// Expires every order due now (what the sweeper does each tick).
    pub async fn sweep_expired(&self) -> anyhow::Result<usize> {
        self.expiry().sweep().await
    }

    /// One full reconciliation pass (what the reconciler does at start and
    /// every `RECONCILE_FULL_EVERY_SECS`).
    pub async fn reconcile(&self, grace: Duration) -> anyhow::Result<crate::reconcile::Reconciled> {
        self.expiry().reconcile(grace).await
    }

    /// Runs `work` to its end, so a caller that stops waiting (a client
    /// hanging up) cannot stop it between two writes: in the caller's task
    /// while it waits, in a task of its own on the sale's tracker once it
    /// stops ([`crate::to_end`]); shutdown waits for it either way
    /// ([`Sale::finish_in_flight`]).
    pub(crate) async fn run_to_end<T, E>(
        &self,
        what: &'static str,
        work: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<anyhow::Error> + Send + 'static,
    {
        crate::to_end::ToEnd::new(&self.tasks, work)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("{what} task failed: it panicked").into()))
    }

    /// Waits (at most `within`) for the work that must finish, such as
    /// orders reserved but not yet recorded; called on shutdown, after the
    /// HTTP server stopped taking requests.
    pub async fn finish_in_flight(&self, within: Duration) {
        self.tasks.close();
        if tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tasks.len(),
                "in-flight work still running at shutdown"
            );
        }
    }
}
