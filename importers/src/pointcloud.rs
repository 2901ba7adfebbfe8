//! Point clouds: LAS 1.2–1.4 and LAZ (decoded by the `las` and `laz` crates), with their CRS
//! from the file's WKT record or, where it has none that parses, its GeoTIFF keys (a WKT wins:
//! the LAS 1.4 specification makes it the CRS of record, and writers that keep both keep the
//! GeoTIFF keys for old readers), else the caller's `--src-crs`.

use std::path::{Path, PathBuf};

use cim_engine::crs::GeoKeys;
use cim_engine::Crs;

use crate::error::{ImportError, Result};

/// Points as read, in the file's CRS.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointCloud {
    pub path: PathBuf,
    /// LAS version (major, minor) and point data record format.
    pub version: (u8, u8),
    pub format: u8,
    /// The file's CRS and where it came from (`WKT record`, `GeoTIFF keys`), if it has one.
    pub crs: Option<(Crs, &'static str)>,
    pub xyz: Vec<[f64; 3]>,
    /// ASPRS classes (2 ground, 6 building, …).
    pub class: Vec<u8>,
    pub intensity: Vec<u16>,
    /// Return number and number of returns.
    pub returns: Vec<[u8; 2]>,
    /// 16-bit RGB, where the format has colour.
    pub rgb: Option<Vec<[u16; 3]>>,
}

impl PointCloud {
    /// `[min_x, min_y, min_z, max_x, max_y, max_z]` of the points (infinite when none).
    pub fn bounds(&self) -> [f64; 6] {
        let mut b = [
            f64::INFINITY,
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for p in &self.xyz {
            for i in 0..3 {
                b[i] = b[i].min(p[i]);
                b[i + 3] = b[i + 3].max(p[i]);
            }
        }
        b
    }

    /// Points of each class, by class.
    pub fn class_counts(&self) -> std::collections::BTreeMap<u8, u64> {
        let mut m = std::collections::BTreeMap::new();
        for &c in &self.class {
            *m.entry(c).or_insert(0) += 1;
        }
        m
    }
}

/// The CRS of a LAS header: its WKT record where it parses, else its GeoTIFF keys.
fn crs_of(header: &las::Header) -> Option<(Crs, &'static str)> {
    if let Some(wkt) = header.get_wkt_crs_bytes() {
        let text = String::from_utf8_lossy(wkt);
        if let Ok(c) = Crs::from_wkt(text.trim_end_matches('\0').trim()) {
            return Some((c, "WKT record"));
        }
    }
    let (mut dir, mut doubles, mut ascii) = (None, Vec::new(), String::new());
    for v in header.all_vlrs() {
        if v.user_id.trim_end_matches('\0') != "LASF_Projection" {
            continue;
        }
        match v.record_id {
            34735 => {
                dir = Some(
                    v.data
                        .chunks_exact(2)
                        .map(|b| u16::from_le_bytes([b[0], b[1]]))
                        .collect::<Vec<u16>>(),
                )
            }
            34736 => {
                doubles = v
                    .data
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect()
            }
            34737 => ascii = String::from_utf8_lossy(&v.data).into_owned(),
            _ => {}
        }
    }
    let keys = GeoKeys::from_tiff_tags(&dir?, &doubles, &ascii).ok()?;
    Crs::from_geokeys(&keys).ok().map(|c| (c, "GeoTIFF keys"))
}

/// Reads a LAS or LAZ file whole. A file that is not one, or a point that does not decode (a
/// broken LAZ chunk), is an error naming the file and the point.
pub fn read_las(path: &Path) -> Result<PointCloud> {
    let bad = |reason: String| ImportError::File {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader =
        las::Reader::from_path(path).map_err(|e| bad(format!("cannot read it as LAS/LAZ: {e}")))?;
    let header = reader.header().clone();
    let n = header.number_of_points();
    // The header's count sizes the arrays; a lying header cannot make them huge.
    let cap = usize::try_from(n.min(1 << 26)).unwrap_or(0);
    let format = header.point_format();
    let mut cloud = PointCloud {
        path: path.to_path_buf(),
        version: (header.version().major, header.version().minor),
        format: format.to_u8().unwrap_or(0),
        crs: crs_of(&header),
        xyz: Vec::with_capacity(cap),
        class: Vec::with_capacity(cap),
        intensity: Vec::with_capacity(cap),
        returns: Vec::with_capacity(cap),
        rgb: format.has_color.then(|| Vec::with_capacity(cap)),
    };
    // In batches of a million, column by column.
    let mut batch = las::PointDataBuilder::new().for_header(&header).build();
    loop {
        let got = reader
            .fill_points(1 << 20, &mut batch)
            .map_err(|e| bad(format!("points from {}: {e}", cloud.xyz.len() + 1)))?;
        if got == 0 {
            break;
        }
        for ((x, y), z) in batch.x().zip(batch.y()).zip(batch.z()) {
            cloud.xyz.push([x, y, z]);
        }
        cloud.class.extend(batch.classification());
        cloud.intensity.extend(batch.intensity());
        cloud.returns.extend(
            batch
                .return_number()
                .zip(batch.number_of_returns())
                .map(|(r, n)| [r, n]),
        );
        if let (Some(rgb), Some(colours)) = (cloud.rgb.as_mut(), batch.rgb()) {
            rgb.extend(colours.map(|(r, g, b)| [r, g, b]));
        }
    }
    if cloud.xyz.len() as u64 != n {
        return Err(bad(format!(
            "the header says {n} points, {} were read",
            cloud.xyz.len()
        )));
    }
    Ok(cloud)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/pointcloud")
            .join(name);
        assert!(p.exists(), "fixture {} missing", p.display());
        p
    }

    #[test]
    fn the_autzen_laz_reads_as_its_manifest_says() {
        let c = read_las(&fixture("autzen_trim.laz")).unwrap();
        assert_eq!((c.version, c.format), ((1, 2), 3));
        assert_eq!(c.xyz.len(), 110_000);
        let counts = c.class_counts();
        assert_eq!((counts[&1], counts[&2]), (83_893, 26_107));
        let b = c.bounds();
        let near = |a: f64, e: f64| (a - e).abs() < 0.006;
        assert!(near(b[0], 636_001.76) && near(b[3], 637_179.22), "{b:?}");
        assert!(near(b[1], 848_935.20) && near(b[4], 849_497.90), "{b:?}");
        assert!(near(b[2], 406.26) && near(b[5], 520.51), "{b:?}");
        let returns: Vec<usize> = (1..=4)
            .map(|r| c.returns.iter().filter(|x| x[0] == r).count())
            .collect();
        assert_eq!(returns, vec![99_257, 9_021, 1_623, 99]);
        assert_eq!(c.rgb.as_ref().map(Vec::len), Some(110_000));
        // Lambert conformal conic in international feet, from its WKT record.
        let (crs, from) = c.crs.as_ref().unwrap();
        assert_eq!(*from, "WKT record");
        assert!(crs.proj4().contains("+proj=lcc"), "{}", crs.proj4());
    }

    #[test]
    fn las_and_laz_of_the_same_points_read_the_same() {
        let (a, b) = (
            read_las(&fixture("simple.las")).unwrap(),
            read_las(&fixture("simple.laz")).unwrap(),
        );
        assert_eq!(a.xyz.len(), 1_065);
        assert_eq!(
            (a.xyz == b.xyz, a.class == b.class, a.rgb == b.rgb),
            (true, true, true)
        );
        assert_eq!((a.class_counts()[&1], a.class_counts()[&2]), (789, 276));
        // No CRS in the file: the caller's --src-crs is needed.
        assert!(a.crs.is_none());
    }

    #[test]
    fn a_las_1_4_file_with_wkt_and_geotiff_keys_takes_the_wkt() {
        let c = read_las(&fixture("file_with_both_wkt_and_geotiff_vlrs.las")).unwrap();
        assert_eq!((c.version, c.format, c.xyz.len()), ((1, 4), 6, 25_408));
        assert_eq!(c.class_counts()[&6], 3_737);
        assert!(c.rgb.is_none());
        let (crs, from) = c.crs.as_ref().unwrap();
        assert_eq!(*from, "WKT record");
        assert!(
            crs.display_name().contains("Nebraska") || crs.epsg() == Some(6880),
            "{}",
            crs.display_name()
        );
    }

    #[test]
    fn a_broken_file_is_a_clear_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(fixture("autzen_trim.laz")).unwrap();
        let cut = dir.path().join("cut.laz");
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&cut, &bytes).unwrap();
        let e = read_las(&cut).unwrap_err().to_string();
        assert!(
            e.contains("cut.laz") && e.contains("cannot read it as LAS/LAZ"),
            "{e}"
        );
        // Points cut off: the error says where.
        let mut bytes = std::fs::read(fixture("simple.las")).unwrap();
        bytes.truncate(bytes.len() * 3 / 5);
        let cut = dir.path().join("cut.las");
        std::fs::write(&cut, &bytes).unwrap();
        let e = read_las(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.las") && e.contains("point"), "{e}");
        let junk = dir.path().join("junk.las");
        std::fs::write(&junk, b"LASF not really").unwrap();
        let e = read_las(&junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.las") && e.contains("cannot read it as LAS/LAZ"),
            "{e}"
        );
    }
}
