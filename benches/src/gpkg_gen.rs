//! A plain GeoPackage of synthetic building footprints, as a GIS user would have on disk: the
//! input of the import bench and of the `ogr2ogr` peer run.

use crate::footprints::synthetic_footprints;
use cim_engine::gpkg::encode_geometry;
use rusqlite::{params, Connection};
use std::path::Path;

/// EPSG code of the generated layer (WGS 84 / UTM zone 50N: the footprints are in UTM-like metres).
pub const GEN_EPSG: i32 = 32650;

/// Writes `n` building footprints (seeded) into a new GeoPackage at `path`, table `buildings`
/// with attributes `name` (TEXT), `floors` (INTEGER) and `height_m` (REAL), and its R-tree.
pub fn write_buildings_gpkg(path: &Path, n: usize, seed: u64) -> rusqlite::Result<()> {
    if path.exists() {
        std::fs::remove_file(path).ok();
    }
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA application_id = 1196444487; PRAGMA user_version = 10301; PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
           organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
           description TEXT);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL),
           ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL),
           ('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],AUTHORITY[\"EPSG\",\"4326\"]]', NULL),
           ('WGS 84 / UTM zone 50N', 32650, 'EPSG', 32650, 'PROJCS[\"WGS 84 / UTM zone 50N\",GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433]],PROJECTION[\"Transverse_Mercator\"],PARAMETER[\"latitude_of_origin\",0],PARAMETER[\"central_meridian\",117],PARAMETER[\"scale_factor\",0.9996],PARAMETER[\"false_easting\",500000],PARAMETER[\"false_northing\",0],UNIT[\"metre\",1],AUTHORITY[\"EPSG\",\"32650\"]]', NULL);
         CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
           identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT
           (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
           srs_id INTEGER);
         CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
           geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
           CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
         CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
           definition TEXT NOT NULL, scope TEXT NOT NULL);
         CREATE TABLE buildings (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POLYGON,
           name TEXT, floors INTEGER, height_m REAL);
         CREATE VIRTUAL TABLE rtree_buildings_geom USING rtree(id, minx, maxx, miny, maxy);
         INSERT INTO gpkg_geometry_columns VALUES ('buildings', 'geom', 'POLYGON', 32650, 0, 0);
         INSERT INTO gpkg_extensions VALUES ('buildings', 'geom', 'gpkg_rtree_index',
           'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');",
    )?;
    let footprints = synthetic_footprints(n, seed);
    let tx = conn.transaction()?;
    let mut ext = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    {
        let mut insert = tx.prepare(
            "INSERT INTO buildings (fid, geom, name, floors, height_m) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut rtree = tx.prepare("INSERT INTO rtree_buildings_geom VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (i, (poly, height_m)) in footprints.iter().enumerate() {
            let fid = i as i64 + 1;
            let g = geo::Geometry::Polygon(poly.clone());
            let blob = encode_geometry(&g, GEN_EPSG);
            let floors = (height_m / 3.0).round().max(1.0) as i64;
            insert.execute(params![fid, blob, format!("B{fid}"), floors, height_m])?;
            if let Some([minx, miny, maxx, maxy]) = cim_engine::gpkg::geometry_envelope(&g) {
                rtree.execute(params![fid, minx, maxx, miny, maxy])?;
                ext = [
                    ext[0].min(minx),
                    ext[1].min(miny),
                    ext[2].max(maxx),
                    ext[3].max(maxy),
                ];
            }
        }
    }
    tx.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, min_x, min_y, max_x, max_y, srs_id)
         VALUES ('buildings', 'features', 'buildings', ?1, ?2, ?3, ?4, 32650)",
        params![ext[0], ext[1], ext[2], ext[3]],
    )?;
    tx.commit()?;
    Ok(())
}
