//! Static checks of the shipped deployment files (no Docker engine or cluster runs here):
//! they parse, reference only documented variables and real Collector components, and the
//! Kubernetes job's command line is accepted by traceblast itself.

use std::collections::BTreeSet;

use yaml_rust2::{Yaml, YamlLoader};

use crate::util::*;

fn yaml(path: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
}

/// Variable names referenced as `${NAME}`, `${NAME:-x}` or `${env:NAME...}`.
fn referenced_vars(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let body = rest.trim_start_matches("env:");
        let name: String = body.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn env_example_vars() -> BTreeSet<String> {
    std::fs::read_to_string(".env.example")
        .unwrap()
        .lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .collect()
}

#[test]
fn compose_and_collector_files_parse_and_use_documented_variables() {
    let documented = env_example_vars();
    for file in ["docker-compose.yml", "otel-collector-config.yaml"] {
        assert_eq!(yaml(file).len(), 1, "{file}: one document");
        let vars = referenced_vars(&std::fs::read_to_string(file).unwrap());
        assert!(!vars.is_empty(), "{file} references variables");
        let missing: Vec<_> = vars.difference(&documented).collect();
        assert!(missing.is_empty(), "{file} references variables missing from .env.example: {missing:?}");
    }
    // Every platform variable the replay presets read is documented too.
    for v in [
        "OTEL_PLATFORM",
        "BRAINTRUST_API_KEY",
        "LANGSMITH_API_KEY",
        "LANGFUSE_SECRET_KEY",
        "PHOENIX_API_KEY",
        "HONEYCOMB_API_KEY",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "TRACEBLAST_RATE",
    ] {
        assert!(documented.contains(v), ".env.example lacks {v}");
    }
}

#[test]
fn compose_pins_the_collector_and_exposes_its_ports() {
    let doc = &yaml("docker-compose.yml")[0];
    let image = doc["services"]["otel-collector"]["image"].as_str().unwrap();
    let (name, tag) = image.split_once(':').unwrap();
    assert_eq!(name, "otel/opentelemetry-collector-contrib");
    assert!(
        tag.split('.').count() == 3 && tag.split('.').all(|p| p.parse::<u32>().is_ok()),
        "pinned version, got {tag}"
    );
    let ports: Vec<&str> =
        doc["services"]["otel-collector"]["ports"].as_vec().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for p in ["4317:4317", "4318:4318", "8888:8888"] {
        assert!(ports.iter().any(|x| x.starts_with(p)), "port {p}");
    }
    let sink = &doc["services"]["sink"];
    assert_eq!(sink["build"].as_str(), Some("."));
    assert_eq!(sink["command"][0].as_str(), Some("sink"));
}

/// Component types in the Collector contrib distribution that this config may use.
const CONTRIB: &[(&str, &[&str])] = &[
    ("receivers", &["otlp", "prometheus", "hostmetrics", "filelog", "zipkin", "jaeger"]),
    (
        "processors",
        &[
            "batch",
            "memory_limiter",
            "attributes",
            "resource",
            "filter",
            "transform",
            "tail_sampling",
            "probabilistic_sampler",
            "k8sattributes",
            "resourcedetection",
        ],
    ),
    (
        "exporters",
        &["otlp", "otlphttp", "debug", "file", "prometheus", "prometheusremotewrite", "loadbalancing", "kafka"],
    ),
    (
        "extensions",
        &[
            "health_check",
            "pprof",
            "zpages",
            "basicauth",
            "bearertokenauth",
            "headers_setter",
            "oauth2client",
            "file_storage",
        ],
    ),
];

#[test]
fn collector_config_uses_contrib_components_and_one_platform_pipeline() {
    let doc = &yaml("otel-collector-config.yaml")[0];
    let mut defined: BTreeSet<(String, String)> = BTreeSet::new();
    for (kind, allowed) in CONTRIB {
        let Some(map) = doc[*kind].as_hash() else { continue };
        for k in map.keys() {
            let id = k.as_str().unwrap();
            let ty = id.split('/').next().unwrap();
            assert!(allowed.contains(&ty), "{kind}: '{ty}' is not a contrib component this project expects");
            defined.insert((kind.to_string(), id.to_string()));
        }
    }
    for ext in doc["service"]["extensions"].as_vec().unwrap() {
        assert!(defined.contains(&("extensions".into(), ext.as_str().unwrap().into())), "extension {ext:?} undefined");
    }
    let pipelines = doc["service"]["pipelines"].as_hash().unwrap();
    let mut platform_exporters = 0;
    for (name, p) in pipelines {
        for kind in ["receivers", "processors", "exporters"] {
            for c in p[kind].as_vec().unwrap_or(&vec![]) {
                let id = c.as_str().unwrap();
                assert!(
                    defined.contains(&(kind.to_string(), id.to_string())),
                    "pipeline {name:?} uses undefined {kind} '{id}'"
                );
                if kind == "exporters" && id.starts_with("otlphttp/") {
                    platform_exporters += 1;
                }
            }
        }
        let procs: Vec<&str> = p["processors"].as_vec().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(procs.first(), Some(&"memory_limiter"), "memory_limiter runs first");
        assert!(procs.contains(&"batch"));
    }
    assert_eq!(platform_exporters, 1, "exactly one platform exporter enabled (two send duplicates → 409)");
    // The alternative platform pipeline is present but commented out.
    let text = std::fs::read_to_string("otel-collector-config.yaml").unwrap();
    assert!(text.contains("#   exporters: [otlphttp/langsmith]"));
    let readers = &doc["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"];
    assert_eq!(readers["port"].as_i64(), Some(8888), "internal metrics on :8888 for traceblast analyze");
}

#[test]
fn dockerfile_builds_the_binary_the_readme_names() {
    let d = std::fs::read_to_string("Dockerfile").unwrap();
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(readme.contains("cargo run --release --"), "README names the binary through cargo");
    assert!(d.lines().filter(|l| l.starts_with("FROM ")).count() >= 2, "multi-stage");
    assert!(d.contains("cargo build --release --locked --bin traceblast"));
    assert!(d.contains("COPY --from=build /src/target/release/traceblast /usr/local/bin/traceblast"));
    assert!(d.contains(r#"ENTRYPOINT ["traceblast"]"#));
    // Everything the build needs is copied in (Cargo.toml declares a bench; examples exist).
    for path in ["Cargo.toml", "Cargo.lock", "src", "benches", "examples"] {
        assert!(d.contains(path), "Dockerfile does not copy {path}");
        assert!(std::path::Path::new(path).exists());
    }
}

/// The job's shell line with `$VAR` and `"$VAR"` expanded from `vars`.
fn expand(line: &str, vars: &[(&str, String)]) -> String {
    let mut s = line.to_string();
    // Longest names first so $SHARDS is not cut by a shorter prefix.
    let mut vs = vars.to_vec();
    vs.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in vs {
        s = s.replace(&format!("\"${k}\""), &v).replace(&format!("${k}"), &v);
    }
    s.replace('"', "")
}

#[test]
fn k8s_job_is_indexed_and_its_commands_pass_dry_run() {
    let job = &yaml("deploy/k8s/job.yaml")[0];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let container = &spec["template"]["spec"]["containers"][0];
    let env: Vec<(String, String)> = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["value"].as_str().unwrap().to_string()))
        .collect();
    let shards: i64 = env.iter().find(|(k, _)| k == "SHARDS").unwrap().1.parse().unwrap();
    assert_eq!(spec["parallelism"].as_i64(), Some(shards));
    assert_eq!(spec["completions"].as_i64(), Some(shards));
    let line = container["args"][0].as_str().unwrap();
    assert!(line.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""));
    let mounts: Vec<&str> =
        container["volumeMounts"].as_vec().unwrap().iter().map(|m| m["mountPath"].as_str().unwrap()).collect();
    assert!(mounts.contains(&"/reports"));

    // Run pod 3's command line for real, with a small COUNT, replay in --dry-run.
    let dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    vars.retain(|(k, _)| *k != "COUNT");
    vars.push(("COUNT", "400".into()));
    vars.push(("JOB_COMPLETION_INDEX", "3".into()));
    let line = expand(line, &vars)
        .replace("/tmp/", &format!("{}/", dir.path().display()))
        .replace("/reports/", &format!("{}/", dir.path().display()));
    let (gen_cmd, replay_cmd) = line.split_once("&&").unwrap();
    let gen_args: Vec<&str> = gen_cmd.split_whitespace().skip(1).collect();
    let o = run(&gen_args);
    assert!(o.status.success(), "{gen_args:?}: {}", stderr(&o));
    let mut replay_args: Vec<&str> = replay_cmd.split_whitespace().skip(1).collect();
    replay_args.push("--dry-run");
    let o = run(&replay_args);
    assert!(o.status.success(), "{replay_args:?}: {}", stderr(&o));
    let plan = stdout(&o);
    assert!(plan.contains("shard           3/8"), "{plan}");
    assert!(plan.contains("800 req/s in total, 100 req/s from this shard"), "{plan}");

    let merge = &yaml("deploy/k8s/merge-job.yaml")[0];
    let m = merge["spec"]["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap();
    assert!(m.contains("traceblast report merge /reports/report-*.json -o /reports/merged.json"));
    assert_eq!(yaml("deploy/k8s/pvc.yaml")[0]["spec"]["accessModes"][0].as_str(), Some("ReadWriteMany"));
}

#[test]
fn dockerignore_keeps_build_output_and_corpora_out_of_the_context() {
    let ignore = std::fs::read_to_string(".dockerignore").expect("a .dockerignore next to the Dockerfile");
    let rules: Vec<&str> = ignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for must in ["target/", "*.zst", ".env"] {
        assert!(rules.contains(&must), ".dockerignore lacks {must}");
    }
    // Nothing the Dockerfile copies is excluded.
    for copied in ["Cargo.toml", "Cargo.lock", "rustfmt.toml", "src", "benches", "examples"] {
        assert!(!rules.iter().any(|r| r.trim_end_matches('/') == copied), "{copied} is excluded");
    }
}

#[test]
fn one_variable_names_each_platform_endpoint_for_replay_and_the_collector() {
    let config = std::fs::read_to_string("otel-collector-config.yaml").unwrap();
    let compose = std::fs::read_to_string("docker-compose.yml").unwrap();
    for (platform, var) in [("braintrust", "BRAINTRUST_API_URL"), ("langsmith", "LANGSMITH_ENDPOINT")] {
        // The collector's exporter endpoint is the variable replay's preset reads, plus /otel;
        // otlphttp appends /v1/traces, giving the URL replay sends to.
        let line = config.lines().find(|l| l.contains(&format!("${{env:{var}:-"))).unwrap_or_else(|| panic!("{var}"));
        assert!(line.trim().ends_with("}/otel"), "{line}");
        assert!(compose.contains(&format!("{var}: ${{{var}:-")), "compose passes {var}");
        let o = std::process::Command::new(bin())
            .args(["replay", "fixtures/corpora/simple_query.zst", "--platform", platform, "--dry-run"])
            .env(var, "http://sink:4318")
            .env("BRAINTRUST_API_KEY", "k")
            .env("BRAINTRUST_PROJECT", "p")
            .env("LANGSMITH_API_KEY", "k")
            .output()
            .unwrap();
        assert!(stdout(&o).contains("http://sink:4318/otel/v1/traces"), "{platform}: {}{}", stdout(&o), stderr(&o));
    }
    assert!(!config.contains("OTLP_ENDPOINT:-https"), "no second endpoint variable per platform");
}

#[test]
fn k8s_secrets_come_from_their_own_file_without_localhost() {
    for f in ["deploy/k8s/secret.example.yaml", "deploy/k8s/platform.env.example"] {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            assert!(!line.contains("localhost") && !line.contains("127.0.0.1"), "{f}: {line}");
        }
    }
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(!readme.contains("--from-env-file=.env"), "the README must not carry .env (localhost) into pods");
    assert!(readme.contains("--from-env-file=platform.env"));
}

#[test]
fn the_compose_rehearsal_passes_the_sink_s_checks_with_env_example() {
    // What the rehearsal does: .env.example's values, the Collector's exporter headers, the
    // sink's braintrust profile. replay --platform braintrust sends the same headers.
    let s = traceblast::sink::spawn(traceblast::sink::SinkPlan {
        profile: Some(traceblast::sink::Profile::Braintrust),
        ..Default::default()
    })
    .unwrap();
    let o = std::process::Command::new(bin())
        .args(["replay", "fixtures/corpora/simple_query.zst", "--platform", "braintrust", "--rate", "100", "-q"])
        .args(["--env-file", ".env.example"])
        .env("BRAINTRUST_API_URL", format!("http://{}", s.addr))
        .env_remove("BRAINTRUST_API_KEY")
        .env_remove("BRAINTRUST_PROJECT")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let sum = s.shutdown();
    assert!(sum.requests > 0);
    assert_eq!(sum.requests_by_status.get(&200).copied().unwrap_or(0), sum.requests, "{:?}", sum.requests_by_status);
}
