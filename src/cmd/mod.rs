//! Command handlers: each turns parsed arguments into a plan (via `config`), runs the
//! pipeline, and prints the result. `main` only maps their outcome to an exit code.

mod analyze;
mod demo;
mod generate;
mod inspect;
mod limit;
pub(crate) mod replay;
mod report;
mod scenarios;
mod sink;
pub(crate) mod verify;

use std::process::ExitCode;

pub use inspect::record_body;

use crate::cli::{Cli, Command};

/// Runs a parsed command line. `Err` means bad input or an I/O failure (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Gen(a) => generate::run(&a),
        Command::Replay(a) => replay::run(&a),
        Command::Demo(a) => demo::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Scenarios(a) => scenarios::run(&a),
        Command::Analyze(a) => analyze::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "traceblast", &mut out);
            emit(String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sink(a) => sink::run(&a),
        Command::Verify(a) => verify::run(&a),
        Command::Limit(a) => limit::run(&a),
    }
}

/// Writes to stdout, returning errors instead of panicking (a closed pipe ends the command
/// quietly: `main` treats `BrokenPipe` as success).
pub fn emit(s: impl AsRef<str>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_ref().as_bytes())?;
    out.flush()
}

/// First Ctrl-C / SIGTERM: print `message` and set `stop` (the command winds down cleanly).
/// Second: exit at once with code 130 (temporary output files are deleted first). The handlers are installed before this returns, so a
/// signal that follows can never hit the default action (killing the process mid-write).
pub fn watch_signals(stop: std::sync::Arc<std::sync::atomic::AtomicBool>, message: &'static str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        let _guard = rt.enter();
        (
            signal(SignalKind::interrupt()).expect("SIGINT handler"),
            signal(SignalKind::terminate()).expect("SIGTERM handler"),
        )
    };
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async move {
                for n in 0.. {
                    #[cfg(unix)]
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    #[cfg(not(unix))]
                    let _ = tokio::signal::ctrl_c().await;
                    if n == 0 {
                        crate::progress::println_above(message);
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    } else {
                        // Destructors do not run on exit: delete outputs being written here.
                        crate::output::remove_pending();
                        std::process::exit(130);
                    }
                }
            });
        })
        .expect("spawn signal thread");
}
