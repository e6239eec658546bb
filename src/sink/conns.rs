//! Connections: how many are open, which are idle, and when each must be closed.
//!
//! Every connection has an [`Activity`]: requests in progress, when it went idle, and when
//! the head of its next request started to arrive (its socket is read through [`Watched`],
//! which notes the first byte). From these a watchdog in the connection's task decides
//! ([`verdict`]) to close it — an HTTP/1.1 head not complete `--header-timeout` after its
//! first byte (slow loris), or no request in progress for `--idle-timeout` — so an idle or
//! half-open connection cannot be held for ever.
//!
//! [`Conns`] keeps the open ones under `--max-connections`. At the cap, a new connection
//! closes the one idle the longest (idle connections cost the least to lose: no request is
//! in progress on them, and their clients reconnect), so a flood of idle connections never
//! keeps a real request out; when every connection is busy, new ones wait in the accept
//! queue until one ends.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::limits::Limits;

/// The first bytes of an HTTP/2 connection (h2c with prior knowledge).
const H2_PREFACE: &[u8; 4] = b"PRI ";

/// Wakes the acceptor when a connection ends or goes idle, only while it waits for room.
#[derive(Debug, Default)]
struct Signal {
    waiting: AtomicBool,
    changed: Notify,
}

impl Signal {
    fn changed(&self) {
        if self.waiting.load(SeqCst) {
            self.changed.notify_waiters();
        }
    }
}

/// What one connection is doing, shared by its socket reader, its requests and its
/// watchdog. Times are nanoseconds since the table's epoch.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    limits: Limits,
    busy: AtomicU32,
    idle_since: AtomicU64,
    /// First byte of a request head not yet dispatched, plus one (0: none).
    head_since: AtomicU64,
    h2: AtomicBool,
    /// When the watchdog looks next.
    armed: AtomicU64,
    signal: Arc<Signal>,
    /// Set when the acceptor asks this connection to close to make room.
    evict: AtomicBool,
    /// Wakes the watchdog: to close for room (if still idle), or to look earlier than it
    /// planned (the connection went idle and the idle timeout is the sooner deadline). One
    /// signal for both, so the connection's task polls one more future, not two.
    pub(crate) attention: Notify,
}

impl Activity {
    fn new(epoch: Instant, limits: Limits, signal: Arc<Signal>) -> Self {
        let a = Activity {
            epoch,
            limits,
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            armed: AtomicU64::new(u64::MAX),
            signal,
            evict: AtomicBool::new(false),
            attention: Notify::new(),
        };
        a.idle_since.store(a.now(), SeqCst);
        a
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// No request in progress.
    pub fn is_idle(&self) -> bool {
        self.busy.load(SeqCst) == 0
    }

    /// Whether the acceptor asked this connection to make room (since it last looked) and
    /// it is idle, so it should close now. A connection that turned busy meanwhile stays:
    /// the acceptor looks for another when this one goes idle or another ends.
    pub fn evicted(&self) -> bool {
        self.evict.swap(false, SeqCst) && self.is_idle()
    }

    /// A request was dispatched on this connection; it is busy until the guard drops.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, SeqCst);
        self.head_since.store(0, SeqCst);
        Busy(self.clone())
    }

    fn on_bytes(&self) {
        if self.busy.load(SeqCst) == 0 && !self.h2.load(SeqCst) && self.head_since.load(SeqCst) == 0 {
            self.head_since.store(self.now() + 1, SeqCst);
        }
    }

    /// What the watchdog should do at `now`; when it is to wait, that wait is noted.
    pub fn verdict(&self, now: Instant) -> Verdict<Instant> {
        let ns = |v: u64| Duration::from_nanos(v);
        let head = self.head_since.load(SeqCst);
        let seen = Seen {
            busy: !self.is_idle(),
            head_since: (head > 0).then(|| ns(head - 1)),
            idle_since: ns(self.idle_since.load(SeqCst)),
        };
        match verdict(&seen, now.saturating_duration_since(self.epoch), &self.limits) {
            Verdict::Wait(at) => {
                self.armed.store(at.as_nanos() as u64, SeqCst);
                Verdict::Wait(self.epoch + at)
            }
            Verdict::HeaderTimeout => Verdict::HeaderTimeout,
            Verdict::Idle => Verdict::Idle,
        }
    }

    /// When the watchdog should look next: the wait [`Self::verdict`] gives, or `now` when
    /// something is due.
    pub fn look(&self, now: Instant) -> Instant {
        match self.verdict(now) {
            Verdict::Wait(at) => at,
            _ => now,
        }
    }
}

/// A request in progress on a connection (see [`Activity::begin`]).
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Busy {
    /// One more guard on the same connection, for work that outlives the request's own
    /// (a refused body drained after its answer).
    pub fn again(&self) -> Busy {
        self.0.begin()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        let now = a.now();
        a.idle_since.fetch_max(now, SeqCst);
        if a.busy.fetch_sub(1, SeqCst) == 1 {
            a.signal.changed();
            // Looks while busy are a header timeout apart; a shorter idle timeout needs one
            // sooner. (With the defaults, idle 30 s and header 10 s, this never wakes anyone.)
            if now.saturating_add(a.limits.idle_timeout.as_nanos() as u64) < a.armed.load(SeqCst) {
                a.attention.notify_one();
            }
        }
    }
}

/// A connection's state as the watchdog sees it (durations since the epoch).
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// A request is in progress.
    pub busy: bool,
    /// When the first byte of a head still incomplete arrived (HTTP/1.1 only).
    pub head_since: Option<Duration>,
    /// When the last request ended, or the connection opened.
    pub idle_since: Duration,
}

/// The watchdog's decision; `T` is a time (since the epoch in [`verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<T = Duration> {
    /// Nothing to do until then (the watchdog looks again).
    Wait(T),
    /// A request head took longer than `--header-timeout`.
    HeaderTimeout,
    /// No request for `--idle-timeout`.
    Idle,
}

/// Decides at `now`. While nothing is due the watchdog looks again at least every
/// `--header-timeout`, so a head that starts arriving on an idle connection (which wakes
/// nobody) is still cut exactly `--header-timeout` after its first byte.
pub fn verdict(s: &Seen, now: Duration, limits: &Limits) -> Verdict {
    let poll = now + limits.header_timeout;
    if s.busy {
        return Verdict::Wait(poll);
    }
    if let Some(head) = s.head_since {
        let due = head + limits.header_timeout;
        return if now >= due { Verdict::HeaderTimeout } else { Verdict::Wait(due) };
    }
    let due = s.idle_since + limits.idle_timeout;
    if now >= due { Verdict::Idle } else { Verdict::Wait(due.min(poll)) }
}

/// The open connections.
#[derive(Debug)]
pub struct Conns {
    max: usize,
    limits: Limits,
    epoch: Instant,
    table: Mutex<Table>,
    signal: Arc<Signal>,
}

#[derive(Debug, Default)]
struct Table {
    next: u64,
    open: HashMap<u64, Arc<Activity>>,
    peak: usize,
}

impl Conns {
    /// An empty table for at most `limits.max_connections` connections, watched with
    /// `limits`' timeouts.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Conns {
            max: limits.max_connections.max(1),
            limits,
            epoch: Instant::now(),
            table: Mutex::default(),
            signal: Arc::default(),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().expect("connection table lock")
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.table().open.len()
    }

    /// The most connections open at once.
    pub fn peak(&self) -> usize {
        self.table().peak
    }

    /// Returns once a connection may be added: at once under the cap; at the cap, after
    /// asking the connection idle the longest to close (it is then counted as evicted by its
    /// task), or once one ends or goes idle.
    pub async fn make_room(&self) {
        loop {
            let changed = self.signal.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let t = self.table();
                if t.open.len() < self.max {
                    self.signal.waiting.store(false, SeqCst);
                    return;
                }
                self.signal.waiting.store(true, SeqCst);
                let idle = t.open.values().filter(|a| a.is_idle());
                if let Some(a) = idle.min_by_key(|a| a.idle_since.load(SeqCst)) {
                    a.evict.store(true, SeqCst);
                    a.attention.notify_one();
                }
            }
            changed.await;
        }
    }

    /// Adds a connection (call [`Self::make_room`] first); it leaves the table when the slot
    /// drops.
    pub fn add(self: &Arc<Self>) -> Slot {
        let activity = Arc::new(Activity::new(self.epoch, self.limits, self.signal.clone()));
        let mut t = self.table();
        let id = t.next;
        t.next += 1;
        t.open.insert(id, activity.clone());
        t.peak = t.peak.max(t.open.len());
        Slot { conns: self.clone(), id, activity }
    }
}

/// A connection's place in [`Conns`].
#[derive(Debug)]
pub struct Slot {
    conns: Arc<Conns>,
    id: u64,
    /// What the connection is doing.
    pub activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.table().open.remove(&self.id);
        self.conns.signal.changed();
    }
}

/// A socket whose reads are noted in its connection's [`Activity`]: the first byte of a
/// request head starts the header clock, and the first bytes of the connection tell HTTP/2
/// (which has no header clock: its idle connections still talk) from HTTP/1.1.
pub struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
    /// The connection's first bytes, until they decide the protocol.
    start: [u8; 4],
    seen: usize,
}

impl Watched {
    /// Watches `io` for the connection of `activity`.
    pub fn new(io: TcpStream, activity: Arc<Activity>) -> Self {
        Watched { io, activity, start: [0; 4], seen: 0 }
    }

    fn on_bytes(&mut self, got: &[u8]) {
        if self.seen < 4 {
            let n = got.len().min(4 - self.seen);
            self.start[self.seen..self.seen + n].copy_from_slice(&got[..n]);
            self.seen += n;
            if self.seen == 4 && &self.start == H2_PREFACE {
                self.activity.h2.store(true, SeqCst);
            }
        }
        self.activity.on_bytes();
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let this = &mut *self;
            this.on_bytes(&buf.filled()[before..]);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, b)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn limits() -> Limits {
        Limits { header_timeout: S(10), idle_timeout: S(30), ..Limits::default() }
    }

    fn seen(busy: bool, head: Option<u64>, idle: u64) -> Seen {
        Seen { busy, head_since: head.map(S), idle_since: S(idle) }
    }

    #[test]
    fn idle_connections_close_after_the_idle_timeout() {
        let l = limits();
        // Looks again every header timeout, and exactly at the idle deadline.
        assert_eq!(verdict(&seen(false, None, 0), S(0), &l), Verdict::Wait(S(10)));
        assert_eq!(verdict(&seen(false, None, 0), S(25), &l), Verdict::Wait(S(30)));
        assert_eq!(verdict(&seen(false, None, 0), S(30), &l), Verdict::Idle);
        // A request that ended at 20 s restarts the clock.
        assert_eq!(verdict(&seen(false, None, 20), S(30), &l), Verdict::Wait(S(40)));
        // Busy connections are never idle, however long the request takes.
        assert_eq!(verdict(&seen(true, None, 0), S(1000), &l), Verdict::Wait(S(1010)));
    }

    #[test]
    fn a_head_must_complete_within_the_header_timeout_of_its_first_byte() {
        let l = limits();
        assert_eq!(verdict(&seen(false, Some(25), 0), S(26), &l), Verdict::Wait(S(35)));
        assert_eq!(verdict(&seen(false, Some(25), 0), S(35), &l), Verdict::HeaderTimeout);
        // A head that started arriving wins over the idle deadline it would have passed.
        assert_eq!(verdict(&seen(false, Some(29), 0), S(31), &l), Verdict::Wait(S(39)));
        // A head that started between two looks is still cut on time: the looks are at most
        // a header timeout apart, so the next one finds it before its deadline.
        for first_byte in [1, 9, 10, 15, 19] {
            let mut now = S(0);
            let cut = loop {
                let head = (now >= S(first_byte)).then_some(first_byte);
                match verdict(&seen(false, head, 0), now, &l) {
                    Verdict::Wait(at) => now = at,
                    v => break (v, now),
                }
            };
            assert_eq!(cut, (Verdict::HeaderTimeout, S(first_byte + 10)), "first byte at {first_byte} s");
        }
    }

    /// Whether `n` holds a notification (without waiting).
    fn notified(n: &Notify) -> bool {
        let f = n.notified();
        tokio::pin!(f);
        f.as_mut().enable()
    }

    #[test]
    fn going_idle_rearms_the_watchdog_only_when_the_idle_timeout_is_the_sooner() {
        let epoch = Instant::now();
        let short = Limits { header_timeout: S(10), idle_timeout: Duration::from_millis(400), ..Limits::default() };
        let a = Arc::new(Activity::new(epoch, short, Arc::default()));
        a.idle_since.store(0, SeqCst);
        let Verdict::Wait(at) = a.verdict(epoch) else { panic!() };
        assert_eq!(at, epoch + Duration::from_millis(400), "a new connection idles too");
        let busy = a.begin();
        let Verdict::Wait(at) = a.verdict(epoch) else { panic!() };
        assert_eq!(at, epoch + S(10), "busy: looks again a header timeout later");
        drop(busy);
        assert!(notified(&a.attention), "idle now, 400 ms is sooner than the look armed in 10 s");
        assert!(!a.evicted(), "woken to look again, not to close");
        // With the defaults (idle 30 s, header 10 s) the armed look comes first.
        let a = Arc::new(Activity::new(epoch, limits(), Arc::default()));
        let busy = a.begin();
        assert!(matches!(a.verdict(Instant::now()), Verdict::Wait(_)));
        drop(busy);
        assert!(!notified(&a.attention));
    }

    #[test]
    fn the_longest_idle_connection_is_asked_to_close_at_the_cap() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let conns = Conns::new(Limits { max_connections: 3, ..Limits::default() });
            let a = conns.add();
            let b = conns.add();
            let c = conns.add();
            let _busy_a = a.activity.begin();
            b.activity.idle_since.store(5, SeqCst);
            c.activity.idle_since.store(1, SeqCst);
            assert_eq!((conns.open(), conns.peak()), (3, 3));
            let room = tokio::spawn({
                let conns = conns.clone();
                async move { conns.make_room().await }
            });
            // `c` has been idle the longest: it is asked, `a` (busy) and `b` are not.
            c.activity.attention.notified().await;
            assert!(c.activity.evicted() && !b.activity.evicted());
            drop(c);
            room.await.unwrap();
            assert_eq!(conns.open(), 2);
            // With every connection busy the acceptor waits until one goes idle.
            let _busy_b = b.activity.begin();
            let _d = conns.add();
            let _busy_d = _d.activity.begin();
            let room = tokio::spawn({
                let conns = conns.clone();
                async move { conns.make_room().await }
            });
            tokio::task::yield_now().await;
            assert!(!room.is_finished());
            drop(_busy_b);
            // Attention may first mean "look again" (no watchdog armed here); then eviction.
            while !b.activity.evicted() {
                b.activity.attention.notified().await;
            }
            drop(b);
            room.await.unwrap();
        });
    }
}
