//! What keeps the sink standing under abuse: the bounds on connections, on time and on the
//! memory of bodies being read.
//!
//! - [`Limits`] — the values (`--max-connections`, `--header-timeout`, `--idle-timeout`,
//!   `--max-inflight-bytes`), their defaults and their maxima.
//! - [`raise_open_files_limit`] — the soft `nofile` limit raised to the hard one, as servers
//!   do at start, so the connection cap, not the kernel, decides when to say no.
//! - [`Budget`] — the bytes of request bodies held at once. A request with a
//!   `Content-Length` waits for its whole length before its body is read (so two half-read
//!   bodies can never wait on each other); a body without one grows its share as it arrives
//!   and is refused (503) rather than made to wait while holding memory.
//!
//! Connections themselves are watched in [`super::conns`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The largest `--max-connections`.
pub const MAX_CONNECTIONS: u64 = 1_000_000;
/// The default `--header-timeout`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `--header-timeout`.
pub const MAX_HEADER_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The default `--idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `--idle-timeout`.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// The default `--max-inflight-bytes`: 128 MiB, eight bodies of the default `--max-body`.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 128 << 20;
/// The largest `--max-inflight-bytes`: 64 GiB.
pub const MAX_INFLIGHT_BYTES: u64 = 64 << 30;
/// File descriptors kept free below the open-files limit for everything that is not a
/// connection: the listener, the runtime's epoll and event descriptors, stdio, the summary
/// file, the one connection accepted while waiting for room.
pub const RESERVED_FDS: u64 = 64;

/// The sink's defences, validated (see `config::sink`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once. Beyond it the connection idle the longest is closed to
    /// make room; when none is idle, new connections wait in the accept queue.
    pub max_connections: usize,
    /// A request head must be complete this long after its first byte arrived (HTTP/1.1);
    /// also how long a request may wait for its body's share of `max_inflight_bytes`.
    pub header_timeout: Duration,
    /// A connection with no request in progress is closed after this long; a body that
    /// pauses this long is answered 408.
    pub idle_timeout: Duration,
    /// Bytes of request bodies held at once, over all connections (at least `max_body`).
    pub max_inflight_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
        }
    }
}

impl Limits {
    /// Lowers `max_connections` to fit under an open-files limit of `nofile`, keeping
    /// [`RESERVED_FDS`] free (at least one connection stays allowed). Returns the value it
    /// had when it was lowered.
    pub fn fit_open_files(&mut self, nofile: u64) -> Option<usize> {
        let fits = usize::try_from(nofile.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(usize::MAX);
        (self.max_connections > fits).then(|| std::mem::replace(&mut self.max_connections, fits))
    }
}

/// Raises the soft open-files limit (`RLIMIT_NOFILE`) to the hard limit, at most 2^20, and
/// returns the soft limit now in force (reading it cannot fail; a failure to raise leaves the
/// limit as it was). Through rustix: the crate keeps no `unsafe` of its own.
#[cfg(unix)]
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    let (cur, max) = (lim.current.unwrap_or(u64::MAX), lim.maximum.unwrap_or(u64::MAX));
    // Unlimited is the largest value; some systems refuse it (macOS wants OPEN_MAX or less),
    // and no sink needs more than a million descriptors.
    let target = max.min(1 << 20);
    if cur < target {
        let raised = rustix::process::Rlimit { current: Some(target), maximum: lim.maximum };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Ok(target);
        }
    }
    Ok(cur)
}

/// Windows and others have no `nofile` limit to raise.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// A budget of bytes shared by every request: at most `limit` taken at once.
///
/// Not first-come-first-served on purpose: a small body that fits is let in while a large
/// one waits for more room, so a queue of large uploads never holds up a small request.
/// Waits are bounded by the caller's deadline.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: AtomicU64,
    peak: AtomicU64,
    waiting: AtomicUsize,
    freed: Notify,
}

impl Budget {
    /// An empty budget of `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Budget {
            limit,
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    /// The most bytes ever taken at once.
    pub fn peak(&self) -> u64 {
        self.peak.load(SeqCst)
    }

    /// Bytes taken now.
    pub fn used(&self) -> u64 {
        self.used.load(SeqCst)
    }

    /// An empty share, to grow.
    pub fn share(&self) -> Share<'_> {
        Share { budget: self, held: 0 }
    }

    fn try_take(&self, n: u64) -> bool {
        let mut cur = self.used.load(SeqCst);
        loop {
            let Some(next) = cur.checked_add(n).filter(|v| *v <= self.limit) else { return false };
            match self.used.compare_exchange_weak(cur, next, SeqCst, SeqCst) {
                Ok(_) => {
                    self.peak.fetch_max(next, SeqCst);
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }

    fn give(&self, n: u64) {
        self.used.fetch_sub(n, SeqCst);
        // A waiter registers before it checks `used`, so it either sees these bytes free or
        // is counted here (both sides are SeqCst).
        if self.waiting.load(SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }

    /// Takes `n` bytes, waiting until they are free or `deadline` passes (false).
    async fn take(&self, n: u64, deadline: Instant) -> bool {
        if self.try_take(n) {
            return true;
        }
        self.waiting.fetch_add(1, SeqCst);
        let got = loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_take(n) {
                break true;
            }
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep_until(deadline) => break self.try_take(n),
            }
        };
        self.waiting.fetch_sub(1, SeqCst);
        got
    }
}

/// Bytes of a [`Budget`] held by one request, given back when dropped.
#[derive(Debug)]
pub struct Share<'a> {
    budget: &'a Budget,
    held: u64,
}

impl Share<'_> {
    /// Bytes held.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Grows to `n` bytes, waiting for room until `deadline` (false when it passed).
    pub async fn wait_for(&mut self, n: u64, deadline: Instant) -> bool {
        let more = n.saturating_sub(self.held);
        if more == 0 || self.budget.take(more, deadline).await {
            self.held += more;
            return true;
        }
        false
    }

    /// Grows to `n` bytes if they are free now (false otherwise: nothing changes).
    pub fn try_grow(&mut self, n: u64) -> bool {
        let more = n.saturating_sub(self.held);
        if more == 0 || self.budget.try_take(more) {
            self.held += more;
            return true;
        }
        false
    }

    /// Becomes exactly `n` bytes: gives back the excess, or grows if the rest is free now
    /// (false otherwise: nothing changes).
    pub fn resize(&mut self, n: u64) -> bool {
        if n < self.held {
            self.budget.give(self.held - n);
            self.held = n;
            return true;
        }
        self.try_grow(n)
    }
}

impl Drop for Share<'_> {
    fn drop(&mut self) {
        if self.held > 0 {
            self.budget.give(self.held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
    }

    #[test]
    fn shares_take_and_give_back() {
        let b = Budget::new(100);
        let mut a = b.share();
        assert!(a.try_grow(60));
        let mut c = b.share();
        assert!(!c.try_grow(41), "61 + 60 > 100");
        assert_eq!(c.held(), 0, "a refused growth takes nothing");
        assert!(c.try_grow(40));
        assert_eq!(b.used(), 100);
        assert!(a.resize(10), "shrinking always works");
        assert_eq!(b.used(), 50);
        assert!(!a.resize(70), "10 + 40 + 60 > 100");
        assert!(a.resize(60));
        drop(a);
        drop(c);
        assert_eq!((b.used(), b.peak()), (0, 100));
    }

    #[test]
    fn a_waiter_gets_the_bytes_when_they_are_given_back() {
        rt().block_on(async {
            let b = std::sync::Arc::new(Budget::new(100));
            let mut big = b.share();
            assert!(big.try_grow(90));
            let start = Instant::now();
            let waiter = tokio::spawn({
                let b = b.clone();
                async move { b.share().wait_for(50, start + Duration::from_secs(20)).await }
            });
            while b.waiting.load(SeqCst) == 0 {
                assert!(start.elapsed() < Duration::from_secs(20), "the waiter never waited");
                tokio::task::yield_now().await;
            }
            drop(big);
            assert!(waiter.await.unwrap());
            assert!(start.elapsed() < Duration::from_secs(20), "woken when the bytes came back, not at the deadline");
            assert_eq!((b.used(), b.peak()), (0, 90), "the waiter's share was given back with its task");
        });
    }

    #[test]
    fn a_small_request_is_not_queued_behind_a_large_one() {
        rt().block_on(async {
            let b = std::sync::Arc::new(Budget::new(100));
            let mut held = b.share();
            assert!(held.try_grow(60));
            let large = tokio::spawn({
                let b = b.clone();
                async move { b.share().wait_for(80, Instant::now() + Duration::from_millis(300)).await }
            });
            while b.waiting.load(SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            let mut small = b.share();
            assert!(small.wait_for(30, Instant::now()).await, "fits now, so it does not wait");
            // The large one never fits while `held` and `small` stay: its wait ends at its deadline.
            assert!(!large.await.unwrap());
            assert_eq!(b.used(), 90);
        });
    }

    #[test]
    fn a_wait_ends_at_its_deadline() {
        rt().block_on(async {
            let b = Budget::new(10);
            let mut all = b.share();
            assert!(all.try_grow(10));
            let start = Instant::now();
            let mut s = b.share();
            assert!(!s.wait_for(1, start + Duration::from_millis(250)).await);
            assert!(start.elapsed() >= Duration::from_millis(250));
            assert!(!s.wait_for(11, start).await, "more than the whole budget never fits");
            assert_eq!((s.held(), b.waiting.load(SeqCst)), (0, 0));
        });
    }

    #[test]
    fn the_connection_cap_fits_under_the_open_files_limit() {
        let mut l = Limits::default();
        assert_eq!(l.fit_open_files(1 << 20), None);
        assert_eq!(l.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(l.fit_open_files(1024), Some(DEFAULT_MAX_CONNECTIONS));
        assert_eq!(l.max_connections, 960);
        assert_eq!(l.fit_open_files(10), Some(960));
        assert_eq!(l.max_connections, 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        let now = raise_open_files_limit().unwrap();
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        // "Max open files            20000                20000                files"
        if let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (soft, hard) = (f[3].parse::<u64>().unwrap(), f[4].parse::<u64>().unwrap_or(u64::MAX));
            assert_eq!(soft, now);
            assert_eq!(soft, hard.min(1 << 20));
        }
        assert_eq!(raise_open_files_limit().unwrap(), now, "idempotent");
    }
}
