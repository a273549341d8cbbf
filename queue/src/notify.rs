//! Listens on Redis pub/sub for admissions announced by any node's pump
//! (handed to this node's connections) and for drop changes announced by the
//! sale service (the catalog reloads at once). Resubscribes after a Redis
//! outage; an admission missed meanwhile reaches the fan at its next exact
//! refresh, a change at the catalog's next poll.

use crate::pump::Admitted;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

pub async fn run(
    client: redis::Client,
    channel: String,
    changes_channel: String,
    admitted: broadcast::Sender<Arc<Admitted>>,
    changed: Arc<tokio::sync::Notify>,
) {
    tracing::info!(channel, "admission listener started");
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&[&channel, &changes_channel]).await {
                    tracing::warn!(%error, "admission listener: subscribe failed");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if message.get_channel_name() == changes_channel {
                            changed.notify_one();
                            continue;
                        }
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        if let Ok(event) = serde_json::from_str::<Admitted>(&payload) {
                            let _ = admitted.send(Arc::new(event));
                        }
                    }
                    tracing::warn!("admission listener: connection lost");
                }
            }
            Err(error) => tracing::debug!(%error, "admission listener: Redis unavailable"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
