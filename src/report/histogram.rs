//! The histograms a report carries: HdrHistogram V2, base64 — written by [`encode_histogram`],
//! read back by [`decode_histogram`], which checks an encoding before the hdrhistogram crate
//! sees it.
//!
//! The crate's deserializer trusts its input's header: it allocates a buffer of the payload
//! length the header states (up to 4 GiB, from a 60-byte string) and a counts array sized by
//! the header's value range and precision, and a zero run of `i64::MIN` overflows a negation.
//! So the header is read here first: the payload must be exactly the bytes that follow it, the
//! counts array at most [`MAX_BUCKETS`], and the payload is walked once to check that its runs
//! stay inside that array and that the counts add up without overflowing.

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

/// Most buckets (counters of 8 bytes) one decoded histogram may have: 8 MiB. traceblast's
/// latency histograms have 23,552 and its per-second ones 368; 3 significant digits over any
/// range fit in 60,000, 4 digits in 900,000.
pub const MAX_BUCKETS: u64 = 1 << 20;

/// An uncompressed V2 encoding (of 8-byte counts).
const V2_COOKIE: u32 = 0x1c84_9313;
/// A DEFLATE-compressed V2 encoding, which traceblast does not write.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Cookie, payload length, normalizing offset, significant digits, lowest and highest
/// trackable value, integer-to-double ratio.
const HEADER_LEN: usize = 40;

/// Serializes a histogram as HdrHistogram V2, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf).expect("in-memory serialization");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Parses a histogram written by [`encode_histogram`] (any uncompressed HdrHistogram V2
/// encoding of at most [`MAX_BUCKETS`] buckets).
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("histogram is not base64: {e}"))?;
    check_v2(&bytes)?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("histogram does not decode: {e}"))
}

/// The number of buckets the histogram `s` declares, after the checks of [`decode_histogram`]
/// (without allocating them).
pub fn declared_buckets(s: &str) -> Result<u64, String> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("histogram is not base64: {e}"))?;
    check_v2(&bytes)
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks a V2 encoding's header and payload; returns the buckets it declares.
fn check_v2(b: &[u8]) -> Result<u64, String> {
    if b.len() < HEADER_LEN {
        return Err(format!("histogram is {} bytes, shorter than its {HEADER_LEN}-byte header", b.len()));
    }
    match be_u32(b, 0) {
        V2_COOKIE => {}
        V2_COMPRESSED_COOKIE => {
            return Err("histogram is compressed (V2 DEFLATE), which traceblast does not read".into());
        }
        other => return Err(format!("histogram is not HdrHistogram V2 (cookie {other:#010x})")),
    }
    let payload = &b[HEADER_LEN..];
    let stated = be_u32(b, 4);
    if u64::from(stated) != payload.len() as u64 {
        return Err(format!("histogram header states {stated} payload bytes, {} follow", payload.len()));
    }
    let (digits, low, high) = (be_u32(b, 12), be_u64(b, 16), be_u64(b, 24));
    let buckets = buckets(digits, low, high)
        .ok_or_else(|| format!("histogram has invalid bounds ({low} to {high}, {digits} significant digits)"))?;
    if buckets > MAX_BUCKETS {
        return Err(format!(
            "histogram declares {buckets} buckets ({low} to {high}, {digits} significant digits), more than the {MAX_BUCKETS} traceblast reads"
        ));
    }
    check_payload(payload, buckets)?;
    Ok(buckets)
}

/// The length of the counts array hdrhistogram allocates for these bounds (its
/// `new_with_bounds`), or `None` when it would refuse them.
fn buckets(digits: u32, low: u64, high: u64) -> Option<u64> {
    // ceil(log2(2 × 10^digits)) for 0..=5 digits.
    let sub_bucket_magnitude = *[1u32, 5, 8, 11, 15, 18].get(digits as usize)?;
    if !(1..=u64::MAX / 2).contains(&low) || high < 2 * low {
        return None;
    }
    // As the crate computes it (through f64), so the count matches what it allocates.
    let unit_magnitude = (low as f64).log2().floor() as u32;
    if unit_magnitude + sub_bucket_magnitude > 63 {
        return None;
    }
    let mut smallest_untrackable = 1u64 << (unit_magnitude + sub_bucket_magnitude);
    let mut needed = 1u64;
    while smallest_untrackable <= high {
        if smallest_untrackable > u64::MAX / 2 {
            needed += 1;
            break;
        }
        smallest_untrackable <<= 1;
        needed += 1;
    }
    Some((needed + 1) << (sub_bucket_magnitude - 1))
}

/// Walks the payload (zig-zag LEB128 varints of at most 9 bytes, the 9th holding 8 bits: a
/// count, or a negative run of empty buckets) as the crate decodes it.
fn check_payload(mut p: &[u8], buckets: u64) -> Result<(), String> {
    let (mut index, mut total) = (0u64, 0u64);
    while !p.is_empty() {
        let mut v = 0u64;
        let mut used = 0;
        loop {
            let byte = *p.get(used).ok_or("histogram payload ends inside a number")?;
            if used == 8 {
                v |= u64::from(byte) << 56;
                used += 1;
                break;
            }
            v |= u64::from(byte & 0x7f) << (7 * used);
            used += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        p = &p[used..];
        let n = ((v >> 1) as i64) ^ -((v & 1) as i64);
        if n < 0 {
            index = index.saturating_add(n.unsigned_abs());
            if index > buckets {
                return Err(format!("histogram payload runs past its {buckets} buckets"));
            }
        } else {
            if n > 0 && index >= buckets {
                return Err(format!("histogram payload has a count past its {buckets} buckets"));
            }
            total = total.checked_add(n as u64).ok_or("histogram counts add up to more than 2^64")?;
            index += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    /// A V2 header for `payload` with these bounds, the payload length as stated.
    fn header(stated_len: u32, digits: u32, low: u64, high: u64) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(V2_COOKIE.to_be_bytes());
        h.extend(stated_len.to_be_bytes());
        h.extend(0u32.to_be_bytes());
        h.extend(digits.to_be_bytes());
        h.extend(low.to_be_bytes());
        h.extend(high.to_be_bytes());
        h.extend(1.0f64.to_be_bytes());
        h
    }

    #[test]
    fn histograms_round_trip_exactly() {
        let mut h = crate::stats::histogram();
        for v in [1u64, 10, 100, 1_000, 12_345, 999_999, 3_000_000] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(declared_buckets(&encode_histogram(&h)), Ok(h.distinct_values() as u64));
        assert!(decode_histogram("!!").is_err());
    }

    #[test]
    fn declared_buckets_are_what_hdrhistogram_allocates() {
        for (digits, low, high) in
            [(3, 1, 3_600_000_000), (1, 1, 60_000_000), (0, 1, 2), (5, 1000, u64::MAX), (2, 7, 1 << 40)]
        {
            let h = Histogram::<u64>::new_with_bounds(low, high, digits as u8).unwrap();
            assert_eq!(buckets(digits, low, high), Some(h.distinct_values() as u64), "{digits} {low} {high}");
        }
    }

    #[test]
    fn a_header_stating_4_gib_of_payload_is_refused_before_allocating() {
        // 60 base64 characters that made hdrhistogram allocate 4.2 GB.
        let e = decode_histogram(&b64(&header(u32::MAX, 3, 1, 3_600_000_000))).unwrap_err();
        assert_eq!(e, "histogram header states 4294967295 payload bytes, 0 follow");
    }

    #[test]
    fn huge_bounds_runs_and_counts_are_errors() {
        let e = decode_histogram(&b64(&header(0, 5, 1, u64::MAX))).unwrap_err();
        assert!(
            e.starts_with("histogram declares 6291456 buckets (1 to 18446744073709551615, 5 significant digits)"),
            "{e}"
        );
        let e = decode_histogram(&b64(&header(0, 6, 1, 100))).unwrap_err();
        assert_eq!(e, "histogram has invalid bounds (1 to 100, 6 significant digits)");
        // A zero run of i64::MIN: nine 0xff bytes (zig-zag 2^64 - 1).
        let mut run = header(9, 3, 1, 1000);
        run.extend([0xff; 9]);
        assert_eq!(decode_histogram(&b64(&run)).unwrap_err(), "histogram payload runs past its 2048 buckets");
        // Two counts of 2^63 - 1 each, then one more: their sum passes 2^64.
        let mut big = header(27, 3, 1, 1000);
        for _ in 0..3 {
            big.extend([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        }
        assert_eq!(decode_histogram(&b64(&big)).unwrap_err(), "histogram counts add up to more than 2^64");
        let mut cut = header(1, 3, 1, 1000);
        cut.push(0x80);
        assert_eq!(decode_histogram(&b64(&cut)).unwrap_err(), "histogram payload ends inside a number");
        let mut compressed = header(0, 3, 1, 1000);
        compressed[3] = 0x14;
        assert!(decode_histogram(&b64(&compressed)).unwrap_err().contains("compressed"));
        assert_eq!(
            decode_histogram(&b64(&[1, 2, 3])).unwrap_err(),
            "histogram is 3 bytes, shorter than its 40-byte header"
        );
    }
}
