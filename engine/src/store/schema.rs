//! The file layout: GeoPackage core tables, cim tables, connection settings and the SQL
//! functions the GeoPackage R-tree triggers call.

use super::{ProjectMeta, SqlContext, FORMAT_VERSION, GPKG_APPLICATION_ID, GPKG_USER_VERSION};
use crate::crs::Crs;
use crate::error::{EngineError, Result};
use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const WGS84_WKT: &str = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AUTHORITY[\"EPSG\",\"4326\"]]";

const CORE_TABLES: &str = "
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
";

const CIM_TABLES: &str = "
CREATE TABLE cim_project (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cim_layers (
  name TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, classification TEXT NOT NULL,
  geometry_type TEXT NOT NULL, source TEXT NOT NULL, fields TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE cim_codes (
  code TEXT NOT NULL PRIMARY KEY, layer TEXT NOT NULL, fid INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE cim_terrain (
  name TEXT NOT NULL PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL,
  origin_x REAL NOT NULL, origin_y REAL NOT NULL, cell_w REAL NOT NULL, cell_h REAL NOT NULL,
  tile_size INTEGER NOT NULL, encoding TEXT NOT NULL, min_m REAL, max_m REAL,
  valid_cells INTEGER NOT NULL, source TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE cim_terrain_tiles (
  terrain TEXT NOT NULL, tile_row INTEGER NOT NULL, tile_col INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (terrain, tile_row, tile_col));
";

/// Quotes an SQL identifier.
pub(crate) fn q(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The WKT written for the project CRS (WKT1 with the EPSG authority where there is one).
fn crs_wkt(crs: &Crs) -> String {
    crs.to_wkt()
}

/// The text stored under `crs` in `cim_project`, read back with [`Crs::parse`].
fn crs_text(crs: &Crs) -> String {
    match crs.epsg() {
        Some(code) => format!("EPSG:{code}"),
        None => crs.proj4().to_string(),
    }
}

/// Writes a complete, empty project at `tmp`. `final_path` only names the project.
pub(super) fn build_new(
    tmp: &Path,
    final_path: &Path,
    crs: &Crs,
    region_code: &str,
    srs_id: i32,
) -> Result<()> {
    let mut conn = Connection::open(tmp).ctx(tmp)?;
    conn.pragma_update(None, "application_id", GPKG_APPLICATION_ID)
        .ctx(tmp)?;
    conn.pragma_update(None, "user_version", GPKG_USER_VERSION)
        .ctx(tmp)?;
    let tx = conn.transaction().ctx(tmp)?;
    tx.execute_batch(CORE_TABLES).ctx(tmp)?;
    tx.execute_batch(CIM_TABLES).ctx(tmp)?;
    {
        let mut srs = tx
            .prepare("INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .ctx(tmp)?;
        srs.execute(params![
            "WGS 84 geodetic",
            4326,
            "EPSG",
            4326,
            WGS84_WKT,
            "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"
        ])
        .ctx(tmp)?;
        srs.execute(params![
            "Undefined cartesian SRS",
            -1,
            "NONE",
            -1,
            "undefined",
            "undefined cartesian coordinate reference system"
        ])
        .ctx(tmp)?;
        srs.execute(params![
            "Undefined geographic SRS",
            0,
            "NONE",
            0,
            "undefined",
            "undefined geographic coordinate reference system"
        ])
        .ctx(tmp)?;
        let (org, org_id) = match crs.epsg() {
            Some(code) => ("EPSG", i64::from(code)),
            None => ("CIM", i64::from(srs_id)),
        };
        srs.execute(params![
            crs.name(),
            srs_id,
            org,
            org_id,
            crs_wkt(crs),
            "project CRS"
        ])
        .ctx(tmp)?;
    }
    // One registered attributes table makes GDAL (LIST_ALL_TABLES=AUTO) hide the other,
    // unregistered cim tables, and shows users the project's key/value metadata.
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
         VALUES ('cim_project', 'attributes', 'cim_project', 'cim project metadata')",
        [],
    )
    .ctx(tmp)?;
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".cim.gpkg")
        .or_else(|| name.strip_suffix(".gpkg"))
        .unwrap_or(&name)
        .to_string();
    {
        let mut kv = tx
            .prepare("INSERT INTO cim_project (key, value) VALUES (?1, ?2)")
            .ctx(tmp)?;
        for (k, v) in [
            ("name", name),
            ("crs", crs_text(crs)),
            ("srs_id", srs_id.to_string()),
            ("region_code", region_code.to_string()),
            ("format_version", FORMAT_VERSION.to_string()),
        ] {
            kv.execute(params![k, v]).ctx(tmp)?;
        }
        kv.execute(params![
            "created",
            tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ','now')", [], |r| r
                .get::<_, String>(0))
                .ctx(tmp)?
        ])
        .ctx(tmp)?;
    }
    tx.commit().ctx(tmp)?;
    conn.close().map_err(|(_, e)| e).ctx(tmp)
}

/// Reads and checks the project metadata of an opened file.
pub(super) fn read_meta(conn: &Connection, path: &Path) -> Result<ProjectMeta> {
    let not = |reason: String| EngineError::NotAProject {
        path: path.to_path_buf(),
        reason,
    };
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| not(format!("not an SQLite database ({e})")))?;
    if app_id != GPKG_APPLICATION_ID {
        return Err(not(format!(
            "not a GeoPackage (application_id {app_id:#x}, expected 'GPKG')"
        )));
    }
    let has_cim: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cim_project'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| not(e.to_string()))?;
    if has_cim.is_none() {
        return Err(not("a GeoPackage without cim project tables".into()));
    }
    let get = |key: &str| -> Result<String> {
        conn.query_row("SELECT value FROM cim_project WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()
        .ctx(path)?
        .ok_or_else(|| not(format!("cim_project has no '{key}'")))
    };
    let version_text = get("format_version")?;
    let version: u32 = version_text
        .parse()
        .map_err(|_| not(format!("bad format version '{version_text}'")))?;
    if version > FORMAT_VERSION {
        return Err(not(format!(
            "project format version {version} is newer than this cim reads ({FORMAT_VERSION}); upgrade cim"
        )));
    }
    let crs_text = get("crs")?;
    let crs = Crs::parse(&crs_text).map_err(|e| match e {
        EngineError::UnknownCrs { crs, reason, .. } => EngineError::UnknownCrs {
            crs,
            reason,
            path: Some(path.to_path_buf()),
        },
        other => other,
    })?;
    let srs_text = get("srs_id")?;
    let srs_id = srs_text
        .parse()
        .map_err(|_| not(format!("bad srs_id '{srs_text}'")))?;
    Ok(ProjectMeta {
        path: path.to_path_buf(),
        crs,
        region_code: get("region_code")?,
        srs_id,
    })
}

/// Connection settings and SQL functions, applied on every open.
pub(super) fn configure(conn: &Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10)).ctx(path)?;
    // Rollback journal + FULL sync: durable on power loss, and a bulk import into a growing
    // file writes each new page once (WAL would write it twice: log, then checkpoint).
    // On a read-only file these fail harmlessly.
    let _ = conn.pragma_update(None, "journal_mode", "DELETE");
    let _ = conn.pragma_update(None, "synchronous", "FULL");
    // Up to 1 GiB of page cache: an import of a million features touches ~300 MiB of pages,
    // and spilling them mid-transaction costs a journal sync plus scattered writes. The cache
    // only grows as pages are used.
    conn.pragma_update(None, "cache_size", -1_048_576).ctx(path)?;
    conn.pragma_update(None, "temp_store", "MEMORY").ctx(path)?;
    // Lets SQLite's sorter (large ORDER BY, CREATE INDEX) use a second core.
    conn.pragma_update(None, "threads", 2).ctx(path)?;
    conn.set_prepared_statement_cache_capacity(64);
    register_functions(conn).ctx(path)
}

/// The `ST_*` functions the GeoPackage R-tree triggers call. Each reads only the blob header
/// (the envelope), so they are cheap; a NULL or unreadable blob gives NULL.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use crate::gpkg::envelope;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    for (name, idx) in [
        ("ST_MinX", 0usize),
        ("ST_MinY", 1),
        ("ST_MaxX", 2),
        ("ST_MaxY", 3),
    ] {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Blob(b) => envelope(b).map(|e| e[idx]),
                _ => None,
            })
        })?;
    }
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            rusqlite::types::ValueRef::Blob(b) => is_empty(b),
            _ => None,
        })
    })
}

fn is_empty(blob: &[u8]) -> Option<bool> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return None;
    }
    Some(blob[3] & 0b0001_0000 != 0 || crate::gpkg::envelope(blob).is_none())
}
