//! The geometry blob codec against a GeoPackage written by GDAL (../shared/fixtures).
#![allow(clippy::unwrap_used)]

use cim_engine::gpkg::{decode_geometry, encode_geometry, envelope, geometry_envelope, geometry_type_name};
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/vector")
        .join(name)
}

#[test]
fn decodes_every_geometry_in_bubenec() {
    let path = fixture("bubenec.gpkg");
    if !path.exists() {
        eprintln!("skipping: fixture {} is absent", path.display());
        return;
    }
    let db = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    for (table, want_type, want_count) in [
        ("buildings", "POLYGON", 144),
        ("plots", "POLYGON", 407),
        ("streets", "LINESTRING", 35),
        ("tessellation", "POLYGON", 144),
    ] {
        let mut stmt = db
            .prepare(&format!("SELECT fid, geom FROM \"{table}\" ORDER BY fid"))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut n = 0;
        while let Some(row) = rows.next().unwrap() {
            let fid: i64 = row.get(0).unwrap();
            let blob: Vec<u8> = row.get(1).unwrap();
            let g = decode_geometry(&blob)
                .unwrap_or_else(|e| panic!("{table} fid {fid}: {e}"))
                .unwrap_or_else(|| panic!("{table} fid {fid}: empty"));
            assert_eq!(geometry_type_name(&g), want_type, "{table} fid {fid}");
            // The envelope GDAL wrote in the header is the geometry's own bounds.
            let env = envelope(&blob).unwrap();
            assert_eq!(geometry_envelope(&g), Some(env), "{table} fid {fid}");
            // Re-encoding gives back the same geometry and envelope.
            let again = encode_geometry(&g, 3857);
            assert_eq!(envelope(&again), Some(env));
            assert_eq!(decode_geometry(&again).unwrap(), Some(g));
            n += 1;
        }
        assert_eq!(n, want_count, "{table}");
    }
}
