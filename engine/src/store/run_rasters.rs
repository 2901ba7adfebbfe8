//! A run's rasters inside the project, so that the project stays one file: each depth and
//! speed frame and each peak (maximum depth, maximum speed, time of maximum depth) is a
//! GeoPackage 2D gridded coverage named `cim_run_<run>_<quantity>[_t<seconds>]`, listed in
//! `cim_run_rasters`, which GDAL and QGIS open as `GPKG:<project>:<table>`.
//!
//! While a run computes, its frames are encoded into a spool file beside the project
//! (`.<project file>.run-<run>.partial`, locked by the run); saving the run moves them into the
//! project in the same transaction as its records, so a run killed part-way leaves the project
//! as it was, and the next run removes the spool it left.
//!
//! Runs stored before the rasters moved inside keep theirs as GeoTIFFs in the folder their record
//! names (`<project>.runs/<run>/`); [`Project::run_rasters`] lists those as they are.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::coverage::{self, Geometry, Tile, TileWriter};
use super::{Project, SqlContext};
use crate::error::{EngineError, Result};
use crate::raster::Raster;

const RASTERS_TABLE: &str = "
CREATE TABLE IF NOT EXISTS cim_run_rasters (
  run TEXT NOT NULL, quantity TEXT NOT NULL, time_s REAL, table_name TEXT NOT NULL PRIMARY KEY,
  uom TEXT NOT NULL);";

/// Where one of a run's rasters is.
#[derive(Clone, Debug, PartialEq)]
pub enum RunRasterAt {
    /// A gridded coverage in the project: its table.
    Coverage(String),
    /// A GeoTIFF beside the project (runs stored before their rasters moved inside).
    GeoTiff(PathBuf),
}

/// One of a run's rasters.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRaster {
    /// `depth`, `speed` (frames), `max_depth`, `max_speed`, `time_of_max_depth` (peaks), or a
    /// derived map such as `max_depth_minus_<other run>`.
    pub quantity: String,
    /// The simulated time of a frame, s; `None` for peaks and derived maps.
    pub time_s: Option<f64>,
    pub at: RunRasterAt,
}

impl RunRaster {
    /// How it is named to a user: the coverage table, or the GeoTIFF's path.
    pub fn label(&self) -> String {
        match &self.at {
            RunRasterAt::Coverage(t) => t.clone(),
            RunRasterAt::GeoTiff(p) => p.display().to_string(),
        }
    }
}

/// The coverage table of run `run`'s raster `quantity` (at `time_s` for frames).
pub fn run_raster_table(run: &str, quantity: &str, time_s: Option<f64>) -> String {
    match time_s {
        Some(t) => format!("cim_run_{run}_{quantity}_t{:06}", t.round() as u64),
        None => format!("cim_run_{run}_{quantity}"),
    }
}

fn bad(run: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Run {
        name: run.to_string(),
        reason: reason.into(),
    }
}

/// A run name that can name its tables and its spool file.
fn check_run_name(run: &str) -> Result<()> {
    if run.trim().is_empty() || run.chars().count() > 100 {
        return Err(bad(run, "a run name must have 1 to 100 characters"));
    }
    if run.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(bad(
            run,
            "a run name must not contain slashes or control characters",
        ));
    }
    Ok(())
}

struct SpooledTile {
    col: usize,
    row: usize,
    offset: u64,
    len: usize,
    stats: [f64; 4],
}

struct SpoolEntry {
    quantity: String,
    time_s: Option<f64>,
    uom: String,
    geometry: Geometry,
    tiles: Vec<SpooledTile>,
}

/// A run's rasters while it computes: encoded coverage tiles in a locked spool file beside the
/// project, moved into the project by [`Project::save_run`]. Dropped unsaved, it removes its file.
pub struct RunSpool {
    run: String,
    path: PathBuf,
    file: File,
    len: u64,
    entries: Vec<SpoolEntry>,
}

impl RunSpool {
    /// Adds `raster` as the run's `quantity` (a frame at `time_s`, or a peak), in `uom`.
    pub fn put(&mut self, quantity: &str, time_s: Option<f64>, raster: &Raster, uom: &str) -> Result<()> {
        let table = run_raster_table(&self.run, quantity, time_s);
        let mut tiles = Vec::new();
        let (path, file, len) = (&self.path, &mut self.file, &mut self.len);
        coverage::encode_tiles(raster, &table, |t: Tile| {
            file.write_all(&t.blob).map_err(|source| EngineError::Io {
                path: path.clone(),
                source,
            })?;
            tiles.push(SpooledTile {
                col: t.col,
                row: t.row,
                offset: *len,
                len: t.blob.len(),
                stats: t.stats,
            });
            *len += t.blob.len() as u64;
            Ok(())
        })?;
        self.entries
            .retain(|e| !(e.quantity == quantity && e.time_s == time_s));
        self.entries.push(SpoolEntry {
            quantity: quantity.to_string(),
            time_s,
            uom: uom.to_string(),
            geometry: Geometry::of(raster),
            tiles,
        });
        Ok(())
    }

    /// The run it spools for.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// The coverage tables its rasters will be stored in, in the order they came.
    pub fn tables(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| run_raster_table(&self.run, &e.quantity, e.time_s))
            .collect()
    }

    /// How many rasters it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies every spooled raster into the project as coverages, in the open transaction `tx`.
    fn store(&mut self, tx: &Connection, project: &Path, srs_id: i32) -> Result<Vec<String>> {
        let io = |source| EngineError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.flush().map_err(io)?;
        let mut tables = Vec::new();
        for e in &self.entries {
            let table = run_raster_table(&self.run, &e.quantity, e.time_s);
            let description = match e.time_s {
                Some(t) => format!("run '{}': {} at {:.0} s, {}", self.run, e.quantity, t, e.uom),
                None => format!("run '{}': {}, {}", self.run, e.quantity, e.uom),
            };
            let mut writer = TileWriter::new(tx, project, srs_id, &table, &e.geometry, &description, &e.uom)?;
            for t in &e.tiles {
                let mut blob = vec![0u8; t.len];
                self.file
                    .seek(SeekFrom::Start(t.offset))
                    .and_then(|_| self.file.read_exact(&mut blob))
                    .map_err(|source| EngineError::Io {
                        path: self.path.clone(),
                        source,
                    })?;
                writer.put(&Tile {
                    col: t.col,
                    row: t.row,
                    blob,
                    stats: t.stats,
                })?;
            }
            tx.execute(
                "INSERT INTO cim_run_rasters (run, quantity, time_s, table_name, uom) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![self.run, e.quantity, e.time_s, table, e.uom],
            )
            .ctx(project)?;
            tables.push(table);
        }
        Ok(tables)
    }
}

impl Drop for RunSpool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `.<project file name>.run-` and the folder it is in: the spool files' prefix.
fn spool_prefix(project: &Path) -> (PathBuf, String) {
    let dir = project.parent().map(Path::to_path_buf).unwrap_or_default();
    let file = project
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, format!(".{file}.run-"))
}

/// Removes the spool files of runs that were killed: those no running run holds locked.
fn remove_stale_spools(project: &Path) {
    let (dir, prefix) = spool_prefix(project);
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &dir
    }) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".partial") {
            let free = File::options()
                .write(true)
                .open(e.path())
                .is_ok_and(|f| f.try_lock().is_ok());
            if free {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Drops run `run`'s coverages and their index rows, in the open transaction `tx`.
fn drop_rasters(tx: &Connection, path: &Path, run: &str) -> Result<()> {
    let tables: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT table_name FROM cim_run_rasters WHERE run = ?1")
            .ctx(path)?;
        let rows = stmt.query_map([run], |r| r.get(0)).ctx(path)?;
        rows.collect::<rusqlite::Result<_>>().ctx(path)?
    };
    for t in &tables {
        coverage::drop_coverage(tx, path, t)?;
    }
    tx.execute("DELETE FROM cim_run_rasters WHERE run = ?1", [run])
        .ctx(path)?;
    Ok(())
}

/// Refuses tables that would overwrite something that is not `run`'s: a layer, a terrain, or
/// another run's raster whose name happens to read the same.
fn check_tables_free(tx: &Connection, path: &Path, run: &str, tables: &[String]) -> Result<()> {
    let mut owner = tx
        .prepare("SELECT run FROM cim_run_rasters WHERE table_name = ?1")
        .ctx(path)?;
    let mut exists = tx
        .prepare(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
        )
        .ctx(path)?;
    for t in tables {
        let by: Option<String> = owner
            .query_row([t], |r| r.get(0))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .ctx(path)?;
        match by {
            Some(other) if other != run => {
                return Err(bad(
                    run,
                    format!(
                        "its raster table '{t}' belongs to run '{other}'; give one of the runs another name"
                    ),
                ))
            }
            Some(_) => {}
            None => {
                if exists.query_row([t], |r| r.get::<_, bool>(0)).ctx(path)? {
                    return Err(bad(
                        run,
                        format!("a table named '{t}' exists already in the project"),
                    ));
                }
            }
        }
    }
    Ok(())
}

impl Project {
    /// Starts spooling the rasters of run `run` (waiting while another process runs one of the
    /// same name), and removes the spools that killed runs left.
    pub fn begin_run(&self, run: &str) -> Result<RunSpool> {
        check_run_name(run)?;
        remove_stale_spools(&self.meta.path);
        let (dir, prefix) = spool_prefix(&self.meta.path);
        let path = dir.join(format!("{prefix}{run}.partial"));
        let io = |source| EngineError::Io {
            path: path.clone(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        file.set_len(0).map_err(io)?;
        Ok(RunSpool {
            run: run.to_string(),
            path,
            file,
            len: 0,
            entries: Vec::new(),
        })
    }

    /// Run `run`'s rasters: coverages in the project, or (for runs stored before they moved
    /// inside) the GeoTIFFs in the folder its record names. Frames come in time order.
    pub fn run_rasters(&self, run: &str) -> Result<Vec<RunRaster>> {
        let path = &self.meta.path;
        let Some(record) = self.run(run)? else {
            return Err(bad(run, format!("no such run in {}", path.display())));
        };
        let indexed = super::manage::table_exists(&self.conn, path, "cim_run_rasters")?;
        let mut out = Vec::new();
        if indexed {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT quantity, time_s, table_name FROM cim_run_rasters WHERE run = ?1
                     ORDER BY quantity, time_s",
                )
                .ctx(path)?;
            let rows = stmt
                .query_map([run], |r| {
                    Ok(RunRaster {
                        quantity: r.get(0)?,
                        time_s: r.get(1)?,
                        at: RunRasterAt::Coverage(r.get(2)?),
                    })
                })
                .ctx(path)?;
            out = rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)?;
        }
        if out.is_empty() && !record.outputs.is_empty() {
            out = legacy_rasters(path, &record.outputs);
        }
        Ok(out)
    }

    /// Run `run`'s raster at `at` (cells without data are NaN). GeoTIFFs of older runs are the
    /// caller's to read (`cim_importers::read_run_raster` reads both).
    pub fn run_coverage(&self, table: &str) -> Result<Raster> {
        coverage::read(&self.conn, &self.meta.path, table)?
            .ok_or_else(|| bad(table, "no such raster in the project"))
    }

    /// Stores a raster derived from run `run` (say, a difference map) as its `quantity`,
    /// replacing one of that quantity; it is removed with the run.
    pub fn put_run_raster(
        &mut self,
        run: &str,
        quantity: &str,
        raster: &Raster,
        uom: &str,
    ) -> Result<String> {
        if self.run(run)?.is_none() {
            return Err(bad(run, "no such run"));
        }
        let path = self.meta.path.clone();
        let srs_id = self.meta.srs_id;
        let table = run_raster_table(run, quantity, None);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(&path)?;
        tx.execute_batch(RASTERS_TABLE).ctx(&path)?;
        check_tables_free(&tx, &path, run, std::slice::from_ref(&table))?;
        let description = format!("run '{run}': {quantity}, {uom}");
        coverage::write(&tx, &path, srs_id, &table, raster, &description, uom)?;
        tx.execute(
            "INSERT OR REPLACE INTO cim_run_rasters (run, quantity, time_s, table_name, uom) VALUES (?1, ?2, NULL, ?3, ?4)",
            params![run, quantity, table, uom],
        )
        .ctx(&path)?;
        tx.commit().ctx(&path)?;
        Ok(table)
    }
}

/// The rasters of a run stored before they moved inside the project.
fn legacy_rasters(project: &Path, outputs: &str) -> Vec<RunRaster> {
    let dir = project.parent().unwrap_or(Path::new("")).join(outputs);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<RunRaster> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let stem = file.strip_suffix(".tif")?;
            let (quantity, time_s) = match stem.rsplit_once("_t") {
                Some((q, t)) if matches!(q, "depth" | "speed") => {
                    (q.to_string(), Some(t.parse::<f64>().ok()?))
                }
                _ => (stem.to_string(), None),
            };
            Some(RunRaster {
                quantity,
                time_s,
                at: RunRasterAt::GeoTiff(e.path()),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.quantity
            .cmp(&b.quantity)
            .then(a.time_s.unwrap_or(-1.0).total_cmp(&b.time_s.unwrap_or(-1.0)))
    });
    out
}

/// Stores `spool`'s rasters for run `run` in the open transaction `tx`, replacing the run's
/// earlier ones (called by `save_run`).
pub(super) fn save(
    tx: &Connection,
    path: &Path,
    srs_id: i32,
    run: &str,
    spool: Option<&mut RunSpool>,
) -> Result<()> {
    tx.execute_batch(RASTERS_TABLE).ctx(path)?;
    drop_rasters(tx, path, run)?;
    if let Some(spool) = spool {
        if spool.run != run {
            return Err(bad(
                run,
                format!("its rasters were spooled for run '{}'", spool.run),
            ));
        }
        let tables: Vec<String> = spool
            .entries
            .iter()
            .map(|e| run_raster_table(run, &e.quantity, e.time_s))
            .collect();
        check_tables_free(tx, path, run, &tables)?;
        spool.store(tx, path, srs_id)?;
    }
    Ok(())
}

/// Drops run `run`'s rasters in the open transaction `tx` (called by `delete_run`).
pub(super) fn delete(tx: &Connection, path: &Path, run: &str) -> Result<()> {
    if super::manage::table_exists(tx, path, "cim_run_rasters")? {
        drop_rasters(tx, path, run)?;
    }
    Ok(())
}
