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
//! when the last of them ends. An entry is the user's signal with a
//! version (bumped on each change; a session remembers the last it saw)
//! and one `Notify`: ~100 bytes a waiting fan, where a `watch` channel,
//! with its eight `Notify`s, was ~380.
//!
//! A revocation announced by the sale reaches the same entry
//! ([`Waiters::revoke`]): the user's sessions in that drop end at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

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

/// One user's entry in one drop, shared by their sessions here.
#[derive(Default)]
struct Entry {
    /// The signal, and its version (bumped on every change).
    signal: Mutex<(Signal, u64)>,
    /// Wakes the sessions when the signal changes.
    changed: Notify,
}

impl Entry {
    fn read(&self) -> (Signal, u64) {
        // A panic while holding the lock leaves a consistent pair.
        *self.signal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the signal, and wakes every session of the entry.
    fn change(&self, change: impl FnOnce(&mut Signal)) {
        {
            let mut signal = self.signal.lock().unwrap_or_else(|e| e.into_inner());
            change(&mut signal.0);
            signal.1 += 1;
        }
        self.changed.notify_waiters();
    }
}

/// Entries by drop, then user.
type ByDrop = HashMap<String, HashMap<String, Arc<Entry>>>;

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
        let entry = match users.get(user) {
            Some(entry) => entry.clone(),
            None => {
                let entry = Arc::new(Entry::default());
                users.insert(user.to_string(), entry.clone());
                entry
            }
        };
        let seen = entry.read().1;
        AdmissionWait {
            waiters: self.clone(),
            drop: drop.to_string(),
            user: user.to_string(),
            entry,
            seen,
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
        for entry in users.iter().filter_map(|user| waiting.get(user)) {
            entry.change(|signal| signal.admitted_at = Some(at_ms));
            woken += 1;
        }
        woken
    }

    /// Ends the sessions of `user` in `drop` (revoked). True when the user
    /// had one here.
    pub fn revoke(&self, drop: &str, user: &str) -> bool {
        let map = self.lock();
        let Some(entry) = map.get(drop).and_then(|users| users.get(user)) else {
            return false;
        };
        entry.change(|signal| signal.revoked = true);
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
        // The registry holds one reference, the leaving session another;
        // sessions take theirs under this lock, so none can appear meanwhile.
        if users
            .get(user)
            .is_some_and(|entry| Arc::strong_count(entry) <= 2)
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
    entry: Arc<Entry>,
    /// The entry's version this session has seen.
    seen: u64,
}

impl AdmissionWait {
    /// Resolves at the next admission of this user in this drop announced
    /// after registering (with its time, ms), or at their revocation;
    /// never, otherwise. Cancel-safe: a change is seen only when returned.
    pub async fn woken(&mut self) -> Woken {
        loop {
            // Registered before the signal is read, so a change between
            // the read and the wait is not missed.
            let notified = self.entry.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (signal, version) = self.entry.read();
            if version != self.seen {
                self.seen = version;
                if signal.revoked {
                    return Woken::Revoked;
                }
                if let Some(at_ms) = signal.admitted_at {
                    return Woken::Admitted(at_ms);
                }
            }
            notified.await;
        }
    }

    /// [`AdmissionWait::woken`], owning the registration and handing it
    /// back with what woke it. A session keeps this future pinned across
    /// its loop and makes a new one only after it resolves, so its waiter
    /// stays registered between wake-ups (one made and dropped on every
    /// turn of the loop cost two trips to the entry's waiter list).
    pub async fn into_woken(mut self) -> (Self, Woken) {
        let woken = self.woken().await;
        (self, woken)
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_already_waiting_are_woken_by_a_later_admission() {
        let waiters = Waiters::default();
        let mut tabs = [waiters.wait("drop", "ann"), waiters.wait("drop", "ann")];
        let [first, second] = &mut tabs;
        let announcer = waiters.clone();
        let admit = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            announcer.admit("drop", &["ann".into()], 7)
        });
        let (first, second) = tokio::time::timeout(Duration::from_secs(2), async {
            tokio::join!(first.woken(), second.woken())
        })
        .await
        .expect("both tabs woken");
        assert_eq!((first, second), (Woken::Admitted(7), Woken::Admitted(7)));
        assert_eq!(admit.await.ok(), Some(1));
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
