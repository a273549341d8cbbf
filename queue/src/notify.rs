//! Listens on Redis pub/sub for admissions announced by any node's pump
//! (handed to this node's connections) and for drops the sale announces as
//! created or changed (the catalog reloads that drop at once). Resubscribes
//! after a Redis outage; an admission missed meanwhile reaches the fan at its
//! next exact refresh, a change at the catalog's next refresh.

use crate::pump::Admitted;
use crate::waiters::Waiters;
use futures::StreamExt;
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
    client: redis::Client,
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
            () = listen(&client, &admitted_channel, &changes_channel, &listeners) => {}
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
    client: &redis::Client,
    admitted_channel: &str,
    changes_channel: &str,
    listeners: &Listeners,
) {
    let mut pubsub = match client.get_async_pubsub().await {
        Ok(pubsub) => pubsub,
        Err(error) => return tracing::debug!(%error, "announcement listener: Redis unavailable"),
    };
    if let Err(error) = pubsub.subscribe(&[admitted_channel, changes_channel]).await {
        return tracing::warn!(%error, "announcement listener: subscribe failed");
    }
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Ok(payload) = message.get_payload::<String>() else {
            continue;
        };
        if message.get_channel_name() == changes_channel {
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
