//! Terrain grids: `cim_terrain` (one row per DEM) and its cells as a GeoPackage 2D gridded
//! coverage, `cim_terrain_<name>` (see [`super::coverage`]), which GDAL and QGIS open as
//! `GPKG:project.cim.gpkg:cim_terrain_<name>`. Projects written before keep their cells in
//! `cim_terrain_tiles` (256×256 tiles of `f32`, bytes shuffled into planes, then
//! zlib-deflated) and are read as they are; the next import of that terrain stores it as a
//! coverage.

use super::SqlContext;
use crate::error::{EngineError, Result};
use crate::raster::Raster;
use flate2::read::ZlibDecoder;
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Read;
use std::path::Path;

const TILE: usize = 256;
/// Little-endian f32, byte planes (all first bytes, then all second bytes, …), zlib: the
/// encoding of projects written before terrains became coverages.
const ENCODING: &str = "f32le-planes-zlib";
/// The cells are the gridded coverage [`coverage_table`].
const COVERAGE_ENCODING: &str = "gpkg-2d-gridded-coverage";

/// The coverage table holding terrain `name`'s cells (the `cim_` prefix keeps it apart from
/// layer names).
pub fn coverage_table(name: &str) -> String {
    format!("cim_terrain_{name}")
}

/// A stored terrain, without its cells. A flood run records the one it was made on, so a
/// viewer can tell when the project's terrain has changed since ([`TerrainInfo::same_cells`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TerrainInfo {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub cell_w: f64,
    pub cell_h: f64,
    /// `[min_x, min_y, max_x, max_y]`.
    pub extent: [f64; 4],
    pub min_m: Option<f32>,
    pub max_m: Option<f32>,
    pub valid_cells: u64,
    pub source: String,
}

impl TerrainInfo {
    /// Whether `other` describes the same cells: the same grid and the same heights as far as
    /// the stored summary tells (range and count of valid cells). Where it comes from does not
    /// matter.
    pub fn same_cells(&self, other: &TerrainInfo) -> bool {
        (self.width, self.height, self.cell_w, self.cell_h, self.extent)
            == (
                other.width,
                other.height,
                other.cell_w,
                other.cell_h,
                other.extent,
            )
            && (self.min_m, self.max_m, self.valid_cells) == (other.min_m, other.max_m, other.valid_cells)
    }
}

fn err(name: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Terrain {
        name: name.to_string(),
        reason: reason.into(),
    }
}

#[cfg(test)]
fn encode_tile(values: &[f32]) -> std::io::Result<Vec<u8>> {
    use flate2::write::ZlibEncoder;
    use flate2::Compression;
    use std::io::Write;
    let n = values.len();
    let mut planes = vec![0u8; n * 4];
    for (i, v) in values.iter().enumerate() {
        for (b, byte) in v.to_le_bytes().into_iter().enumerate() {
            planes[b * n + i] = byte;
        }
    }
    let mut enc = ZlibEncoder::new(Vec::with_capacity(n), Compression::new(6));
    enc.write_all(&planes)?;
    enc.finish()
}

fn decode_tile(data: &[u8], n: usize) -> std::io::Result<Vec<f32>> {
    let mut planes = Vec::with_capacity(n * 4);
    // Read at most one byte more than expected, so a bad tile cannot inflate without bound.
    ZlibDecoder::new(data)
        .take(n as u64 * 4 + 1)
        .read_to_end(&mut planes)?;
    if planes.len() != n * 4 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("tile holds {} bytes, expected {}", planes.len(), n * 4),
        ));
    }
    Ok((0..n)
        .map(|i| f32::from_le_bytes([planes[i], planes[n + i], planes[2 * n + i], planes[3 * n + i]]))
        .collect())
}

fn tiles(len: usize) -> usize {
    len.div_ceil(TILE)
}

pub(super) fn put(
    conn: &Connection,
    path: &Path,
    srs_id: i32,
    name: &str,
    r: &Raster,
    source: &str,
) -> Result<()> {
    if name.trim().is_empty() {
        return Err(err(name, "a terrain needs a name"));
    }
    if r.width == 0 || r.height == 0 || r.data.len() != r.width * r.height {
        return Err(err(
            name,
            format!("{}×{} grid with {} values", r.width, r.height, r.data.len()),
        ));
    }
    let finite = [r.origin_x, r.origin_y, r.cell_w, r.cell_h]
        .iter()
        .all(|v| v.is_finite());
    if !finite || r.cell_w <= 0.0 || r.cell_h <= 0.0 {
        return Err(err(
            name,
            "origin and cell size must be finite, cell sizes positive",
        ));
    }
    conn.execute("DELETE FROM cim_terrain_tiles WHERE terrain = ?1", [name])
        .ctx(path)?;
    conn.execute("DELETE FROM cim_terrain WHERE name = ?1", [name])
        .ctx(path)?;
    let (min_m, max_m) = r.min_max().unzip();
    let as_i64 = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    conn.execute(
        "INSERT INTO cim_terrain (name, width, height, origin_x, origin_y, cell_w, cell_h, tile_size,
           encoding, min_m, max_m, valid_cells, source, created)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
        params![
            name,
            as_i64(r.width),
            as_i64(r.height),
            r.origin_x,
            r.origin_y,
            r.cell_w,
            r.cell_h,
            as_i64(TILE),
            COVERAGE_ENCODING,
            min_m.map(f64::from),
            max_m.map(f64::from),
            as_i64(r.valid_count()),
            source
        ],
    )
    .ctx(path)?;
    super::coverage::write(
        conn,
        path,
        srs_id,
        &coverage_table(name),
        r,
        &format!("terrain '{name}' ({source})"),
        "m",
    )
}

type InfoRow = (
    String,
    i64,
    i64,
    f64,
    f64,
    f64,
    f64,
    i64,
    String,
    Option<f64>,
    Option<f64>,
    i64,
    String,
);

const SELECT_INFO: &str = "SELECT name, width, height, origin_x, origin_y, cell_w, cell_h, tile_size,
    encoding, min_m, max_m, valid_cells, source FROM cim_terrain";

fn info_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InfoRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn to_info(row: &InfoRow) -> TerrainInfo {
    let (name, w, h, ox, oy, cw, ch, _, _, min_m, max_m, valid, source) = row;
    let (width, height) = (usize::try_from(*w).unwrap_or(0), usize::try_from(*h).unwrap_or(0));
    TerrainInfo {
        name: name.clone(),
        width,
        height,
        cell_w: *cw,
        cell_h: *ch,
        extent: [*ox, oy - height as f64 * ch, ox + width as f64 * cw, *oy],
        min_m: min_m.map(|v| v as f32),
        max_m: max_m.map(|v| v as f32),
        valid_cells: u64::try_from(*valid).unwrap_or(0),
        source: source.clone(),
    }
}

pub(super) fn list(conn: &Connection, path: &Path) -> Result<Vec<TerrainInfo>> {
    let mut stmt = conn
        .prepare_cached(&format!("{SELECT_INFO} ORDER BY name"))
        .ctx(path)?;
    let rows: Vec<InfoRow> = stmt
        .query_map([], info_row)
        .ctx(path)?
        .collect::<rusqlite::Result<_>>()
        .ctx(path)?;
    Ok(rows.iter().map(to_info).collect())
}

pub(super) fn read(conn: &Connection, path: &Path, name: &str) -> Result<Raster> {
    let row = conn
        .prepare_cached(&format!("{SELECT_INFO} WHERE name = ?1"))
        .ctx(path)?
        .query_row([name], info_row)
        .optional()
        .ctx(path)?
        .ok_or_else(|| err(name, "no such terrain in the project"))?;
    let (_, _, _, origin_x, origin_y, cell_w, cell_h, tile_size, encoding, ..) = &row;
    if encoding == COVERAGE_ENCODING {
        let table = coverage_table(name);
        let r = super::coverage::read(conn, path, &table)?
            .ok_or_else(|| err(name, format!("its coverage table {table} is missing")))?;
        let info = to_info(&row);
        if (r.width, r.height) != (info.width, info.height) {
            return Err(err(
                name,
                format!(
                    "{table} holds {}×{} cells, the terrain {}×{}",
                    r.width, r.height, info.width, info.height
                ),
            ));
        }
        return Ok(r);
    }
    if encoding != ENCODING || *tile_size != TILE as i64 {
        return Err(err(
            name,
            format!("unsupported tile encoding '{encoding}' ({tile_size} px)"),
        ));
    }
    let info = to_info(&row);
    let (width, height) = (info.width, info.height);
    let mut data = vec![f32::NAN; width * height];
    let mut stmt = conn
        .prepare_cached("SELECT tile_row, tile_col, data FROM cim_terrain_tiles WHERE terrain = ?1")
        .ctx(path)?;
    let mut rows = stmt.query([name]).ctx(path)?;
    let mut seen = 0usize;
    while let Some(r) = rows.next().ctx(path)? {
        let (tr, tc): (i64, i64) = (r.get(0).ctx(path)?, r.get(1).ctx(path)?);
        let (tr, tc) = (
            usize::try_from(tr).unwrap_or(usize::MAX),
            usize::try_from(tc).unwrap_or(usize::MAX),
        );
        if tr >= tiles(height) || tc >= tiles(width) {
            return Err(err(name, format!("tile ({tr}, {tc}) outside the grid")));
        }
        let (c0, c1) = (tc * TILE, ((tc + 1) * TILE).min(width));
        let (r0, r1) = (tr * TILE, ((tr + 1) * TILE).min(height));
        let blob = r.get_ref(2).ctx(path)?;
        let bytes = blob.as_blob().map_err(|_| err(name, "tile data is not a blob"))?;
        let values = decode_tile(bytes, (c1 - c0) * (r1 - r0))
            .map_err(|e| err(name, format!("tile ({tr}, {tc}): {e}")))?;
        for (i, row) in (r0..r1).enumerate() {
            let w = c1 - c0;
            data[row * width + c0..row * width + c1].copy_from_slice(&values[i * w..(i + 1) * w]);
        }
        seen += 1;
    }
    if seen != tiles(width) * tiles(height) {
        return Err(err(
            name,
            format!("{seen} of {} tiles present", tiles(width) * tiles(height)),
        ));
    }
    Ok(Raster {
        width,
        height,
        origin_x: *origin_x,
        origin_y: *origin_y,
        cell_w: *cell_w,
        cell_h: *cell_h,
        data,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A project written before terrains became coverages: its tiles are read as they are.
    #[test]
    fn terrains_stored_the_old_way_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.cim.gpkg");
        let crs = crate::Crs::from_epsg(4547).unwrap();
        let p = crate::Project::create(&path, &crs, "110105").unwrap();
        drop(p);
        let conn = Connection::open(&path).unwrap();
        let (w, h) = (300usize, 260usize);
        let data: Vec<f32> = (0..w * h)
            .map(|i| if i % 11 == 0 { f32::NAN } else { i as f32 * 0.01 })
            .collect();
        conn.execute(
            "INSERT INTO cim_terrain (name, width, height, origin_x, origin_y, cell_w, cell_h, tile_size,
               encoding, min_m, max_m, valid_cells, source, created)
             VALUES ('dem', ?1, ?2, 500000.0, 2550000.0, 1.0, 1.0, 256, ?3, 0.0, 1.0, 1, 'x', '2026-01-01')",
            params![w as i64, h as i64, ENCODING],
        )
        .unwrap();
        for tr in 0..tiles(h) {
            for tc in 0..tiles(w) {
                let mut buf = Vec::new();
                let (c0, c1) = (tc * TILE, ((tc + 1) * TILE).min(w));
                for row in tr * TILE..((tr + 1) * TILE).min(h) {
                    buf.extend_from_slice(&data[row * w + c0..row * w + c1]);
                }
                conn.execute(
                    "INSERT INTO cim_terrain_tiles (terrain, tile_row, tile_col, data) VALUES ('dem', ?1, ?2, ?3)",
                    params![tr as i64, tc as i64, encode_tile(&buf).unwrap()],
                )
                .unwrap();
            }
        }
        drop(conn);
        let p = crate::Project::open(&path).unwrap();
        let r = p.terrain("dem").unwrap();
        assert_eq!((r.width, r.height), (w, h));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&r.data), bits(&data));
    }
}
