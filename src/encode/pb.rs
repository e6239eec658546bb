//! A minimal protobuf wire writer that produces canonical encodings.
//!
//! Nested messages are written in place: `begin` reserves one byte for the length, `end`
//! writes the real varint and, when the message turned out longer than 127 bytes, shifts it
//! right by the extra length bytes. The shift is a `memmove` of bytes that are still hot in
//! cache, which is cheaper than computing every message size in a separate pass and keeps a
//! single encoder routine per message type (no size function to keep in sync).

/// Protobuf wire types used by OTLP.
const WT_VARINT: u32 = 0;
const WT_FIXED64: u32 = 1;
const WT_LEN: u32 = 2;
const WT_FIXED32: u32 = 5;

/// Number of bytes `v` takes as a varint.
#[inline]
pub fn varint_len(v: u64) -> usize {
    // 1 + floor(log2(v) / 7), with v = 0 taking one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `v` as a varint.
#[inline]
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Writes into `out` the varint for `v`, returning the number of bytes written.
#[inline]
fn write_varint_at(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Position of an open length-delimited message, returned by [`Writer::begin`].
#[must_use = "every begin needs its end"]
pub struct Open(usize);

/// Appends protobuf fields to a borrowed buffer.
pub struct Writer<'a> {
    /// The output buffer; bytes are only ever appended (or shifted by `end`).
    pub buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Wraps `buf`; existing contents are kept.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    #[inline]
    fn tag(&mut self, field: u32, wt: u32) {
        put_varint(self.buf, u64::from((field << 3) | wt));
    }

    /// A varint field (uint32/uint64/int64/enum/bool). Zero values are still written; callers
    /// skip defaults themselves, as proto3 encoders do.
    #[inline]
    pub fn varint(&mut self, field: u32, v: u64) {
        self.tag(field, WT_VARINT);
        put_varint(self.buf, v);
    }

    /// A `fixed64` field.
    #[inline]
    pub fn fixed64(&mut self, field: u32, v: u64) {
        self.tag(field, WT_FIXED64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `fixed32` field.
    #[inline]
    pub fn fixed32(&mut self, field: u32, v: u32) {
        self.tag(field, WT_FIXED32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `double` field.
    #[inline]
    pub fn double(&mut self, field: u32, v: f64) {
        self.fixed64(field, v.to_bits());
    }

    /// A `bytes` or `string` field.
    #[inline]
    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.tag(field, WT_LEN);
        put_varint(self.buf, v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A `string` field.
    #[inline]
    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    /// Opens an embedded message in `field`; close it with [`Writer::end`].
    #[inline]
    pub fn begin(&mut self, field: u32) -> Open {
        self.tag(field, WT_LEN);
        self.begin_unframed()
    }

    /// Opens a length prefix without a tag: the varint-delimited framing of a corpus record.
    #[inline]
    pub fn begin_unframed(&mut self) -> Open {
        let at = self.buf.len();
        self.buf.push(0);
        Open(at)
    }

    /// Closes a message opened by `begin`, writing its length canonically.
    #[inline]
    pub fn end(&mut self, open: Open) {
        let at = open.0;
        let body_start = at + 1;
        let len = (self.buf.len() - body_start) as u64;
        let n = varint_len(len);
        if n > 1 {
            let old_end = self.buf.len();
            self.buf.resize(old_end + n - 1, 0);
            self.buf.copy_within(body_start..old_end, body_start + n - 1);
        }
        write_varint_at(&mut self.buf[at..at + n], len);
    }

    /// Length of the message opened at `open` so far (its body only).
    pub fn open_len(&self, open: &Open) -> usize {
        self.buf.len() - open.0 - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_len_matches_encoding() {
        for v in [0u64, 1, 127, 128, 16383, 16384, 1 << 21, (1 << 28) - 1, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "value {v}");
        }
    }

    #[test]
    fn nested_lengths_are_canonical_after_shift() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf);
        let outer = w.begin(1);
        let inner = w.begin(2);
        w.bytes(3, &[7u8; 300]);
        w.end(inner);
        w.varint(4, 150);
        w.end(outer);
        // Decode by hand: tag 1/LEN, len varint, tag 2/LEN, len varint, tag 3/LEN, 300, ...
        assert_eq!(buf[0], (1 << 3) | 2);
        let inner_len = 1 + 2 + 300; // tag + varint(300) + bytes
        let outer_len = 1 + 2 + inner_len + 1 + 2; // tag + varint(inner) + inner + tag + varint(150)
        let mut expect = vec![(1 << 3) | 2];
        put_varint(&mut expect, outer_len as u64);
        expect.push((2 << 3) | 2);
        put_varint(&mut expect, inner_len as u64);
        expect.push((3 << 3) | 2);
        put_varint(&mut expect, 300);
        expect.extend_from_slice(&[7u8; 300]);
        expect.push(4 << 3);
        put_varint(&mut expect, 150);
        assert_eq!(buf, expect);
    }
}
