//! Small hostile HTTP servers written to reproduce what real servers do to replay (issue 14):
//! close idle keep-alive connections (fully or half), answer before reading the body, truncate
//! a 200, claim absurd `rejected_spans`, ask for a `Retry-After` beyond the run, send HTTP/2
//! GOAWAY.
//!
//! Each runs on its own thread and current-thread tokio runtime, bound to 127.0.0.1:0, and
//! counts what it saw in [`Counts`] so a test can compare the server's view with replay's
//! report exactly. Every connection task is bounded by [`CONN_LIMIT`]; stopping the server
//! aborts them all, so nothing outlives the test.

#![allow(dead_code)]

pub mod h1;
pub mod h2;
pub mod platform;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Longest a connection task may live: a test server never holds a socket past this.
pub const CONN_LIMIT: Duration = Duration::from_secs(90);

/// What a server saw, counted as it happened.
#[derive(Debug, Default)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: AtomicU64,
    /// Request heads read (every request that reached the server, answered or not).
    pub requests: AtomicU64,
    /// Requests read on a connection the server had already half-closed: never answered.
    pub after_half_close: AtomicU64,
    /// Answers written, by status.
    pub answered: Mutex<BTreeMap<u16, u64>>,
}

impl Counts {
    /// Counts one answer with `status`.
    pub fn answer(&self, status: u16) {
        *self.answered.lock().unwrap().entry(status).or_default() += 1;
    }

    /// A copy of the counts, for assertions.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::SeqCst),
            after_half_close: self.after_half_close.load(Ordering::SeqCst),
            answered: self.answered.lock().unwrap().clone(),
        }
    }
}

/// [`Counts`] at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub connections: u64,
    pub requests: u64,
    pub after_half_close: u64,
    pub answered: BTreeMap<u16, u64>,
}

impl Snapshot {
    /// Answers of every status.
    pub fn answers(&self) -> u64 {
        self.answered.values().sum()
    }
}

/// A running test server.
pub struct Running {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// The OTLP/HTTP traces endpoint on this server.
    pub fn url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Stops the server (aborting open connections) and returns what it saw.
    pub fn stop(mut self) -> Snapshot {
        self.shutdown();
        self.counts.snapshot()
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().expect("the test server's thread did not panic");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `conn(stream, counts)` for every connection accepted on 127.0.0.1:0.
pub fn spawn<F, Fut>(conn: F) -> Running
where
    F: Fn(TcpStream, Arc<Counts>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let (stop, mut stopped) = oneshot::channel::<()>();
    let c = counts.clone();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    a = listener.accept() => {
                        let Ok((stream, _)) = a else { continue };
                        c.connections.fetch_add(1, Ordering::SeqCst);
                        let fut = conn(stream, c.clone());
                        tasks.spawn(async move {
                            let _ = tokio::time::timeout(CONN_LIMIT, fut).await;
                        });
                    }
                    Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                        if let Err(e) = r {
                            assert!(!e.is_panic(), "a test server connection panicked: {e}");
                        }
                    }
                }
            }
            tasks.shutdown().await;
        });
    });
    Running { addr, counts, stop: Some(stop), thread: Some(thread) }
}
