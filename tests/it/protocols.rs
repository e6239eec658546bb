//! `replay --protocol` end to end (issue 14): every transport and compression into the sink,
//! and OTLP/gRPC through a real collector (rotel's gRPC receiver) into the sink. In each, the
//! spans the sink received must equal the spans replay counted acknowledged, exactly, and the
//! sink must have seen only the protocol that was asked for.

use std::net::SocketAddr;
use std::time::Duration;

use traceblast::sink::{self, SinkPlan};

use crate::collector::Rotel;
use crate::real_servers::{corpus_spans, replay_within};
use crate::replay::corpus;
use crate::util::*;

fn sink_with_grpc() -> sink::Running {
    let grpc_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    sink::spawn(SinkPlan { grpc_listen, quiet: true, ..SinkPlan::default() }).unwrap()
}

#[test]
fn every_protocol_and_compression_delivers_spans_received_equal_to_spans_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "24", &[]);
    let spans = corpus_spans(&c);
    let cases = [
        ("http/protobuf", "gzip"),
        ("http/json", "none"),
        ("http/json", "zstd"),
        ("grpc", "none"),
        ("grpc", "gzip"),
        ("grpc", "zstd"),
    ];
    for (protocol, compression) in cases {
        let s = sink_with_grpc();
        let url = match protocol {
            "grpc" => format!("http://{}", s.grpc_addr.unwrap()),
            _ => format!("http://{}/v1/traces", s.addr),
        };
        let args = ["--rate", "200", "--protocol", protocol, "--compression", compression, "--connections", "2"];
        let r = replay_within(dir.path(), &c, &url, &args, Duration::from_secs(30));
        let sum = s.shutdown();
        let case = format!("{protocol} {compression}");
        r.assert_accounted();
        assert_eq!(r.req("ok"), 24, "{case}: {}", r.report);
        assert_eq!(r.report["spans"]["ok"], spans, "{case}");
        assert_eq!(sum.unique_spans, spans, "{case}: spans received == spans acknowledged");
        assert_eq!((sum.spans, sum.duplicate_span_ids), (spans, 0), "{case}: none twice");
        assert_eq!(sum.requests_by_protocol.keys().collect::<Vec<_>>(), [protocol], "{case}");
        assert_eq!(r.report["run"]["options"]["protocol"], protocol, "{case}: the report names it");
        if protocol == "grpc" {
            assert_eq!(r.report["grpc_status"], serde_json::json!({"OK": 24}), "{case}");
        }
    }
}

#[test]
fn grpc_through_rotel_delivers_every_acknowledged_span_to_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let s = sink_with_grpc();
    let rotel = Rotel::start(dir.path(), "grpc", &format!("http://{}", s.grpc_addr.unwrap()));
    let c = corpus(dir.path(), "30", &[]);
    let spans = corpus_spans(&c);
    let url = format!("http://127.0.0.1:{}", rotel.grpc);
    let r = replay_within(dir.path(), &c, &url, &["--protocol", "grpc", "--rate", "100"], Duration::from_secs(30));
    r.assert_accounted();
    assert_eq!((r.req("ok"), &r.report["spans"]["ok"]), (30, &serde_json::json!(spans)), "{}", r.report);
    // The collector batches and exports on its own schedule: wait for it, with a deadline.
    let arrived = s.wait_until(Duration::from_secs(30), |x| x.spans >= spans);
    let sum = s.shutdown();
    assert!(arrived, "only {} of {spans} acknowledged spans reached the sink", sum.spans);
    assert_eq!((sum.spans, sum.unique_spans, sum.duplicate_span_ids), (spans, spans, 0));
    assert_eq!(sum.requests_by_protocol.keys().collect::<Vec<_>>(), ["grpc"], "rotel exported over gRPC");
}

#[test]
fn the_protocol_comes_from_the_sdk_variables_and_presets_refuse_what_they_do_not_take() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "3", &[]);
    let c = c.to_str().unwrap();
    // OTEL_EXPORTER_OTLP_PROTOCOL picks gRPC, and with it the SDKs' gRPC port.
    let o = std::process::Command::new(bin())
        .args(["replay", c, "--dry-run"])
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = format!("{}{}", stdout(&o), stderr(&o));
    assert!(plan.contains("grpc") && plan.contains("http://localhost:4317"), "{plan}");
    assert!(plan.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "the variable is listed as applied: {plan}");
    // The traces-specific variable wins, and a bad value is named.
    let o = std::process::Command::new(bin())
        .args(["replay", c, "--dry-run"])
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon")
        .output()
        .unwrap();
    assert_bad_input(&o, &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"]);
    // Phoenix takes OTLP/HTTP protobuf only.
    for protocol in ["grpc", "http/json"] {
        let o = std::process::Command::new(bin())
            .args(["replay", c, "--dry-run", "--platform", "phoenix", "--protocol", protocol])
            .current_dir(dir.path())
            .env("PHOENIX_COLLECTOR_ENDPOINT", "http://127.0.0.1:6006")
            .output()
            .unwrap();
        assert_bad_input(&o, &["phoenix", protocol, "http/protobuf"]);
    }
    // Phoenix answers zstd with 415, MLflow with 400: their presets refuse it up front.
    for (platform, status) in [("phoenix-local", "415"), ("mlflow", "400")] {
        let o = run(&["replay", c, "--dry-run", "--platform", platform, "--compression", "zstd"]);
        assert_bad_input(&o, &[platform, "--compression zstd", status]);
    }
    // A local Phoenix needs no key; --project and --experiment become the routing headers,
    // shown in the plan (where verify reads them back from).
    let o = run(&["replay", c, "--dry-run", "--platform", "phoenix-local", "--project", "load test"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(plan.contains("http://localhost:6006/v1/traces") && plan.contains("x-project-name: load test"), "{plan}");
    let o = run(&["replay", c, "--dry-run", "--platform", "mlflow", "--experiment", "12"]);
    assert!(stdout(&o).contains("x-mlflow-experiment-id: 12"), "{}", stdout(&o));
}
