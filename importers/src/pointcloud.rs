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
    /// The file's WKT record as written, if it has one.
    pub wkt: Option<String>,
    pub xyz: Vec<[f64; 3]>,
    /// ASPRS classes (2 ground, 6 building, …).
    pub class: Vec<u8>,
    pub intensity: Vec<u16>,
    /// Return number and number of returns.
    pub returns: Vec<[u8; 2]>,
    /// 16-bit RGB, where the format has colour.
    pub rgb: Option<Vec<[u16; 3]>>,
}

/// `[min_x, min_y, min_z, max_x, max_y, max_z]` of `points` (infinite when none).
pub(crate) fn bounds_of(points: impl Iterator<Item = [f64; 3]>) -> [f64; 6] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in points {
        for i in 0..3 {
            b[i] = b[i].min(p[i]);
            b[i + 3] = b[i + 3].max(p[i]);
        }
    }
    b
}

impl PointCloud {
    /// `[min_x, min_y, min_z, max_x, max_y, max_z]` of the points (infinite when none).
    pub fn bounds(&self) -> [f64; 6] {
        bounds_of(self.xyz.iter().copied())
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

/// Refuses a LAZ file whose chunk table claims more chunks than the file has bytes (the LAZ
/// decoder would try to allocate them all: found by fuzzing). A LAS file, or a LAZ file without
/// a chunk table, passes.
fn check_laz_chunk_table(path: &Path) -> std::result::Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = [0u8; 105];
    if f.read_exact(&mut head).is_err() || &head[..4] != b"LASF" {
        // Short or not LAS: the reader says why.
        return Ok(());
    }
    // Compressed point formats have bit 7 of the format byte set.
    if head[104] & 0x80 == 0 {
        return Ok(());
    }
    let offset = u64::from(u32::from_le_bytes([head[96], head[97], head[98], head[99]]));
    let mut at = [0u8; 8];
    if f.seek(SeekFrom::Start(offset)).is_err() || f.read_exact(&mut at).is_err() {
        return Ok(());
    }
    let table = i64::from_le_bytes(at);
    if table < 0 {
        return Ok(());
    }
    let mut entry = [0u8; 8];
    if f.seek(SeekFrom::Start(table as u64)).is_err() || f.read_exact(&mut entry).is_err() {
        return Err(format!(
            "its LAZ chunk table offset {table} lies beyond the file's {size} bytes"
        ));
    }
    let chunks = u64::from(u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]));
    if chunks > size {
        return Err(format!(
            "its LAZ chunk table claims {chunks} chunks in a file of {size} bytes (a broken chunk table)"
        ));
    }
    Ok(())
}

/// Reads a LAS or LAZ file whole. A file that is not one, or a point that does not decode (a
/// broken LAZ chunk), is an error naming the file and the point.
pub fn read_las(path: &Path) -> Result<PointCloud> {
    // The decoders are other crates': one that panics on a damaged file (fuzzing found some)
    // gives an error too.
    match std::panic::catch_unwind(|| read_las_inner(path)) {
        Ok(r) => r,
        Err(_) => Err(ImportError::File {
            path: path.to_path_buf(),
            reason: "the LAS/LAZ decoder failed on it (a damaged file)".into(),
        }),
    }
}

fn read_las_inner(path: &Path) -> Result<PointCloud> {
    let bad = |reason: String| ImportError::File {
        path: path.to_path_buf(),
        reason,
    };
    check_laz_chunk_table(path).map_err(bad)?;
    let mut reader =
        las::Reader::from_path(path).map_err(|e| bad(format!("cannot read it as LAS/LAZ: {e}")))?;
    let header = reader.header().clone();
    let n = header.number_of_points();
    // The header's count sizes the arrays up to a million points (a lying header cannot make
    // them huge; they grow as points are read).
    let cap = usize::try_from(n.min(1 << 20)).unwrap_or(0);
    let format = header.point_format();
    let mut cloud = PointCloud {
        path: path.to_path_buf(),
        version: (header.version().major, header.version().minor),
        format: format.to_u8().unwrap_or(0),
        crs: crs_of(&header),
        wkt: header.get_wkt_crs_bytes().map(|w| {
            String::from_utf8_lossy(w)
                .trim_end_matches('\0')
                .trim()
                .to_string()
        }),
        xyz: Vec::with_capacity(cap),
        class: Vec::with_capacity(cap),
        intensity: Vec::with_capacity(cap),
        returns: Vec::with_capacity(cap),
        rgb: format.has_color.then(|| Vec::with_capacity(cap)),
    };
    // In batches of up to 64 MiB of records (the header sets a record's length, up to 64 KiB),
    // column by column.
    let per_batch = ((64u64 << 20) / u64::from(format.len()).max(1)).clamp(1, 1 << 20);
    let mut batch = las::PointDataBuilder::new().for_header(&header).build();
    loop {
        let got = reader
            .fill_points(per_batch, &mut batch)
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

/// Most points a tile holds.
pub const MAX_TILE_POINTS: usize = 50_000;

/// Deepest the octree goes (points closer than the root's size / 2^24 stay together).
const MAX_DEPTH: u32 = 24;

/// A point cloud in the project CRS as an octree of tiles with ADD refinement: each tile keeps
/// at most `max` points, one a cell of a 64³ grid over its cube (the first met, so the result is
/// the same for the same file), and passes the rest to its eight children; its geometric error
/// is its grid's cell size, a leaf's 0; its bounds are tight round the points of its subtree.
/// Every point is in exactly one tile.
pub fn tile_points(
    cloud: &PointCloud,
    max: usize,
) -> Vec<(cim_engine::Tile, cim_engine::points::TilePoints)> {
    use cim_engine::{Refine, Tile, TileContent};
    let max = max.max(1);
    let n = cloud.xyz.len();
    if n == 0 {
        return Vec::new();
    }
    let b = cloud.bounds();
    let side = (0..3).map(|i| b[i + 3] - b[i]).fold(1.0, f64::max);
    // (points, cube min corner, side, parent, depth), breadth first.
    type Node = (Vec<u32>, [f64; 3], f64, Option<u32>, u32);
    let mut queue: std::collections::VecDeque<Node> =
        std::collections::VecDeque::from([((0..n as u32).collect(), [b[0], b[1], b[2]], side, None, 0)]);
    let mut out = Vec::new();
    while let Some((ids, lo, side, parent, depth)) = queue.pop_front() {
        let id = out.len() as u32;
        // The tile's bounds: tight round the points of its subtree.
        let tight = bounds_of(ids.iter().map(|&i| cloud.xyz[i as usize]));
        let (keep, rest, error) = if ids.len() <= max || depth >= MAX_DEPTH {
            (ids, Vec::new(), 0.0)
        } else {
            let cell = side / 64.0;
            let mut seen = std::collections::HashSet::new();
            let (mut keep, mut rest) = (Vec::with_capacity(max), Vec::with_capacity(ids.len()));
            for i in ids {
                let p = cloud.xyz[i as usize];
                let key = [0, 1, 2].map(|k| (((p[k] - lo[k]) / cell).floor().clamp(0.0, 63.0)) as u8);
                if keep.len() < max && seen.insert(key) {
                    keep.push(i);
                } else {
                    rest.push(i);
                }
            }
            (keep, rest, cell)
        };
        let half = side / 2.0;
        let mut children: [Vec<u32>; 8] = Default::default();
        for i in rest {
            let p = cloud.xyz[i as usize];
            let o = (0..3).fold(0, |o, k| o | (usize::from(p[k] >= lo[k] + half) << k));
            children[o].push(i);
        }
        let centre = [lo[0] + half, lo[1] + half, lo[2] + half];
        let points = cim_engine::points::TilePoints {
            origin: centre,
            xyz: keep
                .iter()
                .map(|&i| {
                    let p = cloud.xyz[i as usize];
                    [
                        (p[0] - centre[0]) as f32,
                        (p[1] - centre[1]) as f32,
                        (p[2] - centre[2]) as f32,
                    ]
                })
                .collect(),
            class: keep.iter().map(|&i| cloud.class[i as usize]).collect(),
            intensity: keep.iter().map(|&i| cloud.intensity[i as usize]).collect(),
            rgb: cloud
                .rgb
                .as_ref()
                .map(|c| keep.iter().map(|&i| c[i as usize]).collect()),
        };
        let tile = Tile {
            id,
            parent,
            bounds: tight,
            geometric_error: error,
            refine: Refine::Add,
            content: TileContent::None,
            transform: None,
            triangles: 0,
            points: keep.len() as u64,
        };
        out.push((tile, points));
        for (o, ids) in children.into_iter().enumerate() {
            if ids.is_empty() {
                continue;
            }
            let child_lo = [0, 1, 2].map(|k| lo[k] + if o >> k & 1 == 1 { half } else { 0.0 });
            queue.push_back((ids, child_lo, half, Some(id), depth + 1));
        }
    }
    out
}

/// What a point cloud import did.
#[derive(Clone, Debug, PartialEq)]
pub struct PointCloudReport {
    pub tileset: cim_engine::Tileset,
    /// The file's CRS and where it came from.
    pub crs: String,
    pub points_by_class: std::collections::BTreeMap<u8, u64>,
}

/// A LAS/LAZ file read and moved into the project CRS (heights into metres), with the CRS it
/// came from (`name (where)`) and the placement said in words.
fn placed(
    project: &cim_engine::Project,
    path: &Path,
    src_crs: Option<&Crs>,
) -> Result<(PointCloud, String, String)> {
    let mut cloud = read_las(path)?;
    let (crs, from) = match (src_crs, &cloud.crs) {
        (Some(c), _) => (c.clone(), "--src-crs"),
        (None, Some((c, from))) => (c.clone(), *from),
        (None, None) => {
            return Err(ImportError::MissingCrs {
                path: path.to_path_buf(),
                reason: "the file has neither a WKT record nor GeoTIFF keys".into(),
            })
        }
    };
    let to = cim_engine::Transform::new(project.crs(), &crs);
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = cloud.xyz.iter().map(|p| (p[0], p[1])).unzip();
    to.apply_slice(&mut xs, &mut ys)
        .map_err(|e| ImportError::file(path, format!("cannot move its points into the project CRS: {e}")))?;
    let z_scale = crs.to_meter();
    for (k, p) in cloud.xyz.iter_mut().enumerate() {
        *p = [xs[k], ys[k], p[2] * z_scale];
    }
    let placement = if to.is_identity() {
        format!("{} ({from}), the project CRS", crs.name())
    } else {
        format!("{} ({from}) into {}", crs.name(), project.crs().name())
    } + &if (z_scale - 1.0).abs() > 1e-12 {
        format!(", heights × {z_scale}")
    } else {
        String::new()
    };
    Ok((cloud, format!("{} ({from})", crs.name()), placement))
}

/// Imports a LAS/LAZ file as a point tileset named `name` (else the file's stem): its points
/// moved into the project CRS (heights into metres), tiled, each tile's points packed
/// (`cim-points`), in one transaction. A file without a CRS needs `src_crs`.
pub fn import_point_cloud(
    project: &mut cim_engine::Project,
    path: &Path,
    name: Option<&str>,
    src_crs: Option<&Crs>,
) -> Result<PointCloudReport> {
    let (cloud, crs, placement) = placed(project, path, src_crs)?;
    let name = name
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "points".into());
    let tiles = tile_points(&cloud, MAX_TILE_POINTS);
    if tiles.is_empty() {
        return Err(ImportError::file(path, "it holds no points"));
    }
    let tiles: Vec<cim_engine::Tile> = tiles
        .into_iter()
        .map(|(mut t, p)| {
            if !p.is_empty() {
                t.content = cim_engine::TileContent::Packed {
                    format: cim_engine::points::POINTS_FORMAT.into(),
                    bytes: p.encode(),
                };
            }
            t
        })
        .collect();
    let source = path.display().to_string();
    let mut tx = project.import().map_err(|e| ImportError::engine(path, e))?;
    let tileset = tx
        .put_tileset(
            &cim_engine::TilesetHead {
                name,
                kind: cim_engine::TilesetKind::Points,
                source,
                placement,
                root: None,
                frame: cim_engine::ContentFrame::Project,
            },
            &tiles,
        )
        .map_err(|e| ImportError::engine(path, e))?;
    tx.commit().map_err(|e| ImportError::engine(path, e))?;
    Ok(PointCloudReport {
        tileset,
        crs,
        points_by_class: cloud.class_counts(),
    })
}

/// ASPRS class of ground points.
pub const GROUND: u8 = 2;

/// The most cells a ground DEM has (a 20 km square at 1 m).
pub const MAX_DEM_CELLS: usize = 400_000_000;

/// Cells a gap is filled across from the cells with ground points around it.
pub const FILL_CELLS: usize = 3;

/// ASPRS classes of noise (low and high), left out of a surface model.
pub const NOISE: [u8; 2] = [7, 18];

/// Which heights a lidar grid takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeightModel {
    /// A DEM: the mean height of the ground points (class 2) a cell.
    Ground,
    /// A DSM: the highest point a cell of every class but noise (roofs, trees, ground).
    Surface,
}

impl HeightModel {
    /// What the model is made of, for messages.
    fn what(self) -> &'static str {
        match self {
            HeightModel::Ground => "ground point (class 2)",
            HeightModel::Surface => "point (noise left out)",
        }
    }
}

/// A height grid of `cloud` (in the project CRS) in cells of `cell_m`, of its ground points or
/// its surface ([`HeightModel`]). A cell without a point takes the mean of its neighbours that
/// have a height, ring by ring up to [`FILL_CELLS`] cells from the data (so the ground under a
/// building is bridged); farther cells stay without data. Also the count of cells filled. An
/// error says why there is none: no point of the kind, a cell size that is not a length, or a
/// grid of more than [`MAX_DEM_CELLS`] cells.
pub fn height_grid(
    cloud: &PointCloud,
    cell_m: f64,
    model: HeightModel,
) -> std::result::Result<(cim_engine::Raster, usize), String> {
    let ground: Vec<[f64; 3]> = cloud
        .xyz
        .iter()
        .zip(&cloud.class)
        .filter(|(_, c)| match model {
            HeightModel::Ground => **c == GROUND,
            HeightModel::Surface => !NOISE.contains(*c),
        })
        .map(|(p, _)| *p)
        .collect();
    if !(cell_m.is_finite() && cell_m > 0.0) {
        return Err(format!("--cell-size {cell_m} is not a length"));
    }
    if ground.is_empty() {
        return Err(format!("it has no {} to make a terrain of", model.what()));
    }
    let (mut x0, mut y0, mut x1, mut y1) =
        (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in &ground {
        x0 = x0.min(p[0]);
        y0 = y0.min(p[1]);
        x1 = x1.max(p[0]);
        y1 = y1.max(p[1]);
    }
    // Cells aligned on multiples of the cell size, so two tiles of one survey line up.
    let (x0, y0) = ((x0 / cell_m).floor() * cell_m, (y0 / cell_m).floor() * cell_m);
    let (w, h) = ((x1 - x0) / cell_m + 1.0, (y1 - y0) / cell_m + 1.0);
    if !(w.is_finite() && h.is_finite()) || w * h > MAX_DEM_CELLS as f64 {
        return Err(format!(
            "its ground spans {:.0} × {:.0} m: more than {MAX_DEM_CELLS} cells of {cell_m} m (give a larger --resolution)",
            x1 - x0,
            y1 - y0
        ));
    }
    let width = (w.floor() as usize).max(1);
    let height = (h.floor() as usize).max(1);
    let top = y0 + height as f64 * cell_m;
    let mut sum = vec![0.0f64; width * height];
    let mut n = vec![0u32; width * height];
    for p in &ground {
        let col = (((p[0] - x0) / cell_m).floor() as usize).min(width - 1);
        let row = (((top - p[1]) / cell_m).floor() as usize).min(height - 1);
        let k = row * width + col;
        match model {
            HeightModel::Ground => sum[k] += p[2],
            HeightModel::Surface if n[k] == 0 => sum[k] = p[2],
            HeightModel::Surface => sum[k] = sum[k].max(p[2]),
        }
        n[k] += 1;
    }
    let mut r = cim_engine::Raster::empty(width, height, x0, top, cell_m, cell_m);
    for k in 0..width * height {
        if n[k] > 0 {
            r.data[k] = match model {
                HeightModel::Ground => sum[k] / f64::from(n[k]),
                HeightModel::Surface => sum[k],
            } as f32;
        }
    }
    let mut filled = 0;
    for _ in 0..FILL_CELLS {
        let before = r.data.clone();
        for row in 0..height {
            for col in 0..width {
                if !before[row * width + col].is_nan() {
                    continue;
                }
                let (mut s, mut m) = (0.0f64, 0u32);
                for dr in -1i64..=1 {
                    for dc in -1i64..=1 {
                        let (rr, cc) = (row as i64 + dr, col as i64 + dc);
                        if rr < 0 || cc < 0 || rr >= height as i64 || cc >= width as i64 {
                            continue;
                        }
                        let v = before[rr as usize * width + cc as usize];
                        if !v.is_nan() {
                            s += f64::from(v);
                            m += 1;
                        }
                    }
                }
                if m > 0 {
                    r.data[row * width + col] = (s / f64::from(m)) as f32;
                    filled += 1;
                }
            }
        }
    }
    Ok((r, filled))
}

/// Imports a LAS/LAZ file as terrain `name` (else `terrain` for the ground, `surface` for the
/// surface): a grid of its ground or its surface ([`height_grid`]) in cells of `cell_m` (1 m by
/// default) in the project CRS, in one transaction, with a warning that says how many cells
/// were filled and how many have no data.
pub fn import_height_grid(
    project: &mut cim_engine::Project,
    path: &Path,
    model: HeightModel,
    name: Option<&str>,
    src_crs: Option<&Crs>,
    cell_m: Option<f64>,
) -> Result<(crate::pipeline::TerrainReport, Vec<crate::error::Warning>)> {
    let (cloud, _, _) = placed(project, path, src_crs)?;
    let cell = cell_m.unwrap_or(1.0);
    let (dem, filled) = height_grid(&cloud, cell, model).map_err(|reason| ImportError::file(path, reason))?;
    let missing = dem.data.iter().filter(|v| v.is_nan()).count();
    let mut warnings = Vec::new();
    if filled > 0 || missing > 0 {
        warnings.push(crate::error::Warning {
            path: path.to_path_buf(),
            record: None,
            message: format!(
                "{filled} of {} cells had no {} and took their neighbours' mean (up to {FILL_CELLS} cells from one); {missing} are left without data",
                dem.data.len(),
                model.what()
            ),
        });
    }
    let crs = project.crs().clone();
    let default = match model {
        HeightModel::Ground => "terrain",
        HeightModel::Surface => "surface",
    };
    let report = crate::pipeline::import_terrain(project, path, dem, &crs, name.unwrap_or(default), None)?;
    Ok((report, warnings))
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
    fn the_octree_keeps_every_point_once_within_its_tiles() {
        let c = read_las(&fixture("autzen_trim.laz")).unwrap();
        let tiles = tile_points(&c, 20_000);
        let total: u64 = tiles.iter().map(|(t, _)| t.points).sum();
        assert_eq!(total, 110_000);
        assert!(tiles.len() > 5, "{} tiles", tiles.len());
        assert!(tiles
            .iter()
            .all(|(t, p)| t.points as usize == p.len() && p.len() <= 20_000));
        // Each point in its tile's cube; errors halve downward; leaves have none.
        let mut seen = std::collections::HashSet::new();
        for (t, p) in &tiles {
            for (k, q) in p.xyz.iter().enumerate() {
                let a = [0, 1, 2].map(|i| p.origin[i] + f64::from(q[i]));
                assert!((0..3).all(|i| a[i] >= t.bounds[i] - 0.01 && a[i] <= t.bounds[i + 3] + 0.01));
                seen.insert((a.map(|v| (v * 100.0).round() as i64), p.class[k]));
            }
            if let Some(parent) = t.parent {
                let pt = &tiles[parent as usize].0;
                assert!(t.geometric_error < pt.geometric_error || t.geometric_error == 0.0);
            }
        }
        assert_eq!(tiles[0].0.parent, None);
        // The same file tiles the same.
        assert_eq!(
            tile_points(&c, 20_000)
                .iter()
                .map(|t| t.0.clone())
                .collect::<Vec<_>>(),
            tiles.iter().map(|t| t.0.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_ground_dem_is_the_mean_of_ground_points_with_small_gaps_bridged() {
        let mut c = PointCloud::default();
        // Ground at 10 m and 12 m in cell (0, 0) of 1 m cells, 20 m two cells east, a roof point
        // (class 6) between them, and one ground point 10 cells away.
        for (x, y, z, class) in [
            (0.2, 0.5, 10.0, 2),
            (0.7, 0.5, 12.0, 2),
            (2.5, 0.5, 20.0, 2),
            (1.5, 0.5, 99.0, 6),
            (10.5, 0.5, 5.0, 2),
        ] {
            c.xyz.push([100.0 + x, 200.0 + y, z]);
            c.class.push(class);
        }
        let (r, filled) = height_grid(&c, 1.0, HeightModel::Ground).unwrap();
        assert_eq!((r.width, r.height, r.origin_x, r.origin_y), (11, 1, 100.0, 201.0));
        assert_eq!(r.data[0], 11.0);
        // Under the roof: the neighbours' mean, not the roof.
        assert_eq!(r.data[1], 15.5);
        assert_eq!(r.data[2], 20.0);
        // Three cells out from each side are filled; the middle of the gap stays empty.
        assert!(
            r.data[3..6].iter().all(|v| !v.is_nan()) && r.data[6].is_nan(),
            "{:?}",
            r.data
        );
        assert_eq!(filled, 1 + 3 + 3);
        assert!(height_grid(&PointCloud::default(), 1.0, HeightModel::Ground)
            .unwrap_err()
            .contains("no ground point"));
        // The surface: the highest point a cell, the roof included, noise left out.
        c.xyz.push([101.5, 200.5, 500.0]);
        c.class.push(7);
        let (s, filled) = height_grid(&c, 1.0, HeightModel::Surface).unwrap();
        assert_eq!((s.data[0], s.data[1], s.data[2]), (12.0, 99.0, 20.0));
        assert_eq!(filled, 3 + 3);
        c.xyz[4][0] = 1e12;
        assert!(height_grid(&c, 1.0, HeightModel::Ground)
            .unwrap_err()
            .contains("more than"));
    }

    #[test]
    fn the_files_fuzzing_found_are_errors_not_panics() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pointcloud-fuzz");
        let mut n = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            if let Ok(c) = read_las(&path) {
                let _ = tile_points(&c, 100);
                let _ = height_grid(&c, 1.0, HeightModel::Ground);
                let _ = height_grid(&c, 1.0, HeightModel::Surface);
            }
            n += 1;
        }
        assert!(n >= 7, "{n} files");
    }

    #[test]
    fn a_broken_file_is_a_clear_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read(fixture("autzen_trim.laz")).unwrap();
        let cut = dir.path().join("cut.laz");
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&cut, &bytes).unwrap();
        let e = read_las(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.laz") && e.contains("chunk table offset"), "{e}");
        // Points cut off: the error says where.
        let mut bytes = std::fs::read(fixture("simple.las")).unwrap();
        bytes.truncate(bytes.len() * 3 / 5);
        let cut = dir.path().join("cut.las");
        std::fs::write(&cut, &bytes).unwrap();
        let e = read_las(&cut).unwrap_err().to_string();
        assert!(e.contains("cut.las") && e.contains("point"), "{e}");
        // A LAZ whose chunk table claims billions of chunks (found by fuzzing): refused before
        // the decoder tries to allocate them.
        let mut bytes = std::fs::read(fixture("simple.laz")).unwrap();
        let offset = u32::from_le_bytes(bytes[96..100].try_into().unwrap()) as usize;
        let table = i64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap()) as usize;
        bytes[table + 4..table + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        let broken = dir.path().join("broken.laz");
        std::fs::write(&broken, &bytes).unwrap();
        let e = read_las(&broken).unwrap_err().to_string();
        assert!(
            e.contains("broken.laz") && e.contains("broken chunk table"),
            "{e}"
        );
        let junk = dir.path().join("junk.las");
        std::fs::write(&junk, b"LASF not really").unwrap();
        let e = read_las(&junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.las") && e.contains("cannot read it as LAS/LAZ"),
            "{e}"
        );
    }
}
