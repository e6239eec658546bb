//! The one way traceblast writes an output file (corpus, JSON report, HTML page, merged report,
//! sink summary): checked before any work, written whole or not at all.
//!
//! - The path is checked first ([`Output::check`]): a directory, a block device, a socket, a
//!   FIFO without a reader, or a missing directory is refused before anything runs, with the
//!   path in the message. A symlink is followed, never replaced: the file it points to is the
//!   target.
//! - A regular file (or a name that does not exist yet) is written to a temporary file beside
//!   the target, synced, and renamed over it only when complete ([`Pending::commit`]). If the
//!   command fails, panics or is interrupted, the temporary file is deleted, so no half-written
//!   file ever carries the output's name.
//! - A character device or a FIFO with a reader (`/dev/null`, `/dev/stdout` in a pipe) is
//!   written into directly, as `zstd -o /dev/null` does: renaming a file over a device node
//!   would replace the node (as root, the Dockerfile's default user).
//! - Every output is created with mode 0644, like any file a user creates.
//! - Temporary files are named `.NAME.tb-PID-RANDOM.tmp`. A second Ctrl-C exits at once
//!   ([`remove_pending`] deletes them first); one orphaned by SIGKILL is deleted by the next
//!   command that writes the same NAME ([`Output::check`] removes those whose process is gone).
//!
//! Several outputs of one command are checked together before the work and committed together
//! after it ([`commit_all`]), so a failure leaves none of them behind.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An output that cannot be written, with its path.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The path is not something an output can go to.
    #[error("{path}: {why}")]
    Refused {
        /// The output path as given.
        path: String,
        /// Why not.
        why: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {cause}")]
    Io {
        /// The output path as given.
        path: String,
        /// The operating system's message: part of this error's text, not a separate source,
        /// so an error chain (`{:#}`) prints it once.
        cause: String,
    },
}

/// What the target path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A regular file or nothing yet: temporary file + rename.
    Replace,
    /// A character device or a FIFO: written into directly.
    Direct,
}

/// A checked output path.
#[derive(Debug, Clone)]
pub struct Output {
    /// The path as the user gave it (for messages).
    shown: PathBuf,
    /// Where the data goes: the path with symlinks resolved.
    target: PathBuf,
    kind: Kind,
}

/// Temporary files being written (and temporary folders in use), deleted by
/// [`remove_pending`] on a forced exit.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary file still being written and every folder given to [`track`]
/// (called before a forced exit, e.g. on a second Ctrl-C, when destructors do not run).
pub fn remove_pending() {
    if let Ok(list) = PENDING.lock() {
        for p in list.iter() {
            let _ = if p.is_dir() { std::fs::remove_dir_all(p) } else { std::fs::remove_file(p) };
        }
    }
}

/// Has a temporary folder deleted on a forced exit too (until [`untrack`]).
pub fn track(dir: &Path) {
    register(dir);
}

/// Forgets a folder given to [`track`] (its owner deletes it).
pub fn untrack(dir: &Path) {
    unregister(dir);
}

fn register(p: &Path) {
    if let Ok(mut list) = PENDING.lock() {
        list.push(p.to_path_buf());
    }
}

fn unregister(p: &Path) {
    if let Ok(mut list) = PENDING.lock() {
        list.retain(|x| x != p);
    }
}

impl Output {
    /// Checks that `path` can take an output, before any work is done.
    pub fn check(path: &Path) -> Result<Output, OutputError> {
        let refuse = |why: String| OutputError::Refused { path: path.display().to_string(), why };
        if path.as_os_str().is_empty() {
            return Err(refuse("an empty path".into()));
        }
        // Follow symlinks: the file a link points to is the output (the link stays a link).
        let target = resolve_links(path).map_err(|e| refuse(format!("cannot follow the link: {e}")))?;
        let kind = match std::fs::metadata(&target) {
            Ok(m) => kind_of(&m, &target).map_err(refuse)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kind::Replace,
            Err(e) => return Err(refuse(e.to_string())),
        };
        if kind == Kind::Replace {
            let dir = parent_dir(&target);
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(refuse(format!("{} is not a directory", dir.display()))),
                Err(_) => return Err(refuse(format!("the directory {} does not exist", dir.display()))),
            }
            remove_orphans(&target);
        }
        Ok(Output { shown: path.to_path_buf(), target, kind })
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Starts writing. Nothing carries the output's name until [`Pending::commit`].
    pub fn create(&self) -> Result<Pending, OutputError> {
        let io = |e: std::io::Error| self.io_error(e);
        match self.kind {
            Kind::Direct => {
                let file = OpenOptions::new().write(true).open(&self.target).map_err(io)?;
                Ok(Pending { out: self.clone(), file: Some(BufWriter::with_capacity(1 << 20, file)), tmp: None })
            }
            Kind::Replace => {
                let (file, tmp) = create_temp(&self.target).map_err(io)?;
                Ok(Pending { out: self.clone(), file: Some(BufWriter::with_capacity(1 << 20, file)), tmp: Some(tmp) })
            }
        }
    }

    /// Writes `bytes` as the whole output.
    pub fn write(&self, bytes: &[u8]) -> Result<(), OutputError> {
        let mut p = self.create()?;
        p.write_all(bytes).map_err(|e| self.io_error(e))?;
        p.commit()
    }

    fn io_error(&self, e: std::io::Error) -> OutputError {
        // tempfile appends ` at path ".NAME.tb-….tmp"`: the user named the output, not that.
        let cause = e.to_string();
        let cause = cause.split(" at path \"").next().unwrap_or_default().to_string();
        OutputError::Io { path: self.shown.display().to_string(), cause }
    }
}

/// Checks `path` and writes `bytes` to it: [`Output::check`] then [`Output::write`].
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    Output::check(path)?.write(bytes)
}

/// Commits several outputs written by one command: all of them, or (on the first failure)
/// none that is left, so a failed command leaves no partial set of outputs behind.
pub fn commit_all(pending: Vec<Pending>) -> Result<(), OutputError> {
    let mut ready = Vec::with_capacity(pending.len());
    for mut p in pending {
        p.finish()?;
        ready.push(p);
    }
    for p in ready {
        p.commit()?;
    }
    Ok(())
}

/// An output being written. Dropped without [`Pending::commit`], it deletes its temporary file.
pub struct Pending {
    out: Output,
    file: Option<BufWriter<File>>,
    /// The temporary file (none when writing into a device or FIFO).
    tmp: Option<PathBuf>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("path", &self.out.shown).finish()
    }
}

impl Pending {
    /// The output's path as given.
    pub fn path(&self) -> &Path {
        &self.out.shown
    }

    /// Flushes and syncs the data (the part of a commit that can fail for lack of space).
    fn finish(&mut self) -> Result<(), OutputError> {
        let Some(w) = self.file.as_mut() else { return Ok(()) };
        w.flush().map_err(|e| self.out.io_error(e))?;
        if self.tmp.is_some() {
            w.get_ref().sync_all().map_err(|e| self.out.io_error(e))?;
        }
        Ok(())
    }

    /// Finishes the output: flushed, synced and renamed over the target.
    pub fn commit(mut self) -> Result<(), OutputError> {
        self.finish()?;
        self.file = None;
        if let Some(tmp) = self.tmp.take() {
            let renamed = std::fs::rename(&tmp, &self.out.target);
            unregister(&tmp);
            if let Err(e) = renamed {
                let _ = std::fs::remove_file(&tmp);
                return Err(self.out.io_error(e));
            }
            // The rename itself is durable once the directory is synced.
            if let Ok(d) = File::open(parent_dir(&self.out.target)) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.as_mut().expect("open until commit").write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.file.as_mut().expect("open until commit").write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().expect("open until commit").flush()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.file = None;
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(&tmp);
            unregister(&tmp);
        }
    }
}

fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `path` with every symlink along it resolved, also when the final target does not exist yet
/// (a dangling link names the file to create).
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&p)?;
                p = if to.is_absolute() { to } else { parent_dir(&p).join(to) };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

#[cfg(unix)]
fn kind_of(m: &std::fs::Metadata, target: &Path) -> Result<Kind, String> {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_file() {
        Ok(Kind::Replace)
    } else if t.is_dir() {
        Err("is a directory; give a file name".into())
    } else if t.is_char_device() {
        Ok(Kind::Direct)
    } else if t.is_fifo() {
        // Opening a FIFO for writing blocks until a reader opens it; refuse instead of hanging.
        use std::os::unix::fs::OpenOptionsExt;
        match OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(target) {
            Ok(_) => Ok(Kind::Direct),
            Err(_) => Err("is a FIFO with no reader; start the reader first".into()),
        }
    } else if t.is_block_device() {
        Err("is a block device; traceblast does not write to disks directly".into())
    } else {
        Err("is not a regular file, a character device or a FIFO".into())
    }
}

#[cfg(not(unix))]
fn kind_of(m: &std::fs::Metadata, _: &Path) -> Result<Kind, String> {
    if m.is_dir() { Err("is a directory; give a file name".into()) } else { Ok(Kind::Replace) }
}

/// `.NAME.tb-` — the prefix of this output's temporary files.
fn temp_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.tb-")
}

fn create_temp(target: &Path) -> std::io::Result<(File, PathBuf)> {
    let prefix = format!("{}{}-", temp_prefix(target), std::process::id());
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = b.tempfile_in(parent_dir(target))?;
    let (file, path) = tmp.keep().map_err(|e| e.error)?;
    register(&path);
    Ok((file, path))
}

/// Deletes temporary files of `target` left by processes that no longer run (killed with
/// SIGKILL mid-write).
fn remove_orphans(target: &Path) {
    let prefix = temp_prefix(target);
    let Ok(entries) = std::fs::read_dir(parent_dir(target)) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".tmp")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn writes_whole_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let o = Output::check(&path).unwrap();
        let mut p = o.create().unwrap();
        p.write_all(b"half").unwrap();
        assert!(!path.exists(), "nothing carries the name before the commit");
        drop(p);
        assert_eq!(listing(dir.path()), Vec::<String>::new(), "an abandoned output leaves nothing");
        write(&path, b"whole").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        assert_eq!(listing(dir.path()), vec!["out.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
    }

    #[test]
    fn refuses_directories_and_missing_directories_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = Output::check(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&dir.path().display().to_string()) && e.contains("is a directory"), "{e}");
        let missing = dir.path().join("no/such/dir/out.json");
        let e = Output::check(&missing).unwrap_err().to_string();
        assert!(e.contains("does not exist") && e.contains("out.json"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_reader_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
        assert!(ok, "mkfifo works");
        let e = Output::check(&fifo).unwrap_err().to_string();
        assert!(e.contains("FIFO with no reader"), "{e}");
    }

    #[test]
    fn orphans_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("c.zst");
        // A pid that cannot exist (above Linux's pid_max) and our own.
        let dead = dir.path().join(".c.zst.tb-4294967-abc.tmp");
        let mine = dir.path().join(format!(".c.zst.tb-{}-xyz.tmp", std::process::id()));
        let other = dir.path().join(".d.zst.tb-4294967-abc.tmp");
        for p in [&dead, &mine, &other] {
            std::fs::write(p, "x").unwrap();
        }
        Output::check(&target).unwrap();
        assert!(!dead.exists() || !cfg!(target_os = "linux"));
        assert!(mine.exists() && other.exists());
    }

    #[test]
    fn commit_all_leaves_nothing_when_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.html");
        let mut pa = Output::check(&a).unwrap().create().unwrap();
        pa.write_all(b"a").unwrap();
        let mut pb = Output::check(&b).unwrap().create().unwrap();
        pb.write_all(b"b").unwrap();
        commit_all(vec![pa, pb]).unwrap();
        assert_eq!(listing(dir.path()), vec!["a.json", "b.html"]);
    }
}
