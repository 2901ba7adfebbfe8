//! Test helpers: a minimal shapefile writer (polygons + dBASE III attributes in any encoding)
//! used to make the small files in `tests/data/`, and shared assertions.

use std::path::{Path, PathBuf};

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn data(name: &str) -> PathBuf {
    data_dir().join(name)
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel)
}

/// A dBASE field value to write.
#[derive(Clone, Debug)]
pub enum Val {
    C(&'static str),
    N(i64),
    F(f64),
    L(bool),
    D(&'static str),
}

/// A column: name, type letter, width, decimals.
pub struct Col(pub &'static str, pub u8, pub u8, pub u8);

/// One polygon record: rings as written (outer clockwise, holes counter-clockwise).
pub struct Rec {
    pub rings: Vec<Vec<(f64, f64)>>,
    pub values: Vec<Val>,
}

pub struct ShapefileSpec<'a> {
    pub cols: &'a [Col],
    pub recs: &'a [Rec],
    pub ldid: u8,
    pub encoding: &'static encoding_rs::Encoding,
}

fn bbox(recs: &[Rec]) -> [f64; 4] {
    let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for r in recs {
        for ring in &r.rings {
            for &(x, y) in ring {
                b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
        }
    }
    b
}

fn shp_header(shape_type: i32, len_bytes: usize, b: [f64; 4]) -> Vec<u8> {
    let mut h = Vec::with_capacity(100);
    h.extend(9994i32.to_be_bytes());
    h.extend([0u8; 20]);
    h.extend(((len_bytes / 2) as i32).to_be_bytes());
    h.extend(1000i32.to_le_bytes());
    h.extend(shape_type.to_le_bytes());
    for v in b {
        h.extend(v.to_le_bytes());
    }
    h.extend([0u8; 32]);
    h
}

fn polygon_content(rings: &[Vec<(f64, f64)>]) -> Vec<u8> {
    let pts: Vec<(f64, f64)> = rings.iter().flatten().copied().collect();
    let mut c = Vec::new();
    c.extend(5i32.to_le_bytes());
    let rb = bbox(&[Rec {
        rings: rings.to_vec(),
        values: vec![],
    }]);
    for v in rb {
        c.extend(v.to_le_bytes());
    }
    c.extend((rings.len() as i32).to_le_bytes());
    c.extend((pts.len() as i32).to_le_bytes());
    let mut start = 0i32;
    for r in rings {
        c.extend(start.to_le_bytes());
        start += r.len() as i32;
    }
    for (x, y) in pts {
        c.extend(x.to_le_bytes());
        c.extend(y.to_le_bytes());
    }
    c
}

/// The `.shp`, `.shx` and `.dbf` bytes of a polygon shapefile.
pub fn shapefile_bytes(spec: &ShapefileSpec<'_>) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let b = bbox(spec.recs);
    let mut body = Vec::new();
    let mut index = Vec::new();
    for (i, r) in spec.recs.iter().enumerate() {
        let content = polygon_content(&r.rings);
        index.extend((((100 + body.len()) / 2) as i32).to_be_bytes());
        index.extend(((content.len() / 2) as i32).to_be_bytes());
        body.extend((i as i32 + 1).to_be_bytes());
        body.extend(((content.len() / 2) as i32).to_be_bytes());
        body.extend(content);
    }
    let mut shp = shp_header(5, 100 + body.len(), b);
    shp.extend(body);
    let mut shx = shp_header(5, 100 + index.len(), b);
    shx.extend(index);
    (shp, shx, dbf_bytes(spec))
}

pub fn dbf_bytes(spec: &ShapefileSpec<'_>) -> Vec<u8> {
    let record_len: usize = 1 + spec.cols.iter().map(|c| usize::from(c.2)).sum::<usize>();
    let header_len = 32 + 32 * spec.cols.len() + 1;
    let mut d = Vec::new();
    d.push(0x03);
    d.extend([124, 1, 1]); // 2024-01-01
    d.extend((spec.recs.len() as u32).to_le_bytes());
    d.extend((header_len as u16).to_le_bytes());
    d.extend((record_len as u16).to_le_bytes());
    d.extend([0u8; 17]);
    d.push(spec.ldid);
    d.extend([0u8; 2]);
    for c in spec.cols {
        let mut name = [0u8; 11];
        name[..c.0.len()].copy_from_slice(c.0.as_bytes());
        d.extend(name);
        d.push(c.1);
        d.extend([0u8; 4]);
        d.push(c.2);
        d.push(c.3);
        d.extend([0u8; 14]);
    }
    d.push(0x0D);
    for r in spec.recs {
        d.push(b' ');
        for (c, v) in spec.cols.iter().zip(&r.values) {
            let w = usize::from(c.2);
            let text: Vec<u8> = match v {
                Val::C(s) => {
                    let (bytes, _, _) = spec.encoding.encode(s);
                    let mut b = bytes.into_owned();
                    b.resize(w, b' ');
                    b
                }
                Val::N(n) => format!("{n:>w$}").into_bytes(),
                Val::F(f) => format!("{f:>w$.p$}", p = usize::from(c.3)).into_bytes(),
                Val::L(l) => vec![if *l { b'T' } else { b'F' }],
                Val::D(s) => s.as_bytes().to_vec(),
            };
            assert_eq!(text.len(), w, "value {v:?} does not fit column {}", c.0);
            d.extend(text);
        }
    }
    d.push(0x1A);
    d
}

/// Writes `stem.shp/.shx/.dbf` (+ `.cpg` and `.prj` when given) into `dir`.
pub fn write_shapefile(
    dir: &Path,
    stem: &str,
    spec: &ShapefileSpec<'_>,
    cpg: Option<&str>,
    prj: Option<&str>,
) -> PathBuf {
    let (shp, shx, dbf) = shapefile_bytes(spec);
    let base = dir.join(stem);
    std::fs::write(base.with_extension("shp"), shp).unwrap();
    std::fs::write(base.with_extension("shx"), shx).unwrap();
    std::fs::write(base.with_extension("dbf"), dbf).unwrap();
    if let Some(c) = cpg {
        std::fs::write(base.with_extension("cpg"), c).unwrap();
    }
    if let Some(p) = prj {
        std::fs::write(base.with_extension("prj"), p).unwrap();
    }
    base.with_extension("shp")
}

fn square(x0: f64, y0: f64, s: f64) -> Vec<(f64, f64)> {
    // clockwise (shapefile outer ring)
    vec![(x0, y0), (x0, y0 + s), (x0 + s, y0 + s), (x0 + s, y0), (x0, y0)]
}

fn reversed(mut r: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    r.reverse();
    r
}

/// The Chinese parcel names in the test shapefiles, in record order.
pub const PARCEL_NAMES: [&str; 3] = [
    "朝阳区建国路88号",
    "海淀区中关村大街1号",
    "西城区金融街9号（北区）",
];

pub const PARCEL_COLS: [Col; 5] = [
    Col("NAME", b'C', 60, 0),
    Col("CODE", b'N', 10, 0),
    Col("AREA", b'N', 14, 2),
    Col("BUILT", b'L', 1, 0),
    Col("REG_DATE", b'D', 8, 0),
];

/// Three parcels in CGCS2000 / 3-degree Gauss-Krüger zone 39 (EPSG:4527) coordinates:
/// a square, a square with a courtyard (hole), and a two-part parcel.
pub fn parcel_records() -> Vec<Rec> {
    let (x, y) = (39_500_000.0, 4_420_000.0);
    vec![
        Rec {
            rings: vec![square(x, y, 100.0)],
            values: vec![
                Val::C(PARCEL_NAMES[0]),
                Val::N(110105001),
                Val::F(10000.0),
                Val::L(true),
                Val::D("20190315"),
            ],
        },
        Rec {
            rings: vec![
                square(x + 200.0, y, 100.0),
                reversed(square(x + 240.0, y + 40.0, 20.0)),
            ],
            values: vec![
                Val::C(PARCEL_NAMES[1]),
                Val::N(110108002),
                Val::F(9600.0),
                Val::L(false),
                Val::D("20201201"),
            ],
        },
        Rec {
            rings: vec![square(x, y + 200.0, 50.0), square(x + 100.0, y + 200.0, 50.0)],
            values: vec![
                Val::C(PARCEL_NAMES[2]),
                Val::N(110102003),
                Val::F(5000.0),
                Val::L(true),
                Val::D("        "),
            ],
        },
    ]
}

pub const CGCS2000_GK39_PRJ: &str = r#"PROJCS["CGCS2000 / 3-degree Gauss-Kruger zone 39",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4490"]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",117],PARAMETER["scale_factor",1],PARAMETER["false_easting",39500000],PARAMETER["false_northing",0],UNIT["metre",1,AUTHORITY["EPSG","9001"]],AUTHORITY["EPSG","4527"]]"#;

/// (file stem, LDID, encoding, .cpg, .prj) of a generated shapefile.
pub type ShapefileSet = (
    &'static str,
    u8,
    &'static encoding_rs::Encoding,
    Option<&'static str>,
    Option<&'static str>,
);

/// (file stem, LDID, encoding, .cpg, .prj) of each generated shapefile in `tests/data/`.
pub fn shapefile_sets() -> Vec<ShapefileSet> {
    vec![
        (
            "parcels_gbk_cpg",
            0x00,
            encoding_rs::GBK,
            Some("GBK"),
            Some(CGCS2000_GK39_PRJ),
        ),
        ("parcels_gbk_ldid", 0x4D, encoding_rs::GBK, None, None),
        (
            "parcels_gbk_unstated",
            0x00,
            encoding_rs::GBK,
            None,
            Some(CGCS2000_GK39_PRJ),
        ),
        (
            "parcels_utf8",
            0x00,
            encoding_rs::UTF_8,
            Some("UTF-8"),
            Some(CGCS2000_GK39_PRJ),
        ),
        (
            "parcels_bad_cpg",
            0x4D,
            encoding_rs::GBK,
            Some("KLINGON-7"),
            Some("this is not WKT"),
        ),
    ]
}

/// Writes every generated test file into `dir`.
pub fn write_test_data(dir: &Path) {
    let recs = parcel_records();
    for (stem, ldid, encoding, cpg, prj) in shapefile_sets() {
        let spec = ShapefileSpec {
            cols: &PARCEL_COLS,
            recs: &recs,
            ldid,
            encoding,
        };
        write_shapefile(dir, stem, &spec, cpg, prj);
    }
    // Truncated copies of the GBK set: the .shp cut inside record 3, the .dbf cut inside record 3.
    let spec = ShapefileSpec {
        cols: &PARCEL_COLS,
        recs: &recs,
        ldid: 0x4D,
        encoding: encoding_rs::GBK,
    };
    let (shp, shx, dbf) = shapefile_bytes(&spec);
    for (stem, shp_cut, dbf_cut) in [("truncated_shp", 40, 0), ("truncated_dbf", 0, 50)] {
        let base = dir.join(stem);
        std::fs::write(base.with_extension("shp"), &shp[..shp.len() - shp_cut]).unwrap();
        std::fs::write(base.with_extension("shx"), &shx).unwrap();
        std::fs::write(base.with_extension("dbf"), &dbf[..dbf.len() - dbf_cut]).unwrap();
        std::fs::write(base.with_extension("prj"), CGCS2000_GK39_PRJ).unwrap();
    }
    std::fs::write(dir.join("parcels.fgb"), fgb_bytes()).unwrap();
}

/// The three parcels as a FlatGeobuf file (written by the `flatgeobuf` crate's own writer),
/// EPSG:4527 in the header, promoted to MultiPolygon.
pub fn fgb_bytes() -> Vec<u8> {
    use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
    use geozero::{ColumnValue, PropertyProcessor};
    let options = FgbWriterOptions {
        crs: FgbCrs {
            org: Some("EPSG"),
            code: 4527,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut w = FgbWriter::create_with_options("parcels", GeometryType::MultiPolygon, options).unwrap();
    w.add_column("name", ColumnType::String, |_, _| {});
    w.add_column("code", ColumnType::Long, |_, _| {});
    w.add_column("area", ColumnType::Double, |_, _| {});
    w.add_column("built", ColumnType::Bool, |_, _| {});
    for r in parcel_records() {
        let rings: Vec<geo_types::LineString<f64>> = r
            .rings
            .iter()
            .map(|ring| {
                ring.iter()
                    .map(|&(x, y)| geo_types::coord! { x: x, y: y })
                    .collect()
            })
            .collect();
        // Shapefile order (outer clockwise) is fine for FlatGeobuf, which keeps rings as given;
        // the two-part parcel becomes two polygons, the courtyard a hole.
        let polys: Vec<geo_types::Polygon<f64>> = match rings.len() {
            2 if r.values.len() == 5 && matches!(r.values[2], Val::F(a) if a == 9600.0) => {
                vec![geo_types::Polygon::new(rings[0].clone(), vec![rings[1].clone()])]
            }
            _ => rings
                .into_iter()
                .map(|l| geo_types::Polygon::new(l, vec![]))
                .collect(),
        };
        let g = geo_types::Geometry::MultiPolygon(geo_types::MultiPolygon::new(polys));
        let vals = r.values.clone();
        w.add_feature_geom(g, |f| {
            let Val::C(name) = vals[0] else { unreachable!() };
            let Val::N(code) = vals[1] else { unreachable!() };
            let Val::F(area) = vals[2] else { unreachable!() };
            let Val::L(built) = vals[3] else { unreachable!() };
            f.property(0, "name", &ColumnValue::String(name)).unwrap();
            f.property(1, "code", &ColumnValue::Long(code)).unwrap();
            f.property(2, "area", &ColumnValue::Double(area)).unwrap();
            f.property(3, "built", &ColumnValue::Bool(built)).unwrap();
        })
        .unwrap();
    }
    let mut out = Vec::new();
    w.write(&mut out).unwrap();
    out
}
