//! ISO WKB reading (both byte orders, ISO and EWKB dimension flags) and writing
//! (little-endian, XY).

use super::GpkgError;
use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
    Polygon,
};

/// Collections nested deeper than this are rejected, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOINT: u32 = 4;
const MULTILINESTRING: u32 = 5;
const MULTIPOLYGON: u32 = 6;
const COLLECTION: u32 = 7;

/// A running XY bounding box; NaN coordinates (empty points) are ignored.
#[derive(Default)]
pub(crate) struct Bounds(Option<[f64; 4]>);

impl Bounds {
    pub(crate) fn add(&mut self, x: f64, y: f64) {
        if x.is_nan() || y.is_nan() {
            return;
        }
        match &mut self.0 {
            None => self.0 = Some([x, y, x, y]),
            Some(b) => {
                b[0] = b[0].min(x);
                b[1] = b[1].min(y);
                b[2] = b[2].max(x);
                b[3] = b[3].max(y);
            }
        }
    }
    pub(crate) fn get(&self) -> Option<[f64; 4]> {
        self.0
    }
}

// ---------------------------------------------------------------- writing

/// Appends `g` as little-endian ISO WKB (XY) to `out`, growing `bounds` with its coordinates.
pub(crate) fn write_wkb(g: &Geometry<f64>, out: &mut Vec<u8>, bounds: &mut Bounds) {
    match g {
        Geometry::Point(p) => {
            head(out, POINT);
            coord(out, p.0, bounds);
        }
        Geometry::Line(l) => {
            head(out, LINESTRING);
            out.extend_from_slice(&2u32.to_le_bytes());
            coord(out, l.start, bounds);
            coord(out, l.end, bounds);
        }
        Geometry::LineString(ls) => {
            head(out, LINESTRING);
            line(out, ls, bounds);
        }
        Geometry::Polygon(p) => polygon(out, p, bounds),
        Geometry::Rect(r) => polygon(out, &r.to_polygon(), bounds),
        Geometry::Triangle(t) => polygon(out, &t.to_polygon(), bounds),
        Geometry::MultiPoint(mp) => {
            head(out, MULTIPOINT);
            count(out, mp.0.len());
            for p in &mp.0 {
                head(out, POINT);
                coord(out, p.0, bounds);
            }
        }
        Geometry::MultiLineString(ml) => {
            head(out, MULTILINESTRING);
            count(out, ml.0.len());
            for ls in &ml.0 {
                head(out, LINESTRING);
                line(out, ls, bounds);
            }
        }
        Geometry::MultiPolygon(mp) => {
            head(out, MULTIPOLYGON);
            count(out, mp.0.len());
            for p in &mp.0 {
                polygon(out, p, bounds);
            }
        }
        Geometry::GeometryCollection(gc) => {
            head(out, COLLECTION);
            count(out, gc.0.len());
            for g in &gc.0 {
                write_wkb(g, out, bounds);
            }
        }
    }
}

fn head(out: &mut Vec<u8>, type_code: u32) {
    out.push(1);
    out.extend_from_slice(&type_code.to_le_bytes());
}

fn count(out: &mut Vec<u8>, n: usize) {
    // WKB counts are u32; no in-memory geometry of 4G parts could be encoded anyway.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn coord(out: &mut Vec<u8>, c: Coord<f64>, bounds: &mut Bounds) {
    bounds.add(c.x, c.y);
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn line(out: &mut Vec<u8>, ls: &LineString<f64>, bounds: &mut Bounds) {
    count(out, ls.0.len());
    out.reserve(ls.0.len() * 16);
    for c in &ls.0 {
        coord(out, *c, bounds);
    }
}

fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>, bounds: &mut Bounds) {
    head(out, POLYGON);
    if p.exterior().0.is_empty() && p.interiors().is_empty() {
        count(out, 0);
        return;
    }
    count(out, 1 + p.interiors().len());
    line(out, p.exterior(), bounds);
    for r in p.interiors() {
        line(out, r, bounds);
    }
}

// ---------------------------------------------------------------- reading

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], GpkgError> {
        let end = self.pos + N;
        let Some(s) = self.buf.get(self.pos..end) else {
            return Err(GpkgError::Truncated {
                offset: self.pos,
                needed: end - self.buf.len(),
            });
        };
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        self.pos = end;
        Ok(a)
    }
    fn u32(&mut self, le: bool) -> Result<u32, GpkgError> {
        let b = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn f64(&mut self, le: bool) -> Result<f64, GpkgError> {
        let b = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    /// Reads a count of items each at least `min_size` bytes long, rejecting counts the
    /// remaining input cannot hold (so garbage cannot trigger huge allocations).
    fn count(&mut self, le: bool, min_size: usize) -> Result<usize, GpkgError> {
        let offset = self.pos;
        let n = self.u32(le)?;
        let remaining = self.remaining();
        let n_us = n as usize;
        if n_us.saturating_mul(min_size) > remaining {
            return Err(GpkgError::BadCount {
                count: n,
                offset,
                remaining,
            });
        }
        Ok(n_us)
    }
}

/// The header of one WKB geometry: byte order, base type (1–7), extra ordinates per point.
struct WkbHead {
    le: bool,
    base: u32,
    extra: usize,
    offset: usize,
}

fn read_head(r: &mut Reader<'_>) -> Result<WkbHead, GpkgError> {
    let offset = r.pos;
    let [marker] = r.take::<1>()?;
    let le = match marker {
        0 => false,
        1 => true,
        _ => return Err(GpkgError::BadByteOrder { marker, offset }),
    };
    let raw = r.u32(le)?;
    let unknown = || GpkgError::UnknownType {
        type_code: raw,
        offset,
    };
    let ewkb_z = raw & 0x8000_0000 != 0;
    let ewkb_m = raw & 0x4000_0000 != 0;
    let ewkb_srid = raw & 0x2000_0000 != 0;
    let iso = raw & 0x0FFF_FFFF;
    let (base, iso_dims) = (iso % 1000, iso / 1000);
    let (iso_z, iso_m) = match iso_dims {
        0 => (false, false),
        1 => (true, false),
        2 => (false, true),
        3 => (true, true),
        _ => return Err(unknown()),
    };
    if !(POINT..=COLLECTION).contains(&base) {
        return Err(unknown());
    }
    if ewkb_srid {
        r.take::<4>()?;
    }
    let extra = usize::from(iso_z || ewkb_z) + usize::from(iso_m || ewkb_m);
    Ok(WkbHead {
        le,
        base,
        extra,
        offset,
    })
}

/// Reads one WKB geometry from the start of `buf`; returns it and the number of bytes used.
pub fn read_wkb(buf: &[u8]) -> Result<(Geometry<f64>, usize), GpkgError> {
    let mut r = Reader { buf, pos: 0 };
    let g = read_geometry(&mut r, 0)?;
    Ok((g, r.pos))
}

fn read_geometry(r: &mut Reader<'_>, depth: usize) -> Result<Geometry<f64>, GpkgError> {
    if depth > MAX_DEPTH {
        return Err(GpkgError::TooDeep { max: MAX_DEPTH });
    }
    let h = read_head(r)?;
    let coord_size = 8 * (2 + h.extra);
    Ok(match h.base {
        POINT => Geometry::Point(Point(read_coord(r, &h)?)),
        LINESTRING => Geometry::LineString(read_line(r, &h, coord_size)?),
        POLYGON => Geometry::Polygon(read_polygon(r, &h, coord_size)?),
        MULTIPOINT => {
            let n = r.count(h.le, 5 + 16)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let m = member(r, POINT, "point", "MULTIPOINT")?;
                v.push(Point(read_coord(r, &m)?));
            }
            Geometry::MultiPoint(MultiPoint(v))
        }
        MULTILINESTRING => {
            let n = r.count(h.le, 5 + 4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let m = member(r, LINESTRING, "linestring", "MULTILINESTRING")?;
                v.push(read_line(r, &m, 8 * (2 + m.extra))?);
            }
            Geometry::MultiLineString(MultiLineString(v))
        }
        MULTIPOLYGON => {
            let n = r.count(h.le, 5 + 4)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let m = member(r, POLYGON, "polygon", "MULTIPOLYGON")?;
                v.push(read_polygon(r, &m, 8 * (2 + m.extra))?);
            }
            Geometry::MultiPolygon(MultiPolygon(v))
        }
        _ => {
            // COLLECTION: read_head only lets 1..=7 through.
            let n = r.count(h.le, 5)?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(read_geometry(r, depth + 1)?);
            }
            Geometry::GeometryCollection(GeometryCollection(v))
        }
    })
}

fn member(
    r: &mut Reader<'_>,
    want: u32,
    expected: &'static str,
    parent: &'static str,
) -> Result<WkbHead, GpkgError> {
    let m = read_head(r)?;
    if m.base != want {
        return Err(GpkgError::WrongMember {
            expected,
            parent,
            found: m.base,
            offset: m.offset,
        });
    }
    Ok(m)
}

fn read_coord(r: &mut Reader<'_>, h: &WkbHead) -> Result<Coord<f64>, GpkgError> {
    let x = r.f64(h.le)?;
    let y = r.f64(h.le)?;
    for _ in 0..h.extra {
        r.f64(h.le)?;
    }
    Ok(Coord { x, y })
}

fn read_line(r: &mut Reader<'_>, h: &WkbHead, coord_size: usize) -> Result<LineString<f64>, GpkgError> {
    let n = r.count(h.le, coord_size)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(read_coord(r, h)?);
    }
    Ok(LineString(v))
}

fn read_polygon(r: &mut Reader<'_>, h: &WkbHead, coord_size: usize) -> Result<Polygon<f64>, GpkgError> {
    let n = r.count(h.le, 4)?;
    if n == 0 {
        return Ok(Polygon::new(LineString(Vec::new()), Vec::new()));
    }
    let exterior = read_line(r, h, coord_size)?;
    let mut interiors = Vec::with_capacity(n - 1);
    for _ in 1..n {
        interiors.push(read_line(r, h, coord_size)?);
    }
    Ok(Polygon::new(exterior, interiors))
}
