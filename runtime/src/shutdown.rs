//! Stopping a service: a [`CancellationToken`] every background task watches
//! (so each can finish its step and clean up, instead of being aborted), and
//! the OS signals that trigger it.

pub use tokio_util::sync::CancellationToken;

/// Completes on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown signal received");
}

/// Cancels `token` when `stop` completes (or does nothing once the token
/// is cancelled some other way).
pub fn cancel_when(
    stop: impl std::future::Future<Output = ()> + Send + 'static,
    token: &CancellationToken,
) {
    let token = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop => token.cancel(),
            _ = token.cancelled() => {}
        }
    });
}
