//! Work that must run to its end once begun (an order reserved in Redis
//! must reach PostgreSQL), whatever its caller does.
//!
//! [`ToEnd`] runs the work in its caller's task while the caller waits, so
//! the common case costs no task of its own (no spawn, no second task to
//! schedule and wake, no copy of the work into a task cell). If the caller
//! stops waiting first (a client hanging up drops its request's future at
//! an await), what is left of the work moves, already begun, to a task of
//! its own on the tracker and goes on from where it stopped. The tracker
//! counts the work from the start, so shutdown waits for it either way.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// A panic of the work, caught where it was polled (as a task's would be).
pub type Panicked = Box<dyn Any + Send>;

/// The work, polled in place; handed to `tasks` if dropped unfinished.
pub struct ToEnd<F: Future<Output: Send> + Send + 'static> {
    /// `None` once finished (or panicked): nothing is left to hand over.
    work: Option<Pin<Box<F>>>,
    tasks: TaskTracker,
    /// Counts the work on the tracker while it runs here.
    _in_flight: TaskTrackerToken,
}

impl<F: Future<Output: Send> + Send + 'static> ToEnd<F> {
    pub fn new(tasks: &TaskTracker, work: F) -> Self {
        Self {
            work: Some(Box::pin(work)),
            tasks: tasks.clone(),
            _in_flight: tasks.token(),
        }
    }
}

impl<F: Future<Output: Send> + Send + 'static> Future for ToEnd<F> {
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Ready(Err(Box::new("polled after it finished")));
        };
        let polled = catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx)));
        let finished = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            // A panicked future must not be polled again: not handed over.
            Err(panic) => Err(panic),
        };
        self.work = None;
        Poll::Ready(finished)
    }
}

impl<F: Future<Output: Send> + Send + 'static> Drop for ToEnd<F> {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            // Only a runtime being torn down drops a caller outside it;
            // its tasks would be dropped unfinished all the same.
            tracing::error!("unfinished work dropped outside the runtime");
            return;
        }
        self.tasks.spawn(async move {
            work.await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Two steps with a wait between them; counts the steps done.
    async fn two_steps(done: Arc<AtomicUsize>) -> usize {
        done.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        done.fetch_add(1, Ordering::SeqCst)
    }

    #[tokio::test]
    async fn waited_for_it_runs_in_the_callers_task() {
        let tasks = TaskTracker::new();
        let done = Arc::new(AtomicUsize::new(0));
        let output = ToEnd::new(&tasks, two_steps(done.clone())).await;
        assert_eq!(output.ok(), Some(1));
        assert_eq!(done.load(Ordering::SeqCst), 2);
        assert!(tasks.is_empty(), "no task was spawned and no token is left");
    }

    #[tokio::test]
    async fn dropped_between_its_steps_it_finishes_in_a_task_the_tracker_waits_for() {
        let tasks = TaskTracker::new();
        let done = Arc::new(AtomicUsize::new(0));
        let caller = tokio::time::timeout(
            Duration::from_millis(10),
            ToEnd::new(&tasks, two_steps(done.clone())),
        );
        assert!(caller.await.is_err(), "the caller stopped waiting");
        assert_eq!(
            done.load(Ordering::SeqCst),
            1,
            "dropped after its first step"
        );
        assert_eq!(tasks.len(), 1, "what is left runs on the tracker");
        tasks.close();
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("the work finished");
        assert_eq!(done.load(Ordering::SeqCst), 2, "the second step ran once");
    }

    #[tokio::test]
    async fn a_panic_is_its_answer_and_is_not_run_again() {
        let tasks = TaskTracker::new();
        let polls = Arc::new(AtomicUsize::new(0));
        let counted = polls.clone();
        let output = ToEnd::new(&tasks, async move {
            counted.fetch_add(1, Ordering::SeqCst);
            panic!("the work failed");
        })
        .await;
        assert!(output.is_err());
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        assert!(tasks.is_empty(), "nothing was handed over");
    }
}
