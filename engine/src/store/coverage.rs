//! Rasters inside the project as GeoPackage 2D gridded coverages (OGC 17-066r1), the tiled
//! Float32 TIFF form that GDAL and QGIS open as `GPKG:project.cim.gpkg:<table>`: the first step
//! to a project that is one file (terrain and run rasters inside it, not beside it).
//!
//! A coverage is a tile pyramid of one level: 256 × 256 tiles in the project CRS, each a
//! single-band Float32 TIFF (Deflate), cells without data at [`DATA_NULL`]; the tile matrix set
//! covers whole tiles from the raster's top-left corner, `gpkg_contents` holds the data's own
//! extent.

use std::io::Cursor;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tiff::encoder::{colortype, Compression, DeflateLevel, TiffEncoder};

use super::schema::q;
use super::{Project, SqlContext};
use crate::error::{EngineError, Result};
use crate::raster::Raster;

/// Cells per tile side.
pub const COVERAGE_TILE: usize = 256;
/// The value of cells without data in a coverage's tiles (`data_null`): the lowest f32.
pub const DATA_NULL: f32 = f32::MIN;

const EXT_DEF: &str = "http://docs.opengeospatial.org/is/17-066r1/17-066r1.html";

const COVERAGE_TABLES: &str = "
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix_set (
  table_name TEXT NOT NULL PRIMARY KEY, srs_id INTEGER NOT NULL,
  min_x DOUBLE NOT NULL, min_y DOUBLE NOT NULL, max_x DOUBLE NOT NULL, max_y DOUBLE NOT NULL,
  CONSTRAINT fk_gtms_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gtms_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE IF NOT EXISTS gpkg_tile_matrix (
  table_name TEXT NOT NULL, zoom_level INTEGER NOT NULL, matrix_width INTEGER NOT NULL,
  matrix_height INTEGER NOT NULL, tile_width INTEGER NOT NULL, tile_height INTEGER NOT NULL,
  pixel_x_size DOUBLE NOT NULL, pixel_y_size DOUBLE NOT NULL,
  CONSTRAINT pk_ttm PRIMARY KEY (table_name, zoom_level),
  CONSTRAINT fk_tmm_table_name FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name));
CREATE TABLE IF NOT EXISTS gpkg_2d_gridded_coverage_ancillary (
  id INTEGER PRIMARY KEY AUTOINCREMENT, tile_matrix_set_name TEXT NOT NULL UNIQUE,
  datatype TEXT NOT NULL DEFAULT 'integer', scale REAL NOT NULL DEFAULT 1.0,
  offset REAL NOT NULL DEFAULT 0.0, precision REAL DEFAULT 1.0, data_null REAL,
  grid_cell_encoding TEXT DEFAULT 'grid-value-is-center', uom TEXT,
  field_name TEXT DEFAULT 'Height', quantity_definition TEXT DEFAULT 'Height',
  CONSTRAINT fk_g2dgtct_name FOREIGN KEY(tile_matrix_set_name) REFERENCES gpkg_tile_matrix_set(table_name),
  CHECK (datatype in ('integer','float')));
CREATE TABLE IF NOT EXISTS gpkg_2d_gridded_tile_ancillary (
  id INTEGER PRIMARY KEY AUTOINCREMENT, tpudt_name TEXT NOT NULL, tpudt_id INTEGER NOT NULL,
  scale REAL NOT NULL DEFAULT 1.0, offset REAL NOT NULL DEFAULT 0.0, min REAL DEFAULT NULL,
  max REAL DEFAULT NULL, mean REAL DEFAULT NULL, std_dev REAL DEFAULT NULL,
  CONSTRAINT fk_g2dgtat_name FOREIGN KEY (tpudt_name) REFERENCES gpkg_contents(table_name),
  UNIQUE (tpudt_name, tpudt_id));
";

fn bad(name: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Terrain {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Creates the coverage tables and registers the extension (once per project).
fn ensure_tables(conn: &Connection, path: &std::path::Path) -> Result<()> {
    conn.execute_batch(COVERAGE_TABLES).ctx(path)?;
    for table in [
        "gpkg_2d_gridded_coverage_ancillary",
        "gpkg_2d_gridded_tile_ancillary",
    ] {
        conn.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?1, NULL, 'gpkg_2d_gridded_coverage', ?2, 'read-write')",
            params![table, EXT_DEF],
        )
        .ctx(path)?;
    }
    Ok(())
}

/// One tile's cells (padded with [`DATA_NULL`] past the raster's edge) as a Float32 TIFF.
fn tile_tiff(r: &Raster, tile_col: usize, tile_row: usize, name: &str) -> Result<(Vec<u8>, [f64; 4])> {
    let n = COVERAGE_TILE;
    let mut cells = vec![DATA_NULL; n * n];
    let (mut min, mut max, mut sum, mut sum2, mut count) = (f64::MAX, f64::MIN, 0.0, 0.0, 0u64);
    for y in 0..n {
        let row = tile_row * n + y;
        if row >= r.height {
            break;
        }
        for x in 0..n {
            let col = tile_col * n + x;
            if col >= r.width {
                break;
            }
            let v = r.data[row * r.width + col];
            if v.is_finite() {
                cells[y * n + x] = v;
                let v = f64::from(v);
                min = min.min(v);
                max = max.max(v);
                sum += v;
                sum2 += v * v;
                count += 1;
            }
        }
    }
    let mut out = Cursor::new(Vec::new());
    let err = |e: tiff::TiffError| bad(name, format!("cannot encode a coverage tile: {e}"));
    TiffEncoder::new(&mut out)
        .map_err(err)?
        .with_compression(Compression::Deflate(DeflateLevel::Fast))
        .write_image::<colortype::Gray32Float>(n as u32, n as u32, &cells)
        .map_err(err)?;
    let stats = if count == 0 {
        [f64::NAN; 4]
    } else {
        let mean = sum / count as f64;
        [
            min,
            max,
            mean,
            (sum2 / count as f64 - mean * mean).max(0.0).sqrt(),
        ]
    };
    Ok((out.into_inner(), stats))
}

type EncodedTile = Result<(Vec<u8>, [f64; 4])>;

/// The tiles of tile row `row`, encoded on as many threads as there are cores.
fn encode_row(raster: &Raster, row: usize, mw: usize, name: &str) -> Vec<EncodedTile> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(mw)
        .max(1);
    let per = mw.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(mw))
                        .map(|col| tile_tiff(raster, col, row, name))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(bad(name, "a tile encoding thread failed"))])
            })
            .collect()
    })
}

fn nullable(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Project {
    /// Stores `raster` (in the project CRS) as the gridded coverage `name`, replacing one of
    /// that name, in one transaction. GDAL reads it as `GPKG:<project>:<name>`.
    pub fn put_coverage(&mut self, name: &str, raster: &Raster, description: &str) -> Result<()> {
        super::layer::check_name(name)?;
        let path = self.meta.path.clone();
        let srs_id = self.meta.srs_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(&path)?;
        write(&tx, &path, srs_id, name, raster, description, "")?;
        tx.commit().ctx(&path)
    }

    /// The gridded coverage `name` as a raster (cells without data are NaN).
    pub fn coverage(&self, name: &str) -> Result<Raster> {
        read(&self.conn, &self.meta.path, name)?.ok_or_else(|| bad(name, "no such coverage in the project"))
    }
}

/// Where a coverage lies: its cells' count, top-left corner and size, in the project CRS.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Geometry {
    pub width: usize,
    pub height: usize,
    pub origin_x: f64,
    pub origin_y: f64,
    pub cell_w: f64,
    pub cell_h: f64,
}

impl Geometry {
    pub fn of(r: &Raster) -> Geometry {
        Geometry {
            width: r.width,
            height: r.height,
            origin_x: r.origin_x,
            origin_y: r.origin_y,
            cell_w: r.cell_w,
            cell_h: r.cell_h,
        }
    }
}

/// One encoded tile: its column and row, its TIFF, and its cells' min, max, mean and
/// standard deviation (NaN when it has no data).
pub(super) struct Tile {
    pub col: usize,
    pub row: usize,
    pub blob: Vec<u8>,
    pub stats: [f64; 4],
}

/// Encodes `raster`'s tiles row by row (each row on every core) and hands them to `sink` in order.
pub(super) fn encode_tiles(
    raster: &Raster,
    name: &str,
    mut sink: impl FnMut(Tile) -> Result<()>,
) -> Result<()> {
    let n = COVERAGE_TILE;
    let (mw, mh) = (raster.width.div_ceil(n), raster.height.div_ceil(n));
    for row in 0..mh {
        for (col, encoded) in encode_row(raster, row, mw, name).into_iter().enumerate() {
            let (blob, stats) = encoded?;
            sink(Tile {
                col,
                row,
                blob,
                stats,
            })?;
        }
    }
    Ok(())
}

/// Stores `raster` as coverage `name` (replacing one of that name) in the open transaction `tx`.
pub(super) fn write(
    tx: &Connection,
    path: &std::path::Path,
    srs_id: i32,
    name: &str,
    raster: &Raster,
    description: &str,
    uom: &str,
) -> Result<()> {
    let mut tiles = TileWriter::new(tx, path, srs_id, name, &Geometry::of(raster), description, uom)?;
    encode_tiles(raster, name, |t| tiles.put(&t))
}

/// Writes a coverage's tiles, once its tables and metadata are in place.
pub(super) struct TileWriter<'c> {
    path: std::path::PathBuf,
    name: String,
    tile: rusqlite::Statement<'c>,
    anc: rusqlite::Statement<'c>,
    next_id: i64,
}

impl<'c> TileWriter<'c> {
    /// Creates coverage `name` of geometry `g` (replacing one of that name, refusing a layer
    /// of that name) in the open transaction `tx`, ready for its tiles.
    pub fn new(
        tx: &'c Connection,
        path: &std::path::Path,
        srs_id: i32,
        name: &str,
        g: &Geometry,
        description: &str,
        uom: &str,
    ) -> Result<TileWriter<'c>> {
        let path = path.to_path_buf();
        if g.width == 0 || g.height == 0 {
            return Err(bad(name, "an empty raster"));
        }
        ensure_tables(tx, &path)?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT data_type FROM gpkg_contents WHERE table_name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .ctx(&path)?;
        if taken.as_deref().is_some_and(|t| t != "2d-gridded-coverage") {
            return Err(bad(name, "a layer or table of that name exists already"));
        }
        drop_coverage(tx, &path, name)?;
        let n = COVERAGE_TILE;
        let (mw, mh) = (g.width.div_ceil(n), g.height.div_ceil(n));
        let (x0, y1) = (g.origin_x, g.origin_y);
        let (x1, y0) = (x0 + g.width as f64 * g.cell_w, y1 - g.height as f64 * g.cell_h);
        tx.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)
             VALUES (?1, '2d-gridded-coverage', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![name, description, x0, y0, x1, y1, srs_id],
        )
        .ctx(&path)?;
        tx.execute(
            "INSERT INTO gpkg_tile_matrix_set VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name,
                srs_id,
                x0,
                y1 - (mh * n) as f64 * g.cell_h,
                x0 + (mw * n) as f64 * g.cell_w,
                y1
            ],
        )
        .ctx(&path)?;
        tx.execute(
            "INSERT INTO gpkg_tile_matrix VALUES (?1, 0, ?2, ?3, ?4, ?4, ?5, ?6)",
            params![name, mw as i64, mh as i64, n as i64, g.cell_w, g.cell_h],
        )
        .ctx(&path)?;
        tx.execute(
            "INSERT INTO gpkg_2d_gridded_coverage_ancillary
               (tile_matrix_set_name, datatype, scale, offset, precision, data_null, grid_cell_encoding, uom)
             VALUES (?1, 'float', 1.0, 0.0, 1.0, ?2, 'grid-value-is-area', ?3)",
            params![name, f64::from(DATA_NULL), uom],
        )
        .ctx(&path)?;
        tx.execute_batch(&format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY AUTOINCREMENT, zoom_level INTEGER NOT NULL,
               tile_column INTEGER NOT NULL, tile_row INTEGER NOT NULL, tile_data BLOB NOT NULL,
               UNIQUE (zoom_level, tile_column, tile_row));",
            t = q(name)
        ))
        .ctx(&path)?;
        tx.execute(
            "INSERT INTO gpkg_extensions VALUES (?1, 'tile_data', 'gpkg_2d_gridded_coverage', ?2, 'read-write')",
            params![name, EXT_DEF],
        )
        .ctx(&path)?;
        let tile = tx
            .prepare(&format!(
                "INSERT INTO {} (id, zoom_level, tile_column, tile_row, tile_data) VALUES (?1, 0, ?2, ?3, ?4)",
                q(name)
            ))
            .ctx(&path)?;
        // Tile ids unique across the project's coverages: GDAL (3.6 at least) finds a band's
        // min and max by tile id alone, so ids shared with other coverages mix their values in.
        let next_id: i64 = tx
            .query_row(
                "SELECT coalesce(max(tpudt_id), 0) + 1 FROM gpkg_2d_gridded_tile_ancillary",
                [],
                |r| r.get(0),
            )
            .ctx(&path)?;
        let anc = tx
            .prepare(
                "INSERT INTO gpkg_2d_gridded_tile_ancillary (tpudt_name, tpudt_id, min, max, mean, std_dev)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .ctx(&path)?;
        Ok(TileWriter {
            path,
            name: name.to_string(),
            tile,
            anc,
            next_id,
        })
    }

    /// Stores one encoded tile and its statistics.
    pub fn put(&mut self, t: &Tile) -> Result<()> {
        let id = self.next_id;
        self.next_id += 1;
        self.tile
            .execute(params![id, t.col as i64, t.row as i64, t.blob])
            .ctx(&self.path)?;
        let [min, max, mean, sd] = t.stats;
        self.anc
            .execute(params![
                self.name,
                id,
                nullable(min),
                nullable(max),
                nullable(mean),
                nullable(sd)
            ])
            .ctx(&self.path)?;
        Ok(())
    }
}

/// The gridded coverage `name`, if the project has one of that name.
pub(super) fn read(conn: &Connection, path: &std::path::Path, name: &str) -> Result<Option<Raster>> {
    let found: Option<(i64, i64, i64, f64, f64)> = conn
        .query_row(
            "SELECT m.matrix_width, m.matrix_height, m.tile_width, m.pixel_x_size, m.pixel_y_size
                 FROM gpkg_tile_matrix m JOIN gpkg_contents c ON c.table_name = m.table_name
                 WHERE m.table_name = ?1 AND m.zoom_level = 0 AND c.data_type = '2d-gridded-coverage'",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()
        .or_else(|e| match e {
            // No coverage tables yet: no coverage.
            rusqlite::Error::SqliteFailure(..) => Ok(None),
            e => Err(e),
        })
        .ctx(path)?;
    let Some((mw, mh, n, cw, ch)) = found else {
        return Ok(None);
    };
    let (x0, y0, x1, y1): (f64, f64, f64, f64) = conn
        .query_row(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .ctx(path)?;
    let n = n as usize;
    let width = ((x1 - x0) / cw).round() as usize;
    let height = ((y1 - y0) / ch).round() as usize;
    if width > mw as usize * n || height > mh as usize * n {
        return Err(bad(name, "the coverage's extent is larger than its tiles"));
    }
    let mut r = Raster::empty(width, height, x0, y1, cw, ch);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT tile_column, tile_row, tile_data FROM {} WHERE zoom_level = 0",
            q(name)
        ))
        .ctx(path)?;
    let mut rows = stmt.query([]).ctx(path)?;
    while let Some(row) = rows.next().ctx(path)? {
        let (col, trow): (i64, i64) = (row.get(0).ctx(path)?, row.get(1).ctx(path)?);
        let blob: Vec<u8> = row.get(2).ctx(path)?;
        let cells = decode_tile(&blob, n).map_err(|e| bad(name, format!("tile ({col}, {trow}): {e}")))?;
        for y in 0..n {
            let ry = trow as usize * n + y;
            if ry >= height {
                break;
            }
            for x in 0..n {
                let rx = col as usize * n + x;
                if rx >= width {
                    break;
                }
                let v = cells[y * n + x];
                r.data[ry * width + rx] = if v == DATA_NULL { f32::NAN } else { v };
            }
        }
    }
    Ok(Some(r))
}

/// A tile's Float32 cells.
fn decode_tile(blob: &[u8], n: usize) -> std::result::Result<Vec<f32>, String> {
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(blob)).map_err(|e| e.to_string())?;
    let (w, h) = dec.dimensions().map_err(|e| e.to_string())?;
    if (w as usize, h as usize) != (n, n) {
        return Err(format!("{w}×{h} cells, expected {n}×{n}"));
    }
    match dec.read_image().map_err(|e| e.to_string())? {
        tiff::decoder::DecodingResult::F32(v) => Ok(v),
        _ => Err("not Float32 cells".into()),
    }
}

/// Removes coverage `name` and its rows in the GeoPackage's tables, if there is one.
pub(super) fn drop_coverage(conn: &Connection, path: &std::path::Path, name: &str) -> Result<()> {
    conn.execute_batch("PRAGMA defer_foreign_keys = ON;").ctx(path)?;
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {};", q(name)))
        .ctx(path)?;
    for sql in [
        "DELETE FROM gpkg_2d_gridded_tile_ancillary WHERE tpudt_name = ?1",
        "DELETE FROM gpkg_2d_gridded_coverage_ancillary WHERE tile_matrix_set_name = ?1",
        "DELETE FROM gpkg_tile_matrix WHERE table_name = ?1",
        "DELETE FROM gpkg_tile_matrix_set WHERE table_name = ?1",
        "DELETE FROM gpkg_extensions WHERE table_name = ?1",
        "DELETE FROM gpkg_contents WHERE table_name = ?1",
    ] {
        conn.execute(sql, [name]).ctx(path)?;
    }
    Ok(())
}
