use super::*;
use crate::cli::{Cli, Command};
use clap::Parser;

fn args(extra: &[&str]) -> ReplayArgs {
    let mut argv = vec!["traceblast", "replay", "c.zst"];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Replay(a) => *a,
        _ => unreachable!(),
    }
}

fn err(extra: &[&str], env: &[(&str, &str)]) -> String {
    plan(&args(extra), &Env::from_pairs(env)).unwrap_err().to_string()
}

#[test]
fn defaults_are_sane() {
    let p = plan(&args(&[]), &Env::from_pairs(&[])).unwrap();
    assert_eq!(p.target.uri.to_string(), "http://localhost:4318/v1/traces");
    assert_eq!(p.rate, Rate::PerSec(10.0));
    assert_eq!(p.stop, Stop { requests: None, duration: None, loops: Some(1) });
    assert_eq!(p.target.timeout, Duration::from_secs(10));
    assert_eq!(p.compression, Compression::None);
    assert_eq!(p.target.headers["content-type"], "application/x-protobuf");
    assert!(p.rewrite);
}

#[test]
fn flags_beat_environment() {
    let env = Env::from_pairs(&[
        ("TRACEBLAST_RATE", "50"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
    ]);
    let p = plan(&args(&[]), &env).unwrap();
    assert_eq!(p.rate, Rate::PerSec(50.0));
    assert_eq!(p.target.uri.to_string(), "http://collector:4318/v1/traces");
    assert_eq!(p.target.timeout, Duration::from_millis(2500));
    let p = plan(&args(&["--rate", "7", "--endpoint", "http://x:1/v1/traces", "--timeout", "3s"]), &env).unwrap();
    assert_eq!(p.rate, Rate::PerSec(7.0));
    assert_eq!(p.target.uri.to_string(), "http://x:1/v1/traces");
    assert_eq!(p.target.timeout, Duration::from_secs(3));
}

#[test]
fn otel_headers_then_flags_and_secrets_redacted() {
    let env = Env::from_pairs(&[
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-a=1,authorization=Bearer%20s3cret"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-a=2"),
    ]);
    let p = plan(&args(&["-H", "x-b: 3"]), &env).unwrap();
    assert_eq!(p.target.headers["x-a"], "2", "traces-specific wins");
    assert_eq!(p.target.headers["x-b"], "3");
    assert_eq!(p.target.headers["authorization"], "Bearer s3cret");
    let shown: Vec<_> = p.headers_display.iter().filter(|(k, _)| k == "authorization").collect();
    assert_eq!(shown[0].1, "<redacted>");
    assert!(!format!("{:?}", p.headers_display).contains("s3cret"));
}

#[test]
fn duration_or_requests_loop_forever_unless_told() {
    let p = plan(&args(&["--duration", "5m"]), &Env::default()).unwrap();
    assert_eq!(p.stop, Stop { requests: None, duration: Some(Duration::from_secs(300)), loops: None });
    let p = plan(&args(&["--requests", "10k", "--loops", "2"]), &Env::default()).unwrap();
    assert_eq!(p.stop, Stop { requests: Some(10_000), duration: None, loops: Some(2) });
    let p = plan(&args(&["--loops", "inf", "--rate", "max"]), &Env::default()).unwrap();
    assert_eq!((p.stop.loops, p.rate), (None, Rate::Max));
}

#[test]
fn bad_values_name_the_flag_or_variable() {
    assert!(err(&["--rate", "0"], &[]).starts_with("--rate '0': must be a number from 0.001 to 10000000 or 'max'"));
    assert!(err(&["--rate", "-3"], &[]).contains("'-3'"));
    assert!(err(&[], &[("TRACEBLAST_RATE", "fast")]).starts_with("TRACEBLAST_RATE 'fast'"));
    assert!(err(&["--endpoint", "localhost:4318"], &[]).contains("--endpoint 'localhost:4318'"));
    assert!(err(&["--endpoint", "ht tp://x"], &[]).contains("not a valid URL"));
    assert_eq!(err(&["-H", "x-a: 1", "-H", "nocolon"], &[]), "--header #2: expected 'name: value'");
    assert_eq!(err(&["-H", "x-api-key=lsv2_pt_0123"], &[]), "--header 'x-api-key…': expected 'name: value'");
    assert!(err(&["--platform", "nope"], &[]).contains("--platform 'nope' is unknown"));
    assert!(err(&["--platform", "braintrust"], &[("BRAINTRUST_PROJECT", "p")]).contains("BRAINTRUST_API_KEY"));
    assert!(err(&[], &[("OTEL_PLATFORM", "langsmith")]).contains("LANGSMITH_API_KEY"));
    assert!(err(&["--compression", "brotli"], &[]).contains("--compression 'brotli'"));
    assert!(err(&["--min-success", "101"], &[]).contains("--min-success '101'"));
    assert!(err(&["--ramp-up", "10s", "--rate", "max"], &[]).contains("--ramp-up"));
}

#[test]
fn secrets_never_reach_error_messages() {
    for bad in ["authorization Bearer s3cret", "x-api-key=s3cret", "s3cret"] {
        let e = err(&["-H", bad], &[]);
        assert!(!e.contains("s3cret"), "{e}");
    }
    let e = err(&[], &[("OTEL_EXPORTER_OTLP_HEADERS", "authorization-Bearer-s3cret-value")]);
    assert!(!e.contains("s3cret-value"), "{e}");
}

#[test]
fn log_level_from_flag_or_env() {
    assert_eq!(log_level(&args(&[]), &Env::default()).unwrap(), log::LevelFilter::Info);
    assert_eq!(log_level(&args(&[]), &Env::from_pairs(&[("LOG_LEVEL", "debug")])).unwrap(), log::LevelFilter::Debug);
    assert!(
        log_level(&args(&["--log-level", "loud"]), &Env::default())
            .unwrap_err()
            .to_string()
            .contains("--log-level 'loud'")
    );
}

#[test]
fn url_credentials_become_basic_auth_and_leave_the_url() {
    let p =
        plan(&args(&["--endpoint", "https://user:p%40ss@collector.example:4318/v1/traces"]), &Env::default()).unwrap();
    assert_eq!(p.target.uri.to_string(), "https://collector.example:4318/v1/traces");
    assert_eq!(p.target.headers["authorization"], "Basic dXNlcjpwQHNz");
    assert_eq!(p.endpoint_display, "https://collector.example:4318/v1/traces");
    assert!(!format!("{:?}", p.headers_display).contains("dXNlcjpwQHNz"));
}

#[test]
fn sender_threads_from_flag_or_env_within_bounds() {
    let p = plan(&args(&[]), &Env::default()).unwrap();
    assert!((1..=4).contains(&p.threads), "default is half the cores, 1 to 4: {}", p.threads);
    assert_eq!(plan(&args(&[]), &Env::from_pairs(&[("TRACEBLAST_THREADS", "3")])).unwrap().threads, 3);
    let env = Env::from_pairs(&[("TRACEBLAST_THREADS", "3")]);
    assert_eq!(plan(&args(&["--threads", "8"]), &env).unwrap().threads, 8, "the flag wins");
    assert!(err(&["--threads", "0"], &[]).starts_with("--threads '0'"));
    assert!(err(&[], &[("TRACEBLAST_THREADS", "many")]).starts_with("TRACEBLAST_THREADS 'many'"));
    assert_eq!(err(&["--threads", "1000"], &[]), "--threads '1000' is more than the maximum, 256");
}

#[test]
fn every_number_has_a_maximum_that_the_error_names() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&["--rate", "1e300"], &[], "--rate '1e300': must be a number from 0.001 to 10000000"),
        (&["--duration", "1.8e19"], &[], "--duration '1.8e19' is longer than the maximum, 30days"),
        (&[], &[("TRACEBLAST_DURATION", "31d")], "TRACEBLAST_DURATION '31d' is longer than the maximum, 30days"),
        (&["--ramp-up", "1e12"], &[], "--ramp-up '1e12' is longer than the maximum, 30days"),
        (&["--timeout", "2h"], &[], "--timeout '2h' is longer than the maximum, 1h"),
        (&[], &[("OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999")], "OTEL_EXPORTER_OTLP_TIMEOUT '99999999999'"),
        (&["--connections", "1M"], &[], "--connections '1M' is more than the maximum, 10,000"),
        (&["--max-in-flight", "2M"], &[], "--max-in-flight '2M' is more than the maximum, 1,000,000"),
        (&["--batch", "70000"], &[], "--batch '70000' is more than the maximum, 65,535"),
        (&["--loops", "2G"], &[], "--loops '2G' is more than the maximum, 1,000,000,000"),
        (&[], &[("TRACEBLAST_CONNECTIONS", "99999")], "TRACEBLAST_CONNECTIONS '99999' is more than"),
    ];
    for (flags, vars, want) in cases {
        let e = err(flags, vars);
        assert!(e.starts_with(want), "{flags:?} {vars:?}: {e}");
    }
    // At the maxima the plan is accepted, and the schedule arithmetic stays finite.
    let p = plan(&args(&["--rate", "10000000", "--duration", "30d"]), &Env::default()).unwrap();
    assert_eq!(p.stop.duration, Some(MAX_DURATION));
}

#[test]
fn a_base_url_gets_the_traces_path_like_the_sdks() {
    for (given, want, appended) in [
        ("http://collector:4318", "http://collector:4318/v1/traces", true),
        ("http://collector:4318/", "http://collector:4318/v1/traces", true),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces", false),
        ("https://h/api/public/otel/v1/traces", "https://h/api/public/otel/v1/traces", false),
        ("http://collector:4318/custom", "http://collector:4318/custom", false),
    ] {
        let p = plan(&args(&["--endpoint", given]), &Env::default()).unwrap();
        assert_eq!((p.target.uri.to_string().as_str(), p.endpoint_appended), (want, appended), "{given}");
    }
    let p = plan(&args(&[]), &Env::from_pairs(&[("TRACEBLAST_ENDPOINT", "http://c:1")])).unwrap();
    assert_eq!(p.target.uri.to_string(), "http://c:1/v1/traces");
}

#[test]
fn rates_come_in_requests_spans_traces_or_bytes_a_second() {
    use crate::replay::{RateIn, RateUnit};
    let rate = |v: &str| {
        let p = plan(&args(&["--rate", v]), &Env::from_pairs(&[])).unwrap();
        (p.rate, p.rate_in)
    };
    assert_eq!(rate("500"), (Rate::PerSec(500.0), None));
    assert_eq!(rate("500req/s"), (Rate::PerSec(500.0), None));
    assert_eq!(rate("2.5/s"), (Rate::PerSec(2.5), None));
    let given = |value: f64, unit, given: &str| Some(RateIn { value, unit, given: given.into() });
    assert_eq!(rate("2000spans/s").1, given(2000.0, RateUnit::Spans, "2000spans/s"));
    assert_eq!(rate("100traces/s").1, given(100.0, RateUnit::Traces, "100traces/s"));
    assert_eq!(rate("5MB/s").1, given(5e6, RateUnit::Bytes, "5MB/s"));
    assert_eq!(rate("1MiB/s").1, given(1048576.0, RateUnit::Bytes, "1MiB/s"));
    for bad in ["2000spans", "5MB", "0spans/s", "-3/s", "12parsecs/s", "spans/s", "1e400"] {
        let e = err(&["--rate", bad], &[]);
        assert!(e.contains(&format!("--rate '{bad}'")), "{bad}: {e}");
    }
}

#[test]
fn stages_replace_the_rate_options_and_poisson_shards_draw_their_own_gaps() {
    // The --stages flag wins over rate variables (a .env written for plain runs).
    let env = Env::from_pairs(&[("TRACEBLAST_RATE", "50"), ("TRACEBLAST_DURATION", "1m")]);
    let p = plan(&args(&["--stages", "10s:100,20s:0"]), &env).unwrap();
    assert_eq!((p.stop.duration, p.rate), (Some(Duration::from_secs(30)), Rate::PerSec(100.0)));
    assert_eq!(p.target_rate(), Some(50.0), "1,500 requests over 30 s");
    // The variable with a rate variable is ambiguous.
    let e = err(&[], &[("TRACEBLAST_STAGES", "10s:100"), ("TRACEBLAST_RATE", "50")]);
    assert_eq!(
        e,
        "TRACEBLAST_STAGES replaces --rate, --ramp-up and --duration, but TRACEBLAST_RATE is set too: unset one"
    );
    // Two shards of a Poisson run: each half the rate, with different instants.
    let shard = |k: &str| {
        plan(&args(&["--rate", "100", "--arrivals", "poisson", "--seed", "3", "--shard", k]), &Env::from_pairs(&[]))
            .unwrap()
            .schedule()
            .unwrap()
    };
    let (a, b) = (shard("0/2"), shard("1/2"));
    assert!((0..50).filter(|i| a.due(*i) == b.due(*i)).count() == 0, "the shards send at their own instants");
    let n = a.due_before(Duration::from_secs(40));
    assert!(n.abs_diff(2000) < 150, "each shard sends about half: {n}");
}
