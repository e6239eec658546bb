use super::*;

fn set() -> ScenarioSet {
    ScenarioSet::builtin()
}

#[test]
fn builtins_compile_with_names_and_short_names() {
    let s = set();
    assert_eq!(s.names(), BUILTIN.to_vec());
    for (short, full) in [
        ("simple", "simple_query"),
        ("search", "single_service_search"),
        ("booking", "delegated_booking"),
        ("complex", "multi_service_complex"),
    ] {
        assert_eq!(s.find(short), s.find(full), "{short}");
        assert!(s.find(full).is_some());
    }
    // Every built-in can fail (the trace-level error has a step to land on).
    assert!(s.scenarios.iter().all(|c| c.min_failable > 0));
    // The complex scenario spans several services.
    let complex = &s.scenarios[s.find("complex").unwrap()];
    assert!(complex.services.len() >= 3, "{}", complex.services.len());
}

#[test]
fn builtin_text_round_trips_through_the_user_format() {
    // What `scenarios show` prints for a built-in must load back as the same scenario.
    for (name, text) in builtin_sources() {
        let parsed = parse(text, name).unwrap();
        let again = toml::to_string_pretty(&parsed).unwrap();
        assert_eq!(parse(&again, name).unwrap(), parsed, "{name}");
    }
}

#[test]
fn mix_default_and_short_names() {
    let s = set();
    let m = Mix::parse(DEFAULT_MIX, &s).unwrap();
    assert_eq!(m.entries, vec![(0, 0.4), (1, 0.3), (2, 0.2), (3, 0.1)]);
    let short = Mix::parse("simple=0.4,search=0.3,booking=0.2,complex=0.1", &s).unwrap();
    assert_eq!(short, m);
    assert_eq!(m.choose(0.0), 0);
    assert_eq!(m.choose(0.45), 1);
    assert_eq!(m.choose(0.95), 3);
    assert_eq!(m.choose(0.999_999_999), 3);
}

#[test]
fn mix_errors_name_the_problem() {
    let s = set();
    let e = Mix::parse("simple=0.4,search=0.3,booking=0.2", &s).unwrap_err();
    assert_eq!(e, "--mix weights sum to 0.90, expected 1.0");
    let e = Mix::parse("simple=0.5,nope=0.5", &s).unwrap_err();
    assert!(e.contains("unknown scenario 'nope'") && e.contains("simple_query"), "{e}");
    let e = Mix::parse("simple=abc", &s).unwrap_err();
    assert!(e.contains("'abc'"), "{e}");
    let e = Mix::parse("simple", &s).unwrap_err();
    assert!(e.contains("'simple'"), "{e}");
    let e = Mix::parse("simple=0.5,simple_query=0.5", &s).unwrap_err();
    assert!(e.contains("listed twice"), "{e}");
    let e = Mix::parse("simple=1.5,search=-0.5", &s).unwrap_err();
    assert!(e.contains("-0.5"), "{e}");
}

const MINIMAL: &str = r#"
name = "tiny"
[service]
name = "svc"
[agent]
name = "bot"
model = "gpt-4o-mini"
system_prompt_chars = 100
user_prompt_chars = 50
[[steps]]
kind = "llm"
output_tokens = 20
"#;

#[test]
fn minimal_user_scenario_gets_defaults() {
    let s = parse(MINIMAL, "tiny.toml").unwrap();
    let c = compile(&s, "tiny.toml").unwrap();
    assert_eq!(s.error_rate, 0.02);
    assert_eq!(c.services[0].environment, "production");
    let Op::Llm { model, span_name, .. } = &c.steps[0].op else { panic!() };
    assert_eq!(model, "gpt-4o-mini");
    assert_eq!(span_name, "chat gpt-4o-mini");
    assert_eq!(c.min_failable, 1);
}

#[test]
fn malformed_toml_names_file_line_and_column() {
    let e = parse("name = \"x\"\n[service\n", "bad.toml").unwrap_err().to_string();
    assert!(e.starts_with("bad.toml: "), "{e}");
    assert!(e.contains("line 2"), "{e}");
    assert!(!e.contains('\n'), "one line: {e:?}");
}

#[test]
fn unknown_field_is_rejected_by_name() {
    let text = MINIMAL.replace("output_tokens = 20", "output_tokens = 20\noutput_tokenz = 3");
    let e = parse(&text, "t.toml").unwrap_err().to_string();
    assert!(e.contains("output_tokenz"), "{e}");
}

#[test]
fn step_errors_name_the_step_path() {
    let missing = MINIMAL.replace("kind = \"llm\"\noutput_tokens = 20", "kind = \"tool\"\nresult_chars = 10");
    let e = compile(&parse(&missing, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    assert_eq!(e, "t.toml: scenario 'tiny': steps[0]: kind = \"tool\" needs `tool`");

    let misplaced = MINIMAL.replace("output_tokens = 20", "output_tokens = 20\ndocuments = 3");
    let e = compile(&parse(&misplaced, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    assert!(e.contains("steps[0]: `documents` does not apply to a step of kind = \"llm\""), "{e}");

    let nested = MINIMAL.replace(
        "[[steps]]\nkind = \"llm\"\noutput_tokens = 20",
        "[[steps]]\nkind = \"parallel\"\n[[steps.steps]]\nkind = \"llm\"\noutput_tokens = 5\nprobability = 1.5",
    );
    let e = compile(&parse(&nested, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    assert!(e.contains("steps[0].steps[0].probability = 1.5"), "{e}");

    let bad_dist = MINIMAL.replace("output_tokens = 20", "output_tokens = { median = -1.0, sigma = 0.3 }");
    let e = compile(&parse(&bad_dist, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    assert!(e.contains("steps[0].output_tokens"), "{e}");
}

#[test]
fn user_file_clashing_with_builtin_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("dup.toml");
    std::fs::write(&f, MINIMAL.replace("name = \"tiny\"", "name = \"simple_query\"")).unwrap();
    let e = ScenarioSet::with_files(&[f]).unwrap_err().to_string();
    assert!(e.contains("already used by scenario 'simple_query'"), "{e}");
}

#[test]
fn set_hash_changes_with_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("tiny.toml");
    std::fs::write(&f, MINIMAL).unwrap();
    let with = ScenarioSet::with_files(std::slice::from_ref(&f)).unwrap();
    assert_ne!(with.hash(), set().hash());
    assert_eq!(set().hash(), set().hash());
    std::fs::write(&f, MINIMAL.replace("output_tokens = 20", "output_tokens = 21")).unwrap();
    assert_ne!(ScenarioSet::with_files(&[f]).unwrap().hash(), with.hash());
}

/// Scenario files that passed validation before the limits and drove `gen` past 4 GiB, into an
/// endless loop, or into wrong output (fixtures/scenarios/README.md has the measurements):
/// (file, the step path and bound the error must name).
pub(super) const HOSTILE: &[(&str, &str, &[&str])] = &[
    (
        "nested_repeat",
        include_str!("../../fixtures/scenarios/nested_repeat.toml"),
        &["steps[0].steps[0]: up to 1,000,000 spans per trace (expected 1,000,000); the limit is 100,000"],
    ),
    (
        "parallel_fanout",
        include_str!("../../fixtures/scenarios/parallel_fanout.toml"),
        &["steps[0]: up to 4,000,000 spans per trace", "the limit is 100,000"],
    ),
    (
        "uniform_repeat_tail",
        include_str!("../../fixtures/scenarios/uniform_repeat_tail.toml"),
        &["steps[0].repeat = { min = 0, max = 2000 }: draws up to 2,000; the limit is 1,000 repetitions"],
    ),
    (
        "lognormal_repeat",
        include_str!("../../fixtures/scenarios/lognormal_repeat.toml"),
        &["steps[0].repeat = { median = 1, sigma = 3.7 }: draws up to 5.946e13", "the limit is 1,000 repetitions"],
    ),
    (
        "empty_repeat_loop",
        include_str!("../../fixtures/scenarios/empty_repeat_loop.toml"),
        &["steps[0].steps[0].steps[0]: starts up to 2,002,001 steps per trace", "the limit is 1,000,000"],
    ),
    (
        "huge_documents",
        include_str!("../../fixtures/scenarios/huge_documents.toml"),
        &["steps[0].documents = 1e9: draws up to 1,000,000,000; the limit is 1,000 documents"],
    ),
    (
        "documents_times_doc_chars",
        include_str!("../../fixtures/scenarios/documents_times_doc_chars.toml"),
        &["steps[0]: up to 25.77 GB per trace; the limit is 256.00 MB"],
    ),
    (
        "huge_system_prompt",
        include_str!("../../fixtures/scenarios/huge_system_prompt.toml"),
        &["agent.system_prompt_chars = 1e10: draws up to 1e10", "the limit is 16,777,216 characters (16 MiB)"],
    ),
    (
        "huge_user_prompt",
        include_str!("../../fixtures/scenarios/huge_user_prompt.toml"),
        &["agent.user_prompt_chars = 5e9", "the limit is 16,777,216 characters"],
    ),
    (
        "lognormal_sigma_prompt",
        include_str!("../../fixtures/scenarios/lognormal_sigma_prompt.toml"),
        &[
            "agent.system_prompt_chars = { median = 1000, sigma = 6 }: draws up to 2.171e25",
            "median × e^(8.572 × sigma)",
        ],
    ),
    (
        "history_copies",
        include_str!("../../fixtures/scenarios/history_copies.toml"),
        &["steps[0]: up to 64.80 GB per trace; the limit is 256.00 MB"],
    ),
    (
        "huge_duration",
        include_str!("../../fixtures/scenarios/huge_duration.toml"),
        &["steps[0].duration_ms = 1e300", "the limit is 86,400,000 ms (24 h)"],
    ),
    (
        "long_trace",
        include_str!("../../fixtures/scenarios/long_trace.toml"),
        &["steps[0]: lasts up to 10 days per trace; the limit is 7 days"],
    ),
    (
        "token_overflow",
        include_str!("../../fixtures/scenarios/token_overflow.toml"),
        &["steps[0].output_tokens = 1e19", "the limit is 10,000,000 tokens"],
    ),
    (
        "tool_call_fanout",
        include_str!("../../fixtures/scenarios/tool_call_fanout.toml"),
        &["steps[0].tool_calls names 65 tools: at most 64 per answer"],
    ),
    (
        "long_description",
        include_str!("../../fixtures/scenarios/long_description.toml"),
        &["agent.description is 1995 bytes long: at most 1024"],
    ),
    (
        "tool_name_injection",
        include_str!("../../fixtures/scenarios/tool_name_injection.toml"),
        &["steps[0].tool_calls[0] = ", "a tool name is 1 to 64 ASCII letters, digits, '_' or '-'"],
    ),
    (
        "repeat_billion",
        include_str!("../../fixtures/scenarios/repeat_billion.toml"),
        &["steps[0].repeat = { min = 1, max = 1e9 }"],
    ),
];

#[test]
fn hostile_scenarios_are_refused_naming_scenario_step_and_bound() {
    assert!(HOSTILE.len() >= 12);
    for (name, text, needles) in HOSTILE {
        let origin = format!("{name}.toml");
        let s = parse(text, &origin).unwrap_or_else(|e| panic!("{name} parses: {e}"));
        let e = compile(&s, &origin).expect_err(name).to_string();
        assert!(e.starts_with(&format!("{name}.toml: scenario '{name}': ")), "{e}");
        for n in *needles {
            assert!(e.contains(n), "{name}: {e:?} lacks {n:?}");
        }
        assert!(!e.contains('\n'), "{name}: one line: {e:?}");
    }
}

#[test]
fn builtins_are_far_inside_every_limit() {
    for c in &set().scenarios {
        let b = c.bounds;
        let name = c.name();
        assert!(b.spans.expected > 4.0 && b.spans.expected <= b.spans.max && b.spans.max <= 100.0, "{name}: {b:?}");
        assert!(b.bytes.expected > 30e3 && b.bytes.expected <= b.bytes.max && b.bytes.max <= 8e6, "{name}: {b:?}");
        assert!(b.step_runs <= 250.0 && b.duration_ms <= 100_000.0, "{name}: {b:?}");
    }
}

/// MINIMAL with `from` replaced by `to`, compiled: the error message.
fn refused(from: &str, to: &str) -> String {
    let text = MINIMAL.replace(from, to);
    assert_ne!(text, MINIMAL, "{from:?} is in MINIMAL");
    let s = parse(&text, "t.toml").unwrap_or_else(|e| panic!("{to}: {e}"));
    compile(&s, "t.toml").expect_err(to).to_string()
}

#[test]
fn every_field_has_a_bound() {
    let llm = "kind = \"llm\"\noutput_tokens = 20";
    for (from, to, needle) in [
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\nduration_ms = 0",
            "steps[0].duration_ms = 0: a step's span lasts a positive time",
        ),
        (llm, "kind = \"llm\"\noutput_tokens = 20\nduration_ms = { min = 0, max = 5 }", "every value must be > 0"),
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\nduration_ms = { median = 1000, sigma = 5 }",
            "the limit is 86,400,000 ms (24 h)",
        ),
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\nduration_ms = inf",
            "steps[0].duration_ms = inf: must be a finite number >= 0",
        ),
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\ncontext_tokens = 2e7",
            "steps[0].context_tokens = 2e7: draws up to 20,000,000",
        ),
        (llm, "kind = \"llm\"\noutput_tokens = 20\nrepeat = -1", "steps[0].repeat = -1: must be a finite number >= 0"),
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\nprobability = nan",
            "steps[0].probability = NaN: must be between 0 and 1",
        ),
        (llm, "kind = \"llm\"\noutput_tokens = 20\nerror_rate = 1.5", "steps[0].error_rate = 1.5"),
        (
            llm,
            "kind = \"llm\"\noutput_tokens = 20\nmodel = \"gpt\\nx\"",
            "steps[0].model holds the control character '\\n'",
        ),
        (
            llm,
            "kind = \"embeddings\"\nmodel = \"e\"\ninput_tokens = 5\ndimensions = 0",
            "steps[0].dimensions = 0: must be between 1 and 65536",
        ),
        (
            llm,
            "kind = \"embeddings\"\nmodel = \"e\"\ninput_tokens = 5\ndimensions = 70000",
            "steps[0].dimensions = 70000",
        ),
        (
            llm,
            "kind = \"tool\"\ntool = \"get weather\"\nresult_chars = 5",
            "steps[0].tool = \"get weather\": a tool name is",
        ),
        (llm, "kind = \"tool\"\ntool = \"t\"\nresult_chars = 5\ncontext_share = 2", "steps[0].context_share = 2"),
        (
            llm,
            "kind = \"retrieval\"\ndata_source = \"kb\"\ndocuments = { median = 10, sigma = 1 }\ndoc_chars = 5",
            "draws up to 52,817",
        ),
        (
            "model = \"gpt-4o-mini\"",
            &format!("model = \"{}\"", "m".repeat(257)),
            "agent.model is 257 bytes long: at most 256",
        ),
        (
            "user_prompt_chars = 50",
            "user_prompt_chars = { median = 1e6, sigma = 1 }",
            "agent.user_prompt_chars = { median = 1000000, sigma = 1 }",
        ),
        ("name = \"svc\"", "name = \"svc\"\nscope = \"\\u0007\"", "service.scope holds the control character"),
        ("name = \"tiny\"", "name = \"tiny\"\nshort = \"a,b\"", "short = \"a,b\": must be 1 to 256 ASCII letters"),
        (
            "name = \"tiny\"",
            "name = \"tiny\"\nmax_content_bytes = 100",
            "max_content_bytes = 100: must be between 1024 and 16777216",
        ),
    ] {
        let e = refused(from, to);
        assert!(e.contains(needle), "{to:?}: {e:?} lacks {needle:?}");
        assert!(e.starts_with("t.toml: scenario 'tiny': "), "{e}");
    }
}

#[test]
fn nesting_and_services_are_bounded() {
    let mut text = MINIMAL.replace("[[steps]]\nkind = \"llm\"\noutput_tokens = 20", "");
    let mut path = String::from("steps");
    for _ in 0..10 {
        text.push_str(&format!("[[{path}]]\nkind = \"sequence\"\n"));
        path.push_str(".steps");
    }
    text.push_str(&format!("[[{path}]]\nkind = \"llm\"\noutput_tokens = 1\n"));
    let e = compile(&parse(&text, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    let deepest = format!("steps{}: steps nest deeper than 8 levels", "[0].steps".repeat(9));
    assert!(e.ends_with(&deepest), "{e}");

    let mut text = MINIMAL.to_string();
    for i in 0..70 {
        text.push_str(&format!(
            "[[steps]]\nkind = \"agent\"\n[steps.agent]\nname = \"a{i}\"\nmodel = \"m\"\nsystem_prompt_chars = 1\nuser_prompt_chars = 1\n\
             [steps.service]\nname = \"s{i}\"\n[[steps.steps]]\nkind = \"llm\"\noutput_tokens = 1\n"
        ));
    }
    let e = compile(&parse(&text, "t.toml").unwrap(), "t.toml").unwrap_err().to_string();
    assert!(e.contains("steps[64].service: more than 64 services"), "{e}");
}

#[test]
fn type_errors_name_line_column_key_path_and_accepted_forms() {
    let nested = MINIMAL.replace(
        "[[steps]]\nkind = \"llm\"\noutput_tokens = 20",
        "[[steps]]\nkind = \"llm\"\noutput_tokens = 20\n[[steps]]\nkind = \"sequence\"\n[[steps.steps]]\nkind = \"retrieval\"\n\
         data_source = \"kb\"\ndocuments = 2\ndoc_chars = \"long\"",
    );
    let e = parse(&nested, "t.toml").unwrap_err().to_string();
    assert_eq!(
        e,
        "t.toml: line 19, column 13: steps[1].steps[0].doc_chars: invalid type: string \"long\", expected a number, \
         { median = M, sigma = S } or { min = A, max = B }"
    );
    let e = parse(&MINIMAL.replace("output_tokens = 20", "output_tokens = { mean = 3 }"), "t.toml").unwrap_err();
    assert!(e.to_string().contains("steps[0].output_tokens: unknown key `mean`: expected a number,"), "{e}");
    let e = parse(&MINIMAL.replace("name = \"svc\"", "name = 5"), "t.toml").unwrap_err().to_string();
    assert_eq!(e, "t.toml: line 4, column 8: service.name: invalid type: integer `5`, expected a string");
}
