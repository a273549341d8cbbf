//! Subscriptions: plain pub/sub on one Redis, sharded pub/sub
//! (`SSUBSCRIBE`, Redis 7) on a cluster, yielding `(channel, payload)` until
//! the connection is lost.

use super::{cluster_builder, Target, SUBSCRIPTION_BUFFER};
use futures::{Stream, StreamExt};
use redis::cluster_async::ClusterConnection;
use redis::RedisResult;
use std::pin::Pin;

impl Target {
    /// Subscribes to `channels` (plain pub/sub on one Redis, sharded on a
    /// cluster) and yields `(channel, payload)` until the connection is
    /// lost (on a cluster: a connection to any node); the caller subscribes
    /// again.
    pub async fn subscribe(&self, channels: &[String]) -> RedisResult<Subscription> {
        match self {
            Self::Single(url) => {
                let mut pubsub = redis::Client::open(url.as_str())?
                    .get_async_pubsub()
                    .await?;
                pubsub.subscribe(channels).await?;
                let messages = pubsub.into_on_message().filter_map(|message| async move {
                    let payload = message.get_payload::<String>().ok()?;
                    Some((message.get_channel_name().to_string(), payload))
                });
                Ok(Subscription {
                    messages: Box::pin(messages),
                    _cluster: None,
                })
            }
            Self::Cluster(nodes) => {
                let (tx, rx) = tokio::sync::mpsc::channel(SUBSCRIPTION_BUFFER);
                // Never blocks the connection: a full buffer drops the
                // message (see SUBSCRIPTION_BUFFER).
                let sender = move |info: redis::PushInfo| tx.try_send(info);
                let client = cluster_builder(nodes)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(sender)
                    .build()?;
                let mut connection = client.get_async_connection().await?;
                for channel in channels {
                    connection.ssubscribe(channel).await?;
                }
                // A lost node connection ends the stream: the caller
                // subscribes again with a fresh slot map (after a failover
                // the channel's shard has a new master).
                let messages = tokio_stream_of(rx)
                    .take_while(|info| {
                        let lost = info.kind == redis::PushKind::Disconnection;
                        async move { !lost }
                    })
                    .filter_map(|info| async move {
                        if info.kind != redis::PushKind::SMessage {
                            return None;
                        }
                        let mut data = info.data.into_iter();
                        let channel: String = redis::from_redis_value(&data.next()?).ok()?;
                        let payload: String = redis::from_redis_value(&data.next()?).ok()?;
                        Some((channel, payload))
                    });
                Ok(Subscription {
                    messages: Box::pin(messages),
                    _cluster: Some(connection),
                })
            }
        }
    }
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Messages of a [`Target::subscribe`]: `(channel, payload)`.
pub struct Subscription {
    messages: Pin<Box<dyn Stream<Item = (String, String)> + Send>>,
    /// Keeps the cluster connection (and so its subscriptions) alive.
    _cluster: Option<ClusterConnection>,
}

impl Subscription {
    /// The next message; `None` once the connection is lost.
    pub async fn next(&mut self) -> Option<(String, String)> {
        self.messages.next().await
    }
}
