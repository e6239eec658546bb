//! Real platforms (Arize Phoenix, MLflow) started through `scripts/platforms.sh run`, bound to
//! 127.0.0.1 on a free port with a temporary working directory, and stopped when dropped.
//!
//! A platform that is not installed is a skip, never a silent pass: the test prints one
//! `SKIPPED <test>: <why>` line straight to the process's stderr (libtest captures only the
//! print macros, so the line shows in the CI log), and with `TRACEBLAST_PLATFORMS=required` the
//! test fails instead.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a platform to listen (Phoenix's first start migrates its database: ~30 s).
const START_LIMIT: Duration = Duration::from_secs(120);
/// Longest wait for a platform's processes to exit on SIGTERM before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// A platform `platforms.sh` can run.
#[derive(Debug, Clone, Copy)]
pub enum Platform {
    Phoenix,
    Mlflow,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Phoenix => "phoenix",
            Platform::Mlflow => "mlflow",
        }
    }
}

/// A running platform; killed (and its directory removed) when dropped.
pub struct Launched {
    child: Child,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    /// How long it took to accept connections.
    pub started_in: Duration,
    _dir: tempfile::TempDir,
}

impl Launched {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GETs `path` and parses the answer as JSON (a 200 is required).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        use std::io::Read;
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("GET {path}: {text}"));
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
        assert!(!head.to_ascii_lowercase().contains("transfer-encoding"), "GET {path}: a chunked answer: {head}");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }
}

impl Drop for Launched {
    /// Stops the server's whole process group: MLflow's `mlflow server` runs uvicorn as a child
    /// (and, unless disabled, a job runner with its own children), which outlive a kill of the
    /// parent alone. SIGTERM first, SIGKILL for whatever is left after [`STOP_LIMIT`].
    fn drop(&mut self) {
        let Some(group) = rustix::process::Pid::from_raw(self.child.id() as i32) else { return };
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        let start = Instant::now();
        let _ = self.child.wait();
        while rustix::process::test_kill_process_group(group).is_ok() && start.elapsed() < STOP_LIMIT {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/platforms.sh")
}

/// A port free on 127.0.0.1 whose successor is free too (Phoenix's gRPC port is PORT+1).
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no pair of free ports on 127.0.0.1 in 50 tries");
}

/// Starts `p`, or prints why it cannot and returns `None` (a skip the CI log shows).
pub fn launch_or_skip(p: Platform, test: &str) -> Option<Launched> {
    match launch(p) {
        Ok(l) => Some(l),
        Err(why) => {
            if std::env::var("TRACEBLAST_PLATFORMS").as_deref() == Ok("required") {
                panic!("{test}: {why} (TRACEBLAST_PLATFORMS=required)");
            }
            let _ = std::io::stderr().write_all(format!("SKIPPED {test}: {why}\n").as_bytes());
            None
        }
    }
}

/// `scripts/platforms.sh run`'s exit code for a platform that is not installed (not 3:
/// uvicorn exits 3 when its startup fails).
const NOT_INSTALLED: i32 = 75;

/// Relaunches after a port race, at most five in a test run.
static BIND_RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Starts `p` and waits until it accepts connections. `Err` only when the platform is not
/// installed (the script's exit 75, with its reason); any other failure panics.
fn launch(p: Platform) -> Result<Launched, String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port_pair();
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let start = Instant::now();
    // Its own process group, so that dropping it stops the server's children too.
    let mut child = Command::new("bash")
        .process_group(0)
        .arg(script())
        .args(["run", p.name(), &port.to_string(), dir.path().to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("bash runs scripts/platforms.sh");
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = log_text();
            // Another test took the port (or PORT+1, Phoenix's gRPC) between the check and
            // the server's bind: pick new ports (seen once in CI: "Failed to bind to address").
            if (text.contains("Failed to bind to address") || text.contains("address already in use"))
                && BIND_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5
            {
                return launch(p);
            }
            if status.code() == Some(NOT_INSTALLED) {
                return Err(text.trim().lines().last().unwrap_or("not installed").to_string());
            }
            panic!("{} exited ({status}) before listening on {port}:\n{text}", p.name());
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let started_in = start.elapsed();
            return Ok(Launched { child, port, started_in, _dir: dir });
        }
        if start.elapsed() > START_LIMIT {
            let text = log_text();
            drop(Launched { child, port, started_in: start.elapsed(), _dir: dir });
            panic!("{} not listening on {port} after {START_LIMIT:?}:\n{text}", p.name());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
