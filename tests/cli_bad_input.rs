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
    // An import that stores nothing fails, unless the script asked for that.
    let e = cim_err(&["import", p(&project), p(&empty)]);
    assert!(
        e.contains("empty.geojson: nothing stored") && e.contains("--allow-empty"),
        "{e}"
    );
    let r = cim_json(&["import", p(&project), p(&empty), "--json", "--allow-empty"]);
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

/// Writes a GeoJSON FeatureCollection of the given features (JSON text each).
fn geojson(dir: &Path, name: &str, crs: Option<&str>, features: &[String]) -> std::path::PathBuf {
    let crs = crs.map_or(String::new(), |c| {
        format!(r#""crs":{{"type":"name","properties":{{"name":"{c}"}}}},"#)
    });
    let text = format!(
        r#"{{"type":"FeatureCollection",{crs}"features":[{}]}}"#,
        features.join(",")
    );
    write(dir, name, text.as_bytes())
}

fn square(x: f64, y: f64, d: f64) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{"n":1}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}"#,
        x + d,
        x + d,
        y + d,
        y + d
    )
}

#[test]
fn an_import_that_stores_nothing_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    // Projected coordinates in a GeoJSON without a CRS (so WGS 84): every record is skipped.
    let features: Vec<String> = (0..432)
        .map(|i| square(457_000.0 + f64::from(i), 5_550_000.0, 1.0))
        .collect();
    let metres = geojson(dir.path(), "metres.geojson", None, &features);
    let o = cim(&["import", p(&project), p(&metres)]);
    assert!(!o.status.success());
    let (out, err) = (stdout(&o), stderr(&o));
    // Warnings grouped by kind with a count and the first record; the summary still printed.
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("432 × coordinate") && warnings[0].contains("(first at record 1)"),
        "{err}"
    );
    assert!(warnings[0].contains("look like metres"), "{err}");
    assert!(
        out.contains("read 432, inserted 0, updated 0, skipped 432"),
        "{out}"
    );
    let e: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(e.len(), 1, "{err}");
    assert!(
        e[0].contains("metres.geojson: nothing stored: 432 record(s) read"),
        "{err}"
    );
    assert_eq!(layer_counts(&project), vec![]);
    // With --json the error is a JSON object on stderr.
    let o = cim(&["import", p(&project), p(&metres), "--json"]);
    let v: serde_json::Value = serde_json::from_str(stderr(&o).trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("nothing stored"), "{v}");

    // OSM ways whose nodes are all missing.
    let osm = write(
        dir.path(),
        "no_nodes.osm",
        b"<osm version='0.6'><way id='1'><nd ref='5'/><nd ref='6'/><tag k='highway' v='residential'/></way></osm>",
    );
    let e = cim_err(&["import", p(&project), p(&osm)]);
    assert!(e.contains("no_nodes.osm: nothing stored"), "{e}");
    // A GeoPackage without feature tables.
    let gpkg = dir.path().join("tiles_only.gpkg");
    {
        let c = rusqlite::Connection::open(&gpkg).unwrap();
        c.execute_batch(
            "PRAGMA application_id = 1196444487; PRAGMA user_version = 10301;
             CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
             CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL);",
        )
        .unwrap();
    }
    let e = cim_err(&["import", p(&project), p(&gpkg)]);
    assert!(
        e.contains("tiles_only.gpkg") && e.contains("no feature tables"),
        "{e}"
    );
    // JSON-FG with its geometry only in `place`.
    let jsonfg = write(
        dir.path(),
        "place_only.json",
        br#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"coordRefSys":"http://www.opengis.net/def/crs/EPSG/0/5555","place":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]},"properties":{}}]}"#,
    );
    let e = cim_err(&["import", p(&project), p(&jsonfg)]);
    assert!(e.contains("nothing stored") && e.contains("\"place\""), "{e}");
}

#[test]
fn data_in_the_wrong_place_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    // A polygon in Sydney into a UTM 33N project: refused, with the distance and a fitting CRS.
    let sydney = geojson(dir.path(), "sydney.geojson", None, &[square(151.2, -33.9, 0.01)]);
    let e = cim_err(&["import", p(&project), p(&sydney)]);
    assert!(
        e.contains("sydney.geojson") && e.contains("outside where the project CRS"),
        "{e}"
    );
    assert!(e.contains("km outside") && e.contains("EPSG:32756"), "{e}");
    assert_eq!(layer_counts(&project), vec![]);
    // Prague and Sydney in one file: Prague is stored, Sydney is kept with a warning...
    let mixed = geojson(
        dir.path(),
        "mixed.geojson",
        None,
        &[square(14.39, 50.1, 0.001), square(151.2, -33.9, 0.01)],
    );
    let r = cim_json(&["import", p(&project), p(&mixed), "--json"]);
    assert_eq!(r["layers"][0]["inserted"], 2);
    let w = r["warnings"].to_string();
    assert!(
        w.contains("record 2") && w.contains("outside where the project CRS"),
        "{w}"
    );
    // ... and --strict refuses the file.
    let e = cim_err(&["import", p(&project), p(&mixed), "--strict"]);
    assert!(e.contains("record 2"), "{e}");
    // Data far from the project's other data (in the zone, 300 km away) is warned about.
    let near = tempfile::tempdir().unwrap();
    let project = new_project(near.path(), 32633);
    let prague = geojson(near.path(), "prague.geojson", None, &[square(14.39, 50.1, 0.001)]);
    cim_json(&["import", p(&project), p(&prague), "--json"]);
    let far = geojson(dir.path(), "far.geojson", None, &[square(14.39, 47.4, 0.001)]);
    let r = cim_json(&["import", p(&project), p(&far), "--json"]);
    assert!(
        r["warnings"]
            .to_string()
            .contains("km from the project's other data"),
        "{r}"
    );
    // Prague OSM data into a CGCS2000 Gauss-Krüger 114E project.
    let gk = tempfile::tempdir().unwrap();
    let gk_project = new_project(gk.path(), 4547);
    let prague = geojson(gk.path(), "prague.geojson", None, &[square(14.39, 50.1, 0.001)]);
    let e = cim_err(&["import", p(&gk_project), p(&prague)]);
    assert!(e.contains("114°E") && e.contains("EPSG:32633"), "{e}");
    // Gauss-Krüger eastings with their zone prefix (38…) read with the unprefixed zone CRS.
    let prefixed = geojson(
        gk.path(),
        "prefixed.geojson",
        Some("EPSG:4547"),
        &[square(38_500_000.0, 2_550_000.0, 10.0)],
    );
    let e = cim_err(&["import", p(&gk_project), p(&prefixed)]);
    assert!(e.contains("zone number (38)"), "{e}");
}

#[test]
fn a_polygon_of_300k_vertices_imports() {
    // Validation used to be quadratic in the vertices (200k took 30 s, 2M most of an hour).
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 4547);
    let ring = cim_benches::huge_polygon::huge_ring(300_000, 500_000.0, 2_550_000.0, 8_000.0, 7);
    let path = dir.path().join("district.geojson");
    std::fs::write(
        &path,
        cim_benches::huge_polygon::huge_polygon_geojson(&ring, 4547),
    )
    .unwrap();
    let r = cim_json(&["import", p(&project), p(&path), "--kind", "other", "--json"]);
    assert_eq!(r["layers"][0]["inserted"], 1, "{r}");
    assert_eq!(r["warnings"].as_array().unwrap().len(), 0, "{r}");
    // The same ring with one vertex pulled across it: kept, with the self-intersection said.
    let mut bad = ring.clone();
    bad[150_000] = (520_000.0, 2_550_000.0);
    let path = dir.path().join("crossing.geojson");
    std::fs::write(&path, cim_benches::huge_polygon::huge_polygon_geojson(&bad, 4547)).unwrap();
    let r = cim_json(&["import", p(&project), p(&path), "--kind", "other", "--json"]);
    assert!(r["warnings"].to_string().contains("self-intersection"), "{r}");
}

/// Copies farms_33S.{shp,shx,dbf,prj} to `dir/name.*`.
fn farms(dir: &Path, name: &str) -> std::path::PathBuf {
    for ext in ["shp", "shx", "dbf", "prj"] {
        std::fs::copy(
            fixtures().join(format!("vector/farms_33S.{ext}")),
            dir.join(format!("{name}.{ext}")),
        )
        .unwrap();
    }
    dir.join(format!("{name}.shp"))
}

/// The first numeric field of a .dbf: (its name, its offset in a record, its length).
fn first_numeric_field(dbf: &[u8]) -> (String, usize, usize) {
    let mut offset = 1;
    for d in dbf[32..].chunks(32) {
        if d[0] == 0x0d {
            break;
        }
        let len = usize::from(d[16]);
        if d[11] == b'N' || d[11] == b'F' {
            let name = String::from_utf8_lossy(&d[..11])
                .trim_end_matches('\0')
                .to_string();
            return (name, offset, len);
        }
        offset += len;
    }
    panic!("no numeric field");
}

#[test]
fn no_dbf_value_is_lost_silently() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32733);
    let shp = farms(dir.path(), "garbled");
    let dbf_path = dir.path().join("garbled.dbf");
    let mut dbf = std::fs::read(&dbf_path).unwrap();
    let header_len = usize::from(u16::from_le_bytes([dbf[8], dbf[9]]));
    let record_len = usize::from(u16::from_le_bytes([dbf[10], dbf[11]]));
    let (field, offset, len) = first_numeric_field(&dbf);
    // Records 3 and 7: text where a number belongs.
    for r in [2usize, 6] {
        let at = header_len + r * record_len + offset;
        dbf[at..at + len].fill(b' ');
        dbf[at..at + 5].copy_from_slice(b"12x.5");
    }
    std::fs::write(&dbf_path, &dbf).unwrap();
    let r = cim_json(&["import", p(&project), p(&shp), "--json"]);
    let groups = r["warning_groups"].as_array().unwrap();
    let g = groups
        .iter()
        .find(|g| g["message"].as_str().unwrap().contains("is not a number"))
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(g["count"], 2);
    assert_eq!(g["first_record"], 3);
    let m = g["message"].as_str().unwrap();
    assert!(
        m.contains("garbled.dbf") && m.contains(&format!("field '{field}'")) && m.contains("'12x.5'"),
        "{m}"
    );
    let e = cim_err(&["import", p(&project), p(&shp), "--strict"]);
    assert!(e.contains("record 3") && e.contains("12x.5"), "{e}");
    // A field name that is not valid text in the declared encoding: an error.
    let shp = farms(dir.path(), "badname");
    let dbf_path = dir.path().join("badname.dbf");
    let mut dbf = std::fs::read(&dbf_path).unwrap();
    dbf[32] = 0xff;
    dbf[33] = 0xfe;
    std::fs::write(&dbf_path, &dbf).unwrap();
    std::fs::write(dir.path().join("badname.cpg"), "UTF-8").unwrap();
    let e = cim_err(&["import", p(&project), p(&shp)]);
    assert!(
        e.contains("badname.dbf") && e.contains("field 1") && e.contains("ff fe"),
        "{e}"
    );
}

#[test]
fn a_closed_pipe_ends_cim_quietly() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32650);
    let gpkg = dir.path().join("b.gpkg");
    cim_benches::gpkg_gen::write_buildings_gpkg(&gpkg, 3000, 1).unwrap();
    cim_json(&[
        "import",
        p(&project),
        p(&gpkg),
        "--default-height",
        "10",
        "--json",
    ]);
    for args in [vec!["query", p(&project)], vec!["query", p(&project), "--json"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cim"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut head = [0u8; 100];
        out.read_exact(&mut head).unwrap();
        drop(out); // `| head -c 100`
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.contains("panicked") && err.trim().is_empty(),
            "{args:?}: {err}"
        );
        assert_eq!(o.status.code(), Some(141), "{args:?}");
    }
}

#[test]
fn errors_are_one_clean_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let prague = geojson(dir.path(), "prague.geojson", None, &[square(14.39, 50.1, 0.001)]);
    // A read-only project: the path once, the reason in words, the fix.
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = cim(&["import", p(&project), p(&prague)]);
    std::fs::set_permissions(&project, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Root may write anyway; only judge the message where the write was refused.
    if !o.status.success() {
        let e = stderr(&o);
        assert_eq!(e.matches(p(&project)).count(), 1, "{e}");
        assert!(e.contains("read-only") && !e.contains("Error code"), "{e}");
    }
    // A folder given as the project.
    let e = cim_err(&["info", p(dir.path())]);
    assert!(e.contains("folder") && !e.contains("Error code"), "{e}");
    assert_eq!(e.matches(p(dir.path())).count(), 1, "{e}");
    // A CRS the file declares but that does not exist.
    let bad_crs = geojson(
        dir.path(),
        "e9.geojson",
        Some("EPSG:999999"),
        &[square(1.0, 1.0, 1.0)],
    );
    let e = cim_err(&["import", p(&project), p(&bad_crs)]);
    assert!(e.contains("999999") && !e.contains("declares none"), "{e}");
    // An IFC file that stops after its first line: the file and what is missing.
    let ifc = write(dir.path(), "model.ifc", b"ISO-10303-21;");
    let e = cim_err(&["import", p(&project), p(&ifc)]);
    assert!(e.contains("model.ifc") && e.contains("no HEADER section"), "{e}");
    // Unsupported formats: what is supported, and no GDAL advice for formats GDAL cannot read.
    let ply = write(dir.path(), "scan.ply", b"ply\nformat ascii 1.0\n");
    let e = cim_err(&["import", p(&project), p(&ply)]);
    assert!(
        e.contains(".tif/.tiff") && e.contains(".osm") && e.contains(".ifc") && !e.contains("gdal"),
        "{e}"
    );
    // A GLB cut after its header: the file and why, once placed.
    let glb = write(dir.path(), "model.glb", b"glTF\x02\x00\x00\x00");
    let e = cim_err(&["import", p(&project), p(&glb)]);
    assert!(e.contains("model.glb") && e.contains("--origin"), "{e}");
    let e = cim_err(&["import", p(&project), p(&glb), "--origin", "500000,5500000,0"]);
    assert!(e.contains("model.glb") && e.contains("truncated"), "{e}");
    // A LAS file cut after its signature: the file and why.
    let las = write(dir.path(), "cloud.las", b"LASF\x00\x00\x00\x00");
    let e = cim_err(&["import", p(&project), p(&las)]);
    assert!(
        e.contains("cloud.las") && e.contains("cannot read it as LAS/LAZ"),
        "{e}"
    );
    // A GeoTIFF compressed with ZSTD, or holding complex samples: named, not "corrupt".
    let tif = dir.path().join("dem.tif");
    let mut raster = cim_engine::Raster::empty(4, 3, 457_000.0, 5_550_000.0, 1.0, 1.0);
    raster.data.iter_mut().for_each(|v| *v = 200.0);
    cim_importers::export::write_geotiff(&tif, &raster, &cim_engine::Crs::from_epsg(32633).unwrap()).unwrap();
    let bytes = std::fs::read(&tif).unwrap();
    for (tag, value, expected) in [(259u16, 50000u16, "ZSTD"), (339, 6, "complex")] {
        let patched = patch_tiff_tag(&bytes, tag, value);
        let path = write(dir.path(), &format!("tag{tag}.tif"), &patched);
        let e = cim_err(&["import", p(&project), p(&path)]);
        assert!(e.contains(expected) && !e.contains("corrupt"), "{e}");
    }
}

/// Sets a SHORT tag of the first IFD of a little-endian TIFF (adding nothing: the tag must be
/// there).
fn patch_tiff_tag(tiff: &[u8], tag: u16, value: u16) -> Vec<u8> {
    let mut out = tiff.to_vec();
    assert_eq!(&tiff[..2], b"II");
    let ifd = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let n = usize::from(u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]));
    for i in 0..n {
        let e = ifd + 2 + 12 * i;
        if u16::from_le_bytes([tiff[e], tiff[e + 1]]) == tag {
            out[e + 8..e + 10].copy_from_slice(&value.to_le_bytes());
            return out;
        }
    }
    panic!("tag {tag} not in the first IFD");
}

#[test]
fn layers_and_runs_are_removed_and_renamed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let a = geojson(dir.path(), "parks.geojson", None, &[square(14.39, 50.1, 0.001)]);
    let b = geojson(
        dir.path(),
        "plots.geojson",
        None,
        &[square(14.391, 50.1, 0.001), square(14.392, 50.1, 0.001)],
    );
    cim_json(&["import", p(&project), p(&a), "--json"]);
    cim_json(&["import", p(&project), p(&b), "--json"]);
    let code = cim_json(&["query", p(&project), "--layer", "plots", "--json"])["features"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = cim_json(&["layer", "rename", p(&project), "plots", "parcels", "--json"]);
    assert_eq!(r["to"], "parcels");
    assert_eq!(
        layer_counts(&project),
        vec![("parcels".to_string(), 2), ("parks".to_string(), 1)]
    );
    // Codes stay, and the renamed layer answers queries through its R-tree.
    let q = cim_json(&["query", p(&project), "--code", &code, "--json"]);
    assert_eq!(q["features"][0]["properties"]["cim_layer"], "parcels");
    let e = cim_err(&["layer", "rename", p(&project), "parcels", "parks"]);
    assert!(e.contains("exists"), "{e}");
    let r = cim_json(&["layer", "rm", p(&project), "parks", "--json"]);
    assert_eq!(r["features"], 1);
    assert_eq!(layer_counts(&project), vec![("parcels".to_string(), 2)]);
    let e = cim_err(&["layer", "rm", p(&project), "parks"]);
    assert!(e.contains("parks"), "{e}");
    // GDAL reads what is left, and the removed layer's code is free again.
    if std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_ok()
    {
        let o = std::process::Command::new("ogrinfo")
            .args(["-so", p(&project)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("parcels") && !text.contains("parks") && !text.contains("plots"),
            "{text}"
        );
    }
    cim_json(&["import", p(&project), p(&a), "--json"]);
    // A layer dropped by another tool: cim says so once and keeps working.
    {
        let c = rusqlite::Connection::open(&project).unwrap();
        c.execute_batch(
            // What GDAL's DeleteLayer does: the table, its R-tree and its metadata rows.
            "DROP TABLE parks; DROP TABLE rtree_parks_geom;
             DELETE FROM gpkg_extensions WHERE table_name = 'parks';
             DELETE FROM gpkg_geometry_columns WHERE table_name = 'parks';
             DELETE FROM gpkg_contents WHERE table_name = 'parks';",
        )
        .unwrap();
    }
    let o = cim(&["info", p(&project)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("layer 'parks' was removed by another program"),
        "{}",
        stderr(&o)
    );
    let o = cim(&["query", p(&project)]);
    assert!(
        o.status.success() && !stderr(&o).contains("parks"),
        "{}",
        stderr(&o)
    );
    assert_eq!(layer_counts(&project), vec![("parcels".to_string(), 2)]);
    // Runs: remove a stored run (records and rasters).
    let e = cim_err(&["runs", p(&project), "--remove", "nope"]);
    assert!(e.contains("no run 'nope'"), "{e}");
}
