//! The CLI end to end on real fixtures: new, import, info, re-import, export, demo.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;

#[test]
fn demo_builds_the_district_and_picks_a_building() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let v = cim_json(&[
        "demo",
        "--out",
        p(&out),
        "--assets",
        p(&assets()),
        "--no-flood",
        "--json",
    ]);
    let layers: Vec<(String, u64)> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["name"].as_str().unwrap().to_string(),
                l["features"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        layers,
        vec![
            ("buildings".to_string(), 144),
            ("duplex".to_string(), 215),
            ("parcels".to_string(), 407),
            ("streets".to_string(), 35)
        ]
    );
    // The BIM model beside the district, placed by its georeferencing.
    let m = &v["bim_models"][0];
    assert_eq!(
        (m["layer"].as_str(), m["elements"].as_u64()),
        (Some("duplex"), Some(215))
    );
    assert!(m["georeferencing"]
        .as_str()
        .unwrap()
        .starts_with("ePSet_MapConversion"));
    assert_eq!(m["origin"][0].as_f64(), Some(457535.0));
    let t = &v["terrain"][0];
    assert_eq!(
        (t["width"].as_u64(), t["height"].as_u64()),
        (Some(670), Some(718))
    );
    let (lo, hi) = (t["min_m"].as_f64().unwrap(), t["max_m"].as_f64().unwrap());
    assert!(
        (185.0..195.0).contains(&lo) && (215.0..225.0).contains(&hi),
        "{lo}..{hi}"
    );
    // The ray from above hits a building roof: ground (188–222 m) + 15 m default height.
    let z = v["pick"]["point"][2].as_f64().unwrap();
    assert!((200.0..240.0).contains(&z), "roof at {z}");
    assert!(v["pick"]["code"].as_str().unwrap().starts_with("554782-BU-"));
    assert!(out.join("bubenec.cim.gpkg").is_file());
    // The 3-D district: 9 PLATEAU buildings at LoD0, 1 and 2 with their 9 photo textures, and a
    // ray onto the tallest one's roof names the roof surface.
    let d = &v["district_3d"];
    assert_eq!(
        (d["buildings"].as_u64(), d["textures"].as_u64()),
        (Some(9), Some(9)),
        "{d}"
    );
    let lods: Vec<&str> = d["meshes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lod"].as_str().unwrap())
        .collect();
    assert_eq!(lods, ["0", "1", "2"]);
    assert_eq!(d["pick"]["surface"], "RoofSurface", "{d}");
    // The tallest is the control tower: its roof about 52 m up (measuredHeight 48.7 m).
    let z = d["pick"]["point"][2].as_f64().unwrap();
    assert!((45.0..60.0).contains(&z), "{z}");
    assert!(out.join("tokyo.cim.gpkg").is_file());
    // Building the demo again replaces it cleanly.
    assert_eq!(layer_counts(&build_demo(dir.path())).len(), 4);
}

#[test]
fn shapefile_parcels_reprojected_with_prj() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32733);
    let shp = fixtures().join("vector/farms_33S.shp");
    let r = cim_json(&["import", p(&project), p(&shp), "--kind", "parcel", "--json"]);
    let l = &r["layers"][0];
    assert_eq!(l["layer"], "farms_33S");
    assert_eq!(
        l["inserted"].as_u64().unwrap() + l["skipped"].as_u64().unwrap(),
        2008
    );
    assert!(l["inserted"].as_u64().unwrap() >= 2000);
    let info = cim_json(&["info", p(&project), "--json"]);
    let ext = info["layers"][0]["extent"].as_array().unwrap();
    // Same CRS as the .prj: coordinates unchanged (bbox from MANIFEST: E 969680–1038105, N 6196092–6250060).
    assert!((ext[0].as_f64().unwrap() - 969_680.0).abs() < 100.0, "{ext:?}");
    assert!((ext[3].as_f64().unwrap() - 6_250_060.0).abs() < 100.0, "{ext:?}");
}

#[test]
fn reimport_keeps_codes_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let gpkg = fixtures().join("vector/bubenec.gpkg");
    let args = [
        "import",
        p(&project),
        p(&gpkg),
        "--source-layer",
        "buildings",
        "--default-height",
        "12",
        "--json",
    ];
    let first = cim_json(&args);
    assert_eq!(first["layers"][0]["inserted"], 144);
    let codes_before = cim_json(&["query", p(&project), "--layer", "buildings", "--json"]);
    let second = cim_json(&args);
    assert_eq!(second["layers"][0]["inserted"], 0);
    assert_eq!(second["layers"][0]["replaced"], 144);
    assert!(second["warnings"].to_string().contains("already in layer"));
    let codes_after = cim_json(&["query", p(&project), "--layer", "buildings", "--json"]);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&codes_before), ids(&codes_after));
    assert_eq!(layer_counts(&project), vec![("buildings".to_string(), 144)]);
    // Every building records where its height came from.
    for f in codes_after["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["cim_height_src"], "default");
        assert_eq!(f["properties"]["cim_height_m"], 12.0);
    }
}

#[test]
fn geopackage_all_layers_guess_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let gpkg = fixtures().join("vector/bubenec.gpkg");
    let r = cim_json(&[
        "import",
        p(&project),
        p(&gpkg),
        "--default-height",
        "10",
        "--json",
    ]);
    let kinds: Vec<(String, String)> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["layer"].as_str().unwrap().to_string(),
                l["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("buildings".into(), "building".into())),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("plots".into(), "parcel".into())), "{kinds:?}");
    assert!(kinds.contains(&("streets".into(), "road".into())), "{kinds:?}");
    let counts = layer_counts(&project);
    assert!(counts.contains(&("plots".to_string(), 407)), "{counts:?}");
}

#[test]
fn terrain_export_and_reimport_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let dem = fixtures().join("dem/bubenec_dtm_1m_utm33n.tif");
    let r = cim_json(&["import", p(&project), p(&dem), "--json"]);
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(670), Some(718))
    );
    assert_eq!(r["reprojected"], false);
    let tif = dir.path().join("out.tif");
    cim_json(&["export", p(&project), p(&tif), "--json"]);
    let project2 = dir.path().join("again.cim.gpkg");
    cim_json(&["new", p(&project2), "--crs", "EPSG:32633", "--json"]);
    let r2 = cim_json(&["import", p(&project2), p(&tif), "--json"]);
    for k in ["width", "height", "valid_cells", "min_m", "max_m"] {
        assert_eq!(r[k], r2[k], "{k}");
    }
}

#[test]
fn osm_roads_and_buildings_with_heights() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32610);
    let osm = fixtures().join("osm/West-Oakland.osm");
    let r = cim_json(&["import", p(&project), p(&osm), "--json"]);
    let layers = r["layers"].as_array().unwrap();
    let road = layers.iter().find(|l| l["kind"] == "road").expect("roads");
    let bld = layers
        .iter()
        .find(|l| l["kind"] == "building")
        .expect("buildings");
    assert!(road["inserted"].as_u64().unwrap() >= 25, "{road}");
    assert!(bld["inserted"].as_u64().unwrap() >= 20, "{bld}");
}

#[test]
fn exported_geojson_in_wgs84_is_near_prague() {
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
    let out = dir.path().join("streets.geojson");
    cim_json(&["export", p(&project), p(&out), "--wgs84", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let f = &v["features"].as_array().unwrap();
    assert_eq!(f.len(), 35);
    let c = &f[0]["geometry"]["coordinates"][0];
    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    assert!(
        (14.38..14.42).contains(&lon) && (50.09..50.12).contains(&lat),
        "{lon},{lat}"
    );
    // Exporting over an existing file needs --force.
    let e = cim_err(&["export", p(&project), p(&out)]);
    assert!(e.contains("already exists"), "{e}");
}

#[test]
fn project_opens_in_gdal() {
    if std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "note: ogrinfo not installed; GDAL interoperability not checked here (.ci/test installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let gpkg = fixtures().join("vector/bubenec.gpkg");
    cim_json(&[
        "import",
        p(&project),
        p(&gpkg),
        "--source-layer",
        "plots",
        "--layer",
        "parcels",
        "--json",
    ]);
    let o = std::process::Command::new("ogrinfo")
        .args(["-so", p(&project), "parcels"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("Feature Count: 407"), "{text}");
    assert!(text.contains("cim_code"), "{text}");
}

#[test]
fn two_files_into_one_layer_add_up_and_osm_ids_stay_stable() {
    let dir = tempfile::tempdir().unwrap();
    // Seoul: UTM zone 52N.
    let project = new_project(dir.path(), 32652);
    let a = fixtures().join("vector/roads-seoul.geojson");
    let b = dir.path().join("roads-copy.geojson");
    std::fs::copy(&a, &b).unwrap();
    cim_json(&[
        "import",
        p(&project),
        p(&a),
        "--layer",
        "roads",
        "--kind",
        "road",
        "--json",
    ]);
    let r = cim_json(&[
        "import",
        p(&project),
        p(&b),
        "--layer",
        "roads",
        "--kind",
        "road",
        "--json",
    ]);
    assert_eq!(
        r["layers"][0]["inserted"], 94,
        "a different file must not overwrite: {r}"
    );
    assert_eq!(layer_counts(&project), vec![("roads".to_string(), 188)]);
    // OSM ids are global: the same extract under another name updates the same features.
    let osm = fixtures().join("osm/West-Oakland.osm");
    let renamed = dir.path().join("oakland-2026.osm");
    std::fs::copy(&osm, &renamed).unwrap();
    let project2 = dir.path().join("osm.cim.gpkg");
    cim_json(&["new", p(&project2), "--crs", "EPSG:32610", "--json"]);
    let first = cim_json(&["import", p(&project2), p(&osm), "--json"]);
    let second = cim_json(&["import", p(&project2), p(&renamed), "--json"]);
    for (f, s) in first["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["layers"].as_array().unwrap())
    {
        assert_eq!(f["inserted"], s["replaced"], "{first} {second}");
        assert_eq!(s["inserted"], 0);
    }
}

#[test]
fn a_city_model_is_queried_and_picked_by_its_surfaces() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("dh.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:28992",
        "--region",
        "000000",
        "--json",
    ]);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/cityjson/DH_01_subs.city.json");
    let r = cim_json(&[
        "import",
        p(&project),
        p(&file),
        "--src-crs",
        "EPSG:28992",
        "--json",
    ]);
    assert_eq!(r["layers"][0]["inserted"], 12, "{r}");
    // Straight down onto a part's sloping roof: the prism's top is its ridge, the surface lies
    // lower where the ray meets it.
    let hit = cim_json(&[
        "pick",
        p(&project),
        "--from",
        "78691.9016,457791.5002,100",
        "--dir",
        "0,0,-1",
        "--json",
    ]);
    let s = &hit["surface"];
    assert_eq!(s["class"], "RoofSurface", "{hit}");
    assert_eq!(s["lod"], "2");
    // The hit is on the roof slope, between the eaves and the ridge the file states (an LOD1
    // prism would be hit at the ridge height, 14.467 m).
    let z = hit["point"][2].as_f64().unwrap();
    assert!(z > 11.864 + 0.5 && z < 14.467 - 0.2, "{hit}");
    assert!(
        (hit["distance_m"].as_f64().unwrap() - (100.0 - z)).abs() < 1e-6,
        "{hit}"
    );
    // From the side: a wall.
    let hit = cim_json(&[
        "pick",
        p(&project),
        "--from",
        "78691.9,457750,8",
        "--dir",
        "0,1,0",
        "--json",
    ]);
    assert_eq!(hit["surface"]["class"], "WallSurface", "{hit}");
    // `query --code` lists its 3-D geometry by surface.
    let code = hit["code"].as_str().unwrap();
    let q = cim_json(&["query", p(&project), "--code", code, "--json"]);
    let reps = q["cim_representations"].as_array().unwrap();
    assert_eq!(reps[0]["lod"], "2");
    let areas = &reps[0]["surface_area_m2"];
    assert!(
        areas["RoofSurface"].as_f64().unwrap() > 10.0 && areas["WallSurface"].as_f64().unwrap() > 10.0,
        "{areas}"
    );
    // A project copy keeps the 3-D geometry.
    let copy = dir.path().join("copy.gpkg");
    cim_json(&["export", p(&project), p(&copy), "--json"]);
    let a = cim_json(&["info", p(&project), "--json"]);
    let b = cim_json(&["info", p(&copy), "--json"]);
    assert_eq!(a["meshes"], b["meshes"]);
    assert!(!a["meshes"].as_array().unwrap().is_empty());
    // CityJSON out, chosen by the name, or by --format whatever the name.
    let cj = dir.path().join("dh.city.json");
    let e = cim_json(&["export", p(&project), p(&cj), "--json"]);
    assert_eq!(
        (e["what"].as_str(), e["count"].as_u64()),
        (Some("city objects"), Some(12)),
        "{e}"
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cj).unwrap()).unwrap();
    assert_eq!(doc["type"], "CityJSON");
    assert_eq!(doc["CityObjects"].as_object().unwrap().len(), 12);
    let other = dir.path().join("dh.json");
    let e = cim_json(&["export", p(&project), p(&other), "--format", "cityjson", "--json"]);
    assert_eq!(e["count"], 12);
}

#[test]
fn textures_come_in_with_citygml_and_go_with_a_project_copy() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("tokyo.cim.gpkg");
    cim_json(&[
        "new",
        p(&project),
        "--crs",
        "EPSG:6677",
        "--region",
        "000000",
        "--json",
    ]);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/citygml/plateau_53392633/53392633_bldg_6697_2_op.gml");
    cim_json(&["import", p(&project), p(&file), "--json"]);
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["textures"]["images"], 9, "{info}");
    let copy = dir.path().join("copy.gpkg");
    cim_json(&["export", p(&project), p(&copy), "--json"]);
    let info = cim_json(&["info", p(&copy), "--json"]);
    assert_eq!(info["textures"]["images"], 9, "{info}");
    assert_eq!(info["textures"]["bytes"], 163_231);
    // Removing the layer removes the images only its meshes used.
    cim_json(&["layer", "rm", p(&copy), "53392633_bldg_6697_2_op", "--json"]);
    let info = cim_json(&["info", p(&copy), "--json"]);
    assert_eq!(info["textures"]["images"], 0, "{info}");
    // The original keeps them.
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["textures"]["images"], 9, "{info}");
}

#[test]
fn a_bim_model_is_imported_placed_listed_queried_and_reimported_with_the_same_codes() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 2169);
    let file = fixtures().join("ifc/Duplex_A_20110907_georeferenced.ifc");
    // How it was placed is printed after the import.
    let o = cim(&["import", p(&project), p(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("placed by ePSet_MapConversion")
            && out.contains("E 76670.000, N 77179.000, H 293.700")
            && out.contains("rotated 71.0000°"),
        "{out}"
    );
    assert!(out.contains("inserted 215"), "{out}");
    // Into a project in another CRS: reprojected, and where that is printed too (GDAL puts
    // LUREF 76670, 77179 at 292176.399, 5501384.242 in ETRS89 / UTM 32N).
    let other = dir.path().join("utm");
    std::fs::create_dir_all(&other).unwrap();
    let utm = new_project(&other, 25832);
    let o2 = cim(&["import", p(&utm), p(&file)]);
    let line = stdout(&o2);
    let at = line.find("= E ").unwrap_or_else(|| panic!("{line}"));
    let nums: Vec<f64> = line[at + 4..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse().ok())
        .take(2)
        .collect();
    assert!(
        (nums[0] - 292176.399).abs() < 0.01 && (nums[1] - 5501384.242).abs() < 0.01,
        "{line}"
    );
    assert!(line.contains("in the project's ETRS89 / UTM zone 32N"), "{line}");
    // The Chicago site 7,874 km away is warned of; the map conversion wins.
    assert!(stderr(&o).contains("the map conversion wins"), "{}", stderr(&o));
    // cim info lists the model: schema, georeferencing, CRS, element counts.
    let info = cim_json(&["info", p(&project), "--json"]);
    let m = &info["bim_models"][0];
    assert_eq!(m["schema"], "IFC2X3");
    assert!(m["georeferencing"]
        .as_str()
        .unwrap()
        .starts_with("ePSet_MapConversion"));
    assert_eq!(m["crs"], "LUREF / Luxembourg TM + NG95 height");
    assert_eq!(m["elements"], 215);
    let classes: Vec<(String, u64)> = m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["class"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    for (class, n) in [
        ("IfcWallStandardCase", 56),
        ("IfcWall", 1),
        ("IfcWindow", 24),
        ("IfcDoor", 14),
        ("IfcSlab", 21),
    ] {
        assert!(classes.contains(&(class.to_string(), n)), "{class}: {classes:?}");
    }
    // Filtered by class and storey.
    let layer = "Duplex_A_20110907_georeferenced";
    let q = cim_json(&[
        "query",
        p(&project),
        "--layer",
        layer,
        "--where",
        "ifc_class = 'IfcWindow'",
        "--json",
    ]);
    assert_eq!(q["features"].as_array().unwrap().len(), 24);
    let q = cim_json(&[
        "query",
        p(&project),
        "--where",
        "ifc_class = 'IfcDoor' AND storey = 'Level 1'",
        "--json",
    ]);
    let doors = q["features"].as_array().unwrap();
    assert!(!doors.is_empty() && doors.len() < 14, "{}", doors.len());
    for d in doors {
        assert_eq!(d["properties"]["storey"], "Level 1");
        assert_eq!(d["properties"]["global_id"].as_str().unwrap().len(), 22);
    }
    let codes = |v: &serde_json::Value| -> Vec<String> {
        let mut c: Vec<String> = v["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["cim_code"].as_str().unwrap().to_string())
            .collect();
        c.sort();
        c
    };
    let before = codes(&cim_json(&["query", p(&project), "--layer", layer, "--json"]));
    // Imported again: the GlobalIds keep the city codes; every element is updated in place.
    let o = cim(&["import", p(&project), p(&file)]);
    assert!(stdout(&o).contains("inserted 0, updated 215"), "{}", stdout(&o));
    assert_eq!(
        codes(&cim_json(&["query", p(&project), "--layer", layer, "--json"])),
        before
    );
    // A bad condition is a clear error.
    let e = cim_err(&["query", p(&project), "--where", "ifc_class = IfcWindow"]);
    assert!(e.contains("quoted text"), "{e}");
    // Exports carry the elements with their class and GlobalId: CityJSON keyed by GlobalId,
    // glTF and 3D Tiles with them in their feature metadata.
    let door = doors[0]["properties"]["global_id"].as_str().unwrap().to_string();
    let cj = dir.path().join("duplex.city.json");
    cim_json(&["export", p(&project), p(&cj), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cj).unwrap()).unwrap();
    let objects = v["CityObjects"].as_object().unwrap();
    assert_eq!(objects.len(), 215);
    assert_eq!(objects[&door]["attributes"]["ifc_class"], "IfcDoor");
    assert_eq!(objects[&door]["attributes"]["global_id"], door.as_str());
    let glb = dir.path().join("duplex.glb");
    cim_json(&["export", p(&project), p(&glb), "--json"]);
    let tiles = dir.path().join("tiles");
    cim_json(&["export", p(&project), p(&tiles), "--format", "3dtiles", "--json"]);
    let content = std::fs::read_dir(tiles.join("content"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in [glb, content] {
        let bytes = std::fs::read(&file).unwrap();
        let has = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(
            has("ifc_class") && has("global_id") && has("IfcDoor") && has(&door),
            "{}",
            file.display()
        );
    }
}

#[test]
fn an_ifc_model_without_georeferencing_needs_an_origin_and_bad_ones_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 25832);
    let plain = dir.path().join("plain.ifc");
    let text = std::fs::read_to_string(fixtures().join("ifc/geographic-referencing.ifc")).unwrap();
    // Without its map conversion, projected CRS and the site's latitude and longitude.
    let stripped: String = text
        .lines()
        .filter(|l| !l.contains("IFCMAPCONVERSION") && !l.contains("IFCPROJECTEDCRS"))
        .map(|l| format!("{}\n", l.replace("(49,5,44,124),(8,26,1,320000),113.7", "$,$,$")))
        .collect();
    assert!(!stripped.contains("(49,5,44,124)"));
    std::fs::write(&plain, stripped).unwrap();
    let e = cim_err(&["import", p(&project), p(&plain)]);
    assert!(e.contains("plain.ifc") && e.contains("--origin"), "{e}");
    assert_eq!(layer_counts(&project), vec![]);
    // With --origin it goes where it is told.
    let o = cim(&[
        "import",
        p(&project),
        p(&plain),
        "--origin",
        "458000,5438000,100,30",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("placed by --origin: model origin at E 458000.000, N 5438000.000, H 100.000"),
        "{}",
        stdout(&o)
    );
    let e = cim_err(&["import", p(&project), p(&plain), "--origin", "458000,x"]);
    assert!(e.contains("--origin"), "{e}");
    // A file cut mid-entity: an error naming the file and where; nothing written.
    let cut = dir.path().join("cut.ifc");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let e = cim_err(&["import", p(&project), p(&cut)]);
    assert!(e.contains("cut.ifc"), "{e}");
    assert_eq!(layer_counts(&project), vec![("plain".to_string(), 1)]);
}

/// Importing OSM roads builds the road network: the Essen block's drivable roads (service
/// roads, footways and paths left out, as SUMO's passenger network), its signals joined to
/// their junctions, its four turn restrictions applied; stored as tables GDAL opens, listed by
/// `cim info`, and the same again on re-import.
#[test]
fn osm_roads_become_a_road_network() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32632);
    let osm = fixtures().join("osm/graphhopper_edge_based_subnetwork.osm");
    let r = cim_json(&["import", p(&project), p(&osm), "--json"]);
    let n = &r["network"];
    assert_eq!(
        [
            &n["roads"],
            &n["roads_not_drivable"],
            &n["junctions"],
            &n["edges"],
            &n["lanes"]
        ],
        [105, 68, 40, 67, 89],
        "{n}"
    );
    assert_eq!(
        [&n["controllers"], &n["restrictions_applied"], &n["components"]],
        [6, 4, 1],
        "{n}"
    );
    // Every maxspeed was tagged here; lanes came from the class on 41 edges.
    assert_eq!([&n["speed_defaulted"], &n["lanes_defaulted"]], [0, 41], "{n}");
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["network"]["stats"], *n);
    let controls = &info["network"]["controls"];
    assert_eq!(
        controls[3],
        serde_json::json!(["traffic_signals", 7]),
        "{controls}"
    );
    let text = stdout(&cim(&["info", p(&project)]));
    assert!(
        text.contains("road network: 40 junctions, 67 edges (89 lanes"),
        "{text}"
    );

    // The no-left-turn from Franziskastraße (way 392444138) via node 33790309 into
    // Paulinenstraße (way 392444149): its approach goes straight, right and back, never left.
    let db = rusqlite::Connection::open(&project).unwrap();
    let turns: Vec<(String, String)> = db
        .prepare(
            "SELECT c.turn, r2.cim_source_key FROM cim_net_edges e
               JOIN roads r ON r.cim_code = e.code
               JOIN cim_net_junctions j ON j.junction = e.to_junction
               JOIN cim_net_connections c ON c.from_edge = e.edge
               JOIN cim_net_edges e2 ON e2.edge = c.to_edge JOIN roads r2 ON r2.cim_code = e2.code
             WHERE r.cim_source_key = 'osm:way/392444138' AND j.osm_node = 33790309",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(turns.iter().any(|(t, _)| t == "s"), "{turns:?}");
    assert!(
        !turns.iter().any(|(_, to)| to == "osm:way/392444149"),
        "{turns:?}"
    );
    // Same again on re-import.
    let again = cim_json(&["import", p(&project), p(&osm), "--json"]);
    assert_eq!(again["network"], *n);
    if std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_ok()
    {
        for (table, count, geom) in [
            ("cim_net_edges", 67, "Line String"),
            ("cim_net_junctions", 40, "Point"),
            ("cim_net_signals", 6, "Point"),
        ] {
            let o = std::process::Command::new("ogrinfo")
                .args(["-so", p(&project), table])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                text.contains(&format!("Feature Count: {count}")),
                "{table}: {text}"
            );
            assert!(text.contains(&format!("Geometry: {geom}")), "{table}: {text}");
        }
    }
}

/// A GIS road layer with no lanes, speeds or node ids: junctions by snapping line ends within
/// 0.5 m on one level (a bridge passes over), the class's lanes and speed counted as assumed,
/// and parts that do not meet reported.
#[test]
fn gis_roads_snap_at_their_ends_and_say_what_they_assumed() {
    let dir = tempfile::tempdir().unwrap();
    let project = new_project(dir.path(), 32633);
    let roads = dir.path().join("roads.geojson");
    // EPSG:32633 coordinates via a "crs" member (GeoJSON 2008 style, read by cim).
    let line = |a: [f64; 2], b: [f64; 2], props: &str| {
        format!(
            r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"LineString","coordinates":[[{},{}],[{},{}]]}}}}"#,
            a[0], a[1], b[0], b[1]
        )
    };
    let (x, y) = (460_000.0, 5_550_000.0);
    let feats = [
        line([x, y], [x + 100.0, y], r#""name":"a""#),
        line([x + 100.3, y], [x + 200.0, y], r#""name":"b""#),
        line(
            [x + 100.0, y + 0.2],
            [x + 100.0, y + 100.0],
            r#""name":"c","oneway":"yes""#,
        ),
        // A bridge over the junction of a and b, on layer 1: meets nothing.
        line(
            [x + 100.0, y - 50.0],
            [x + 100.0, y + 0.1],
            r#""name":"bridge","layer":1"#,
        ),
        // A footway is not for cars.
        line([x, y], [x, y + 50.0], r#""name":"path","highway":"footway""#),
    ];
    std::fs::write(
        &roads,
        format!(
            r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::32633"}}}},"features":[{}]}}"#,
            feats.join(",")
        ),
    )
    .unwrap();
    let r = cim_json(&["import", p(&project), p(&roads), "--kind", "road", "--json"]);
    let n = &r["network"];
    // a, b and c meet (5 junctions with the far ends); the bridge's two ends are dead ends.
    assert_eq!(
        [&n["roads"], &n["roads_not_drivable"], &n["junctions"]],
        [5, 1, 6],
        "{n}"
    );
    // a and b both ways, c one way, the bridge both ways.
    assert_eq!(
        [&n["edges"], &n["lanes_defaulted"], &n["speed_defaulted"]],
        [7, 7, 7],
        "{n}"
    );
    assert_eq!(n["components"], 2, "{n}");
    let text = stdout(&cim(&["import", p(&project), p(&roads), "--kind", "road"]));
    assert!(
        text.contains("lanes from the road class on 7 edges, speed on 7")
            && text.contains("2 parts not connected to each other"),
        "{text}"
    );
}

#[test]
fn a_lidar_laz_becomes_a_point_tileset_in_the_project_crs() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("lidar.cim.gpkg");
    // NAD83(HARN) / UTM 10N: the file's datum, so the placement is the projection alone (a datum
    // shift to WGS 84 is a choice among transformations: PROJ moves these points 1.28 m, cim
    // does not yet).
    cim_json(&["new", p(&project), "--crs", "EPSG:3740", "--json"]);
    let cloud = fixtures().join("pointcloud");
    let r = cim_json(&["import", p(&project), p(&cloud.join("autzen_trim.laz")), "--json"]);
    // The manifest's counts, heights from international feet into metres.
    assert_eq!(r["points"].as_u64(), Some(110_000));
    assert_eq!(r["points_by_class"]["2"].as_u64(), Some(26_107));
    assert!(r["placement"].as_str().unwrap().contains("WKT record"), "{r}");
    let b: Vec<f64> = r["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (b[2] - 406.26 * 0.3048).abs() < 0.01 && (b[5] - 520.51 * 0.3048).abs() < 0.01,
        "{b:?}"
    );
    // In UTM 10N by Eugene, Oregon.
    assert!(
        b[0] > 490_000.0 && b[3] < 500_000.0 && b[1] > 4_870_000.0 && b[4] < 4_880_000.0,
        "{b:?}"
    );
    let info = cim_json(&["info", p(&project), "--json"]);
    let t = &info["tilesets"][0];
    assert_eq!(
        (t["name"].as_str(), t["kind"].as_str()),
        (Some("autzen_trim"), Some("points"))
    );
    assert_eq!(t["points"].as_u64(), Some(110_000));
    // Every point is stored once, in a tile whose bounds hold it.
    let db = cim_engine::Project::open(&project).unwrap();
    let mut n = 0;
    for (tile, _) in db.tiles("autzen_trim").unwrap() {
        let Some(bytes) = db.tile_bytes("autzen_trim", tile.id).unwrap() else {
            continue;
        };
        let pts = cim_engine::points::TilePoints::decode(&bytes).unwrap();
        for q in &pts.xyz {
            let a = [0, 1, 2].map(|i| pts.origin[i] + f64::from(q[i]));
            assert!((0..3).all(|i| a[i] >= tile.bounds[i] - 1e-3 && a[i] <= tile.bounds[i + 3] + 1e-3));
        }
        n += pts.len();
    }
    assert_eq!(n, 110_000);
    // Placed as PROJ places it (GDAL's gdaltransform from the file's own WKT): the file's first
    // points are stored within a millimetre of where GDAL puts them (points lie about half a
    // metre apart, so no other point is that near).
    let source = cim_importers::pointcloud::read_las(&cloud.join("autzen_trim.laz")).unwrap();
    if std::process::Command::new("gdaltransform")
        .arg("--version")
        .output()
        .is_ok()
    {
        let wkt = dir.path().join("autzen.wkt");
        std::fs::write(&wkt, source.wkt.as_deref().unwrap()).unwrap();
        let input: String = source.xyz[..5]
            .iter()
            .map(|q| format!("{} {} {}\n", q[0], q[1], q[2]))
            .collect();
        let mut child = std::process::Command::new("gdaltransform")
            .args(["-s_srs", p(&wkt), "-t_srs", "EPSG:3740"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut stored = Vec::new();
        for (tile, _) in db.tiles("autzen_trim").unwrap() {
            if let Some(bytes) = db.tile_bytes("autzen_trim", tile.id).unwrap() {
                let pts = cim_engine::points::TilePoints::decode(&bytes).unwrap();
                stored.extend(
                    pts.xyz
                        .iter()
                        .map(|q| [0, 1].map(|i| pts.origin[i] + f64::from(q[i]))),
                );
            }
        }
        let mut checked = 0;
        for line in text.lines() {
            let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            let nearest = stored
                .iter()
                .map(|s| (s[0] - v[0]).hypot(s[1] - v[1]))
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest < 0.001,
                "GDAL puts a point at {v:?}, the nearest stored is {nearest} m away"
            );
            checked += 1;
        }
        assert_eq!(checked, 5, "{text}");
    } else {
        assert!(
            std::env::var_os("CIM_REQUIRE_PEER_TESTS").is_none(),
            "gdaltransform is missing"
        );
    }
    drop(db);
    // No CRS in the file: --src-crs is asked for; with it, the points are placed.
    let simple = cloud.join("simple.las");
    let e = cim_err(&["import", p(&project), p(&simple)]);
    assert!(e.contains("simple.las") && e.contains("--src-crs"), "{e}");
    let r = cim_json(&[
        "import",
        p(&project),
        p(&simple),
        "--src-crs",
        "EPSG:2994",
        "--json",
    ]);
    assert_eq!(r["points"].as_u64(), Some(1_065));
    // A truncated LAZ: the file and the reason, and nothing stored.
    let mut bytes = std::fs::read(cloud.join("autzen_trim.laz")).unwrap();
    bytes.truncate(bytes.len() / 2);
    let cut = dir.path().join("cut.laz");
    std::fs::write(&cut, &bytes).unwrap();
    let e = cim_err(&["import", p(&project), p(&cut)]);
    assert!(e.contains("cut.laz") && e.contains("chunk table offset"), "{e}");
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["tilesets"].as_array().unwrap().len(), 2);
    // The ground (class 2) as the project's terrain: every cell between the lowest and the
    // highest ground point, the gaps said.
    let o = cim(&[
        "import",
        p(&project),
        p(&cloud.join("autzen_trim.laz")),
        "--as-terrain",
        "--resolution",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ground: Vec<f64> = source
        .xyz
        .iter()
        .zip(&source.class)
        .filter(|(_, c)| **c == 2)
        .map(|(q, _)| q[2] * 0.3048)
        .collect();
    let (lo, hi) = ground
        .iter()
        .fold((f64::MAX, f64::MIN), |a, z| (a.0.min(*z), a.1.max(*z)));
    let (min_m, max_m) = (t["min_m"].as_f64().unwrap(), t["max_m"].as_f64().unwrap());
    assert!(
        min_m >= lo - 0.01 && max_m <= hi + 0.01 && max_m - min_m > 1.0,
        "{t} against {lo}..{hi}"
    );
    assert_eq!(t["cell_m"].as_f64(), Some(2.0));
    assert!(t["valid_cells"].as_u64().unwrap() > 10_000, "{t}");
    assert!(
        t["warnings"][0].as_str().unwrap().contains("had no ground point"),
        "{t}"
    );
    // The surface (a DSM): the highest point a cell, so above the ground's grid and up to the
    // highest point.
    let o = cim(&[
        "import",
        p(&project),
        p(&cloud.join("autzen_trim.laz")),
        "--as-surface",
        "--resolution",
        "2",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = source.xyz.iter().map(|q| q[2] * 0.3048).fold(f64::MIN, f64::max);
    let s_max = s["max_m"].as_f64().unwrap();
    assert!((s_max - top).abs() < 0.01, "{s} against the highest point {top}");
    assert!(s_max > max_m + 5.0, "the surface {s} is not above the ground {t}");
    let info = cim_json(&["info", p(&project), "--json"]);
    let names: Vec<&str> = info["terrain"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["surface", "terrain"]);
    // Not a point cloud: an error, not a quiet feature import.
    let e = cim_err(&[
        "import",
        p(&project),
        p(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/bubenec_dtm_1m_utm33n.tif")),
        "--as-terrain",
    ]);
    assert!(e.contains("take a LAS/LAZ point cloud"), "{e}");
}

/// A 3D Tiles city as a new user imports it: the folder, packed or referenced; the placement
/// said; a tileset in local coordinates asks for --origin; a missing content file is a warning
/// naming it, and --strict refuses.
#[test]
fn a_3d_tiles_city_becomes_a_tileset_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("exton.cim.gpkg");
    let o = cim(&["new", p(&project), "--crs", "EPSG:32618", "--region", "000000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/3dtiles");
    let city = fixtures.join("TilesetWithRequestVolume");
    let r = cim_json(&["import", p(&project), p(&city), "--json"]);
    assert_eq!(r["tileset"].as_str(), Some("TilesetWithRequestVolume"));
    assert_eq!(r["version"].as_str(), Some("1.0"));
    assert_eq!(
        (r["tiles"].as_u64(), r["points"].as_u64()),
        (Some(9), Some(125_000))
    );
    assert_eq!(
        (r["contents"]["b3dm"].as_u64(), r["contents"]["pnts"].as_u64()),
        (Some(5), Some(1))
    );
    assert!(r["triangles"].as_u64().unwrap() > 10_000, "{r}");
    assert!(r["placement"].as_str().unwrap().contains("ECEF"), "{r}");
    // Near Exton, PA in UTM 18N, heights as the tileset's region (0–67 m).
    let b: Vec<f64> = r["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b[0] > 447_000.0 && b[3] < 448_500.0 && b[1] > 4_432_000.0 && b[4] < 4_433_500.0,
        "{b:?}"
    );
    assert!(b[2] > -5.0 && b[5] < 70.0, "{b:?}");
    // Referenced, under another name.
    let r = cim_json(&[
        "import",
        p(&project),
        p(&city.join("tileset.json")),
        "--reference",
        "--layer",
        "exton-ref",
        "--json",
    ]);
    assert_eq!(r["referenced"].as_bool(), Some(true));
    let info = cim_json(&["info", p(&project), "--json"]);
    let sets = info["tilesets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["content"].as_str(), Some("packed"));
    assert_eq!(sets[1]["content"].as_str(), Some("referenced"));
    assert_eq!(sets[1]["frame"]["frame"].as_str(), Some("ecef"));
    // Local coordinates: --origin is asked for, then used.
    let sparse = fixtures.join("SparseImplicitQuadtree");
    let e = cim_err(&["import", p(&project), p(&sparse)]);
    assert!(e.contains("not georeferenced") && e.contains("--origin"), "{e}");
    let r = cim_json(&[
        "import",
        p(&project),
        p(&sparse),
        "--origin",
        "447600,4432500,10",
        "--json",
    ]);
    assert_eq!(
        (r["tiles"].as_u64(), r["contents"]["glb"].as_u64()),
        (Some(63), Some(32))
    );
    // A missing content file: a warning naming it, the rest imported; --strict refuses.
    let copy = dir.path().join("city");
    std::fs::create_dir_all(copy.join("city")).unwrap();
    for f in [
        "tileset.json",
        "building.b3dm",
        "points.pnts",
        "city/tileset.json",
        "city/ll.b3dm",
        "city/lr.b3dm",
        "city/ur.b3dm",
    ] {
        std::fs::copy(city.join(f), copy.join(f)).unwrap();
    }
    let o = cim(&["import", p(&project), p(&copy), "--layer", "gappy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("ul.b3dm") && err.contains("content left out"),
        "{err}"
    );
    let e = cim_err(&["import", p(&project), p(&copy), "--layer", "strict", "--strict"]);
    assert!(e.contains("ul.b3dm") && e.contains("--strict"), "{e}");
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["tilesets"].as_array().unwrap().len(), 4);
}

/// Oblique photography as a new user imports it: the dataset folder; the mislabelled WKT read
/// by its parameters; the pyramid's absent finer files said; a damaged file warned.
#[test]
fn an_oblique_photography_dataset_becomes_a_tileset_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("zhongshan.cim.gpkg");
    let o = cim(&["new", p(&project), "--crs", "EPSG:4547", "--region", "442000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let set =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/osgb/scially_Production_5");
    let r = cim_json(&["import", p(&project), p(&set), "--json"]);
    assert_eq!(r["format"].as_str(), Some("osgb"));
    assert_eq!(
        (
            r["tiles"].as_u64(),
            r["blocks"].as_u64(),
            r["absent_files"].as_u64()
        ),
        (Some(6), Some(1), Some(4))
    );
    assert_eq!(r["triangles"].as_u64(), Some(64_813));
    let placement = r["placement"].as_str().unwrap();
    assert!(
        placement.contains("LOCAL0") && placement.contains("501027.524"),
        "{placement}"
    );
    // The metadata.xml itself names the dataset too; referenced, under another name.
    let r = cim_json(&[
        "import",
        p(&project),
        p(&set.join("metadata.xml")),
        "--reference",
        "--layer",
        "photo",
        "--json",
    ]);
    assert_eq!(r["referenced"].as_bool(), Some(true));
    let info = cim_json(&["info", p(&project), "--json"]);
    let sets = info["tilesets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["frame"]["frame"].as_str(), Some("crs"));
    // A single .osgb file: pointed to its dataset.
    let e = cim_err(&[
        "import",
        p(&project),
        p(&set.join("Data/Tile_+000_+012/Tile_+000_+012.osgb")),
    ]);
    assert!(e.contains("metadata.xml"), "{e}");
    // An unknown SRS: the file and the reason, nothing written.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(bad.join("Data")).unwrap();
    std::fs::write(
        bad.join("metadata.xml"),
        "<ModelMetadata><SRS>LOCAL_CS</SRS></ModelMetadata>",
    )
    .unwrap();
    let e = cim_err(&["import", p(&project), p(&bad)]);
    assert!(e.contains("metadata.xml") && e.contains("<SRS>"), "{e}");
    let info = cim_json(&["info", p(&project), "--json"]);
    assert_eq!(info["tilesets"].as_array().unwrap().len(), 2);
}

/// The whole project in 3D Tiles as a new user exports it: the demo's buildings and its terrain
/// (meshes with levels of detail) in one tree, drawn by CesiumJS with no tile failing, in 1.1
/// and 1.0.
#[test]
fn the_whole_project_exports_as_one_3d_tiles_tree_cesium_draws() {
    let dir = tempfile::tempdir().unwrap();
    let project = build_demo(dir.path());
    for (name, version) in [("t11", "1.1"), ("t10", "1.0")] {
        let out = dir.path().join(name);
        let o = cim(&[
            "export",
            p(&project),
            p(&out),
            "--format",
            "3dtiles",
            "--tiles",
            version,
            "--geoid-offset",
            "45",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(
            text.contains("terrain 'terrain' in") && text.contains("levels of detail"),
            "{text}"
        );
        let top: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("tileset.json")).unwrap()).unwrap();
        let kids = top["root"]["children"].as_array().unwrap();
        assert_eq!(kids.len(), 2, "{top}");
        assert!(kids.iter().any(|k| k["content"]["uri"] == "terrain/tileset.json"));
        if let Some(r) = cesium_draw(&out) {
            assert_eq!(r["failed"], serde_json::json!([]), "{name}: {r}");
            assert_eq!(r["loaded"], true, "{name}: {r}");
            // Seen from above the district fills about a quarter of the view.
            assert!(r["pixels"].as_u64().unwrap() > 60_000, "{name}: {r}");
        }
    }
}
