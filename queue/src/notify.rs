//! Listens on Redis pub/sub (sharded pub/sub on a Redis Cluster) for admissions announced by any node's pump
//! (handed to this node's connections) and for drops the sale announces as
//! created or changed (the catalog reloads that drop at once). Resubscribes
//! after a Redis outage; an admission missed meanwhile reaches the fan at its
//! next exact refresh, a change at the catalog's next refresh.

use crate::pump::Admitted;
use crate::waiters::Waiters;
use runtime::shutdown::CancellationToken;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where announcements go.
pub struct Listeners {
    /// Admissions, to the sessions of the admitted fans on this node.
    pub admitted: Waiters,
    /// Ids of drops created or changed, to the catalog.
    pub changed: mpsc::Sender<String>,
}

pub async fn run(
    target: runtime::redis::Target,
    admitted_channel: String,
    changes_channel: String,
    listeners: Listeners,
    stop: CancellationToken,
) {
    tracing::info!(
        admitted_channel,
        changes_channel,
        "announcement listener started"
    );
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            () = listen(&target, &admitted_channel, &changes_channel, &listeners) => {}
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    tracing::info!("announcement listener stopped");
}

/// One subscription, until the connection is lost.
async fn listen(
    target: &runtime::redis::Target,
    admitted_channel: &str,
    changes_channel: &str,
    listeners: &Listeners,
) {
    let channels = [admitted_channel.to_string(), changes_channel.to_string()];
    let mut subscription = match target.subscribe(&channels).await {
        Ok(subscription) => subscription,
        Err(error) => return tracing::debug!(%error, "announcement listener: Redis unavailable"),
    };
    while let Some((channel, payload)) = subscription.next().await {
        if channel == changes_channel {
            // Full: the catalog's periodic refresh catches up within a second.
            let _ = listeners.changed.try_send(payload);
            continue;
        }
        if let Ok(event) = serde_json::from_str::<Admitted>(&payload) {
            listeners
                .admitted
                .admit(&event.drop, &event.users, event.at_ms);
        }
    }
    tracing::warn!("announcement listener: connection lost");
}
