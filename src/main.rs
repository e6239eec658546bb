//! The `traceblast` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! Exit codes: 0 success; 1 finished but a threshold was missed; 2 bad input or I/O error
//! (one line on stderr, with its cause chain); 130 interrupted.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match traceblast::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors: the first line names the flag and value; the usage block that clap
            // appends is left to --help.
            let text = e.render().to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: invalid arguments"));
            return ExitCode::from(2);
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
