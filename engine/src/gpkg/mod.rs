//! GeoPackage geometry blobs: the `GP` header followed by ISO WKB.
//!
//! Entry points: [`encode_geometry`] (always little-endian, XY envelope), [`decode_geometry`]
//! (either byte order, every envelope kind, ISO and EWKB Z/M flags, which are dropped),
//! [`envelope`] (reads the header envelope without parsing the WKB when it can) and
//! [`geometry_type_name`].
//!
//! Envelopes returned by this module are `[min_x, min_y, max_x, max_y]`, the order used
//! everywhere else in the engine (the blob header itself stores `[min_x, max_x, min_y, max_y]`).
//!
//! ## Glossary
//! - **GP header**: magic `GP`, version byte (0 = GeoPackage 1.x), flags, `srs_id`, envelope.
//! - **envelope indicator** (flags bits 1–3): 0 none, 1 XY, 2 XYZ, 3 XYM, 4 XYZM.
//! - **ISO WKB**: well-known binary; types 1–7, `+1000` Z, `+2000` M, `+3000` ZM.
//! - **EWKB**: PostGIS' variant with high-bit flags for Z (`0x8000_0000`), M (`0x4000_0000`)
//!   and an embedded SRID (`0x2000_0000`).

mod wkb;

pub use wkb::read_wkb;
use wkb::write_wkb;

use geo::Geometry;

/// Why a GeoPackage geometry blob could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GpkgError {
    #[error("geometry blob does not start with 'GP'")]
    BadMagic,
    #[error("unsupported GeoPackage geometry blob version {version}")]
    UnsupportedVersion { version: u8 },
    #[error("extended GeoPackage geometry blobs are not supported")]
    Extended,
    #[error("invalid envelope indicator {indicator} in geometry blob header")]
    BadEnvelope { indicator: u8 },
    #[error("geometry blob truncated at byte {offset}: needed {needed} more bytes")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid WKB byte order marker {marker} at byte {offset}")]
    BadByteOrder { marker: u8, offset: usize },
    #[error("unsupported WKB geometry type {type_code} at byte {offset}")]
    UnknownType { type_code: u32, offset: usize },
    #[error("WKB count {count} at byte {offset} exceeds the remaining {remaining} bytes")]
    BadCount {
        count: u32,
        offset: usize,
        remaining: usize,
    },
    #[error("WKB geometry collections nested deeper than {max}")]
    TooDeep { max: usize },
    #[error("WKB {expected} expected inside a {parent} at byte {offset}, found type {found}")]
    WrongMember {
        expected: &'static str,
        parent: &'static str,
        found: u32,
        offset: usize,
    },
    #[error("{trailing} trailing bytes after the WKB geometry")]
    Trailing { trailing: usize },
}

const FLAG_LITTLE_ENDIAN: u8 = 0b0000_0001;
const FLAG_EMPTY: u8 = 0b0001_0000;
const FLAG_EXTENDED: u8 = 0b0010_0000;
const ENVELOPE_XY: u8 = 1;

/// Encodes a geometry as a GeoPackage blob (version 0, little-endian, XY envelope, ISO WKB).
/// Empty geometries get the empty flag and no envelope.
///
/// # Examples
/// ```
/// use cim_engine::gpkg::{decode_geometry, encode_geometry, envelope};
/// use geo::line_string;
/// let g: geo::Geometry<f64> = line_string![(x: 1.0, y: 2.0), (x: 3.0, y: -4.0)].into();
/// let blob = encode_geometry(&g, 4547);
/// assert_eq!(&blob[..2], b"GP");
/// assert_eq!(envelope(&blob), Some([1.0, -4.0, 3.0, 2.0]));
/// assert_eq!(decode_geometry(&blob).unwrap(), Some(g));
/// ```
pub fn encode_geometry(g: &Geometry<f64>, srs_id: i32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_geometry_into(g, srs_id, &mut out);
    out
}

/// Like [`encode_geometry`] but appends to `out` (cleared first) so a caller writing many
/// features can reuse one buffer; returns the envelope `[min_x, min_y, max_x, max_y]`, `None`
/// for an empty geometry.
pub fn encode_geometry_into(g: &Geometry<f64>, srs_id: i32, out: &mut Vec<u8>) -> Option<[f64; 4]> {
    out.clear();
    out.extend_from_slice(b"GP");
    out.push(0); // version 0 = GeoPackage 1.x
    out.push(FLAG_LITTLE_ENDIAN | (ENVELOPE_XY << 1));
    out.extend_from_slice(&srs_id.to_le_bytes());
    let env_at = out.len();
    out.extend_from_slice(&[0u8; 32]);
    let mut bounds = wkb::Bounds::default();
    write_wkb(g, out, &mut bounds);
    match bounds.get() {
        Some([minx, miny, maxx, maxy]) => {
            for (i, v) in [minx, maxx, miny, maxy].iter().enumerate() {
                let at = env_at + i * 8;
                out[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            Some([minx, miny, maxx, maxy])
        }
        None => {
            out.drain(env_at..env_at + 32);
            out[3] = FLAG_LITTLE_ENDIAN | FLAG_EMPTY;
            None
        }
    }
}

/// The parsed fixed part of a GP header.
struct Header {
    /// Offset of the WKB.
    wkb_at: usize,
    empty: bool,
    /// `[min_x, min_y, max_x, max_y]` when the header carries an envelope.
    envelope: Option<[f64; 4]>,
    srs_id: i32,
}

fn parse_header(blob: &[u8]) -> Result<Header, GpkgError> {
    if blob.len() < 8 {
        if blob.len() >= 2 && &blob[..2] != b"GP" {
            return Err(GpkgError::BadMagic);
        }
        return Err(GpkgError::Truncated {
            offset: blob.len(),
            needed: 8 - blob.len(),
        });
    }
    if &blob[..2] != b"GP" {
        return Err(GpkgError::BadMagic);
    }
    if blob[2] != 0 {
        return Err(GpkgError::UnsupportedVersion { version: blob[2] });
    }
    let flags = blob[3];
    if flags & FLAG_EXTENDED != 0 {
        return Err(GpkgError::Extended);
    }
    let little = flags & FLAG_LITTLE_ENDIAN != 0;
    let indicator = (flags >> 1) & 0b111;
    let env_len = match indicator {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err(GpkgError::BadEnvelope { indicator }),
    };
    let srs_bytes = [blob[4], blob[5], blob[6], blob[7]];
    let srs_id = if little {
        i32::from_le_bytes(srs_bytes)
    } else {
        i32::from_be_bytes(srs_bytes)
    };
    if blob.len() < 8 + env_len {
        return Err(GpkgError::Truncated {
            offset: blob.len(),
            needed: 8 + env_len - blob.len(),
        });
    }
    let envelope = (env_len > 0).then(|| {
        let f = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&blob[8 + i * 8..16 + i * 8]);
            if little {
                f64::from_le_bytes(b)
            } else {
                f64::from_be_bytes(b)
            }
        };
        [f(0), f(2), f(1), f(3)]
    });
    Ok(Header {
        wkb_at: 8 + env_len,
        empty: flags & FLAG_EMPTY != 0,
        envelope,
        srs_id,
    })
}

/// Decodes a GeoPackage blob. `Ok(None)` for an empty geometry (the empty flag, or a WKB
/// point with NaN coordinates, which is how GeoPackage writes an empty point). Z and M are
/// dropped. Garbled or truncated input gives an error, never a panic.
pub fn decode_geometry(blob: &[u8]) -> Result<Option<Geometry<f64>>, GpkgError> {
    let header = parse_header(blob)?;
    if header.empty {
        return Ok(None);
    }
    let wkb_bytes = &blob[header.wkb_at..];
    let (g, used) = read_wkb(wkb_bytes)?;
    if used != wkb_bytes.len() {
        return Err(GpkgError::Trailing {
            trailing: wkb_bytes.len() - used,
        });
    }
    match g {
        Geometry::Point(p) if p.x().is_nan() && p.y().is_nan() => Ok(None),
        g => Ok(Some(g)),
    }
}

/// The `srs_id` in a blob's header.
pub fn srs_id(blob: &[u8]) -> Result<i32, GpkgError> {
    parse_header(blob).map(|h| h.srs_id)
}

/// The blob's envelope `[min_x, min_y, max_x, max_y]`: read from the header when present,
/// otherwise computed from the WKB. `None` for empty or unreadable blobs.
pub fn envelope(blob: &[u8]) -> Option<[f64; 4]> {
    let header = parse_header(blob).ok()?;
    if header.empty {
        return None;
    }
    if let Some(env) = header.envelope {
        return Some(env);
    }
    let g = decode_geometry(blob).ok()??;
    geometry_envelope(&g)
}

/// The envelope `[min_x, min_y, max_x, max_y]` of a geometry; `None` when it has no coordinates.
pub fn geometry_envelope(g: &Geometry<f64>) -> Option<[f64; 4]> {
    use geo::CoordsIter;
    let mut b = wkb::Bounds::default();
    for c in g.coords_iter() {
        b.add(c.x, c.y);
    }
    b.get()
}

/// The GeoPackage geometry type name (`POINT`, `POLYGON`, …). `Line` counts as a
/// `LINESTRING`, `Rect` and `Triangle` as `POLYGON`, as they are encoded.
pub fn geometry_type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "POINT",
        Geometry::Line(_) | Geometry::LineString(_) => "LINESTRING",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "POLYGON",
        Geometry::MultiPoint(_) => "MULTIPOINT",
        Geometry::MultiLineString(_) => "MULTILINESTRING",
        Geometry::MultiPolygon(_) => "MULTIPOLYGON",
        Geometry::GeometryCollection(_) => "GEOMETRYCOLLECTION",
    }
}

#[cfg(test)]
mod tests;
