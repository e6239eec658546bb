//! replay → rotel (a real OTLP collector, from PyPI) → sink: every span that got a 2xx from the
//! collector reaches the sink. scripts/test.sh installs rotel; this test does not skip.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use traceblast::sink::{self, SinkPlan};

use crate::replay::{corpus, replay};

/// The rotel-agent binary inside the installed `rotel` Python package.
pub(crate) fn rotel_agent() -> String {
    let o = Command::new("python3")
        .args(["-c", "import rotel, os; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))"])
        .output()
        .expect("python3 runs");
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        o.status.success() && std::path::Path::new(&path).exists(),
        "rotel is not installed (pip install rotel; scripts/test.sh does it): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running rotel-agent with its OTLP/HTTP and OTLP/gRPC receivers on 127.0.0.1; killed when
/// the test ends, however it ends.
pub(crate) struct Rotel {
    child: Child,
    /// The OTLP/HTTP receiver's port.
    pub(crate) http: u16,
    /// The OTLP/gRPC receiver's port.
    pub(crate) grpc: u16,
}

impl Rotel {
    /// Starts rotel exporting over `protocol` (`http` or `grpc`) to `endpoint`, its files in
    /// `dir`, and waits (with a deadline) until both receivers accept connections.
    pub(crate) fn start(dir: &Path, protocol: &str, endpoint: &str) -> Rotel {
        let (http, grpc) = (free_port(), free_port());
        let child = Command::new(rotel_agent())
            .args(["start", "--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--exporter", "otlp", "--otlp-exporter-protocol", protocol, "--otlp-exporter-endpoint", endpoint])
            .args(["--pid-file", dir.join("rotel.pid").to_str().unwrap()])
            .args(["--log-file", dir.join("rotel.log").to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rotel-agent starts");
        let rotel = Rotel { child, http, grpc };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [http, grpc] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "rotel did not open port {port}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        rotel
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_span_the_collector_accepted_reaches_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "120", &[]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let rotel = Rotel::start(dir.path(), "http", &format!("http://{}", s.addr));
    let (o, r) = replay(
        dir.path(),
        &c,
        &format!("http://127.0.0.1:{}/v1/traces", rotel.http),
        &["--rate", "100", "--retries", "3", "-q"],
        &[],
    );
    assert!(o.status.success(), "{}", crate::util::stderr(&o));
    let acked = r["spans"]["ok"].as_u64().unwrap();
    assert_eq!(r["requests"]["ok"], r["requests"]["scheduled"], "{}", r["requests"]);
    assert!(acked > 0);
    // The collector batches and exports asynchronously: wait for it, with a deadline.
    let arrived = s.wait_until(Duration::from_secs(30), |x| x.unique_spans >= acked);
    let sum = s.shutdown();
    assert!(arrived, "only {} of {acked} acknowledged spans reached the sink", sum.unique_spans);
    assert_eq!(sum.unique_spans, acked, "every acknowledged span, and nothing else");
    assert_eq!(sum.duplicate_span_ids, 0);
    assert_eq!(sum.unique_traces, r["traces"]["ok"].as_u64().unwrap());
    assert!(sum.requests < r["requests"]["ok"].as_u64().unwrap(), "the collector batched requests together");
}
