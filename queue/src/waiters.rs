//! The fans of this node who wait to be admitted, by drop and user: an
//! announced admission wakes exactly the sessions of the fans it admits.
//!
//! Before, every admission was broadcast to every WebSocket session of the
//! node, each checking whether it was meant: with the pump announcing ten
//! times a second and tens of thousands of fans connected, that was
//! hundreds of thousands of wake-ups a second for a few hundred admissions.
//! Now a session registers its (drop, user) while it lives ([`Waiters::wait`])
//! and an announcement costs one lookup per admitted user.
//!
//! Several sessions of one user (two tabs) share one entry; the entry goes
//! when the last of them ends.
//!
//! A revocation announced by the sale reaches the same entry
//! ([`Waiters::revoke`]): the user's sessions in that drop end at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// What a waiting session is told: its admission time (ms), and whether
/// its user was revoked.
#[derive(Debug, Clone, Copy, Default)]
struct Signal {
    admitted_at: Option<i64>,
    revoked: bool,
}

/// What woke a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// Admitted at this time (ms).
    Admitted(i64),
    /// Revoked by an operator.
    Revoked,
}

/// Signals by drop, then user.
type ByDrop = HashMap<String, HashMap<String, watch::Sender<Signal>>>;

/// The registry; cheap to clone.
#[derive(Clone, Default)]
pub struct Waiters {
    inner: Arc<Mutex<ByDrop>>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, ByDrop> {
        // A panic while holding the lock leaves a consistent map: every
        // change below is one insert or remove.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a session of `user` waiting in `drop`.
    pub fn wait(&self, drop: &str, user: &str) -> AdmissionWait {
        let mut map = self.lock();
        let users = map.entry(drop.to_string()).or_default();
        let receiver = match users.get(user) {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = watch::channel(Signal::default());
                users.insert(user.to_string(), sender);
                receiver
            }
        };
        AdmissionWait {
            waiters: self.clone(),
            drop: drop.to_string(),
            user: user.to_string(),
            receiver,
        }
    }

    /// Wakes the sessions of `users`, admitted to `drop` at `at_ms`; the
    /// others are not touched. Returns how many users had a session here.
    pub fn admit(&self, drop: &str, users: &[String], at_ms: i64) -> usize {
        let map = self.lock();
        let Some(waiting) = map.get(drop) else {
            return 0;
        };
        let mut woken = 0;
        for sender in users.iter().filter_map(|user| waiting.get(user)) {
            sender.send_modify(|signal| signal.admitted_at = Some(at_ms));
            woken += 1;
        }
        woken
    }

    /// Ends the sessions of `user` in `drop` (revoked). True when the user
    /// had one here.
    pub fn revoke(&self, drop: &str, user: &str) -> bool {
        let map = self.lock();
        let Some(sender) = map.get(drop).and_then(|users| users.get(user)) else {
            return false;
        };
        sender.send_modify(|signal| signal.revoked = true);
        true
    }

    /// Users with a session waiting here (all drops).
    pub fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn leave(&self, drop: &str, user: &str) {
        let mut map = self.lock();
        let Some(users) = map.get_mut(drop) else {
            return;
        };
        // The leaving session's receiver is still alive here.
        if users
            .get(user)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            users.remove(user);
            if users.is_empty() {
                map.remove(drop);
            }
        }
    }
}

/// One session's registration; leaves the registry when dropped.
pub struct AdmissionWait {
    waiters: Waiters,
    drop: String,
    user: String,
    receiver: watch::Receiver<Signal>,
}

impl AdmissionWait {
    /// Resolves at the next admission of this user in this drop announced
    /// after registering (with its time, ms), or at their revocation;
    /// never, otherwise.
    pub async fn woken(&mut self) -> Woken {
        loop {
            if self.receiver.changed().await.is_err() {
                // Cannot happen while `self` holds its entry; wait forever
                // rather than spin.
                std::future::pending::<()>().await;
            }
            let signal = *self.receiver.borrow_and_update();
            if signal.revoked {
                return Woken::Revoked;
            }
            if let Some(at_ms) = signal.admitted_at {
                return Woken::Admitted(at_ms);
            }
        }
    }
}

impl Drop for AdmissionWait {
    fn drop(&mut self) {
        self.waiters.leave(&self.drop, &self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(wait: &mut AdmissionWait) -> Option<i64> {
        match tokio::time::timeout(Duration::from_millis(50), wait.woken()).await {
            Ok(Woken::Admitted(at_ms)) => Some(at_ms),
            Ok(Woken::Revoked) => Some(-1),
            Err(_) => None,
        }
    }

    #[tokio::test]
    async fn a_revocation_ends_only_that_users_sessions_in_that_drop() {
        let waiters = Waiters::default();
        let mut ann_tab1 = waiters.wait("drop", "ann");
        let mut ann_tab2 = waiters.wait("drop", "ann");
        let mut bob = waiters.wait("drop", "bob");
        let mut ann_elsewhere = waiters.wait("other", "ann");
        assert!(waiters.revoke("drop", "ann"));
        assert!(!waiters.revoke("drop", "carl"), "carl has no session here");
        assert_eq!(woken(&mut ann_tab1).await, Some(-1));
        assert_eq!(woken(&mut ann_tab2).await, Some(-1));
        assert_eq!(woken(&mut bob).await, None);
        assert_eq!(woken(&mut ann_elsewhere).await, None);
        // Admitted after (a late announcement): still revoked.
        waiters.admit("drop", &["ann".into()], 5);
        assert_eq!(woken(&mut ann_tab1).await, Some(-1));
    }

    #[tokio::test]
    async fn an_admission_wakes_only_the_admitted_fans_sessions() {
        let waiters = Waiters::default();
        let mut ann_tab1 = waiters.wait("drop", "ann");
        let mut ann_tab2 = waiters.wait("drop", "ann");
        let mut bob = waiters.wait("drop", "bob");
        let mut ann_elsewhere = waiters.wait("other", "ann");
        assert_eq!(waiters.len(), 3);
        let woke = waiters.admit("drop", &["ann".into(), "carl".into()], 42);
        assert_eq!(woke, 1, "carl has no session here");
        assert_eq!(woken(&mut ann_tab1).await, Some(42));
        assert_eq!(woken(&mut ann_tab2).await, Some(42));
        assert_eq!(woken(&mut bob).await, None);
        assert_eq!(woken(&mut ann_elsewhere).await, None);
        // Seen once: no second wake-up without a second admission.
        assert_eq!(woken(&mut ann_tab1).await, None);
    }

    #[tokio::test]
    async fn an_admission_before_registering_is_not_replayed() {
        let waiters = Waiters::default();
        let _keep = waiters.wait("drop", "ann");
        waiters.admit("drop", &["ann".into()], 1);
        let mut late = waiters.wait("drop", "ann");
        assert_eq!(woken(&mut late).await, None);
        waiters.admit("drop", &["ann".into()], 2);
        assert_eq!(woken(&mut late).await, Some(2));
    }

    #[test]
    fn the_last_session_of_a_user_takes_the_entry_with_it() {
        let waiters = Waiters::default();
        let first = waiters.wait("drop", "ann");
        let second = waiters.wait("drop", "ann");
        drop(first);
        assert_eq!(waiters.len(), 1, "one of ann's sessions is still there");
        drop(second);
        assert!(waiters.is_empty());
        assert!(waiters.lock().is_empty(), "no empty drop left behind");
    }
}
