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
        let listener = tokio::net::TcpListener::bind(plan.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", plan.listen))?;
        let addr = listener.local_addr()?;
        if !plan.quiet {
            let mut line = format!("sink: listening on http://{addr}{TRACES_PATH}");
            if let Some(p) = plan.profile {
                line += &format!(" · profile {}", p.name());
            }
            if let Some(idle) = plan.until_idle {
                line += &format!(
                    " · stops {} after the last request (waiting for the first)",
                    humantime::format_duration(idle)
                );
            }
            eprintln!("{line}");
        }
        let st = state.clone();
        let signal = async move {
            signal().await;
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

/// Resolves on SIGINT or SIGTERM.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
