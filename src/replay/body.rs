//! A request body as a list of byte pieces: slices of the decompressed corpus between the
//! fields a patch changed, and small owned runs holding the patched fields.
//!
//! Replay shifts a handful of timestamps and IDs in a record that is mostly content. Copying the
//! whole record to patch a few dozen bytes cost more CPU than anything else replay did in user
//! space (measured at `--rate max` on simple_query: the copy was ~12 % of the process's samples,
//! plus the page faults of fresh buffers). Handing the pieces to the socket with one `writev`
//! lets the kernel's copy — which happens anyway — be the only one.

use std::io::IoSlice;

use bytes::{Buf, Bytes};

/// Request body bytes, possibly in several pieces. Cloning is cheap (reference counts).
#[derive(Debug, Clone, Default)]
pub struct Body {
    pieces: Vec<Bytes>,
    /// First piece not yet consumed by [`Buf::advance`].
    idx: usize,
    /// Bytes not yet consumed.
    rem: usize,
}

impl Body {
    /// A body of the given pieces, in order.
    pub fn from_pieces(mut pieces: Vec<Bytes>) -> Body {
        pieces.retain(|p| !p.is_empty());
        let rem = pieces.iter().map(Bytes::len).sum();
        Body { pieces, idx: 0, rem }
    }

    /// Length in bytes (of what is left to send).
    pub fn len(&self) -> usize {
        self.rem
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.rem == 0
    }

    /// Number of pieces left.
    pub fn pieces(&self) -> usize {
        self.pieces.len() - self.idx
    }

    /// The bytes, contiguous (one piece: no copy).
    pub fn to_bytes(&self) -> Bytes {
        match &self.pieces[self.idx..] {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut v = Vec::with_capacity(self.rem);
                many.iter().for_each(|p| v.extend_from_slice(p));
                Bytes::from(v)
            }
        }
    }

    /// The bytes, copied into a vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.to_bytes().to_vec()
    }
}

impl Body {
    /// A cursor over the bytes left, borrowing them (sending without cloning the piece list).
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor { pieces: &self.pieces[self.idx..], rem: self.rem, off: 0 }
    }
}

/// The bytes of a [`Body`], borrowed, as a [`Buf`].
#[derive(Debug)]
pub struct Cursor<'a> {
    pieces: &'a [Bytes],
    /// Offset into `pieces[0]`.
    off: usize,
    rem: usize,
}

impl Buf for Cursor<'_> {
    fn remaining(&self) -> usize {
        self.rem
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.first().map_or(&[], |p| &p[self.off..])
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.rem, "advance past the end of the body");
        self.rem -= cnt;
        while cnt > 0 {
            let left = self.pieces[0].len() - self.off;
            if cnt < left {
                self.off += cnt;
                return;
            }
            cnt -= left;
            self.pieces = &self.pieces[1..];
            self.off = 0;
        }
        if self.rem == 0 {
            self.pieces = &[];
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, (slot, p)) in dst.iter_mut().zip(self.pieces).enumerate() {
            *slot = IoSlice::new(if i == 0 { &p[self.off..] } else { p });
            n += 1;
        }
        n
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::from_pieces(vec![b])
    }
}

impl Buf for Body {
    fn remaining(&self) -> usize {
        self.rem
    }

    fn chunk(&self) -> &[u8] {
        self.pieces.get(self.idx).map_or(&[], |p| &p[..])
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.rem, "advance past the end of the body");
        self.rem -= cnt;
        while cnt > 0 {
            let p = &mut self.pieces[self.idx];
            if cnt < p.len() {
                p.advance(cnt);
                return;
            }
            cnt -= p.len();
            self.idx += 1;
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, p) in dst.iter_mut().zip(&self.pieces[self.idx..]) {
            *slot = IoSlice::new(p);
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_walks_every_piece_in_order() {
        let mut b = Body::from_pieces(vec![
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"cde"),
            Bytes::from_static(b"f"),
        ]);
        assert_eq!((b.len(), b.pieces()), (6, 3), "empty pieces are dropped");
        assert_eq!(b.to_vec(), b"abcdef");
        {
            let mut io = [IoSlice::new(&[]); 2];
            assert_eq!(b.chunks_vectored(&mut io), 2, "fills no more slots than given");
            assert_eq!((&*io[0], &*io[1]), (&b"ab"[..], &b"cde"[..]));
        }
        b.advance(1);
        assert_eq!(b.chunk(), b"b");
        b.advance(3);
        assert_eq!((b.chunk(), b.remaining()), (&b"e"[..], 2));
        assert_eq!(b.copy_to_bytes(2), Bytes::from_static(b"ef"));
        assert!(b.is_empty() && b.chunk().is_empty());
        assert_eq!(b.chunks_vectored(&mut [IoSlice::new(&[]); 2]), 0);
    }

    #[test]
    fn a_cursor_walks_the_same_bytes_without_owning_them() {
        let b =
            Body::from_pieces(vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde"), Bytes::from_static(b"f")]);
        let mut c = b.cursor();
        assert_eq!(c.remaining(), 6);
        c.advance(1);
        {
            let mut io = [IoSlice::new(&[]); 4];
            assert_eq!(c.chunks_vectored(&mut io), 3);
            assert_eq!((&*io[0], &*io[1], &*io[2]), (&b"b"[..], &b"cde"[..], &b"f"[..]));
        }
        c.advance(3);
        assert_eq!((c.chunk(), c.remaining()), (&b"e"[..], 2));
        assert_eq!(c.copy_to_bytes(2), Bytes::from_static(b"ef"));
        assert!(c.chunk().is_empty() && c.chunks_vectored(&mut [IoSlice::new(&[]); 2]) == 0);
        assert_eq!(b.len(), 6, "the body is untouched");
    }

    #[test]
    fn one_piece_converts_without_a_copy() {
        let data = Bytes::from(vec![7u8; 100]);
        let b = Body::from(data.clone());
        assert_eq!(b.to_bytes().as_ptr(), data.as_ptr());
        assert!(Body::default().is_empty() && Body::default().to_bytes().is_empty());
    }

    #[test]
    #[should_panic(expected = "advance past the end")]
    fn advancing_past_the_end_panics_like_bytes() {
        Body::from(Bytes::from_static(b"x")).advance(2);
    }
}
