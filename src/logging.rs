//! A minimal `log` backend: one line per message on stderr, `warning: …`, filtered by
//! `--log-level` / `LOG_LEVEL`. Progress bars are drawn on stderr too; messages go above them
//! through indicatif's suspend when a bar is active (see `progress`).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = match r.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug | Level::Trace => "debug",
        };
        crate::progress::println_above(&format!("{level}: {}", r.args()));
    }

    fn flush(&self) {}
}

/// Installs the logger (once per process; later calls only change the level).
pub fn init(level: LevelFilter) {
    static LOGGER: Stderr = Stderr;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
