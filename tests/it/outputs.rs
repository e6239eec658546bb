//! Outputs never replace what is not theirs: device nodes are written into, symlinks followed,
//! a failed command leaves none of its outputs, temporary files never outlive the command.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::*;

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn gen_writes_into_a_device_node_instead_of_replacing_it() {
    let dir = tempfile::tempdir().unwrap();
    // A null device of our own (major 1, minor 3), never the real /dev/null.
    let node = dir.path().join("null");
    let made = std::process::Command::new("mknod").arg(&node).args(["c", "1", "3"]).status().unwrap();
    assert!(made.success(), "mknod needs root, which this project's tests run as");
    let o = run(&["gen", "-q", "--count", "5", "-o", node.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = std::fs::symlink_metadata(&node).unwrap();
    assert!(meta.file_type().is_char_device(), "the node is still a device, not a regular file");
    assert_eq!(listing(dir.path()), vec!["null"], "no temporary file left beside it");
}

#[test]
fn a_symlinked_output_is_followed_and_outputs_are_0644() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.zst");
    let link = dir.path().join("link.zst");
    std::os::unix::fs::symlink("real.zst", &link).unwrap();
    let o = run(&["gen", "-q", "--count", "3", "-o", link.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(run(&["inspect", real.to_str().unwrap()]).status.success(), "the corpus went where the link points");
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn a_failed_command_leaves_none_of_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = d.join("r.json");
    std::fs::write(&r, serde_json::to_string(&crate::report::synthetic_report(&|_| true, 1.0)).unwrap()).unwrap();
    // --html names a directory: refused before anything is written, m.json included.
    std::fs::create_dir(d.join("pages")).unwrap();
    let o = run_in(d, &["report", "merge", "r.json", "r.json", "-o", "m.json", "--html", "pages"]);
    assert_bad_input(&o, &["--html", "pages", "is a directory"]);
    assert!(!d.join("m.json").exists(), "no merged report left behind");
    // replay checks its report paths before sending anything.
    let o = run_in(d, &["replay", "nope.zst", "--report", "pages", "--endpoint", "http://127.0.0.1:9/v1/traces"]);
    assert_bad_input(&o, &["--report", "pages", "is a directory"]);
    let o = run_in(d, &["gen", "-q", "--count", "3", "-o", "no/such/dir/c.zst"]);
    assert_bad_input(&o, &["c.zst", "does not exist"]);
    assert_eq!(listing(d), vec!["pages", "r.json"]);
    for e in listing(d) {
        assert!(!e.contains(".tmp"), "{e}");
    }
}

#[test]
fn a_second_interrupt_during_gen_still_removes_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = std::process::Command::new(bin())
        .args(["gen", "-q", "--count", "1M", "-o", "big.zst"])
        .current_dir(d)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the temporary file to appear (the work has begun), then interrupt twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !listing(d).iter().any(|f| f.starts_with(".big.zst.tb-")) {
        assert!(Instant::now() < deadline, "gen never started writing");
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..2 {
        let pid = child.id().to_string();
        std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(listing(d), Vec::<String>::new(), "nothing left: no corpus, no temporary file");
}

#[test]
fn a_temporary_file_orphaned_by_sigkill_is_removed_by_the_next_gen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = std::process::Command::new(bin())
        .args(["gen", "-q", "--count", "1M", "-o", "c.zst"])
        .current_dir(d)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !listing(d).iter().any(|f| f.starts_with(".c.zst.tb-")) {
        assert!(Instant::now() < deadline, "gen never started writing");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(listing(d).len(), 1, "SIGKILL leaves the temporary file: {:?}", listing(d));
    let o = run_in(d, &["gen", "-q", "--count", "2", "-o", "c.zst"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(listing(d), vec!["c.zst"], "the orphan of the killed gen is gone");
}

#[test]
fn write_errors_are_one_line_without_temporary_names_or_repeated_causes() {
    let dir = tempfile::tempdir().unwrap();
    // /proc accepts no new files: the temporary file cannot be created.
    let o = run_in(dir.path(), &["gen", "-q", "--count", "2", "-o", "/proc/version"]);
    assert_bad_input(&o, &["cannot write /proc/version"]);
    let err = stderr(&o);
    assert!(!err.contains(".tb-") && !err.contains(".tmp"), "{err}");
    for o in [
        run_in(dir.path(), &["replay", "missing.zst"]),
        run_in(dir.path(), &["inspect", "missing.zst"]),
        run_in(dir.path(), &["report", "missing.json"]),
    ] {
        assert_bad_input(&o, &["missing", "No such file"]);
        assert_eq!(stderr(&o).matches("No such file").count(), 1, "{}", stderr(&o));
    }
}

#[test]
fn a_missing_scenario_file_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["gen", "-q", "--count", "2", "--scenarios", "missing.toml", "-o", "c.zst"]);
    assert_bad_input(&o, &["missing.toml", "No such file"]);
    assert_eq!(stderr(&o).matches("No such file").count(), 1, "{}", stderr(&o));
}
