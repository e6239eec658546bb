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
