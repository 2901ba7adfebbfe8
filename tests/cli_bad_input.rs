//! Bad input: a clear one-line error or a warning naming the file and record; never a panic;
//! never a half-written project.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn snapshot(project: &Path) -> (Vec<(String, u64)>, String) {
    let codes = cim_json(&["query", p(project), "--json"]);
    (layer_counts(project), codes.to_string())
}

#[test]
fn garbage_and_truncated_files_fail_cleanly_and_leave_the_project_alone() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let gpkg = fixtures().join("vector/bubenec.gpkg");
    cim_json(&[
        "import",
        p(&project),
        p(&gpkg),
        "--source-layer",
        "streets",
        "--json",
    ]);
    let before = snapshot(&project);
    let shp = std::fs::read(fixtures().join("vector/farms_33S.shp")).unwrap();
    let tif = std::fs::read(fixtures().join("dem/bubenec_dtm_1m_utm33n.tif")).unwrap();
    let cases: Vec<std::path::PathBuf> = vec![
        write(
            dir.path(),
            "garbage.geojson",
            b"{\"type\": \"FeatureCollection\", \"features\": [ {\"type\":",
        ),
        write(
            dir.path(),
            "garbage.gpkg",
            b"this is not a database at all, not even close............",
        ),
        write(dir.path(), "garbage.tif", b"II*\0garbage"),
        write(dir.path(), "half.tif", &tif[..tif.len() / 2]),
        write(dir.path(), "empty.shp", b""),
        write(
            dir.path(),
            "garbage.osm",
            b"<osm><node id='1' lat='x' lon='y'/><way id='2'><nd ref=",
        ),
        {
            std::fs::copy(
                fixtures().join("vector/farms_33S.dbf"),
                dir.path().join("half.dbf"),
            )
            .unwrap();
            std::fs::copy(
                fixtures().join("vector/farms_33S.shx"),
                dir.path().join("half.shx"),
            )
            .unwrap();
            std::fs::copy(
                fixtures().join("vector/farms_33S.prj"),
                dir.path().join("half.prj"),
            )
            .unwrap();
            write(dir.path(), "half.shp", &shp[..shp.len() / 2])
        },
    ];
    for file in &cases {
        let e = cim_err(&["import", p(&project), p(file)]);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(e.contains(name), "error should name {name}: {e}");
        assert_eq!(
            snapshot(&project),
            before,
            "project changed after failing on {name}"
        );
    }
}

#[test]
fn bad_records_are_skipped_with_their_record_number() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let geojson = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.10],[14.401,50.101],[14.40,50.101],[14.40,50.10]]]}},
      {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.10],[14.402,50.10],[14.40,50.10]]]}},
      {"type":"Feature","properties":{"n":3},"geometry":{"type":"Polygon","coordinates":[[[1e308,50.10],[14.401,50.10],[14.401,50.101],[1e308,50.10]]]}},
      {"type":"Feature","properties":{"n":4},"geometry":null},
      {"type":"Feature","properties":{"n":5},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.101],[14.401,50.10],[14.40,50.101],[14.40,50.10]]]}}
    ]}"#;
    let file = write(dir.path(), "parcels.geojson", geojson.as_bytes());
    let r = cim_json(&["import", p(&project), p(&file), "--kind", "parcel", "--json"]);
    let l = &r["layers"][0];
    assert_eq!(l["read"], 5);
    assert_eq!(l["inserted"], 2, "{r}"); // 1 and the bow-tie 5 (kept, warned)
    assert_eq!(l["skipped"], 3, "{r}");
    let w = r["warnings"].to_string();
    for (record, what) in [
        (2, "zero area"),
        (3, "coordinate"),
        (4, "no geometry"),
        (5, "invalid polygon"),
    ] {
        assert!(
            w.contains(&format!("parcels.geojson: record {record}: ")),
            "record {record} ({what}): {w}"
        );
        assert!(w.contains(what), "{what}: {w}");
    }
    // --strict turns the first warning into an error, and nothing is written.
    let project2 = dir.path().join("strict.cim.gpkg");
    cim_json(&["new", p(&project2), "--crs", "EPSG:32633", "--json"]);
    let e = cim_err(&["import", p(&project2), p(&file), "--strict"]);
    assert!(e.contains("record 2") && e.contains("--strict"), "{e}");
    assert!(layer_counts(&project2).is_empty());
}

#[test]
fn an_unclosed_ring_is_closed_and_reported_with_its_record_number() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    // Record 2's ring does not end where it starts: geo would close it silently; cim says so.
    let geojson = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[14.40,50.10],[14.401,50.10],[14.401,50.101],[14.40,50.101],[14.40,50.10]]]}},
      {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[14.41,50.10],[14.411,50.10],[14.411,50.101],[14.41,50.101]]]}}
    ]}"#;
    let file = write(dir.path(), "open_rings.geojson", geojson.as_bytes());
    let r = cim_json(&["import", p(&project), p(&file), "--kind", "parcel", "--json"]);
    assert_eq!(r["layers"][0]["inserted"], 2, "{r}");
    let w = r["warnings"].to_string();
    assert!(
        w.contains("open_rings.geojson: record 2: ring 1 of polygon was not closed; closed it"),
        "{w}"
    );
    let project2 = dir.path().join("strict.cim.gpkg");
    cim_json(&["new", p(&project2), "--crs", "EPSG:32633", "--json"]);
    let e = cim_err(&["import", p(&project2), p(&file), "--strict"]);
    assert!(e.contains("record 2") && e.contains("not closed"), "{e}");
    assert!(layer_counts(&project2).is_empty());
}

#[test]
fn missing_prj_and_unknown_crs_suggest_src_crs() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32733);
    for ext in ["shp", "shx", "dbf"] {
        std::fs::copy(
            fixtures().join(format!("vector/farms_33S.{ext}")),
            dir.path().join(format!("noprj.{ext}")),
        )
        .unwrap();
    }
    let shp = dir.path().join("noprj.shp");
    let e = cim_err(&["import", p(&project), p(&shp)]);
    assert!(e.contains("noprj") && e.contains("--src-crs"), "{e}");
    let r = cim_json(&[
        "import",
        p(&project),
        p(&shp),
        "--src-crs",
        "EPSG:32733",
        "--json",
    ]);
    assert!(r["layers"][0]["inserted"].as_u64().unwrap() > 2000 - 10);
    let e = cim_err(&["import", p(&project), p(&shp), "--src-crs", "EPSG:999999"]);
    assert!(e.contains("999999"), "{e}");
    // A wrong .prj (geographic, for projected data) is caught as absurd coordinates, not imported.
    for ext in ["shp", "shx", "dbf"] {
        std::fs::copy(
            fixtures().join(format!("vector/farms_33S.{ext}")),
            dir.path().join(format!("wrong.{ext}")),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("wrong.prj"), "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],AUTHORITY[\"EPSG\",\"4326\"]]").unwrap();
    let e = cim_err(&[
        "import",
        p(&project),
        p(&dir.path().join("wrong.shp")),
        "--strict",
    ]);
    assert!(e.contains("wrong.shp") && e.contains("record 1"), "{e}");
}

#[test]
fn empty_inputs_and_all_nodata_dem() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let empty = write(
        dir.path(),
        "empty.geojson",
        br#"{"type":"FeatureCollection","features":[]}"#,
    );
    let r = cim_json(&["import", p(&project), p(&empty), "--json"]);
    assert!(r["warnings"].to_string().contains("no features"), "{r}");
    let zero = write(dir.path(), "zero.geojson", b"");
    let e = cim_err(&["import", p(&project), p(&zero)]);
    assert!(e.contains("zero.geojson"), "{e}");
    // A DEM whose every cell is nodata: build one by exporting a terrain of NaNs is not possible,
    // so write a tiny GeoTIFF by hand with the project's writer and only nodata values.
    let tif = dir.path().join("nodata.tif");
    let raster = cim_engine::Raster::empty(4, 3, 450_000.0, 5_550_000.0, 1.0, 1.0);
    cim_importers::export::write_geotiff(&tif, &raster, &cim_engine::Crs::from_epsg(32633).unwrap()).unwrap();
    let e = cim_err(&["import", p(&project), p(&tif)]);
    assert!(e.contains("nodata.tif") && e.contains("nodata"), "{e}");
    assert!(cim_json(&["info", p(&project), "--json"])["terrain"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn not_a_project_and_existing_project() {
    let dir = tempfile::tempdir().unwrap();
    let not = write(dir.path(), "x.cim.gpkg", b"hello");
    let e = cim_err(&["info", p(&not)]);
    assert!(e.contains("x.cim.gpkg"), "{e}");
    let project = new_project(dir.path(), 32633);
    let e = cim_err(&["new", p(&project), "--crs", "EPSG:32633"]);
    assert!(e.contains("exists"), "{e}");
    let e = cim_err(&["new", p(&dir.path().join("geo.cim.gpkg")), "--crs", "EPSG:4326"]);
    assert!(e.contains("projected"), "{e}");
    assert!(!dir.path().join("geo.cim.gpkg").exists());
}

#[test]
fn kill_dash_nine_mid_import_leaves_the_project_as_it_was() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32650);
    let small = dir.path().join("small.gpkg");
    cim_benches::gpkg_gen::write_buildings_gpkg(&small, 50, 1).unwrap();
    cim_json(&[
        "import",
        p(&project),
        p(&small),
        "--layer",
        "before",
        "--height-attr",
        "height_m",
        "--json",
    ]);
    let before = snapshot(&project);
    let big = dir.path().join("big.gpkg");
    cim_benches::gpkg_gen::write_buildings_gpkg(&big, 400_000, 2).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cim"))
        .args([
            "import",
            p(&project),
            p(&big),
            "--height-attr",
            "height_m",
            "--json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the import is writing (its journal exists and the file has grown by pages of new
    // rows that SQLite spilled from its cache), then kill it without warning.
    let size = |suffix: &str| {
        let mut s = project.as_os_str().to_owned();
        s.push(suffix);
        std::fs::metadata(std::path::PathBuf::from(s))
            .map(|m| m.len())
            .ok()
    };
    let initial = size("").unwrap();
    let start = std::time::Instant::now();
    while !(size("-journal").is_some() && size("").unwrap_or(0) > initial + 4_000_000)
        && start.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the import finished before it could be killed; make the input bigger"
    );
    assert_eq!(snapshot(&project), before);
    let conn = rusqlite::Connection::open(&project).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}
