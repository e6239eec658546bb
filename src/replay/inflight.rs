//! The one in-flight cap: requests released and not yet finished — sent, waiting for a
//! connection, or waiting for a retry. The pacer takes a slot without waiting (a due request
//! that finds none is *missed*); the closed loop waits for one.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Requests in flight.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    /// Tasks waiting for a release: only then does a release notify (at a fixed rate nobody
    /// waits, and a wake-up per request would be pure overhead).
    waiters: AtomicUsize,
    /// Woken on a release when someone waits.
    released: Notify,
}

impl InFlight {
    /// Takes a slot if fewer than `cap` are in use.
    pub fn try_acquire(&self, cap: usize) -> bool {
        let mut cur = self.count.load(Ordering::Acquire);
        loop {
            if cur >= cap {
                return false;
            }
            match self.count.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Waits for a slot.
    pub async fn acquire(&self, cap: usize) {
        if self.try_acquire(cap) {
            return;
        }
        let _waiting = Waiting::new(&self.waiters);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if self.try_acquire(cap) {
                return;
            }
            released.await;
        }
    }

    /// Frees a slot.
    pub fn release(&self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.released.notify_waiters();
        }
    }

    /// Slots in use.
    pub fn current(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Waits for the next release (call [`InFlight::current`] after registering: a release
    /// between the two is not missed, the returned guard counts as a waiter).
    pub fn watch(&self) -> (Waiting<'_>, tokio::sync::futures::Notified<'_>) {
        (Waiting::new(&self.waiters), self.released.notified())
    }
}

/// Counts a task as waiting for releases while it lives.
#[derive(Debug)]
pub struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_exact() {
        let f = InFlight::default();
        assert!(f.try_acquire(2));
        assert!(f.try_acquire(2));
        assert!(!f.try_acquire(2));
        f.release();
        assert!(f.try_acquire(2));
        assert_eq!(f.current(), 2);
    }

    #[test]
    fn acquire_waits_for_a_release() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let f = std::sync::Arc::new(InFlight::default());
        assert!(f.try_acquire(1));
        let g = f.clone();
        rt.block_on(async move {
            let waiter = tokio::spawn(async move { g.acquire(1).await });
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished());
            f.release();
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();
            assert_eq!(f.current(), 1);
        });
    }
}
