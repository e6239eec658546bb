//! The `traceblast` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! Exit codes: 0 success; 1 finished but a threshold was missed; 2 bad input or I/O error
//! (one line on stderr, with its cause chain); 130 interrupted.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match traceblast::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's whole message: what is missing or wrong, a "similar argument" tip, the
            // usage line, `--help` for more; a bare `traceblast` prints the command list. Help
            // and version go to stdout with exit 0, usage errors to stderr with exit 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match traceblast::cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `traceblast inspect --dump 0 | head` closes our stdout early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

// jemalloc keeps gen's peak memory flat in --count: gen allocates and frees multi-megabyte
// buffers from several threads at a high rate, and glibc's malloc fragments its heaps under
// that pattern (peak RSS grew about 25 % from 10k to 100k traces; with jemalloc, 2 %). It is
// also faster here. Measured by scripts/bench-gen.sh.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
