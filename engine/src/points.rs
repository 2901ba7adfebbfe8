//! The content of a point-cloud tile as cim packs it (`cim-points`): zlib-deflated
//! `CPT1`, the point count (u32), a flags byte (bit 0: RGB), the origin (3 × f64, project
//! CRS), then per point, little endian: x, y, z relative to the origin (3 × f32), class (u8),
//! intensity (u16) and, with RGB, red, green, blue (3 × u16). Importers write it, the viewer and
//! the exports read it.

use std::io::{Read, Write};

/// The points of one tile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TilePoints {
    /// Project CRS.
    pub origin: [f64; 3],
    /// Relative to `origin`, m.
    pub xyz: Vec<[f32; 3]>,
    pub class: Vec<u8>,
    pub intensity: Vec<u16>,
    pub rgb: Option<Vec<[u16; 3]>>,
}

const MAGIC: &[u8; 4] = b"CPT1";

/// The format name of packed point content.
pub const POINTS_FORMAT: &str = "cim-points";

impl TilePoints {
    pub fn len(&self) -> usize {
        self.xyz.len()
    }

    pub fn is_empty(&self) -> bool {
        self.xyz.is_empty()
    }

    /// Packed and deflated.
    pub fn encode(&self) -> Vec<u8> {
        let rgb = self.rgb.as_ref().filter(|c| c.len() == self.xyz.len());
        let per = 15 + if rgb.is_some() { 6 } else { 0 };
        let mut raw = Vec::with_capacity(33 + self.xyz.len() * per);
        raw.extend_from_slice(MAGIC);
        raw.extend_from_slice(&(self.xyz.len() as u32).to_le_bytes());
        raw.push(u8::from(rgb.is_some()));
        for o in self.origin {
            raw.extend_from_slice(&o.to_le_bytes());
        }
        for (k, p) in self.xyz.iter().enumerate() {
            for v in p {
                raw.extend_from_slice(&v.to_le_bytes());
            }
            raw.push(self.class.get(k).copied().unwrap_or(0));
            raw.extend_from_slice(&self.intensity.get(k).copied().unwrap_or(0).to_le_bytes());
            if let Some(c) = rgb {
                for v in c[k] {
                    raw.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let _ = z.write_all(&raw);
        z.finish().unwrap_or_default()
    }

    /// The points of packed content; content that is not is an error saying why.
    pub fn decode(bytes: &[u8]) -> Result<TilePoints, String> {
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(bytes)
            .take(1 << 32)
            .read_to_end(&mut raw)
            .map_err(|e| format!("not deflated point content: {e}"))?;
        if raw.len() < 33 || &raw[..4] != MAGIC {
            return Err("not cim point content (no CPT1 header)".into());
        }
        let n = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let has_rgb = raw[8] & 1 != 0;
        let per = 15 + if has_rgb { 6 } else { 0 };
        if raw.len() != 33 + n * per {
            return Err(format!(
                "point content of {n} points needs {} bytes, it has {}",
                33 + n * per,
                raw.len()
            ));
        }
        let f64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&raw[i..i + 8]);
            f64::from_le_bytes(a)
        };
        let mut t = TilePoints {
            origin: [f64_at(9), f64_at(17), f64_at(25)],
            xyz: Vec::with_capacity(n),
            class: Vec::with_capacity(n),
            intensity: Vec::with_capacity(n),
            rgb: has_rgb.then(|| Vec::with_capacity(n)),
        };
        for r in raw[33..].chunks_exact(per) {
            let f = |i: usize| f32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
            let u = |i: usize| u16::from_le_bytes([r[i], r[i + 1]]);
            t.xyz.push([f(0), f(4), f(8)]);
            t.class.push(r[12]);
            t.intensity.push(u(13));
            if let Some(c) = t.rgb.as_mut() {
                c.push([u(15), u(17), u(19)]);
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_trip_and_bad_content_is_refused() {
        let t = TilePoints {
            origin: [500_000.5, 4_000_000.25, 12.0],
            xyz: vec![[1.0, -2.5, 0.125], [0.0, 0.0, 0.0]],
            class: vec![2, 6],
            intensity: vec![100, 65_535],
            rgb: Some(vec![[1, 2, 3], [65_535, 0, 7]]),
        };
        assert_eq!(TilePoints::decode(&t.encode()), Ok(t.clone()));
        let plain = TilePoints { rgb: None, ..t };
        assert_eq!(TilePoints::decode(&plain.encode()), Ok(plain.clone()));
        assert!(TilePoints::decode(b"junk").is_err());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"CPT1\x05\x00\x00\x00\x00").unwrap_or_default();
        let e = TilePoints::decode(&z.finish().unwrap_or_default()).unwrap_err();
        assert!(e.contains("CPT1") || e.contains("needs"), "{e}");
    }
}
