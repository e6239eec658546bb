//! Retry policy, per the OTLP/HTTP specification: retry only 429, 502, 503, 504 and
//! connection failures; honour `Retry-After` (seconds or an HTTP-date); otherwise back off
//! exponentially with jitter. A `partial_success` or any other 4xx is final.

use std::time::{Duration, SystemTime};

use crate::stats::{ErrorClass, ErrorKind, Outcome};

/// First backoff.
const BASE: Duration = Duration::from_millis(200);
/// Longest backoff or honoured `Retry-After`.
const CAP: Duration = Duration::from_secs(30);

/// Whether an attempt that ended in `o` may be retried.
pub fn retryable(o: Outcome) -> bool {
    match o {
        Outcome::Status(s) => matches!(s, 429 | 502 | 503 | 504),
        // A certificate problem does not go away by retrying.
        Outcome::Error(c) => {
            matches!(c.kind(), ErrorKind::Connect | ErrorKind::Io)
                && !matches!(c, ErrorClass::TlsUntrusted | ErrorClass::TlsName | ErrorClass::TlsExpired)
        }
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(CAP));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO).min(CAP))
}

/// Backoff before retry number `retry` (1-based) without a `Retry-After`: 200 ms × 2^(retry−1),
/// capped, with "equal jitter" (half fixed, half random) from `unit` in [0, 1).
pub fn backoff(retry: u32, unit: f64) -> Duration {
    let exp = BASE.saturating_mul(1u32 << (retry.saturating_sub(1)).min(16)).min(CAP);
    exp / 2 + exp.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_outcomes_retry() {
        for s in [429, 502, 503, 504] {
            assert!(retryable(Outcome::Status(s)), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 415, 500] {
            assert!(!retryable(Outcome::Status(s)), "{s}");
        }
        assert!(retryable(Outcome::Error(ErrorClass::Refused)));
        assert!(retryable(Outcome::Error(ErrorClass::Reset)));
        assert!(!retryable(Outcome::Error(ErrorClass::Timeout)));
        assert!(!retryable(Outcome::Error(ErrorClass::TlsUntrusted)));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("99999", now), Some(CAP));
    }

    #[test]
    fn backoff_grows_with_jitter_bounds() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(100));
        let top = backoff(1, 0.999_999);
        assert!(top > Duration::from_millis(199) && top < Duration::from_millis(200), "{top:?}");
        assert!(backoff(3, 0.5) > backoff(2, 0.5));
        assert!(backoff(40, 1.0) <= CAP);
    }
}
