//! CityJSON 1.1 and 2.0 and CityJSONSeq against the fixtures (cjio's test data, whose counts the
//! MANIFEST states), into a project through the one import entry point.

use std::path::{Path, PathBuf};

use cim_engine::mesh::SurfaceClass;
use cim_engine::{AttrValue, CityCode, Crs, FeatureFilter, FeatureKind, HeightSource, Project};
use cim_importers::pipeline::ImportOptions;
use cim_importers::{detect, import_file, Format, ImportError, Imported};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/cityjson")
        .join(name)
}

fn project(dir: &Path, epsg: u32) -> Project {
    Project::create(&dir.join("p.cim.gpkg"), &Crs::from_epsg(epsg).unwrap(), "000000").unwrap()
}

fn import(
    p: &mut Project,
    file: &Path,
    opts: &ImportOptions,
) -> Result<cim_importers::pipeline::ImportReport, ImportError> {
    match import_file(p, file, opts, &mut |_| {})? {
        Imported::Features(r) => Ok(r),
        Imported::Terrain(..)
        | Imported::Points(..)
        | Imported::Tiles(..)
        | Imported::Photo(..)
        | Imported::Model(..) => {
            panic!("a city model imported as terrain or a tileset")
        }
    }
}

#[test]
fn delft_imports_every_object_by_kind_with_its_solids_placed_to_the_millimetre() {
    let file = fixture("delft.city.json");
    assert_eq!(detect(&file).unwrap(), Format::CityJson);
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), 28992);
    let r = import(&mut p, &file, &ImportOptions::default()).unwrap();
    let counts: Vec<(String, u64)> = r.layers.iter().map(|l| (l.layer.clone(), l.inserted)).collect();
    // 570 objects: 160 buildings, 143 roads, 126 plant covers, 3 water bodies, and 81 land uses,
    // 3 bridges and 54 generic objects as other.
    assert_eq!(
        counts,
        vec![
            ("delft".to_string(), 160),
            ("delft_other".to_string(), 138),
            ("delft_road".to_string(), 143),
            ("delft_vegetation".to_string(), 126),
            ("delft_water".to_string(), 3),
        ]
    );
    // One road has 4 triangles whose corners lie on a line (integer coordinates, exactly): they
    // are left out and said.
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0]
        .message
        .contains("'b9f724050-00c9-11e6-b420-2bdcc4ab5d7f': 4 polygon(s) without area"));
    // Every other source polygon (all triangles here) is kept: 36,267 of 36,271 triangles, ≤ 12 B
    // each stored.
    let summary = p.mesh_summary().unwrap();
    let triangles: u64 = summary.iter().map(|s| s.triangles).sum();
    let bytes: u64 = summary.iter().map(|s| s.bytes).sum();
    assert_eq!(triangles, 36_267);
    assert!(
        bytes as f64 / triangles as f64 <= 12.0,
        "{} B a triangle",
        bytes as f64 / triangles as f64
    );

    // A building: its first vertex where the file puts it (vertex 40: integers × 0.001 +
    // translate, in EPSG:7415 whose horizontal CRS is the project's), its height from its
    // z-range, its footprint the outline of its ground.
    let id = "b1105d28c-00ba-11e6-b420-2bdcc4ab5d7f";
    let code = CityCode::derive("000000", FeatureKind::Building, "delft", id);
    let f = p.feature(&code).unwrap().unwrap();
    let lod1 = f.feature.lod1.unwrap();
    assert!(
        (lod1.base_m - -0.1).abs() < 1e-6 && (lod1.height_m - 6.1).abs() < 1e-6,
        "{lod1:?}"
    );
    assert_eq!(lod1.height_source, HeightSource::Geometry { lod: "1".into() });
    assert_eq!(
        f.feature.attributes.get("object_type"),
        Some(&AttrValue::Text("Building".into()))
    );
    let reps = p.representations(&code).unwrap();
    assert_eq!(reps.len(), 1);
    let m = &reps[0].mesh;
    let near = (0..m.vertex_count() as u32)
        .map(|v| m.world(v))
        .map(|w| ((w[0] - 85_009.815).powi(2) + (w[1] - 447_482.668).powi(2) + (w[2] - 6.0).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min);
    assert!(near < 0.0005, "vertex 40 is {near} m from where the file puts it");
    // 3dfier's solids have no floor here: the footprint is the outline of the roof, whose
    // triangles cover 992.931 m² seen from above (summed from the file's coordinates).
    let geo::Geometry::MultiPolygon(fp) = &f.feature.geometry else {
        panic!("{:?}", f.feature.geometry)
    };
    let fp_area = geo::Area::unsigned_area(fp);
    assert!((fp_area - 992.931).abs() < 0.01, "{fp_area}");
    // The footprint is a feature like any other: `query` finds it in its box.
    let found = p
        .features(&FeatureFilter {
            bbox: Some([85_000.0, 447_470.0, 85_020.0, 447_490.0]),
            layers: Some(vec!["delft".into()]),
            ..Default::default()
        })
        .unwrap();
    assert!(found.iter().any(|s| s.feature.code == code));
}

#[test]
fn multi_lod_buildings_keep_every_level_and_a_file_without_a_crs_needs_one() {
    let file = fixture("3dbag_multi_lod.city.json");
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), 28992);
    let e = import(&mut p, &file, &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, ImportError::MissingCrs { .. }), "{e}");
    assert!(e.to_string().contains("3dbag_multi_lod.city.json"), "{e}");
    let opts = ImportOptions {
        src_crs: Some(Crs::parse("EPSG:7415").unwrap()),
        ..Default::default()
    };
    let r = import(&mut p, &file, &opts).unwrap();
    assert_eq!(r.layers.len(), 1);
    assert_eq!(r.layers[0].inserted, 10);
    let lods: Vec<String> = p.mesh_summary().unwrap().iter().map(|s| s.lod.clone()).collect();
    assert_eq!(lods, vec!["1.2", "1.3", "2.2"]);
    assert!(p.mesh_summary().unwrap().iter().all(|s| s.features == 10));
}

#[test]
fn parts_know_their_building_and_lod2_surfaces_keep_their_semantics() {
    let file = fixture("DH_01_subs.city.json");
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), 28992);
    let opts = ImportOptions {
        src_crs: Some(Crs::parse("EPSG:28992").unwrap()),
        ..Default::default()
    };
    let r = import(&mut p, &file, &opts).unwrap();
    assert_eq!(
        r.layers[0].inserted, 12,
        "4 buildings and 8 parts: {:?}",
        r.warnings
    );
    // A building made only of parts stands where its parts do (its footprint theirs), with no
    // prism of its own: it is drawn, picked and flooded by its parts.
    let whole = CityCode::derive(
        "000000",
        FeatureKind::Building,
        "DH_01_subs",
        "GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4",
    );
    let w = p.feature(&whole).unwrap().unwrap();
    assert!(w.feature.lod1.is_none(), "{:?}", w.feature.lod1);
    assert!(geo::Area::unsigned_area(&w.feature.geometry) > 10.0);
    assert!(
        p.representations(&whole).unwrap().is_empty(),
        "its geometry is its parts'"
    );
    let part = CityCode::derive(
        "000000",
        FeatureKind::Building,
        "DH_01_subs",
        "GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4_1",
    );
    let parent = CityCode::derive(
        "000000",
        FeatureKind::Building,
        "DH_01_subs",
        "GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4",
    );
    let f = p.feature(&part).unwrap().unwrap();
    assert_eq!(
        f.feature.attributes.get("parent_code"),
        Some(&AttrValue::Text(parent.to_string()))
    );
    assert_eq!(
        f.feature.attributes.get("object_type"),
        Some(&AttrValue::Text("BuildingPart".into()))
    );
    let m = &p.representations(&part).unwrap()[0].mesh;
    for class in [SurfaceClass::Roof, SurfaceClass::Wall, SurfaceClass::Ground] {
        assert!(m.area(Some(class)) > 1.0, "no {class:?} surfaces");
    }
    assert!(m.materials.is_some(), "materials are kept");
    // Their colours, as the file's materials give them: roofs dark red (0.502, 0, 0), the walls
    // light grey (0.922).
    let rep = &p.representations(&part).unwrap()[0];
    let colour_of = |class: SurfaceClass| {
        let k = m.classes.iter().position(|c| *c == class).unwrap();
        rep.paints[usize::from(m.materials.as_ref().unwrap()[k])]
    };
    assert_eq!(
        colour_of(SurfaceClass::Roof),
        cim_engine::mesh::Paint::Color([0.502, 0.0, 0.0, 1.0])
    );
    assert_eq!(
        colour_of(SurfaceClass::Wall),
        cim_engine::mesh::Paint::Color([0.922, 0.922, 0.922, 1.0])
    );
    // Its footprint: the ground surface's outline, with the same area.
    let geo::Geometry::MultiPolygon(fp) = &f.feature.geometry else {
        panic!()
    };
    let ground = m.area(Some(SurfaceClass::Ground));
    assert!(
        (geo::Area::unsigned_area(fp) - ground).abs() < 0.01 * ground,
        "{} vs {ground}",
        geo::Area::unsigned_area(fp)
    );
}

/// A small CityJSON 2.0 file: one building (a unit cube at 1000, 2000, 10), plus `extra`
/// objects, the transform as given.
fn small(dir: &Path, name: &str, transform: &str, extra: &str, appearance: &str) -> PathBuf {
    let path = dir.join(name);
    let text = format!(
        r#"{{"type":"CityJSON","version":"2.0","transform":{transform},
  "metadata":{{"referenceSystem":"https://www.opengis.net/def/crs/EPSG/0/28992"}},
  "CityObjects":{{
    "cube":{{"type":"Building","attributes":{{"name":"cube","floors":2}},"geometry":[{{"type":"Solid","lod":"2",
      "boundaries":[[[[0,3,2,1]],[[4,5,6,7]],[[0,1,5,4]],[[1,2,6,5]],[[2,3,7,6]],[[3,0,4,7]]]],
      "semantics":{{"surfaces":[{{"type":"GroundSurface"}},{{"type":"RoofSurface"}},{{"type":"WallSurface"}}],"values":[[0,1,2,2,2,2]]}}}}]}}
    {extra}
  }},
  "vertices":[[0,0,0],[1000,0,0],[1000,1000,0],[0,1000,0],[0,0,1000],[1000,0,1000],[1000,1000,1000],[0,1000,1000]]
  {appearance}}}"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

const T: &str = r#"{"scale":[0.001,0.001,0.001],"translate":[1000.0,2000.0,10.0]}"#;

#[test]
fn a_small_model_is_placed_exactly_and_bad_parts_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), 28992);
    let bad_index = r#","broken":{"type":"Building","geometry":[{"type":"MultiSurface","lod":"1","boundaries":[[[0,1,99]]]}]},
        "thing":{"type":"Gazebo","geometry":[{"type":"MultiSurface","lod":"1","boundaries":[[[0,1,2,3]]]}]}"#;
    let appearance = r#","appearance":{"textures":[{"type":"PNG","image":"missing/wall.png"}],"vertices-texture":[[0,0]]}"#;
    let file = small(dir.path(), "city.json", T, bad_index, appearance);
    assert_eq!(
        detect(&file).unwrap(),
        Format::CityJson,
        "a .json that is CityJSON"
    );
    let r = import(&mut p, &file, &ImportOptions::default()).unwrap();
    let said: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(
        said.iter()
            .any(|m| m.contains("'broken'") && m.contains("vertex index 99 is out of range")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|m| m.contains("'thing'") && m.contains("unknown city object type 'Gazebo'")),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m.contains("missing/wall.png")), "{said:?}");
    // The cube: 1 m³ at exactly (1000, 2000, 10)–(1001, 2001, 11).
    let code = CityCode::derive("000000", FeatureKind::Building, "city", "cube");
    let m = &p.representations(&code).unwrap()[0].mesh;
    assert_eq!(
        m.bounds().unwrap(),
        ([1000.0, 2000.0, 10.0], [1001.0, 2001.0, 11.0])
    );
    assert!((m.volume() - 1.0).abs() < 1e-9);
    assert!((m.area(Some(SurfaceClass::Wall)) - 4.0).abs() < 1e-9);
    let f = p.feature(&code).unwrap().unwrap();
    assert_eq!(f.feature.attributes.get("floors"), Some(&AttrValue::Int(2)));

    // A transform with a zero scale is refused, naming the file; nothing is stored.
    std::fs::create_dir_all(dir.path().join("q")).unwrap();
    let mut q = project(&dir.path().join("q"), 28992);
    let file = small(
        dir.path(),
        "zero.city.json",
        r#"{"scale":[0,0.001,0.001],"translate":[0,0,0]}"#,
        "",
        "",
    );
    let e = import(&mut q, &file, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("zero.city.json") && e.contains("transform"), "{e}");
    // --strict turns the warnings into a failure that writes nothing.
    let file = small(dir.path(), "strict.city.json", T, bad_index, "");
    let strict = ImportOptions {
        strict: true,
        ..Default::default()
    };
    let before = p.mesh_summary().unwrap();
    assert!(import(&mut p, &file, &strict).is_err());
    assert_eq!(p.mesh_summary().unwrap(), before);
}

#[test]
fn cityjson_seq_reads_one_feature_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.city.jsonl");
    let header = r#"{"type":"CityJSON","version":"2.0","transform":{"scale":[0.01,0.01,0.01],"translate":[500.0,600.0,0.0]},"metadata":{"referenceSystem":"https://www.opengis.net/def/crs/EPSG/0/28992"},"CityObjects":{},"vertices":[]}"#;
    let feature = |id: &str, dx: i64| {
        format!(
            r#"{{"type":"CityJSONFeature","id":"{id}","CityObjects":{{"{id}":{{"type":"Building","geometry":[{{"type":"MultiSurface","lod":"1","boundaries":[[[0,1,2,3]],[[4,5,6,7]]]}}]}}}},"vertices":[[{a},0,0],[{a},100,0],[{b},100,0],[{b},0,0],[{a},0,500],[{b},0,500],[{b},100,500],[{a},100,500]]}}"#,
            a = dx,
            b = dx + 100
        )
    };
    std::fs::write(
        &path,
        format!("{header}\n{}\n{}\n", feature("a", 0), feature("b", 1000)),
    )
    .unwrap();
    assert_eq!(detect(&path).unwrap(), Format::CityJson);
    let mut p = project(dir.path(), 28992);
    let r = import(&mut p, &path, &ImportOptions::default()).unwrap();
    assert_eq!(r.layers[0].inserted, 2);
    let b = CityCode::derive("000000", FeatureKind::Building, "two", "b");
    let (lo, hi) = p.representations(&b).unwrap()[0].mesh.bounds().unwrap();
    assert_eq!((lo[0], hi[0], hi[2]), (510.0, 511.0, 5.0));
}

#[test]
fn a_json_fg_polyhedron_is_a_building_with_its_solid_time_and_crs() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/vector/jsonfg_building.json");
    assert_eq!(detect(&file).unwrap(), Format::JsonFg);
    let dir = tempfile::tempdir().unwrap();
    // coordRefSys EPSG:5555 (ETRS89 / UTM 32N + DHHN92 height): no transform into EPSG:25832.
    let mut p = project(dir.path(), 25832);
    let r = import(&mut p, &file, &ImportOptions::default()).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        (r.layers[0].layer.as_str(), r.layers[0].inserted),
        ("jsonfg_building", 1)
    );
    let code = CityCode::derive(
        "000000",
        FeatureKind::Building,
        "jsonfg_building",
        "DENW19AL0000giv5BL",
    );
    let f = p.feature(&code).unwrap().unwrap();
    let lod1 = f.feature.lod1.unwrap();
    assert_eq!((lod1.base_m, lod1.height_m), (100.0, 20.0));
    assert_eq!(
        f.feature.validity.from.map(|d| d.to_string()),
        Some("2014-04-24".to_string())
    );
    assert_eq!(
        f.feature.attributes.get("function"),
        Some(&AttrValue::Text("Agricultural building".into()))
    );
    let m = &p.representations(&code).unwrap()[0].mesh;
    let (lo, hi) = m.bounds().unwrap();
    // The place's first corner, to the millimetre.
    assert!(
        lo[0] <= 479_816.67 && hi[0] >= 479_829.666 && (lo[2] - 100.0).abs() < 1e-9,
        "{lo:?} {hi:?}"
    );
    assert!(m.volume() > 0.0);
    // Without a coordRefSys: read as WGS 84 (JSON-FG's default), said, and so far from a UTM
    // 32N project that nothing is stored.
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"coordRefSys\"", "\"unused\"");
    let bare = dir.path().join("bare.json");
    std::fs::write(&bare, text).unwrap();
    let e = import(&mut p, &bare, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("bare.json"), "{e}");
}

#[test]
fn a_cityjson_whose_type_follows_a_long_member_is_still_recognised() {
    // Keys in any order: here 20 kB of metadata before "type" (as a writer that sorts keys
    // and puts a long appearance first would).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.json");
    let long = "x".repeat(20_000);
    std::fs::write(
        &file,
        format!(
            r#"{{"appearance":{{"materials":[]}},"metadata":{{"title":"{long}"}},"type":"CityJSON","version":"2.0","transform":{{"scale":[1,1,1],"translate":[0,0,0]}},"CityObjects":{{}},"vertices":[]}}"#
        ),
    )
    .unwrap();
    assert_eq!(detect(&file).unwrap(), Format::CityJson);
}
