//! `traceblast sink`: an OTLP receiver (HTTP/protobuf, HTTP/JSON, and gRPC on its own port)
//! that counts what arrives and injects faults.
//!
//! A load test is only as good as its check that everything arrived. The sink decodes every
//! request (protobuf via [`crate::wire::scan`], no struct decode; or OTLP/JSON), counts spans,
//! unique traces and duplicate span IDs, and answers as the OTLP spec says for the protocol.
//! To rehearse a platform it can fail, delay, stall or rate-limit requests reproducibly
//! (`--seed`), and check the headers a platform insists on (`--profile`).
//!
//! - [`server`] — accepting on both sockets, the connections, counting each request,
//!   stopping and draining.
//! - `http`, `grpc` — each protocol's request path, and how an answer goes out in it.
//! - `answer` — the answer (decided as an HTTP status) and the fault stage that decides it.
//! - [`conns`] — the connection cap and each connection's header and idle watchdog.
//! - [`limits`] — the limits' values and maxima, the open-files limit, the body-bytes budget.
//! - `body` — reading a body within the budget, then decoding it.
//! - [`decode`] — content types, capped decompression, span IDs from protobuf and JSON.
//! - [`faults`] — the fault plan, per-request random draws, the token bucket, the stall.
//! - [`profile`] — what each platform's endpoint requires.
//! - [`state`] — shared counters; [`summary`] — the report, as text and JSON.
//!
//! [`serve`] is the seam (an injected listener and shutdown future); [`spawn`] runs a sink
//! on its own thread for tests and in-process use.

mod answer;
mod body;
pub mod conns;
pub mod decode;
pub mod faults;
mod grpc;
mod http;
pub mod limits;
pub mod query;
pub mod server;
pub mod state;
pub mod summary;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::platform::profile::Profile;
pub use faults::{Faults, Stall};
pub use grpc::FRAME_HEADER;
pub use limits::{Limits, raise_open_files_limit};
pub use server::{Listeners, serve};
pub use state::{Protocol, SinkState};
pub use summary::{FaultCounts, LimitCounts, Summary};

/// The default `--max-body`: 16 MiB.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// A validated sink configuration (built by `config::sink` from the command line, or in code).
#[derive(Debug, Clone)]
pub struct SinkPlan {
    /// Address to listen on (OTLP/HTTP).
    pub listen: SocketAddr,
    /// Address to serve OTLP/gRPC on (`--grpc-listen`), if any.
    pub grpc_listen: Option<SocketAddr>,
    /// Largest request body, compressed and decompressed (already lowered to the profile's
    /// limit when it has one).
    pub max_body: usize,
    /// Faults to inject.
    pub faults: Faults,
    /// Bounds on connections, waits and the memory of bodies being read.
    pub limits: Limits,
    /// Platform to emulate.
    pub profile: Option<Profile>,
    /// Seed of the per-request fault draws.
    pub seed: u64,
    /// No progress lines on stderr.
    pub quiet: bool,
    /// Stop after this long without a request (counted from the first request).
    pub until_idle: Option<Duration>,
    /// Stop once this many spans were received.
    pub expect_spans: Option<u64>,
    /// Where the command writes the summary as JSON (checked before the sink starts).
    pub summary: Option<crate::output::Output>,
    /// How many requests (the first ones) to keep whole for [`Running::captured`].
    pub capture: usize,
}

impl Default for SinkPlan {
    fn default() -> Self {
        SinkPlan {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_listen: None,
            max_body: DEFAULT_MAX_BODY,
            faults: Faults::default(),
            limits: Limits::default(),
            profile: None,
            seed: 42,
            quiet: true,
            until_idle: None,
            expect_spans: None,
            summary: None,
            capture: 0,
        }
    }
}

/// A request as the sink received it (for tests that check what a client sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Headers in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body, decompressed (empty when it was not read: refused before, or undecodable).
    pub body: Vec<u8>,
    /// The `Content-Type` header, as sent.
    pub content_type: String,
    /// The status the sink answered.
    pub status: u16,
}

/// Runs a sink on its own thread and tokio runtime (for tests and `traceblast demo`).
///
/// Binds `plan.listen` (and `plan.grpc_listen`) before returning, so [`Running::addr`] (and
/// [`Running::grpc_addr`]) are ready to use (with port 0, the port the system chose). The open-files limit is left as it is: a caller that needs
/// more connections than it allows calls [`raise_open_files_limit`] and
/// [`Limits::fit_open_files`] first, as `traceblast sink` does.
pub fn spawn(plan: SinkPlan) -> std::io::Result<Running> {
    let bind = |a: SocketAddr| -> std::io::Result<(std::net::TcpListener, SocketAddr)> {
        let l = std::net::TcpListener::bind(a)?;
        l.set_nonblocking(true)?;
        let addr = l.local_addr()?;
        Ok((l, addr))
    };
    let (http, addr) = bind(plan.listen)?;
    let grpc = plan.grpc_listen.map(bind).transpose()?;
    let grpc_addr = grpc.as_ref().map(|(_, a)| *a);
    let plan = Arc::new(plan);
    let state = Arc::new(SinkState::new(&plan));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (p, s) = (plan.clone(), state.clone());
    let thread = std::thread::Builder::new().name(format!("sink {addr}")).spawn(move || {
        rt.block_on(async move {
            let listeners = Listeners {
                http: tokio::net::TcpListener::from_std(http)?,
                grpc: grpc.map(|(l, _)| tokio::net::TcpListener::from_std(l)).transpose()?,
            };
            serve(listeners, p, s, async {
                let _ = stopped.await;
            })
            .await
        })
    })?;
    Ok(Running { addr, grpc_addr, state, stop: Some(stop), thread: Some(thread) })
}

/// A sink started by [`spawn`]. Dropping it stops the sink too.
pub struct Running {
    /// The address it serves OTLP/HTTP on.
    pub addr: SocketAddr,
    /// The address it serves OTLP/gRPC on, when the plan has `grpc_listen`.
    pub grpc_addr: Option<SocketAddr>,
    state: Arc<SinkState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// The shared state (what the query endpoint reads).
    pub fn state(&self) -> &SinkState {
        &self.state
    }

    /// A snapshot of the counters.
    pub fn summary(&self) -> Summary {
        self.state.summary()
    }

    /// The first `plan.capture` requests, in arrival order (those answered so far).
    pub fn captured(&self) -> Vec<Captured> {
        self.state.captured()
    }

    /// Polls the summary with short sleeps until `pred` holds (true) or `deadline` has passed
    /// (false).
    pub fn wait_until(&self, deadline: Duration, pred: impl Fn(&Summary) -> bool) -> bool {
        let end = Instant::now() + deadline;
        loop {
            if pred(&self.summary()) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the sink gracefully (in-flight requests are answered) and returns the final
    /// summary.
    pub fn shutdown(mut self) -> Summary {
        self.stop_and_join();
        self.state.summary()
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
