//! Garbage, empty and missing files: a clear error naming the file, never a panic.

use crate::support::data;
use cim_importers::{list_layers, open_vector, ImportError};
use std::path::Path;

fn file_error(path: &Path) -> String {
    match open_vector(path, None) {
        Ok(mut src) => {
            // Some formats only find out on the first record; that must be an error too.
            let first = src.features.next();
            match first {
                Some(Err(e)) => e.to_string(),
                other => panic!(
                    "{}: expected an error, got {:?}",
                    path.display(),
                    other.map(|r| r.map(|f| f.key))
                ),
            }
        }
        Err(e) => {
            assert!(
                !matches!(e, ImportError::Record { .. } | ImportError::Damaged { .. }),
                "{e}"
            );
            e.to_string()
        }
    }
}

#[test]
fn garbage_bytes_are_file_errors_naming_the_file() {
    for (name, expect) in [
        ("garbage.shp", "not a shapefile"),
        ("garbage.gpkg", "not a readable GeoPackage"),
        ("garbage.geojson", "not valid JSON"),
        ("garbage.fgb", "not a FlatGeobuf file"),
    ] {
        let msg = file_error(&data(name));
        assert!(msg.contains(name) && msg.contains(expect), "{msg}");
    }
}

#[test]
fn empty_files_are_file_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, expect) in [
        ("e.shp", "not a shapefile"),
        ("e.gpkg", "not a GeoPackage"),
        ("e.fgb", "not a FlatGeobuf file"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, b"").unwrap();
        let msg = file_error(&p);
        assert!(msg.contains(name) && msg.contains(expect), "{msg}");
    }
    let msg = file_error(&data("empty_file.geojson"));
    assert!(
        msg.contains("empty_file.geojson") && msg.contains("empty file"),
        "{msg}"
    );
}

#[test]
fn missing_files_and_unknown_extensions() {
    let msg = file_error(Path::new("/nonexistent/x.shp"));
    assert!(msg.contains("/nonexistent/x.shp"), "{msg}");
    let msg = file_error(Path::new("/nonexistent/x.gpkg"));
    assert!(
        msg.contains("/nonexistent/x.gpkg") && msg.contains("not found"),
        "{msg}"
    );
    let msg = open_vector(Path::new("a.xlsx"), None).err().unwrap().to_string();
    // Without the `gdal` feature the extension is unknown (and the message says how to read it);
    // with it, GDAL gets the file and finds it missing.
    #[cfg(not(feature = "gdal"))]
    assert!(
        msg.contains("a.xlsx")
            && msg.contains("unknown format")
            && msg.contains(".tif/.tiff (terrain), .osm and .osm.pbf")
            && msg.contains("--features gdal"),
        "{msg}"
    );
    #[cfg(feature = "gdal")]
    assert!(msg.contains("a.xlsx") && msg.contains("not found"), "{msg}");
    // 3-D formats GDAL cannot read either: no advice to build with GDAL.
    for name in ["model.ifc", "city.CityGML", "cloud.laz", "mesh.obj"] {
        let msg = open_vector(Path::new(name), None).err().unwrap().to_string();
        assert!(
            msg.contains(name) && msg.contains("not imported yet") && !msg.contains("gdal"),
            "{msg}"
        );
    }
    assert!(list_layers(Path::new("/nonexistent/x.fgb")).is_err());
}

/// Every prefix of a valid file must give errors, never a panic.
#[test]
fn every_truncation_of_small_files_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["parcels_gbk_cpg.shp", "parcels.fgb", "legacy_crs_3857.geojson"] {
        let bytes = std::fs::read(data(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let p = dir.path().join(format!("cut.{ext}"));
        if ext == "shp" {
            for side in ["dbf", "shx", "cpg"] {
                std::fs::copy(data(name).with_extension(side), p.with_extension(side)).unwrap();
            }
        }
        for len in 0..bytes.len() {
            std::fs::write(&p, &bytes[..len]).unwrap();
            if let Ok(src) = open_vector(&p, None) {
                let n = src.features.count();
                assert!(n <= 3, "{name} cut at {len}: {n} records");
            }
        }
    }
}

/// Flipping bytes of valid files must never panic.
#[test]
fn corrupted_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["parcels_gbk_cpg.shp", "parcels_gbk_cpg.dbf", "parcels.fgb"] {
        let bytes = std::fs::read(data(name)).unwrap();
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let p = dir.path().join("c.shp");
        std::fs::copy(data("parcels_gbk_cpg.shp"), &p).unwrap();
        std::fs::copy(data("parcels_gbk_cpg.dbf"), p.with_extension("dbf")).unwrap();
        let target = if ext == "fgb" {
            dir.path().join("c.fgb")
        } else {
            p.with_extension(ext)
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            b[i] ^= (seed as u8) | 1;
            std::fs::write(&target, &b).unwrap();
            let open = if ext == "fgb" { &target } else { &p };
            if let Ok(src) = open_vector(open, None) {
                for r in src.features.take(10) {
                    let _ = r.map_err(|e| e.to_string());
                }
            }
        }
    }
}
