//! `traceblast sink`: listen (OTLP/HTTP, and OTLP/gRPC with `--grpc-listen`), count until a
//! signal or a stop condition, print the summary
//! (and write it as JSON with `--summary`). Stopping by Ctrl-C is the normal way to end a
//! sink, so it exits 0 then too. At start the open-files limit is raised, as servers do, and
//! `--max-connections` fitted under it, so the sink never runs out of descriptors.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::SinkArgs;
use crate::config::sink::sink_plan;
use crate::sink::{Listeners, SinkState, raise_open_files_limit, serve, server::TRACES_PATH};
use crate::units::thousands;

pub fn run(a: &SinkArgs) -> anyhow::Result<ExitCode> {
    let mut plan = sink_plan(a)?;
    let nofile = raise_open_files_limit().context("reading the open-files limit")?;
    let lowered = plan.limits.fit_open_files(nofile);
    let plan = Arc::new(plan);
    let state = Arc::new(SinkState::new(&plan));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async {
        // Handlers are installed before the address is printed, so a signal sent by whoever
        // read it is never missed.
        let mut signals = Signals::install()?;
        let listener = tokio::net::TcpListener::bind(plan.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", plan.listen))?;
        let addr = listener.local_addr()?;
        let grpc = match plan.grpc_listen {
            Some(g) => Some(
                tokio::net::TcpListener::bind(g).await.with_context(|| format!("--grpc-listen {g}: cannot listen"))?,
            ),
            None => None,
        };
        // Printed even with --quiet: with port 0 it is the only way to learn the port.
        let path = plan.profile.map_or(TRACES_PATH, |p| p.path());
        let mut line = format!("sink: listening on http://{addr}{path}");
        if let Some(p) = plan.profile {
            line += &format!(" · profile {}", p.name());
            if path != TRACES_PATH {
                line += &format!(" (and {TRACES_PATH})");
            }
        }
        if let Some(g) = &grpc {
            line += &format!(" · OTLP/gRPC on {}", g.local_addr()?);
        }
        if let Some(asked) = lowered {
            let (max, asked) = (thousands(plan.limits.max_connections as u64), thousands(asked as u64));
            line += &format!(" · at most {max} connections, not {asked}: the open-files limit is {nofile}");
        }
        if let Some(idle) = plan.until_idle {
            let idle = humantime::format_duration(idle);
            line += &format!(" · stops {idle} after the last request (waiting for the first)");
        }
        eprintln!("{line}");
        let st = state.clone();
        let signal = async move {
            signals.next().await;
            st.set_stopped_by("signal");
            // The sink now drains (requests held by --stall or --latency are answered); a
            // second signal stops at once, with the counts so far.
            tokio::spawn(async move {
                signals.next().await;
                let _ = super::emit(st.summary().text());
                std::process::exit(130);
            });
        };
        serve(Listeners { http: listener, grpc }, plan.clone(), state.clone(), signal).await.context("serving")
    })?;
    let summary = state.summary();
    super::emit(summary.text())?;
    if let Some(out) = &plan.summary {
        summary.write_json(out).context("--summary")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGINT and SIGTERM, installed once and awaited as often as needed.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves on the next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
