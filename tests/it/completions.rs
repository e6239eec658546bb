//! `traceblast completions`.

use crate::util::*;

#[test]
fn completion_scripts_name_the_commands_and_flags() {
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef traceblast"), ("fish", "complete -c traceblast")]
    {
        let o = run(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let s = stdout(&o);
        assert!(s.contains(marker), "{shell} script lacks {marker:?}");
        for word in ["replay", "gen", "max-in-flight", "traces-per-request"] {
            assert!(s.contains(word), "{shell} script lacks {word}");
        }
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tcsh"));
}

#[test]
fn completions_offer_values() {
    let bash = stdout(&run(&["completions", "bash"]));
    for values in [
        "otlp phoenix phoenix-local mlflow langfuse langsmith braintrust honeycomb",
        "none gzip zstd",
        "error warning info debug",
        "simple_query=1 single_service_search=1 delegated_booking=1 multi_service_complex=1",
    ] {
        assert!(bash.contains(&format!("compgen -W \"{values}\"")), "bash offers no {values:?}");
    }
    let fish = stdout(&run(&["completions", "fish"]));
    assert!(fish.contains("-l platform") && fish.contains("braintrust"), "fish offers platforms");
    // The values stay validated by traceblast itself, with its own message.
    let o = run(&["replay", "x.zst", "--compression", "brotli"]);
    assert_bad_input(&o, &["--compression 'brotli'", "none, gzip or zstd"]);
}
