//! Listens for admissions announced by any node's pump (Redis pub/sub) and
//! hands them to this node's connections. Resubscribes after a Redis outage;
//! an announcement missed meanwhile reaches the fan at its next exact
//! refresh instead.

use crate::pump::Admitted;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

pub async fn run(
    client: redis::Client,
    channel: String,
    admitted: broadcast::Sender<Arc<Admitted>>,
) {
    tracing::info!(channel, "admission listener started");
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&channel).await {
                    tracing::warn!(%error, "admission listener: subscribe failed");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
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
