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
