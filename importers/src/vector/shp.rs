//! The `.shp` main file: a 100-byte header, then records of (number, length, shape).
//!
//! Reading is sequential through a buffered reader, so a million-record file is never in memory.
//! Every count in a record is checked against the record's own length before anything is
//! allocated, so garbled counts give an error instead of a huge allocation or a panic.

use super::close_ring;
use super::rings::polygon_from_rings;
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, Point};
use std::io::{self, Read};

/// Shape type codes (ESRI Shapefile Technical Description, 1998).
const NULL: i32 = 0;
const POINT: [i32; 3] = [1, 11, 21];
const POLYLINE: [i32; 3] = [3, 13, 23];
const POLYGON: [i32; 3] = [5, 15, 25];
const MULTIPOINT: [i32; 3] = [8, 18, 28];
const MULTIPATCH: i32 = 31;

pub(super) const HEADER_LEN: u64 = 100;

/// What the 100-byte header says.
#[derive(Debug)]
pub(super) struct ShpHeader {
    pub shape_type: i32,
    /// File length in bytes as the header states it.
    pub file_len: u64,
}

pub(super) fn shape_type_name(code: i32) -> &'static str {
    match code {
        NULL => "Null",
        1 => "Point",
        11 => "PointZ",
        21 => "PointM",
        3 => "PolyLine",
        13 => "PolyLineZ",
        23 => "PolyLineM",
        5 => "Polygon",
        15 => "PolygonZ",
        25 => "PolygonM",
        8 => "MultiPoint",
        18 => "MultiPointZ",
        28 => "MultiPointM",
        MULTIPATCH => "MultiPatch",
        _ => "unknown",
    }
}

/// Reads and checks the header; the error is the reason for an `ImportError::File`.
pub(super) fn read_header(r: &mut impl Read, actual_len: u64) -> Result<ShpHeader, String> {
    let mut h = [0u8; HEADER_LEN as usize];
    if actual_len < HEADER_LEN {
        return Err(format!(
            "not a shapefile: {actual_len} bytes, shorter than the 100-byte header"
        ));
    }
    r.read_exact(&mut h)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    let code = i32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if code != 9994 {
        return Err(format!("not a shapefile: file code {code}, expected 9994"));
    }
    let words = i32::from_be_bytes([h[24], h[25], h[26], h[27]]);
    let shape_type = i32::from_le_bytes([h[32], h[33], h[34], h[35]]);
    if shape_type_name(shape_type) == "unknown" {
        return Err(format!("unknown shape type {shape_type} in the header"));
    }
    Ok(ShpHeader {
        shape_type,
        file_len: u64::from(words.max(0).unsigned_abs()) * 2,
    })
}

/// One record's outcome.
pub(super) enum ShpRecord {
    /// The next record's geometry (`None` for a Null shape), and what was repaired in it
    /// (rings that were not closed).
    Shape(Option<Geometry<f64>>, Vec<String>),
    /// The end of the file was reached cleanly, between records.
    End,
}

/// Reads the next record. `remaining` is the number of bytes left in the file after the
/// reader's position (updated). Errors are reasons for an `ImportError::Record`.
pub(super) fn read_record(r: &mut impl Read, remaining: &mut u64) -> Result<ShpRecord, String> {
    if *remaining == 0 {
        return Ok(ShpRecord::End);
    }
    if *remaining < 8 {
        return Err(format!(
            "truncated .shp: {remaining} bytes left where an 8-byte record header was expected"
        ));
    }
    let mut rh = [0u8; 8];
    read_exact(r, &mut rh, "record header")?;
    *remaining -= 8;
    let words = i32::from_be_bytes([rh[4], rh[5], rh[6], rh[7]]);
    if words < 2 {
        return Err(format!("invalid record content length {words} words"));
    }
    let len = u64::from(words.unsigned_abs()) * 2;
    if len > *remaining {
        return Err(format!(
            "truncated .shp: the record needs {len} bytes but only {remaining} are left"
        ));
    }
    let mut content = vec![0u8; len as usize];
    read_exact(r, &mut content, "record content")?;
    *remaining -= len;
    let mut repairs = Vec::new();
    let shape = parse_shape(&content, &mut repairs)?;
    Ok(ShpRecord::Shape(shape, repairs))
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), String> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated .shp in the {what}"),
        _ => format!("cannot read the {what}: {e}"),
    })
}

/// A little-endian cursor over one record's content that never reads out of bounds.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.at + N;
        let bytes = self.buf.get(self.at..end).ok_or_else(|| {
            format!(
                "shape content ends at byte {} but more was expected at byte {}",
                self.buf.len(),
                self.at
            )
        })?;
        self.at = end;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
    fn i32(&mut self) -> Result<i32, String> {
        self.take::<4>().map(i32::from_le_bytes)
    }
    fn f64(&mut self) -> Result<f64, String> {
        self.take::<8>().map(f64::from_le_bytes)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        if self.at + n > self.buf.len() {
            return Err(format!("shape content too short at byte {}", self.at));
        }
        self.at += n;
        Ok(())
    }
    fn left(&self) -> usize {
        self.buf.len() - self.at
    }
    /// A count that must fit in the content left, each item being `item_len` bytes.
    fn count(&mut self, what: &str, item_len: usize) -> Result<usize, String> {
        let n = self.i32()?;
        let n = usize::try_from(n).map_err(|_| format!("negative {what} count {n}"))?;
        if n.saturating_mul(item_len) > self.left() {
            return Err(format!(
                "{what} count {n} does not fit in the record ({} bytes left)",
                self.left()
            ));
        }
        Ok(n)
    }
    fn coords(&mut self, n: usize) -> Result<Vec<Coord<f64>>, String> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let x = self.f64()?;
            let y = self.f64()?;
            out.push(Coord { x, y });
        }
        Ok(out)
    }
}

/// Parses one record's content (shape type + shape). Z and M values are dropped. A polygon ring
/// whose last point is not its first is closed, with a message in `repairs`.
fn parse_shape(content: &[u8], repairs: &mut Vec<String>) -> Result<Option<Geometry<f64>>, String> {
    let mut c = Cursor { buf: content, at: 0 };
    let st = c.i32()?;
    if st == NULL {
        return Ok(None);
    }
    if POINT.contains(&st) {
        let x = c.f64()?;
        let y = c.f64()?;
        return Ok(Some(Point::new(x, y).into()));
    }
    if MULTIPOINT.contains(&st) {
        c.skip(32)?; // bounding box
        let n = c.count("point", 16)?;
        let pts = c.coords(n)?.into_iter().map(Point::from).collect();
        return Ok(Some(MultiPoint::new(pts).into()));
    }
    if POLYLINE.contains(&st) || POLYGON.contains(&st) {
        c.skip(32)?;
        let num_parts = c.count("part", 4)?;
        let num_points = c.i32()?;
        let mut starts = Vec::with_capacity(num_parts);
        for _ in 0..num_parts {
            starts.push(c.i32()?);
        }
        let num_points = usize::try_from(num_points)
            .ok()
            .filter(|n| n.saturating_mul(16) <= c.left())
            .ok_or_else(|| format!("point count {num_points} does not fit in the record"))?;
        let coords = c.coords(num_points)?;
        let mut parts = split_parts(coords, &starts)?;
        if POLYGON.contains(&st) {
            for (i, ring) in parts.iter_mut().enumerate() {
                if close_ring(ring) {
                    repairs.push(format!("ring {} of polygon was not closed; closed it", i + 1));
                }
            }
            return Ok(polygon_from_rings(parts));
        }
        let mut lines: Vec<LineString<f64>> = parts.into_iter().map(LineString::new).collect();
        return Ok(match lines.len() {
            0 => None,
            1 => lines.pop().map(Geometry::LineString),
            _ => Some(MultiLineString::new(lines).into()),
        });
    }
    Err(format!("unsupported shape type {} ({st})", shape_type_name(st)))
}

/// Splits a record's points at the part start indices, checking that they increase.
fn split_parts(coords: Vec<Coord<f64>>, starts: &[i32]) -> Result<Vec<Vec<Coord<f64>>>, String> {
    let n = coords.len();
    let mut bounds = Vec::with_capacity(starts.len() + 1);
    for &s in starts {
        let s = usize::try_from(s).map_err(|_| format!("negative part start {s}"))?;
        bounds.push(s);
    }
    bounds.push(n);
    if bounds.first().is_some_and(|&b| b != 0) && !starts.is_empty() {
        return Err(format!("the first part starts at point {}, not 0", bounds[0]));
    }
    let mut parts = Vec::with_capacity(starts.len());
    for w in bounds.windows(2) {
        if w[0] > w[1] || w[1] > n {
            return Err(format!(
                "part bounds {}..{} are invalid for {n} points",
                w[0], w[1]
            ));
        }
        parts.push(coords[w[0]..w[1]].to_vec());
    }
    Ok(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn polyline_content(parts: &[i32], pts: &[(f64, f64)]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(3i32.to_le_bytes());
        b.extend([0u8; 32]);
        b.extend((parts.len() as i32).to_le_bytes());
        b.extend((pts.len() as i32).to_le_bytes());
        for p in parts {
            b.extend(p.to_le_bytes());
        }
        for (x, y) in pts {
            b.extend(x.to_le_bytes());
            b.extend(y.to_le_bytes());
        }
        b
    }

    fn parse(content: &[u8]) -> Result<Option<Geometry<f64>>, String> {
        let mut repairs = Vec::new();
        let out = parse_shape(content, &mut repairs);
        assert!(repairs.is_empty(), "{repairs:?}");
        out
    }

    #[test]
    fn open_polygon_rings_are_closed_and_said() {
        let mut c = polyline_content(
            &[0, 4],
            &[
                (0., 0.),
                (0., 4.),
                (4., 4.),
                (0., 0.),
                (0.5, 2.),
                (1., 2.),
                (1., 3.),
            ],
        );
        c[0..4].copy_from_slice(&5i32.to_le_bytes());
        let mut repairs = Vec::new();
        match parse_shape(&c, &mut repairs).unwrap() {
            Some(Geometry::Polygon(p)) => {
                assert_eq!(p.interiors().len(), 1);
                assert_eq!(p.interiors()[0].0.len(), 4);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            repairs,
            vec!["ring 2 of polygon was not closed; closed it".to_string()]
        );
    }

    #[test]
    fn polyline_with_two_parts_is_a_multilinestring() {
        let c = polyline_content(&[0, 2], &[(0., 0.), (1., 0.), (5., 5.), (6., 6.)]);
        match parse(&c).unwrap() {
            Some(Geometry::MultiLineString(m)) => {
                assert_eq!(m.0.len(), 2);
                assert_eq!(m.0[1].0[1], Coord { x: 6., y: 6. });
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbled_counts_are_errors_not_allocations() {
        let mut c = polyline_content(&[0], &[(0., 0.), (1., 0.)]);
        // num_points = i32::MAX
        c[40..44].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(parse(&c).unwrap_err().contains("does not fit"));
        let mut c = polyline_content(&[0], &[(0., 0.), (1., 0.)]);
        c[36..40].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(parse(&c).unwrap_err().contains("negative part count"));
        let mut c = polyline_content(&[0, 2], &[(0., 0.), (1., 0.), (2., 2.)]);
        c[48..52].copy_from_slice(&7i32.to_le_bytes()); // second part starts past the end
        assert!(parse(&c).unwrap_err().contains("invalid"));
    }

    #[test]
    fn truncated_content_is_an_error() {
        let c = polyline_content(&[0], &[(0., 0.), (1., 0.)]);
        assert!(parse(&c[..c.len() - 4]).is_err());
    }
}
