//! FlatGeobuf: magic bytes, a FlatBuffers header, an optional packed R-tree index, then
//! size-prefixed FlatBuffers features.
//!
//! The framing, the index size and the geometry/property decoding are done here with checked
//! arithmetic; the crate's generated FlatBuffers accessors (which verify each buffer) do the
//! rest. This keeps garbled files from causing huge allocations or out-of-bounds panics.

use super::crs::{crs_from_code, crs_from_name, crs_from_wkt};
use super::prefetch::prefetch;
use super::{check_coords, layer_name, warning};
use crate::error::{ImportError, Result, Warning};
use crate::source::{SourceFeature, VectorSource};
use cim_engine::{AttrValue, Attributes, Crs, FieldDef, FieldType};
use flatgeobuf::{ColumnType, GeometryType};
use geo::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
    Polygon,
};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The largest header the reference implementation accepts.
const MAX_HEADER: u64 = 10 << 20;
/// Bytes per packed R-tree node (4 f64 + u64 offset).
const NODE_BYTES: u64 = 40;
/// GeometryCollection nesting deeper than this is treated as garbage.
const MAX_DEPTH: usize = 16;

/// Reads a FlatGeobuf file sequentially (the spatial index is skipped).
pub fn read_fgb(path: &Path) -> Result<VectorSource> {
    let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| ImportError::io(path, e))?.len();
    let mut r = BufReader::with_capacity(1 << 16, file);
    let bad = |reason: String| ImportError::file(path, reason);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| bad(format!("not a FlatGeobuf file: {file_len} bytes")))?;
    if &magic[0..3] != b"fgb" || &magic[4..7] != b"fgb" || magic[3] > 3 {
        return Err(bad("not a FlatGeobuf file: wrong magic bytes".into()));
    }
    let mut size = [0u8; 4];
    r.read_exact(&mut size)
        .map_err(|_| bad("truncated FlatGeobuf header".into()))?;
    let header_len = u64::from(u32::from_le_bytes(size));
    if !(8..=MAX_HEADER).contains(&header_len) || 12 + header_len > file_len {
        return Err(bad(format!(
            "garbled or truncated FlatGeobuf header: {header_len} bytes in a {file_len}-byte file"
        )));
    }
    let mut hbuf = vec![0u8; header_len as usize + 4];
    hbuf[..4].copy_from_slice(&size);
    r.read_exact(&mut hbuf[4..])
        .map_err(|e| ImportError::io(path, e))?;
    let header = flatgeobuf::size_prefixed_root_as_header(&hbuf)
        .map_err(|e| bad(format!("garbled FlatGeobuf header: {e}")))?;

    let mut warnings = Vec::new();
    let crs = header_crs(path, &header, &mut warnings);
    let mut columns = Vec::new();
    for c in header.columns().iter().flatten() {
        columns.push((c.name().to_string(), c.type_()));
    }
    let fields = columns
        .iter()
        .filter_map(|(name, t)| {
            column_field_type(*t).map(|field_type| FieldDef {
                name: name.clone(),
                field_type,
            })
        })
        .collect();
    if header.has_z() || header.has_m() {
        warnings.push(warning(path, None, "Z and M values are dropped"));
    }
    let index = index_bytes(header.features_count(), header.index_node_size())
        .ok_or_else(|| bad("garbled header: the index size overflows".into()))?;
    let data_start = 12 + header_len;
    if data_start + index > file_len {
        return Err(bad(format!(
            "truncated FlatGeobuf: the spatial index needs {index} bytes but the file ends first"
        )));
    }
    std::io::copy(&mut (&mut r).take(index), &mut std::io::sink()).map_err(|e| ImportError::io(path, e))?;
    let geometry_type = header.geometry_type();
    let layer = header
        .name()
        .filter(|n| !n.is_empty())
        .map_or_else(|| layer_name(path), str::to_string);

    Ok(VectorSource {
        path: path.to_path_buf(),
        layer_name: layer,
        crs,
        fields,
        features: prefetch(
            path,
            FgbFeatures {
                path: path.to_path_buf(),
                reader: r,
                remaining: file_len - data_start - index,
                geometry_type,
                columns,
                record: 0,
                buf: Vec::new(),
                done: false,
            },
        ),
        warnings,
    })
}

fn header_crs(path: &Path, header: &flatgeobuf::Header<'_>, warnings: &mut Vec<Warning>) -> Option<Crs> {
    let Some(c) = header.crs() else {
        warnings.push(warning(path, None, "the header names no CRS (pass --src-crs)"));
        return None;
    };
    let attempt = if c.code() != 0 {
        crs_from_code(c.org(), i64::from(c.code()))
    } else if let Some(wkt) = c.wkt().filter(|w| !w.trim().is_empty()) {
        crs_from_wkt(wkt)
    } else if let Some(s) = c.code_string().filter(|s| !s.trim().is_empty()) {
        crs_from_name(&format!("{}:{s}", c.org().unwrap_or("EPSG")))
    } else {
        Err("the header's CRS is empty".into())
    };
    match attempt {
        Ok(crs) => Some(crs),
        Err(reason) => {
            warnings.push(warning(
                path,
                None,
                format!("{reason}; the CRS is unknown (pass --src-crs)"),
            ));
            None
        }
    }
}

/// Size of the packed Hilbert R-tree that follows the header, `None` on overflow.
fn index_bytes(features: u64, node_size: u16) -> Option<u64> {
    if node_size == 0 || features == 0 {
        return Some(0);
    }
    let node = u64::from(node_size.max(2));
    let mut n = features;
    let mut nodes = n;
    while n > 1 {
        n = n.div_ceil(node);
        nodes = nodes.checked_add(n)?;
    }
    nodes.checked_mul(NODE_BYTES)
}

fn column_field_type(t: ColumnType) -> Option<FieldType> {
    Some(match t {
        ColumnType::Bool => FieldType::Bool,
        ColumnType::Byte
        | ColumnType::UByte
        | ColumnType::Short
        | ColumnType::UShort
        | ColumnType::Int
        | ColumnType::UInt
        | ColumnType::Long
        | ColumnType::ULong => FieldType::Int,
        ColumnType::Float | ColumnType::Double => FieldType::Real,
        ColumnType::Binary => return None,
        _ => FieldType::Text, // String, Json, DateTime
    })
}

struct FgbFeatures {
    path: PathBuf,
    reader: BufReader<File>,
    remaining: u64,
    geometry_type: GeometryType,
    columns: Vec<(String, ColumnType)>,
    record: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Iterator for FgbFeatures {
    type Item = Result<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.remaining == 0 {
            return None;
        }
        self.record += 1;
        let n = self.record;
        match self.read_one() {
            Ok(f) => Some(check_coords_of(f).map_err(|reason| ImportError::record(&self.path, n, reason))),
            Err((reason, fatal)) => {
                self.done |= fatal;
                Some(Err(if fatal {
                    ImportError::damaged(&self.path, n, reason)
                } else {
                    ImportError::record(&self.path, n, reason)
                }))
            }
        }
    }
}

fn check_coords_of(f: SourceFeature) -> std::result::Result<SourceFeature, String> {
    if let Some(g) = &f.geometry {
        check_coords(g)?;
    }
    Ok(f)
}

impl FgbFeatures {
    /// The next feature; the error says whether reading can go on (`false`) or not (`true`).
    fn read_one(&mut self) -> std::result::Result<SourceFeature, (String, bool)> {
        let fatal = |s: String| (s, true);
        if self.remaining < 4 {
            return Err(fatal(format!(
                "truncated FlatGeobuf: {} stray bytes at the end",
                self.remaining
            )));
        }
        let mut size = [0u8; 4];
        self.reader
            .read_exact(&mut size)
            .map_err(|e| fatal(format!("cannot read the feature size: {e}")))?;
        self.remaining -= 4;
        let len = u64::from(u32::from_le_bytes(size));
        if len > self.remaining {
            return Err(fatal(format!(
                "truncated FlatGeobuf: the feature needs {len} bytes but {} are left",
                self.remaining
            )));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&size);
        self.buf.resize(len as usize + 4, 0);
        self.reader
            .read_exact(&mut self.buf[4..])
            .map_err(|e| fatal(format!("cannot read the feature: {e}")))?;
        self.remaining -= len;
        let recoverable = |s: String| (s, false);
        let feature = flatgeobuf::size_prefixed_root_as_feature(&self.buf)
            .map_err(|e| recoverable(format!("garbled feature: {e}")))?;
        let geometry = match feature.geometry() {
            None => None,
            Some(g) => geometry(&g, self.geometry_type, 0).map_err(recoverable)?,
        };
        let attributes = match feature.properties() {
            None => Attributes::new(),
            Some(p) => properties(p.bytes(), &self.columns).map_err(recoverable)?,
        };
        let n = self.record;
        Ok(SourceFeature {
            record: n,
            key: format!("rec:{n}"),
            geometry,
            attributes,
            kind: None,
            height_hint: None,
            warnings: Vec::new(),
        })
    }
}

/// Decodes the property bytes: repeated (u16 column index, value by the column's type).
fn properties(bytes: &[u8], columns: &[(String, ColumnType)]) -> std::result::Result<Attributes, String> {
    let mut out = Attributes::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let s = bytes.get(*at..*at + n).ok_or_else(|| {
            format!(
                "property bytes end at {} but {n} more were expected at {}",
                bytes.len(),
                *at
            )
        })?;
        *at += n;
        Ok(s)
    };
    // A trailing single byte after the last value exists in some writers' output.
    while at + 1 < bytes.len() {
        let i = usize::from(u16::from_le_bytes(arr(take(&mut at, 2)?)));
        let (name, t) = columns
            .get(i)
            .ok_or_else(|| format!("property for column {i}, but there are {} columns", columns.len()))?;
        let v = match *t {
            ColumnType::Bool => AttrValue::Bool(take(&mut at, 1)?[0] != 0),
            ColumnType::Byte => AttrValue::Int(i64::from(take(&mut at, 1)?[0] as i8)),
            ColumnType::UByte => AttrValue::Int(i64::from(take(&mut at, 1)?[0])),
            ColumnType::Short => AttrValue::Int(i64::from(i16::from_le_bytes(arr(take(&mut at, 2)?)))),
            ColumnType::UShort => AttrValue::Int(i64::from(u16::from_le_bytes(arr(take(&mut at, 2)?)))),
            ColumnType::Int => AttrValue::Int(i64::from(i32::from_le_bytes(arr(take(&mut at, 4)?)))),
            ColumnType::UInt => AttrValue::Int(i64::from(u32::from_le_bytes(arr(take(&mut at, 4)?)))),
            ColumnType::Long => AttrValue::Int(i64::from_le_bytes(arr(take(&mut at, 8)?))),
            ColumnType::ULong => {
                let u = u64::from_le_bytes(arr(take(&mut at, 8)?));
                i64::try_from(u).map_or(AttrValue::Real(u as f64), AttrValue::Int)
            }
            ColumnType::Float => AttrValue::Real(f64::from(f32::from_le_bytes(arr(take(&mut at, 4)?)))),
            ColumnType::Double => AttrValue::Real(f64::from_le_bytes(arr(take(&mut at, 8)?))),
            other => {
                let len = u32::from_le_bytes(arr(take(&mut at, 4)?)) as usize;
                let raw = take(&mut at, len)?;
                if other == ColumnType::Binary {
                    continue;
                }
                AttrValue::Text(String::from_utf8_lossy(raw).into_owned())
            }
        };
        out.insert(name.clone(), v);
    }
    Ok(out)
}

fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&s[..N]);
    a
}

/// The XY coordinates of one geometry node, read from its raw little-endian bytes.
fn xy(g: &flatgeobuf::Geometry<'_>) -> Vec<Coord<f64>> {
    let Some(v) = g.xy() else {
        return Vec::new();
    };
    v.bytes()
        .chunks_exact(16)
        .map(|c| Coord {
            x: f64::from_le_bytes(arr(&c[..8])),
            y: f64::from_le_bytes(arr(&c[8..])),
        })
        .collect()
}

/// Splits coordinates at the `ends` indices (one part when there are none).
fn parts(
    g: &flatgeobuf::Geometry<'_>,
    coords: Vec<Coord<f64>>,
) -> std::result::Result<Vec<LineString<f64>>, String> {
    let Some(ends) = g.ends().filter(|e| !e.is_empty()) else {
        return Ok(vec![LineString::new(coords)]);
    };
    let mut out = Vec::with_capacity(ends.len());
    let mut start = 0usize;
    for e in ends.iter() {
        let e = e as usize;
        if e < start || e > coords.len() {
            return Err(format!("ring end {e} is invalid for {} points", coords.len()));
        }
        out.push(LineString::new(coords[start..e].to_vec()));
        start = e;
    }
    Ok(out)
}

fn polygon(g: &flatgeobuf::Geometry<'_>) -> std::result::Result<Option<Polygon<f64>>, String> {
    let mut rings = parts(g, xy(g))?.into_iter();
    Ok(rings
        .next()
        .filter(|r| !r.0.is_empty())
        .map(|exterior| Polygon::new(exterior, rings.collect())))
}

fn geometry(
    g: &flatgeobuf::Geometry<'_>,
    declared: GeometryType,
    depth: usize,
) -> std::result::Result<Option<Geometry<f64>>, String> {
    if depth > MAX_DEPTH {
        return Err("geometry collections nested too deep".into());
    }
    let t = if declared == GeometryType::Unknown {
        g.type_()
    } else {
        declared
    };
    let members = || g.parts().into_iter().flat_map(|p| p.iter());
    Ok(match t {
        GeometryType::Point => xy(g).first().map(|c| Point::from(*c).into()),
        GeometryType::MultiPoint => {
            let pts: Vec<Point<f64>> = xy(g).into_iter().map(Point::from).collect();
            (!pts.is_empty()).then(|| MultiPoint::new(pts).into())
        }
        GeometryType::LineString => {
            let c = xy(g);
            (!c.is_empty()).then(|| LineString::new(c).into())
        }
        GeometryType::MultiLineString => {
            let lines = parts(g, xy(g))?;
            (!lines.iter().all(|l| l.0.is_empty())).then(|| MultiLineString::new(lines).into())
        }
        GeometryType::Polygon => polygon(g)?.map(Geometry::Polygon),
        GeometryType::MultiPolygon => {
            let mut polys = Vec::new();
            for p in members() {
                polys.extend(polygon(&p)?);
            }
            (!polys.is_empty()).then(|| MultiPolygon::new(polys).into())
        }
        GeometryType::GeometryCollection => {
            let mut gs = Vec::new();
            for p in members() {
                gs.extend(geometry(&p, GeometryType::Unknown, depth + 1)?);
            }
            (!gs.is_empty()).then(|| Geometry::GeometryCollection(GeometryCollection::new_from(gs)))
        }
        other => {
            return Err(format!(
                "unsupported geometry type {}",
                other.variant_name().unwrap_or("unknown")
            ))
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn index_size_matches_the_packed_rtree() {
        // 3 features, node size 16: 3 leaves + 1 root.
        assert_eq!(index_bytes(3, 16), Some(4 * 40));
        assert_eq!(index_bytes(0, 16), Some(0));
        assert_eq!(index_bytes(10, 0), Some(0));
        assert_eq!(
            index_bytes(1000, 16).map(|b| b as usize),
            Some(flatgeobuf::packed_r_tree::PackedRTree::index_size(1000, 16))
        );
        assert_eq!(index_bytes(u64::MAX, 2), None);
    }

    #[test]
    fn properties_reject_unknown_columns_and_short_values() {
        let cols = vec![
            ("a".to_string(), ColumnType::Int),
            ("s".to_string(), ColumnType::String),
        ];
        let mut b = Vec::new();
        b.extend(0u16.to_le_bytes());
        b.extend(7i32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(3u32.to_le_bytes());
        b.extend(b"abc");
        let a = properties(&b, &cols).unwrap();
        assert_eq!(a["a"], AttrValue::Int(7));
        assert_eq!(a["s"], AttrValue::Text("abc".into()));
        assert!(properties(&b[..b.len() - 1], &cols).is_err());
        let mut bad = b.clone();
        bad[0] = 9;
        assert!(properties(&bad, &cols).unwrap_err().contains("column 9"));
    }
}
