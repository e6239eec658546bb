//! A minimal PNG decoder for screenshot checks: 8-bit RGB or RGBA, not interlaced (what
//! Chromium writes), inflated with `flate2` (already a dependency) rather than a `png` crate.

use std::io::Read;

/// A decoded image: `width × height` pixels, RGB (alpha dropped).
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<[u8; 3]>,
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// Decodes `data`; panics (failing the test) on anything else than what Chromium writes.
pub fn decode(data: &[u8]) -> Image {
    assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut pos, mut idat, mut header) = (8, Vec::new(), None);
    while pos + 8 <= data.len() {
        let len = be32(&data[pos..]);
        let kind = &data[pos + 4..pos + 8];
        let body = &data[pos + 8..pos + 8 + len];
        match kind {
            b"IHDR" => header = Some((be32(body), be32(&body[4..]), body[8], body[9], body[12])),
            b"IDAT" => idat.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let (width, height, depth, color, interlace) = header.expect("IHDR chunk");
    assert_eq!((depth, interlace), (8, 0), "only 8-bit, non-interlaced PNGs are decoded here");
    let bpp = match color {
        2 => 3,
        6 => 4,
        other => panic!("PNG colour type {other} is not decoded here"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(idat.as_slice()).read_to_end(&mut raw).expect("IDAT inflates");
    let stride = width * bpp;
    assert_eq!(raw.len(), height * (stride + 1), "image data size");
    let mut prev = vec![0u8; stride];
    let mut pixels = Vec::with_capacity(width * height);
    for row in raw.chunks_exact(stride + 1) {
        let (filter, line) = (row[0], &row[1..]);
        let mut cur = vec![0u8; stride];
        for i in 0..stride {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let (b, c) = (prev[i], if i >= bpp { prev[i - bpp] } else { 0 });
            let predictor = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                f => panic!("PNG filter {f}"),
            };
            cur[i] = line[i].wrapping_add(predictor);
        }
        pixels.extend(cur.chunks_exact(bpp).map(|p| [p[0], p[1], p[2]]));
        prev = cur;
    }
    Image { width, height, pixels }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}
