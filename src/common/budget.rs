//! A byte budget: a semaphore whose permits are bytes. Whatever holds request or response data
//! for a while (a request body, a backend reply, a response not yet sent) borrows its size and
//! gives it back when dropped, so `maxInFlightBytes` bounds the memory all requests hold at
//! once, not only each one. Borrowing never waits: when the budget is spent the caller refuses
//! the work (503) rather than queue behind it.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of bytes that requests borrow while they hold data.
#[derive(Clone, Debug)]
pub struct Budget {
    bytes: Arc<Semaphore>,
}

/// Bytes borrowed from one [`Budget`], returned when dropped.
#[derive(Debug, Default)]
pub struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    /// Adds more bytes borrowed from the same budget to this holding.
    pub fn merge(&mut self, other: Held) {
        match (&mut self.0, other.0) {
            (Some(mine), Some(theirs)) if Arc::ptr_eq(mine.semaphore(), theirs.semaphore()) => {
                mine.merge(theirs)
            }
            // Another budget's bytes: never merged into this one (they would be returned to
            // the wrong pool); callers keep one `Held` per budget.
            (Some(_), Some(theirs)) => drop(theirs),
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

impl Budget {
    pub fn new(total: usize) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(total.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Borrows `n` bytes if they are free now; `None` when the budget cannot cover them.
    pub fn take(&self, n: usize) -> Option<Held> {
        if n == 0 {
            return Some(Held::default());
        }
        let n = u32::try_from(n).ok()?;
        self.bytes
            .clone()
            .try_acquire_many_owned(n)
            .ok()
            .map(|p| Held(Some(p)))
    }

    /// Whether anything at all is left (new requests are refused when not).
    pub fn has_room(&self) -> bool {
        self.bytes.available_permits() > 0
    }

    /// Bytes not borrowed right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowing_is_bounded_and_returned_on_drop() {
        let b = Budget::new(100);
        let mut a = b.take(60).unwrap();
        assert!(b.take(50).is_none());
        a.merge(b.take(40).unwrap());
        assert!(!b.has_room());
        drop(a);
        assert_eq!(b.available(), 100);
        let mut none = b.take(0).unwrap();
        none.merge(b.take(30).unwrap());
        assert_eq!(b.available(), 70);
        drop(none);
        assert_eq!(b.available(), 100);
    }
}
