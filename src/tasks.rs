//! One owner for every background task (the catalog rebuilder, upstream listeners, refreshers):
//! a cancellation token that tells them to stop and a tracker that says when they have. The
//! server's shutdown cancels and then waits, so no task outlives the gateway or is cut off in
//! the middle of its work. A part that goes away (a target being removed) gets a child token
//! and stops its own tasks without touching the others'.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The owner of the gateway's background tasks.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` in the background until it ends; it should return soon after `token()`
    /// (or the child token it was given) is cancelled.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// The token every task watches.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// A token cancelled with the gateway's or on its own (for one target's tasks).
    pub fn child(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    /// Tells every task to stop and waits up to `grace` for them. `false` if some did not
    /// end in time.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}
