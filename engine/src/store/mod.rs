//! The project store: one GeoPackage file per project (`*.cim.gpkg`).
//!
//! Entry types: [`Project`] (open, create, query) and [`ImportTx`] (one import = one SQLite
//! transaction). Layers are standard GeoPackage feature tables with the `gpkg_rtree_index`
//! extension, so GDAL and QGIS open them; the engine's own data lives in `cim_*` tables of
//! the same file:
//!
//! | table | content |
//! |---|---|
//! | `cim_project` | key/value: `name`, `crs`, `srs_id`, `region_code`, `format_version`, `created` |
//! | `cim_layers` | one row per layer: kind, classification, geometry type, source, fields (JSON, with the column each field is stored in) |
//! | `cim_codes` | every city code → (layer, fid), so codes stay unique across the project |
//! | `cim_terrain`, `cim_terrain_<name>` | DEMs in the project CRS: a row each, and the cells as a GeoPackage 2D gridded coverage (Float32 TIFF tiles) that GDAL opens; older projects' `cim_terrain_tiles` are still read |
//! | `cim_runs`, `cim_run_tables`, `cim_run_…` | simulation runs: scenario, summary; the result tables each model declares (the flood's `cim_run_buildings`, `cim_run_roads`), keyed by run and city code, and which a run wrote |
//!
//! Each layer table has `fid`, `geom` and the `cim_*` columns (code, kind, classification,
//! validity, LOD1 heights, source key), then one typed column per attribute field.
//!
//! ## Durability
//! The file uses SQLite's rollback journal with `synchronous = FULL`: an import that fails, is
//! dropped without [`ImportTx::commit`], or is killed (`kill -9`, power loss) leaves the
//! project as it was before the import began.

mod bim;
mod condition;
mod copy;
mod coverage;
mod import;
mod layer;
mod manage;
mod meshes;
mod network;
mod query;
mod result_tables;
mod rtree;
mod run_rasters;
mod run_summary;
mod runs;
mod schema;
mod terrain;
mod textures;
mod tilesets;
mod viewpoints;

pub use bim::BimModel;
pub use condition::{parse_conditions, CmpOp, Condition};
pub use coverage::{COVERAGE_TILE, DATA_NULL};
pub use import::{ImportStats, ImportTx, Written};
pub use layer::{GeometryType, LayerInfo, LayerSpec};
pub use meshes::MeshSummary;
pub use network::NetworkSummary;
pub use query::{FeatureFilter, StoredFeature};
pub use result_tables::{Cell, ColumnKind, ResultColumn, ResultTable};
pub use run_rasters::{run_raster_table, RunRaster, RunRasterAt, RunSpool};
pub use run_summary::{flood_kpis, Kpi, KpiSnapshot, RunSummary, FLOOD_CLASSES};
pub use runs::{RunBuilding, RunRecord, RunRoad};
pub use terrain::TerrainInfo;
pub use textures::{image_mime, Texture};
pub use tilesets::{ContentFrame, Refine, Tile, TileContent, Tileset, TilesetHead, TilesetKind};
pub use viewpoints::Viewpoint;

use crate::crs::Crs;
use crate::error::{EngineError, Result};
use crate::raster::Raster;
use crate::CityCode;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// The project file format this build writes and the newest it can read.
pub const FORMAT_VERSION: u32 = 1;

/// `application_id` of a GeoPackage: the bytes `GPKG`.
const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// `user_version` written: GeoPackage 1.3.1. Nothing here needs 1.4, and GDAL 3.6 (Debian 12,
/// and the QGIS builds on it) warns "may only be partially supported" on every 1.4 file.
const GPKG_USER_VERSION: i32 = 10301;
/// The `srs_id` given to a project CRS without an EPSG code.
const CUSTOM_SRS_ID: i32 = 100_000;

/// What a [`Project`] knows about itself; shared read-only with its [`ImportTx`].
#[derive(Debug)]
pub(crate) struct ProjectMeta {
    pub(crate) path: PathBuf,
    pub(crate) crs: Crs,
    pub(crate) region_code: String,
    pub(crate) srs_id: i32,
}

/// An open project file.
#[derive(Debug)]
pub struct Project {
    conn: Connection,
    meta: ProjectMeta,
    /// What opening the project found and dealt with (a layer dropped by another tool).
    notices: Vec<String>,
}

/// Adds the project path to SQLite errors.
pub(crate) trait SqlContext<T> {
    fn ctx(self, path: &Path) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn ctx(self, path: &Path) -> Result<T> {
        self.map_err(|source| EngineError::Sqlite {
            path: path.to_path_buf(),
            error: source,
        })
    }
}

impl Project {
    /// Creates a new, empty project. The file is built beside `path` under a temporary name
    /// and renamed into place, so a failed create leaves nothing behind.
    ///
    /// Errors: [`EngineError::ProjectExists`] if `path` exists (it is left untouched),
    /// [`EngineError::NotProjected`] for a geographic CRS.
    pub fn create(path: &Path, crs: &Crs, region_code: &str) -> Result<Project> {
        if crs.is_geographic() {
            return Err(EngineError::NotProjected {
                crs: crs.name().to_string(),
            });
        }
        if region_code.is_empty() || !region_code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(EngineError::InvalidCityCode {
                text: region_code.to_string(),
                reason: "the region code must be letters or digits, e.g. 110105".into(),
            });
        }
        if path.exists() {
            return Err(EngineError::ProjectExists {
                path: path.to_path_buf(),
            });
        }
        let tmp = temp_path_beside(path);
        let built = schema::build_new(&tmp, path, crs, region_code, srs_id_for(crs));
        if let Err(e) = built {
            remove_with_journal(&tmp);
            return Err(e);
        }
        // A hard link never replaces an existing file, so a project created at the same path
        // by someone else meanwhile is not clobbered.
        let linked = match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(EngineError::ProjectExists {
                path: path.to_path_buf(),
            }),
            // Filesystems without hard links: check, then rename.
            Err(_) if !path.exists() => std::fs::rename(&tmp, path).map_err(|source| EngineError::Io {
                path: path.to_path_buf(),
                source,
            }),
            Err(_) => Err(EngineError::ProjectExists {
                path: path.to_path_buf(),
            }),
        };
        remove_with_journal(&tmp);
        linked?;
        Project::open(path)
    }

    /// Opens an existing project. A file that is not SQLite, not a GeoPackage, a GeoPackage
    /// without cim tables or one written by a newer cim gives [`EngineError::NotAProject`].
    pub fn open(path: &Path) -> Result<Project> {
        let meta = std::fs::metadata(path).map_err(|source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            return Err(EngineError::NotAProject {
                path: path.to_path_buf(),
                reason: "this is a folder; give the project's .cim.gpkg file".into(),
            });
        }
        // NO_MUTEX: a Connection is not shared between threads (it is not Sync), so SQLite's
        // per-call locking is pure overhead.
        let flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_WRITE) {
            Ok(c) => c,
            Err(_) => {
                Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_READ_ONLY).ctx(path)?
            }
        };
        let meta = schema::read_meta(&conn, path)?;
        schema::configure(&conn, path)?;
        let mut conn = conn;
        let notices = manage::forget_stale_layers(&mut conn, path)?;
        Ok(Project { conn, meta, notices })
    }

    pub fn path(&self) -> &Path {
        &self.meta.path
    }
    /// What opening the project found and dealt with, in words (a layer another program
    /// dropped, forgotten): for the caller to say once.
    pub fn notices(&self) -> &[String] {
        &self.notices
    }
    pub fn crs(&self) -> &Crs {
        &self.meta.crs
    }
    pub fn region_code(&self) -> &str {
        &self.meta.region_code
    }
    /// The `srs_id` of the project CRS in `gpkg_spatial_ref_sys` (the EPSG code when it has one).
    pub fn srs_id(&self) -> i32 {
        self.meta.srs_id
    }

    /// All layers, sorted by name.
    pub fn layers(&self) -> Result<Vec<LayerInfo>> {
        layer::all(&self.conn, &self.meta.path)?
            .iter()
            .map(|m| layer::info(&self.conn, &self.meta.path, m))
            .collect()
    }

    /// One layer; [`EngineError::LayerNotFound`] if there is none of that name.
    pub fn layer(&self, name: &str) -> Result<LayerInfo> {
        let m = layer::load(&self.conn, &self.meta.path, name)?;
        layer::info(&self.conn, &self.meta.path, &m)
    }

    /// Begins an import: one immediate (write-locking) transaction. Dropping the returned
    /// [`ImportTx`] without [`ImportTx::commit`] rolls everything back.
    pub fn import(&mut self) -> Result<ImportTx<'_>> {
        let Project { conn, meta, .. } = self;
        ImportTx::begin(conn, meta)
    }

    /// The feature with this city code, if any.
    pub fn feature(&self, code: &CityCode) -> Result<Option<StoredFeature>> {
        let path = &self.meta.path;
        let hit: Option<(String, i64)> = self
            .conn
            .prepare_cached("SELECT layer, fid FROM cim_codes WHERE code = ?1")
            .ctx(path)?
            .query_row([code.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .ctx(path)?;
        let Some((layer_name, fid)) = hit else {
            return Ok(None);
        };
        let m = layer::load(&self.conn, path, &layer_name)?;
        query::by_fid(&self.conn, path, &m, fid)
    }

    /// Features matching `filter`, sorted by (layer, fid).
    pub fn features(&self, filter: &FeatureFilter) -> Result<Vec<StoredFeature>> {
        let mut out = Vec::new();
        self.for_each_feature(filter, |f| {
            out.push(f);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams the features matching `filter` in (layer, fid) order; stops at the first error
    /// `f` returns and passes it on.
    pub fn for_each_feature(
        &self,
        filter: &FeatureFilter,
        mut f: impl FnMut(StoredFeature) -> Result<()>,
    ) -> Result<()> {
        query::for_each(&self.conn, &self.meta.path, filter, &mut f)
    }

    /// Finds features by city code or attribute value: those whose code or any attribute
    /// contains `text` (Latin letters in any case), at most `limit`; a feature whose code is
    /// exactly `text` comes first.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<StoredFeature>> {
        let path = &self.meta.path;
        let mut found = query::search(&self.conn, path, text, limit)?;
        if let Ok(code) = CityCode::parse(text.trim()) {
            if let Some(k) = found.iter().position(|f| f.feature.code == code) {
                let exact = found.remove(k);
                found.insert(0, exact);
            } else if let Some(exact) = self.feature(&code)? {
                found.insert(0, exact);
                found.truncate(limit);
            }
        }
        Ok(found)
    }

    /// Number of features matching `filter` (its `limit` caps the count).
    pub fn count(&self, filter: &FeatureFilter) -> Result<u64> {
        query::count(&self.conn, &self.meta.path, filter)
    }

    /// All terrains, sorted by name.
    pub fn terrains(&self) -> Result<Vec<TerrainInfo>> {
        terrain::list(&self.conn, &self.meta.path)
    }

    /// A terrain's full grid; [`EngineError::Terrain`] if there is none of that name.
    pub fn terrain(&self, name: &str) -> Result<Raster> {
        terrain::read(&self.conn, &self.meta.path, name)
    }

    /// Checks the file: SQLite's `PRAGMA integrity_check`, then each layer's R-tree
    /// (`rtreecheck`, and one entry per non-empty geometry). `Ok(())` when all is sound.
    pub fn integrity_check(&self) -> Result<()> {
        let path = &self.meta.path;
        let mut problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .ctx(path)?
            .query_map([], |r| r.get(0))
            .ctx(path)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .ctx(path)?
            .into_iter()
            .filter(|l| l != "ok")
            .collect();
        for m in layer::all(&self.conn, path)? {
            let rtree = m.rtree();
            let check: String = self
                .conn
                .query_row("SELECT rtreecheck(?1)", [&rtree], |r| r.get(0))
                .ctx(path)?;
            if check != "ok" {
                problems.push(format!("{rtree}: {check}"));
            }
            let (indexed, with_geometry): (i64, i64) = self
                .conn
                .query_row(
                    &format!(
                        "SELECT (SELECT count(*) FROM {}),
                                (SELECT count(*) FROM {} WHERE geom NOT NULL AND NOT ST_IsEmpty(geom))",
                        schema::q(&rtree),
                        schema::q(&m.name)
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx(path)?;
            if indexed != with_geometry {
                problems.push(format!(
                    "{rtree}: {indexed} entries for {with_geometry} geometries"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngineError::NotAProject {
                path: path.clone(),
                reason: format!("integrity check failed: {}", problems.join("; ")),
            })
        }
    }
}

fn srs_id_for(crs: &Crs) -> i32 {
    crs.epsg()
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(CUSTOM_SRS_ID)
}

fn temp_path_beside(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    path.with_file_name(format!(".{name}.creating-{}-{n}", std::process::id()))
}

fn remove_with_journal(path: &Path) {
    // Best effort: a leftover temporary file is harmless, and the error that brought us here
    // is the one worth reporting.
    let _ = std::fs::remove_file(path);
    let mut journal = path.as_os_str().to_owned();
    journal.push("-journal");
    let _ = std::fs::remove_file(PathBuf::from(journal));
}
