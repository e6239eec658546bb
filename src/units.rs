//! Parsing of the quantities users type: counts (`10k`, `2.5M`), byte sizes (`4MiB`, `512KB`)
//! and durations (`30s`, `5m`, `250ms`). Errors quote the value as typed.

use std::time::Duration;

/// Parses a positive count: `500`, `10k`, `2.5M`, `1G` (decimal multipliers, `_` allowed).
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('g' | 'G' | 'b' | 'B') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.parse().map_err(|_| format!("'{s}' is not a count (examples: 500, 10k, 2.5M)"))?;
    let total = v * mult;
    if !total.is_finite() || total < 1.0 {
        return Err(format!("'{s}' must be at least 1"));
    }
    if total.fract() != 0.0 {
        return Err(format!("'{s}' is not a whole number"));
    }
    if total > 1e15 {
        return Err(format!("'{s}' is too large"));
    }
    Ok(total as u64)
}

/// Parses a byte size: `1048576`, `512KB`, `4MiB`, `10MB`, `1GiB` (KB/MB decimal, KiB/MiB
/// binary, a bare `k`/`M` binary as in most tools' flags).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("'{s}' is not a size (examples: 4MiB, 512KB, 1048576)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("'{s}': unknown unit '{other}' (use B, KB, MB, GB, KiB, MiB, GiB)")),
    };
    let total = v * mult;
    if !total.is_finite() || total < 1.0 {
        return Err(format!("'{s}' must be at least 1 byte"));
    }
    Ok(total.round() as u64)
}

/// Parses a duration no longer than `max`: `30s`, `5m`, `1h30m`, `250ms`, or bare seconds
/// (`2.5`). Every duration a user types has a maximum, so no later arithmetic (a schedule, a
/// deadline, `Duration::from_secs_f64`) can overflow; the error states it.
pub fn parse_duration(s: &str, max: Duration) -> Result<Duration, String> {
    let t = s.trim();
    let d = if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return Err(format!("'{s}' must be a non-negative duration"));
        }
        // Compared in f64 first: `Duration::from_secs_f64` panics above ~1.8e19 s.
        if secs > max.as_secs_f64() {
            return Err(too_long(s, max));
        }
        Duration::from_secs_f64(secs)
    } else {
        humantime::parse_duration(t).map_err(|e| format!("'{s}' is not a duration ({e}; examples: 30s, 5m, 250ms)"))?
    };
    if d > max {
        return Err(too_long(s, max));
    }
    Ok(d)
}

fn too_long(s: &str, max: Duration) -> String {
    format!("'{s}' is longer than the maximum, {}", humantime::format_duration(max))
}

/// One day: the longest delay a fault, a wait or a timeout may take.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Formats a byte count for people: `1.23 MB`.
pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} KB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

/// Formats an integer with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A rate with at most three decimals and no trailing zeros: `13.749`, `500`.
pub fn trim_rate(r: f64) -> String {
    let s = format!("{r:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Microseconds as a short human duration.
pub fn us(v: u64) -> String {
    if v >= 10_000_000 {
        format!("{:.1} s", v as f64 / 1e6)
    } else if v >= 1_000_000 {
        format!("{:.2} s", v as f64 / 1e6)
    } else if v >= 1_000 {
        format!("{:.2} ms", v as f64 / 1e3)
    } else {
        format!("{v} µs")
    }
}

/// `+12.50 %`, or `n/a` when BASE is 0.
pub fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:+.2} %")).unwrap_or_else(|| "n/a".into())
}

/// A number with at most one decimal, without a trailing `.0`: `2`, `2.5`.
pub fn one_decimal(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// `2h 46m 40s`, rounded to the nearest second (to the millisecond under a second).
pub fn human_duration(secs: f64) -> String {
    let secs = secs.clamp(0.0, 1e12);
    let d = if secs >= 1.0 {
        Duration::from_secs(secs.round() as u64)
    } else {
        Duration::from_millis((secs * 1e3).round() as u64)
    };
    humantime::format_duration(d).to_string()
}

/// `362.0 KB/s (2.9 Mbit/s)`.
pub fn human_rate(bytes_per_s: f64) -> String {
    let bits = bytes_per_s * 8.0;
    let bits = if bits >= 1e9 { format!("{:.1} Gbit/s", bits / 1e9) } else { format!("{:.1} Mbit/s", bits / 1e6) };
    format!("{}/s ({bits})", human_bytes(bytes_per_s.round() as u64))
}

/// `1:02:03` or `2:03`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Milliseconds as a short human duration: `850 ms`, `2.5 s`.
pub fn ms(v: u64) -> String {
    if v >= 1_000 { format!("{:.1} s", v as f64 / 1e3) } else { format!("{v} ms") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count("500"), Ok(500));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("2.5M"), Ok(2_500_000));
        assert_eq!(parse_count("1_000"), Ok(1000));
        for bad in ["0", "-5", "abc", "1.5", "", "0.0001k"] {
            let e = parse_count(bad).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("512KB"), Ok(512_000));
        assert_eq!(parse_bytes("10MB"), Ok(10_000_000));
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert!(parse_bytes("4XB").unwrap_err().contains("'4XB'"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s", DAY), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms", DAY), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2.5", DAY), Ok(Duration::from_millis(2500)));
        assert!(parse_duration("soon", DAY).is_err());
        // Over the maximum, however written, is an error naming the value and the maximum
        // (1.8e19 s used to panic in Duration::from_secs_f64).
        for bad in ["1.8e19", "1e300", "86401", "25h", "2days", "100000000000000000000s"] {
            let e = parse_duration(bad, DAY).unwrap_err();
            assert!(e.contains(&format!("'{bad}'")), "{e}");
        }
        assert_eq!(parse_duration("1.8e19", DAY).unwrap_err(), "'1.8e19' is longer than the maximum, 1day");
        assert_eq!(parse_duration("24h", DAY), Ok(DAY));
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(human_bytes(1_500_000), "1.50 MB");
    }
}
