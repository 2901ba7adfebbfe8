//! Reading throughput on a generated 1M-polygon GeoPackage. Ignored by default (it writes a
//! ~300 MB file); run with
//! `cargo test --release -p cim-importers --test vector_throughput -- --ignored --nocapture`.
//! Set `CIM_THROUGHPUT_N` to change the row count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cim_engine::gpkg::encode_geometry;
use rusqlite::{params, Connection};
use std::path::Path;
use std::time::Instant;

const EPSG: i32 = 4527;

fn write_gpkg(path: &Path, n: usize) {
    let mut conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
           organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL);
         INSERT INTO gpkg_spatial_ref_sys VALUES ('CGCS2000 GK 39', 4527, 'EPSG', 4527, 'undefined');
         CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, srs_id INTEGER);
         INSERT INTO gpkg_contents VALUES ('parcels', 'features', 4527);
         CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,
           srs_id INTEGER, z TINYINT, m TINYINT);
         INSERT INTO gpkg_geometry_columns VALUES ('parcels', 'geom', 'POLYGON', 4527, 0, 0);
         CREATE TABLE parcels (fid INTEGER PRIMARY KEY, geom POLYGON, name TEXT, code INTEGER, area REAL);",
    )
    .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO parcels VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = 39_400_000.0 + (i % 1000) as f64 * 30.0;
            let y = 4_400_000.0 + (i / 1000) as f64 * 30.0;
            let w = 10.0 + (seed % 15) as f64;
            let ring = vec![
                (x, y),
                (x, y + w),
                (x + w, y + w),
                (x + w + 2.0, y + w / 2.0),
                (x + w, y),
                (x, y),
            ];
            let g = geo::Geometry::Polygon(geo::Polygon::new(ring.into(), vec![]));
            let fid = i as i64 + 1;
            ins.execute(params![
                fid,
                encode_geometry(&g, EPSG),
                format!("地块{fid}"),
                fid * 7,
                w * w
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
#[ignore = "writes a large file; a measurement, not a check"]
fn gpkg_read_throughput() {
    let n: usize = std::env::var("CIM_THROUGHPUT_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parcels.gpkg");
    let t = Instant::now();
    write_gpkg(&path, n);
    eprintln!("wrote {n} polygons in {:.2?}", t.elapsed());
    // Where the time goes: the bare SQLite scan, plus geometry decoding.
    let conn = Connection::open(&path).unwrap();
    let t = Instant::now();
    let mut stmt = conn
        .prepare("SELECT fid, geom, name, code, area FROM parcels ORDER BY fid")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let (mut bytes, mut decoded) = (0usize, 0usize);
    let scan_only = std::env::var("CIM_THROUGHPUT_SCAN_ONLY").is_ok();
    while let Some(r) = rows.next().unwrap() {
        let b = r.get_ref(1).unwrap().as_blob().unwrap();
        bytes += b.len() + r.get_ref(2).unwrap().as_str().unwrap().len();
        if !scan_only {
            decoded += usize::from(cim_engine::gpkg::decode_geometry(b).unwrap().is_some());
        }
    }
    let label = if scan_only {
        "SQLite scan"
    } else {
        "SQLite scan + decode_geometry"
    };
    eprintln!(
        "{label}: {:.2} s ({bytes} bytes, {decoded} decoded)",
        t.elapsed().as_secs_f64()
    );
    for round in 0..2 {
        let t = Instant::now();
        let src = cim_importers::read_gpkg(&path, None).unwrap();
        let mut count = 0usize;
        let mut vertices = 0usize;
        for f in src.features {
            let f = f.unwrap();
            if let Some(geo::Geometry::Polygon(p)) = &f.geometry {
                vertices += p.exterior().0.len();
            }
            count += 1;
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(count, n);
        assert_eq!(vertices, 6 * n);
        eprintln!(
            "round {round}: read {count} polygons in {secs:.2} s = {:.0} rows/s",
            count as f64 / secs
        );
    }
}
