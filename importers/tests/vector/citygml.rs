//! CityGML 1.0, 2.0 and 3.0 against the fixtures (their counts and envelopes as the MANIFEST
//! states them), through the one import entry point.

use std::path::{Path, PathBuf};

use cim_engine::mesh::SurfaceClass;
use cim_engine::{AttrValue, Crs, FeatureFilter, Project};
use cim_importers::pipeline::ImportOptions;
use cim_importers::{detect, import_file, Format, ImportError, Imported};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/citygml")
        .join(name)
}

fn import(
    dir: &Path,
    epsg: u32,
    file: &Path,
) -> (
    Project,
    Result<cim_importers::pipeline::ImportReport, ImportError>,
) {
    let mut p = Project::create(
        &dir.join(format!("p{epsg}.cim.gpkg")),
        &Crs::from_epsg(epsg).unwrap(),
        "000000",
    )
    .unwrap();
    let r = import_file(&mut p, file, &ImportOptions::default(), &mut |_| {}).map(|i| match i {
        Imported::Features(r) => r,
        Imported::Terrain(..)
        | Imported::Points(..)
        | Imported::Tiles(..)
        | Imported::Photo(..)
        | Imported::Model(..) => {
            panic!("not features")
        }
    });
    (p, r)
}

/// Every building's finest mesh in a layer, merged: (triangles, area by class, box).
fn meshes(p: &Project, layer: &str) -> (usize, Vec<(SurfaceClass, f64)>, [f64; 6]) {
    let (mut n, mut areas, mut b) = (
        0,
        Vec::<(SurfaceClass, f64)>::new(),
        [f64::MAX, f64::MAX, f64::MAX, f64::MIN, f64::MIN, f64::MIN],
    );
    p.for_each_representation(layer, None, |_, r| {
        n += r.mesh.triangle_count();
        for (c, a) in r.mesh.areas_by_class() {
            match areas.iter_mut().find(|x| x.0 == c) {
                Some(x) => x.1 += a,
                None => areas.push((c, a)),
            }
        }
        let (lo, hi) = r.mesh.bounds().unwrap();
        for k in 0..3 {
            b[k] = b[k].min(lo[k]);
            b[k + 3] = b[k + 3].max(hi[k]);
        }
        Ok(())
    })
    .unwrap();
    (n, areas, b)
}

#[test]
fn citygml_2_and_3_give_the_same_building() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for (name, layer) in [
        (
            "Building_LOD2-EPSG25832_CityGML2.gml",
            "Building_LOD2-EPSG25832_CityGML2",
        ),
        (
            "Building_LOD2-EPSG25832_CityGML3.gml",
            "Building_LOD2-EPSG25832_CityGML3",
        ),
    ] {
        let file = fixture(name);
        assert_eq!(detect(&file).unwrap(), Format::CityGml);
        let sub = dir.path().join(layer);
        std::fs::create_dir_all(&sub).unwrap();
        let (p, r) = import(&sub, 25832, &file);
        let r = r.unwrap();
        assert_eq!(r.layers[0].inserted, 1, "{:?}", r.layers);
        let (n, areas, b) = meshes(&p, layer);
        // The envelope the file states: E 458868–458892, N 5438343–5438362, H 112–117.
        assert!(
            b[0] >= 458_868.0 && b[3] <= 458_892.0 && b[1] >= 5_438_343.0 && b[4] <= 5_438_362.0,
            "{b:?}"
        );
        assert!((b[2] - 112.0).abs() < 0.5 && (b[5] - 117.0).abs() < 0.5, "{b:?}");
        let classes: Vec<SurfaceClass> = areas.iter().map(|a| a.0).collect();
        assert_eq!(
            classes,
            vec![SurfaceClass::Roof, SurfaceClass::Wall, SurfaceClass::Ground],
            "{areas:?}"
        );
        seen.push((n, areas));
    }
    assert_eq!(seen[0].0, seen[1].0, "the same triangles from 2.0 and 3.0");
    for (a, b) in seen[0].1.iter().zip(&seen[1].1) {
        assert!((a.1 - b.1).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}

#[test]
fn plateau_is_read_latitude_first_with_every_level_of_detail() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("plateau_53392633/53392633_bldg_6697_2_op.gml");
    // EPSG:6697 (JGD2011 + TP height) is latitude, longitude: into Japan Plane IX (EPSG:6677).
    let (p, r) = import(dir.path(), 6677, &file);
    let r = r.unwrap();
    assert_eq!(r.layers[0].inserted, 9);
    let lods: Vec<(String, u64)> = p
        .mesh_summary()
        .unwrap()
        .iter()
        .map(|s| (s.lod.clone(), s.features))
        .collect();
    assert_eq!(lods, vec![("0".into(), 9), ("1".into(), 9), ("2".into(), 9)]);
    // lat 35.53266–35.53350, lon 139.79372–139.79643, 3.2–52.1 m: about 3.5 km west and 51.8 km
    // south of the plane's origin (36° N, 139° 50′ E).
    let layer = p.layer("53392633_bldg_6697_2_op").unwrap();
    let e = layer.extent.unwrap();
    assert!(
        e[0] > -3_700.0 && e[2] < -3_300.0 && e[1] > -51_900.0 && e[3] < -51_700.0,
        "{e:?}"
    );
    let (_, areas, b) = meshes(&p, "53392633_bldg_6697_2_op");
    assert!(b[2] > 3.0 && b[5] < 53.0, "{b:?}");
    assert!(
        areas.iter().any(|a| a.0 == SurfaceClass::Roof && a.1 > 100.0),
        "{areas:?}"
    );
    // Attributes come along (measuredHeight 4.3–48.7 m).
    let fs = p.features(&FeatureFilter::default()).unwrap();
    assert!(fs.iter().all(|f| matches!(f.feature.attributes.get("measuredHeight"), Some(AttrValue::Real(h)) if (4.0..49.0).contains(h))));
}

#[test]
fn citygml_1_parts_and_3_buildings_and_broken_files() {
    let dir = tempfile::tempdir().unwrap();
    // Zürich, CityGML 1.0, srsName "CH1903": 4 buildings and 6 parts, each part naming its building.
    let (p, r) = import(dir.path(), 21781, &fixture("zurich_lod2_citygml1.xml"));
    assert_eq!(r.unwrap().layers[0].inserted, 10);
    let fs = p.features(&FeatureFilter::default()).unwrap();
    let parts = fs
        .iter()
        .filter(|f| f.feature.attributes.get("object_type") == Some(&AttrValue::Text("BuildingPart".into())))
        .count();
    assert_eq!(parts, 6);
    assert!(
        fs.iter()
            .filter(|f| f.feature.attributes.contains_key("parent_code"))
            .count()
            == 6
    );
    // citygml4j's 100 buildings (CityGML 3.0, EPSG:3068 + 5783 with a version in the URN).
    let (p, r) = import(dir.path(), 3068, &fixture("citygml4j_lod2_buildings_v3.gml"));
    assert_eq!(r.unwrap().layers[0].inserted, 100);
    let (n, _, _) = meshes(&p, "citygml4j_lod2_buildings_v3");
    assert_eq!(n, 1600);
    // A file cut mid-element: an error naming it; a dangling reference: a warning.
    let text = std::fs::read_to_string(fixture("Building_LOD2-EPSG25832_CityGML2.gml")).unwrap();
    let cut = dir.path().join("cut.gml");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let (mut p, r) = import(dir.path(), 25832, &cut);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("cut.gml") && e.contains("truncated"), "{e}");
    let start = text.find("xlink:href=\"#").unwrap() + "xlink:href=\"#".len();
    let end = start + text[start..].find('"').unwrap();
    let dangling = dir.path().join("dangling.gml");
    std::fs::write(&dangling, format!("{}nowhere{}", &text[..start], &text[end..])).unwrap();
    let r = import_file(&mut p, &dangling, &ImportOptions::default(), &mut |_| {}).unwrap();
    let Imported::Features(r) = r else { panic!() };
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("'nowhere'") && w.message.contains("not in the file")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn fuzz_finds_stay_fixed() {
    // Coordinates too large for a mesh's f32 positions panicked in the footprint's hull.
    let dir = tempfile::tempdir().unwrap();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/citygml/fuzz-crash-far-coordinates.gml");
    let mut p = Project::create(
        &dir.path().join("p.cim.gpkg"),
        &Crs::from_epsg(25832).unwrap(),
        "000000",
    )
    .unwrap();
    let opts = ImportOptions {
        src_crs: Some(Crs::from_epsg(25832).unwrap()),
        allow_empty: true,
        ..Default::default()
    };
    let _ = import_file(&mut p, &file, &opts, &mut |_| {});
}

#[test]
fn gml_that_is_not_citygml_is_not_taken_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("roads.gml");
    std::fs::write(
        &plain,
        r#"<?xml version="1.0"?><ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml"></ogr:FeatureCollection>"#,
    )
    .unwrap();
    assert_eq!(detect(&plain).unwrap(), Format::Unknown);
    assert_eq!(
        detect(&fixture("zurich_lod2_citygml1.xml")).unwrap(),
        Format::CityGml
    );
}

/// `n` box buildings (10 m × 10 m × 6 m, LoD1 solids) in UTM 50N, 20 m apart, each with a
/// BuildingPart whose solid refers to its polygons by `xlink:href`.
fn many_buildings(n: usize) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml" xmlns:xlink="http://www.w3.org/1999/xlink">
<gml:boundedBy><gml:Envelope srsName="EPSG:32650"><gml:lowerCorner>0 0 0</gml:lowerCorner><gml:upperCorner>1 1 1</gml:upperCorner></gml:Envelope></gml:boundedBy>
"#,
    );
    for k in 0..n {
        let (x, y) = (
            500_000.0 + 20.0 * (k % 100) as f64,
            2_500_000.0 + 20.0 * (k / 100) as f64,
        );
        let c = |dx: f64, dy: f64, z: f64| format!("{} {} {z}", x + dx, y + dy);
        let ring = |pts: [String; 4]| format!("{} {} {} {} {}", pts[0], pts[1], pts[2], pts[3], pts[0]);
        let faces = [
            ring([
                c(0.0, 0.0, 0.0),
                c(0.0, 10.0, 0.0),
                c(10.0, 10.0, 0.0),
                c(10.0, 0.0, 0.0),
            ]),
            ring([
                c(0.0, 0.0, 6.0),
                c(10.0, 0.0, 6.0),
                c(10.0, 10.0, 6.0),
                c(0.0, 10.0, 6.0),
            ]),
            ring([
                c(0.0, 0.0, 0.0),
                c(10.0, 0.0, 0.0),
                c(10.0, 0.0, 6.0),
                c(0.0, 0.0, 6.0),
            ]),
            ring([
                c(10.0, 0.0, 0.0),
                c(10.0, 10.0, 0.0),
                c(10.0, 10.0, 6.0),
                c(10.0, 0.0, 6.0),
            ]),
            ring([
                c(10.0, 10.0, 0.0),
                c(0.0, 10.0, 0.0),
                c(0.0, 10.0, 6.0),
                c(10.0, 10.0, 6.0),
            ]),
            ring([
                c(0.0, 10.0, 0.0),
                c(0.0, 0.0, 0.0),
                c(0.0, 0.0, 6.0),
                c(0.0, 10.0, 6.0),
            ]),
        ];
        let refs: String = (0..6)
            .map(|f| format!(r##"<gml:surfaceMember xlink:href="#p{k}_{f}"/>"##))
            .collect();
        let polys: String = faces
            .iter()
            .enumerate()
            .map(|(f, r)| {
                format!(
                    r#"<gml:surfaceMember><gml:Polygon gml:id="p{k}_{f}"><gml:exterior><gml:LinearRing><gml:posList>{r}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>"#
                )
            })
            .collect();
        s.push_str(&format!(
            r#"<core:cityObjectMember><bldg:Building gml:id="b{k}"><bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="b{k}_part">
<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>{refs}</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>
<bldg:lod1MultiSurface><gml:MultiSurface>{polys}</gml:MultiSurface></bldg:lod1MultiSurface>
</bldg:BuildingPart></bldg:consistsOfBuildingPart></bldg:Building></core:cityObjectMember>
"#
        ));
    }
    s.push_str("</core:CityModel>\n");
    s
}

#[test]
fn a_big_file_is_streamed_in_batches_of_whole_buildings_and_stored_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.gml");
    std::fs::write(&file, many_buildings(1200)).unwrap();
    // Batches of 512 objects: 256 buildings with their parts, then what is left.
    let mut batches = Vec::new();
    let (head, warnings) = cim_importers::citymodel::citygml::stream_citygml(&file, &mut |h, objects| {
        assert_eq!(h.crs.as_ref().and_then(|c| c.epsg()), Some(32650));
        let buildings = objects.iter().filter(|o| o.type_name == "Building").count();
        // A part is in the batch of its building.
        for o in &objects {
            if let Some(p) = &o.parent {
                assert!(objects.iter().any(|q| &q.id == p), "{} without its parent", o.id);
            }
        }
        batches.push(buildings);
        Ok(())
    })
    .unwrap();
    assert_eq!(batches, vec![256, 256, 256, 256, 176]);
    assert_eq!(head.format, "CityGML 2.0");
    assert!(warnings.is_empty(), "{warnings:?}");
    // Through the import: 2400 objects, each part's solid resolved from its references.
    let (p, r) = import(dir.path(), 32650, &file);
    let r = r.unwrap();
    assert_eq!(r.layers.iter().map(|l| l.inserted).sum::<u64>(), 2400, "{r:?}");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let mut parts = 0;
    p.for_each_feature(&FeatureFilter::default(), |s| {
        if let Some(AttrValue::Text(t)) = s.feature.attributes.get("object_type") {
            if t == "BuildingPart" {
                parts += 1;
                let reps = p.representations(&s.feature.code).unwrap();
                assert_eq!(
                    reps.len(),
                    1,
                    "the multi-surface whose polygons make the solid is dropped"
                );
                assert!((reps[0].mesh.volume() - 600.0).abs() < 1e-6);
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(parts, 1200);
}

#[test]
fn plateau_textures_are_stored_once_and_mapped_by_the_files_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("plateau_53392633/53392633_bldg_6697_2_op.gml");
    let (mut p, r) = import(dir.path(), 6677, &file);
    let r = r.unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // The 9 JPEGs of the appearance folder, as delivered.
    assert_eq!(p.texture_summary().unwrap().0, 9);
    let t = p.texture(1).unwrap().unwrap();
    assert_eq!(t.mime, "image/jpeg");
    assert!(t.name.starts_with("53392633_bldg_6697_appearance/") && t.data.starts_with(&[0xff, 0xd8]));
    let on_disk = std::fs::read(file.parent().unwrap().join(&t.name)).unwrap();
    assert_eq!(t.data, on_disk);
    let mut textured = 0;
    p.for_each_feature(&FeatureFilter::default(), |s| {
        for rep in p.representations(&s.feature.code).unwrap() {
            if rep.lod != "2" {
                assert!(rep.paints.is_empty());
                continue;
            }
            // One image a building, every LoD2 triangle mapped into it.
            assert_eq!(rep.paints.len(), 1, "{:?}", rep.paints);
            assert!(matches!(rep.paints[0], cim_engine::mesh::Paint::Texture(_)));
            let m = &rep.mesh;
            let mats = m.materials.as_ref().unwrap();
            let untextured: Vec<SurfaceClass> = mats
                .iter()
                .zip(&m.classes)
                .filter(|(k, _)| **k != 0)
                .map(|(_, c)| *c)
                .collect();
            // Roofs and walls are photographed; only the ground (never seen) has no texture.
            assert!(
                untextured.iter().all(|c| *c == SurfaceClass::Ground),
                "{untextured:?}"
            );
            assert!(untextured.len() < mats.len() / 4);
            let uvs = m.uvs.as_ref().unwrap();
            assert_eq!(uvs.len(), m.positions.len());
            assert!(uvs
                .iter()
                .all(|uv| (0.0..=1.0).contains(&uv[0]) && (0.0..=1.0).contains(&uv[1])));
            textured += 1;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(textured, 9);
    // Imported again (replacing the buildings): the images are not stored twice.
    import_file(&mut p, &file, &ImportOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(p.texture_summary().unwrap().0, 9);
}

#[test]
fn a_missing_texture_image_is_a_warning_naming_it_and_the_surfaces_stay() {
    let dir = tempfile::tempdir().unwrap();
    // The tile without its appearance folder.
    let copy = dir.path().join("tile.gml");
    std::fs::copy(fixture("plateau_53392633/53392633_bldg_6697_2_op.gml"), &copy).unwrap();
    let (p, r) = import(dir.path(), 6677, &copy);
    let r = r.unwrap();
    assert_eq!(r.layers[0].inserted, 9);
    let missing: Vec<&String> = r
        .warnings
        .iter()
        .map(|w| &w.message)
        .filter(|m| m.contains("texture image '53392633_bldg_6697_appearance/") && m.contains("is not there"))
        .collect();
    assert_eq!(missing.len(), 9, "{:?}", r.warnings);
    assert_eq!(p.texture_summary().unwrap().0, 0);
}

#[test]
fn an_appearance_after_its_polygons_is_a_warning_not_a_silent_loss() {
    let dir = tempfile::tempdir().unwrap();
    let material = |targets: &[&str]| {
        let t: String = targets
            .iter()
            .map(|t| format!("<app:target>#{t}</app:target>"))
            .collect();
        format!(
            "<app:appearanceMember><app:Appearance><app:theme>t</app:theme><app:surfaceDataMember><app:X3DMaterial><app:diffuseColor>0.8 0.1 0.1</app:diffuseColor>{t}</app:X3DMaterial></app:surfaceDataMember></app:Appearance></app:appearanceMember>\n"
        )
    };
    // One appearance before the buildings (painting b0's roof), one after them (b1's roof, and
    // a polygon the file does not have).
    let mut gml = many_buildings(2).replace(
        "xmlns:gml=",
        "xmlns:app=\"http://www.opengis.net/citygml/appearance/2.0\" xmlns:gml=",
    );
    let first = gml.find("<core:cityObjectMember>").unwrap();
    gml.insert_str(first, &material(&["p0_1"]));
    let end = gml.find("</core:CityModel>").unwrap();
    gml.insert_str(end, &material(&["p1_1", "nowhere"]));
    let file = dir.path().join("late.gml");
    std::fs::write(&file, gml).unwrap();
    let (p, r) = import(dir.path(), 32650, &file);
    let r = r.unwrap();
    let late: Vec<&String> = r
        .warnings
        .iter()
        .map(|w| &w.message)
        .filter(|m| m.contains("appearance target"))
        .collect();
    assert_eq!(late.len(), 1, "{:?}", r.warnings);
    assert!(
        late[0].starts_with("2 appearance target(s) were not applied (first: '#nowhere')"),
        "{}",
        late[0]
    );
    // b0's roof is painted, b1 is not.
    let painted = |id: &str| {
        let mut found = None;
        p.for_each_feature(&cim_engine::FeatureFilter::default(), |s| {
            if s.feature.source_key == format!("{id}_part") {
                found = Some(
                    p.representations(&s.feature.code)
                        .unwrap()
                        .iter()
                        .any(|r| !r.paints.is_empty()),
                );
            }
            Ok(())
        })
        .unwrap();
        found.unwrap()
    };
    assert!(painted("b0"));
    assert!(!painted("b1"));
}

#[test]
fn an_unknown_srs_name_and_a_polygon_of_two_points_are_named() {
    let dir = tempfile::tempdir().unwrap();
    // An srsName cim does not know: an error naming the file and the name, nothing stored.
    let unknown = dir.path().join("unknown_srs.gml");
    std::fs::write(
        &unknown,
        many_buildings(1).replace("EPSG:32650", "urn:example:crs:city-grid"),
    )
    .unwrap();
    let (p, r) = import(dir.path(), 32650, &unknown);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("unknown_srs.gml") && e.contains("'urn:example:crs:city-grid'") && e.contains("--src-crs"),
        "{e}"
    );
    assert!(p.layers().unwrap().is_empty());
    // Building 0's roof cut to two points: left out with a warning naming the object; its
    // other five faces stored.
    let gml = many_buildings(2);
    let roof = gml.find(r#"<gml:Polygon gml:id="p0_1">"#).unwrap();
    let start = roof + gml[roof..].find("<gml:posList>").unwrap() + "<gml:posList>".len();
    let end = start + gml[start..].find("</gml:posList>").unwrap();
    let two = format!(
        "{}500000 2500000 6 500010 2500000 6{}",
        &gml[..start],
        &gml[end..]
    );
    let file = dir.path().join("two_points.gml");
    std::fs::write(&file, two).unwrap();
    let mut p = Project::create(
        &dir.path().join("two.cim.gpkg"),
        &Crs::from_epsg(32650).unwrap(),
        "000000",
    )
    .unwrap();
    let r = import_file(&mut p, &file, &ImportOptions::default(), &mut |_| {}).unwrap();
    let Imported::Features(r) = r else { panic!() };
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("object 'b0_part'") && w.message.contains("fewer than 3 points")),
        "{:?}",
        r.warnings
    );
    assert_eq!(
        r.layers.iter().map(|l| l.inserted).sum::<u64>(),
        4,
        "{:?}",
        r.layers
    );
}
