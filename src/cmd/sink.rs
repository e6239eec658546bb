//! `traceblast sink`: listen, count until a signal or a stop condition, print the summary
//! (and write it as JSON with `--summary`). Stopping by Ctrl-C is the normal way to end a
//! sink, so it exits 0 then too.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::SinkArgs;
use crate::config::sink::sink_plan;
use crate::sink::{SinkState, serve, server::TRACES_PATH};

pub fn run(a: &SinkArgs) -> anyhow::Result<ExitCode> {
    let plan = Arc::new(sink_plan(a)?);
    let state = Arc::new(SinkState::new(&plan));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async {
        // Handlers are installed before the address is printed, so a signal sent by whoever
        // read it is never missed.
        let signal = signal()?;
        let listener = tokio::net::TcpListener::bind(plan.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", plan.listen))?;
        let addr = listener.local_addr()?;
        // Printed even with --quiet: with port 0 it is the only way to learn the port.
        let mut line = format!("sink: listening on http://{addr}{TRACES_PATH}");
        if let Some(p) = plan.profile {
            line += &format!(" · profile {}", p.name());
        }
        if let Some(idle) = plan.until_idle {
            let idle = humantime::format_duration(idle);
            line += &format!(" · stops {idle} after the last request (waiting for the first)");
        }
        eprintln!("{line}");
        let st = state.clone();
        let signal = async move {
            signal.await;
            st.set_stopped_by("signal");
        };
        serve(listener, plan.clone(), state.clone(), signal).await.context("serving")
    })?;
    let summary = state.summary();
    super::emit(summary.text())?;
    if let Some(path) = &plan.summary {
        summary.write_json(path).with_context(|| format!("--summary {}: cannot write", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Installs SIGINT and SIGTERM handlers; the future resolves on either.
fn signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
