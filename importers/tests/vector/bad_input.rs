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
    for name in ["scan.ply", "tile.b3dm"] {
        let msg = open_vector(Path::new(name), None).err().unwrap().to_string();
        assert!(
            msg.contains(name) && msg.contains("not imported (yet)") && !msg.contains("gdal"),
            "{msg}"
        );
    }
    // 3-D models and point clouds cim reads, but not as vector layers.
    for name in ["model.ifc", "city.CityGML", "cloud.laz", "mesh.obj", "house.glb"] {
        let msg = open_vector(Path::new(name), None).err().unwrap().to_string();
        assert!(
            msg.contains(name) && msg.contains("cim import") && !msg.contains("gdal"),
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

/// Random bytes written over the records of a GBK .dbf: every value that no longer reads as its
/// field's type is warned about, naming the record and the field (none is dropped silently).
#[test]
fn garbled_dbf_values_are_never_dropped_silently() {
    use cim_engine::AttrValue;
    let dir = tempfile::tempdir().unwrap();
    let read = |shp: &Path| -> Vec<(cim_engine::Attributes, Vec<String>)> {
        let src = open_vector(shp, None).unwrap();
        src.features
            .map(|f| f.map(|f| (f.attributes, f.warnings)))
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let original = read(&data("parcels_gbk_cpg.shp"));
    let dbf = std::fs::read(data("parcels_gbk_cpg.dbf")).unwrap();
    let header_len = usize::from(u16::from_le_bytes([dbf[8], dbf[9]]));
    let record_len = usize::from(u16::from_le_bytes([dbf[10], dbf[11]]));
    // Each field's name (GBK), offset in a record and length.
    let mut fields = std::collections::HashMap::new();
    let mut off = 1;
    for d in dbf[32..header_len].chunks(32) {
        if d[0] == 0x0d || d.len() < 32 {
            break;
        }
        let end = d[..11].iter().position(|&c| c == 0).unwrap_or(11);
        let name = encoding_rs::GBK
            .decode_without_bom_handling(&d[..end])
            .0
            .trim()
            .to_string();
        fields.insert(name, (off, usize::from(d[16])));
        off += usize::from(d[16]);
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut warned_total = 0;
    for round in 0..20 {
        let mut b = dbf.clone();
        for _ in 0..300 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Record bytes only (not the deletion flags): the header is another test's.
            let at = header_len + (seed as usize) % (b.len() - header_len - 1);
            if !(at - header_len).is_multiple_of(record_len) {
                b[at] = (seed >> 32) as u8;
            }
        }
        let shp = dir.path().join(format!("g{round}.shp"));
        for ext in ["shp", "shx", "cpg", "prj"] {
            std::fs::copy(
                data("parcels_gbk_cpg.shp").with_extension(ext),
                shp.with_extension(ext),
            )
            .unwrap();
        }
        std::fs::write(shp.with_extension("dbf"), &b).unwrap();
        let Ok(src) = open_vector(&shp, None) else {
            continue;
        };
        drop(src);
        let garbled = read(&shp);
        for (r, ((before, _), (after, warnings))) in original.iter().zip(&garbled).enumerate() {
            for (field, was) in before {
                let now = after.get(field).unwrap_or(&AttrValue::Null);
                let lost = !matches!(was, AttrValue::Null) && matches!(now, AttrValue::Null);
                let said = warnings.iter().any(|w| w.contains(&format!("field '{field}'")));
                if lost && !said {
                    // Only a value now blank (spaces or NULs: dBASE's null) may go unsaid.
                    let (off, len) = fields[field.as_str()];
                    let at = header_len + r * record_len + off;
                    let raw = &b[at..at + len];
                    assert!(
                        raw.iter().all(|&c| c == b' ' || c == 0),
                        "round {round}, record {}: '{field}' ({raw:?}) lost without a warning: {warnings:?}",
                        r + 1
                    );
                }
                warned_total += usize::from(lost && said);
            }
        }
    }
    assert!(warned_total > 0, "no value was garbled in 20 rounds");
}
