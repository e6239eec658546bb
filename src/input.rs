//! The one way traceblast opens a file the user names as an input (a corpus, a report, a
//! Collector log or metrics file, `.env`): only a regular file (or a symlink to one) is read,
//! and that is decided without blocking — a FIFO would make a plain open wait for a writer.

use std::fs::File;
use std::path::Path;

use crate::units::thousands;

/// Opens a file the user named as an input (a report, a Collector log or metrics, `.env`). Only
/// a regular file (or a symlink to one) is accepted, and that is decided before anything is
/// read: the file is opened without blocking and its type checked on the open descriptor, so a
/// FIFO is refused at once (a plain open waits for a writer) and a directory or device gets a
/// message saying what it is. Errors carry no path: callers name the file.
pub fn open_input(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if is_fifo(&kind) {
        "a named pipe (FIFO); save the input to a file first"
    } else {
        "not a regular file"
    };
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {what}")))
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(kind)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Reads a whole input file (see [`open_input`]) of at most `max` bytes.
pub fn read_input(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_input(path)?;
    let len = file.metadata()?.len();
    let too_large = |n: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {} bytes, more than the {}-byte limit", thousands(n), thousands(max)),
        )
    };
    if len > max {
        return Err(too_large(len));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(too_large(out.len() as u64));
    }
    Ok(out)
}
