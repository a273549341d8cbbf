//! Listens on Redis pub/sub (sharded pub/sub on a Redis Cluster) for admissions announced by any node's pump
//! (handed to this node's connections), for drops the sale announces as
//! created or changed (the catalog reloads that drop at once) and for users
//! it revoked in a drop (their sockets here close at once). Resubscribes
//! after a Redis outage; an admission missed meanwhile reaches the fan at its
//! next exact refresh, a change at the catalog's next refresh.

use crate::pump::Admitted;
use crate::waiters::Waiters;
use runtime::shutdown::CancellationToken;
use std::time::Duration;
use tokio::sync::mpsc;

/// A revocation as the sale announces it.
#[derive(serde::Deserialize)]
struct Revoked {
    drop: String,
    user: String,
}

/// Where announcements go.
pub struct Listeners {
    /// Admissions and revocations, to the sessions of those fans on this
    /// node.
    pub admitted: Waiters,
    /// Ids of drops created or changed, to the catalog.
    pub changed: mpsc::Sender<String>,
}

/// The channels listened to.
pub struct Channels {
    pub admitted: String,
    pub changes: String,
    pub revoked: String,
}

pub async fn run(
    target: runtime::redis::Target,
    channels: Channels,
    listeners: Listeners,
    stop: CancellationToken,
) {
    tracing::info!(
        admitted = channels.admitted,
        changes = channels.changes,
        revoked = channels.revoked,
        "announcement listener started"
    );
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            () = listen(&target, &channels, &listeners) => {}
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    tracing::info!("announcement listener stopped");
}

/// One subscription, until the connection is lost.
async fn listen(target: &runtime::redis::Target, channels: &Channels, listeners: &Listeners) {
    let names = [
        channels.admitted.clone(),
        channels.changes.clone(),
        channels.revoked.clone(),
    ];
    let mut subscription = match target.subscribe(&names).await {
        Ok(subscription) => subscription,
        Err(error) => return tracing::debug!(%error, "announcement listener: Redis unavailable"),
    };
    while let Some((channel, payload)) = subscription.next().await {
        if channel == channels.changes {
            // Full: the catalog's periodic refresh catches up within a second.
            let _ = listeners.changed.try_send(payload);
            continue;
        }
        if channel == channels.revoked {
            if let Ok(revoked) = serde_json::from_str::<Revoked>(&payload) {
                listeners.admitted.revoke(&revoked.drop, &revoked.user);
            }
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
