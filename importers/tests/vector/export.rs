//! CityJSON 2.0 export: valid by CityJSON's reference validator (cjval, what `cjio validate`
//! runs), and read back by cim's own importer with the same objects, links, levels of detail,
//! surfaces and placement.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cim_engine::mesh::SurfaceClass;
use cim_engine::{AttrValue, Crs, FeatureFilter, Project};
use cim_importers::export::{export_file, ExportFormat};
use cim_importers::pipeline::ImportOptions;
use cim_importers::{import_file, ImportError};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(path)
}

fn new_project(path: &Path, epsg: u32) -> Project {
    Project::create(path, &Crs::from_epsg(epsg).unwrap(), "000000").unwrap()
}

fn import(p: &mut Project, file: &Path, src_epsg: Option<u32>) {
    let opts = ImportOptions {
        src_crs: src_epsg.map(|e| Crs::from_epsg(e).unwrap()),
        ..ImportOptions::default()
    };
    import_file(p, file, &opts, &mut |_| {}).unwrap();
}

/// cjval's verdict: the checks that failed, with their errors.
fn cjval_errors(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let v = cjval::CJValidator::from_str(&text);
    v.validate()
        .iter()
        .filter(|(_, r)| !r.is_valid())
        .map(|(check, r)| format!("{check}: {:?}", r.errors))
        .collect()
}

/// One object: its kind, its parent's id, and per level of detail the area of each surface
/// class (m²) and the box (m).
type Object = (
    String,
    Option<String>,
    BTreeMap<String, (Vec<(SurfaceClass, f64)>, [f64; 6])>,
);

/// Per object id.
type Summary = BTreeMap<String, Object>;

/// The same object, up to welding at the millimetre: boxes within 1 mm, areas within 0.01 %
/// (or 0.01 m²).
fn assert_same(id: &str, got: &Object, want: &Object) {
    assert_eq!((&got.0, &got.1), (&want.0, &want.1), "{id}");
    assert_eq!(
        got.2.keys().collect::<Vec<_>>(),
        want.2.keys().collect::<Vec<_>>(),
        "{id}"
    );
    for (lod, (areas, bx)) in &want.2 {
        let (g_areas, g_bx) = &got.2[lod];
        assert!(
            bx.iter().zip(g_bx).all(|(a, b)| (a - b).abs() <= 1e-3 + 1e-9),
            "{id} LoD {lod}: {g_bx:?} vs {bx:?}"
        );
        let classes = |a: &Vec<(SurfaceClass, f64)>| a.iter().map(|x| x.0).collect::<Vec<_>>();
        assert_eq!(classes(areas), classes(g_areas), "{id} LoD {lod}");
        for (a, b) in areas.iter().zip(g_areas) {
            assert!(
                (a.1 - b.1).abs() <= (1e-4 * a.1).max(0.01),
                "{id} LoD {lod} {:?}: {} vs {}",
                a.0,
                b.1,
                a.1
            );
        }
    }
}

fn summary(p: &Project) -> Summary {
    let mut out = Summary::new();
    let mut id_of_code = BTreeMap::new();
    let mut parents = BTreeMap::new();
    p.for_each_feature(&FeatureFilter::default(), |s| {
        let id = match s.feature.attributes.get("object_id") {
            Some(AttrValue::Text(t)) => t.clone(),
            _ => s.feature.code.to_string(),
        };
        id_of_code.insert(s.feature.code.to_string(), id.clone());
        if let Some(AttrValue::Text(parent)) = s.feature.attributes.get("parent_code") {
            parents.insert(id.clone(), parent.clone());
        }
        let mut lods = BTreeMap::new();
        for rep in p.representations(&s.feature.code).unwrap() {
            let areas = rep.mesh.areas_by_class();
            let (lo, hi) = rep.mesh.bounds().unwrap();
            lods.insert(rep.lod, (areas, [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]]));
        }
        out.insert(id, (s.feature.kind.name().to_string(), None, lods));
        Ok(())
    })
    .unwrap();
    for (id, parent_code) in parents {
        let parent = id_of_code.get(&parent_code).cloned();
        if let Some(e) = out.get_mut(&id) {
            e.1 = parent;
        }
    }
    out
}

/// The paints of each object's representations, by object id and LoD: colours as they are,
/// textures by their images' bytes (ids differ between projects).
fn looks(p: &Project) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    p.for_each_feature(&FeatureFilter::default(), |s| {
        let id = match s.feature.attributes.get("object_id") {
            Some(AttrValue::Text(t)) => t.clone(),
            _ => s.feature.code.to_string(),
        };
        for rep in p.representations(&s.feature.code).unwrap() {
            let mut paints: Vec<String> = rep
                .paints
                .iter()
                .map(|paint| match paint {
                    cim_engine::mesh::Paint::Color(c) => format!("{c:?}"),
                    cim_engine::mesh::Paint::Texture(id) => {
                        format!("image of {} bytes", p.texture(*id).unwrap().unwrap().data.len())
                    }
                })
                .collect();
            paints.sort();
            out.insert((id.clone(), rep.lod.clone()), paints);
        }
        Ok(())
    })
    .unwrap();
    out
}

/// Imports `file`, exports it as CityJSON, validates that, imports it again: the same model,
/// with the same colours and texture images.
fn round_trip(file: &Path, epsg: u32, src_epsg: Option<u32>) -> (Summary, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = new_project(&dir.path().join("a.gpkg"), epsg);
    import(&mut a, file, src_epsg);
    let out = dir.path().join("out.city.json");
    let done = export_file(
        &a,
        &FeatureFilter::default(),
        &out,
        ExportFormat::CityJson,
        &Default::default(),
    )
    .unwrap();
    let errors = cjval_errors(&out);
    assert!(errors.is_empty(), "{}: {errors:?}", file.display());
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["version"], "2.0");
    assert_eq!(
        doc["metadata"]["referenceSystem"],
        format!("https://www.opengis.net/def/crs/EPSG/0/{epsg}")
    );
    assert_eq!(done.count, doc["CityObjects"].as_object().unwrap().len());
    let mut b = new_project(&dir.path().join("b.gpkg"), epsg);
    import(&mut b, &out, None);
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa.len(), sb.len());
    for (id, want) in &sa {
        let got = sb
            .get(id)
            .unwrap_or_else(|| panic!("{id} is missing after the round trip"));
        assert_same(id, got, want);
    }
    assert_eq!(looks(&a), looks(&b));
    if let Some(textures) = doc["appearance"]["textures"].as_array() {
        for t in textures {
            assert!(dir.path().join(t["image"].as_str().unwrap()).is_file(), "{t}");
        }
    }
    (sa, doc)
}

#[test]
fn the_3d_bag_sample_round_trips_with_its_three_lods() {
    let (s, doc) = round_trip(&fixture("cityjson/3dbag_multi_lod.city.json"), 28992, Some(28992));
    assert_eq!(s.len(), 10);
    assert!(s
        .values()
        .all(|(_, _, lods)| lods.keys().cloned().collect::<Vec<_>>() == ["1.2", "1.3", "2.2"]));
    let o = &doc["CityObjects"]["6751773"];
    assert_eq!(o["type"], "Building", "{o}");
    let g = &o["geometry"][2];
    assert_eq!(
        (g["type"].as_str(), g["lod"].as_str()),
        (Some("Solid"), Some("2.2"))
    );
    let surfaces: Vec<&str> = g["semantics"]["surfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert!(
        surfaces.contains(&"RoofSurface") && surfaces.contains(&"WallSurface"),
        "{surfaces:?}"
    );
}

#[test]
fn buildings_made_of_parts_keep_their_links_and_the_parents_without_geometry() {
    let (s, doc) = round_trip(&fixture("cityjson/DH_01_subs.city.json"), 28992, Some(28992));
    // 4 buildings (their geometry in their 8 parts, but one) and the 8 parts, linked both ways.
    assert_eq!(s.len(), 12);
    assert_eq!(s.values().filter(|e| e.1.is_some()).count(), 8);
    let objects = doc["CityObjects"].as_object().unwrap();
    let parts: Vec<_> = objects.values().filter(|o| o["type"] == "BuildingPart").collect();
    assert_eq!(parts.len(), 8);
    for part in parts {
        let parent = &objects[part["parents"][0].as_str().unwrap()];
        assert_eq!(parent["type"], "Building");
        assert!(parent["children"].as_array().unwrap().len() >= 2);
    }
    // Their colours as materials: the file's three (light grey, dark red, grey).
    assert_eq!(
        doc["appearance"]["materials"].as_array().unwrap().len(),
        3,
        "{}",
        doc["appearance"]
    );
}

#[test]
fn plateau_citygml_exports_its_lod0_to_lod2_in_a_japanese_plane_crs() {
    // JGD2011 / Japan Plane Rectangular CS IX, the zone of Tokyo.
    let (s, doc) = round_trip(
        &fixture("citygml/plateau_53392633/53392633_bldg_6697_2_op.gml"),
        6677,
        None,
    );
    assert_eq!(s.len(), 9);
    for (id, (_, _, lods)) in &s {
        assert_eq!(lods.keys().cloned().collect::<Vec<_>>(), ["0", "1", "2"], "{id}");
    }
    let walls: f64 = s
        .values()
        .flat_map(|e| e.2.get("2"))
        .flat_map(|(areas, _)| areas.iter().filter(|a| a.0 == SurfaceClass::Wall).map(|a| a.1))
        .sum();
    assert!(walls > 100.0, "{walls}");
    assert_eq!(
        doc["transform"]["scale"],
        serde_json::json!([0.001, 0.001, 0.001])
    );
    // Its photo textures: the 9 images beside the file, every roof and wall mapped.
    assert_eq!(doc["appearance"]["textures"].as_array().unwrap().len(), 9);
    assert!(doc["appearance"]["vertices-texture"].as_array().unwrap().len() > 1000);
}

#[test]
fn lod1_buildings_become_lod1_solids_and_flat_features_are_left_out_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = new_project(&dir.path().join("p.gpkg"), 28992);
    // delft: LoD1 solids of buildings, roads, land use, water and plants.
    import(&mut p, &fixture("cityjson/delft.city.json"), None);
    let out = dir.path().join("delft.city.json");
    let done = export_file(
        &p,
        &FeatureFilter::default(),
        &out,
        ExportFormat::CityJson,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(done.count, 570);
    assert!(cjval_errors(&out).is_empty());
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mut types = BTreeMap::<String, usize>::new();
    for o in doc["CityObjects"].as_object().unwrap().values() {
        *types.entry(o["type"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let source: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cityjson/delft.city.json")).unwrap()).unwrap();
    let mut want = BTreeMap::<String, usize>::new();
    for o in source["CityObjects"].as_object().unwrap().values() {
        *want.entry(o["type"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(types, want);

    // A GeoJSON of LOD1 buildings and a parcel: the buildings as LoD 1 solids, the parcel left out.
    let mut q = new_project(&dir.path().join("q.gpkg"), 4547);
    let gj = dir.path().join("b.geojson");
    std::fs::write(
        &gj,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:4547"}},"features":[
        {"type":"Feature","properties":{"height":12.5},"geometry":{"type":"Polygon","coordinates":[[[500000,3500000],[500020,3500000],[500020,3500010],[500000,3500010],[500000,3500000]]]}}]}"#,
    )
    .unwrap();
    let opts = ImportOptions {
        kind: Some(cim_engine::FeatureKind::Building),
        heights: cim_importers::pipeline::HeightOptions {
            height_attr: Some("height".into()),
            ..Default::default()
        },
        ..ImportOptions::default()
    };
    import_file(&mut q, &gj, &opts, &mut |_| {}).unwrap();
    let parcels = dir.path().join("parcels.geojson");
    std::fs::write(
        &parcels,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:4547"}},"features":[
        {"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[500100,3500000],[500120,3500000],[500120,3500010],[500100,3500000]]]}}]}"#,
    )
    .unwrap();
    let popts = ImportOptions {
        kind: Some(cim_engine::FeatureKind::Parcel),
        ..ImportOptions::default()
    };
    import_file(&mut q, &parcels, &popts, &mut |_| {}).unwrap();
    let out = dir.path().join("q.city.json");
    let done = export_file(
        &q,
        &FeatureFilter::default(),
        &out,
        ExportFormat::CityJson,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(done.count, 1);
    assert!(
        done.warnings
            .iter()
            .any(|w| w.starts_with("1 features without 3-D geometry")),
        "{:?}",
        done.warnings
    );
    assert!(cjval_errors(&out).is_empty());
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let o = doc["CityObjects"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(
        (o["type"].as_str(), o["geometry"][0]["lod"].as_str()),
        (Some("Building"), Some("1"))
    );
    assert_eq!(o["attributes"]["height"], 12.5);
    // Heights to the millimetre: the box is 0..12.5 m.
    let ext = &doc["metadata"]["geographicalExtent"];
    assert_eq!((ext[2].as_f64(), ext[5].as_f64()), (Some(0.0), Some(12.5)));

    // Only parcels chosen: nothing to export is an error, and no file is left.
    let only_parcels = FeatureFilter {
        layers: Some(vec!["parcels".into()]),
        ..FeatureFilter::default()
    };
    let none = dir.path().join("none.city.json");
    let e = export_file(
        &q,
        &only_parcels,
        &none,
        ExportFormat::CityJson,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ImportError::File { .. }) && e.to_string().contains("nothing to export"),
        "{e}"
    );
    assert!(!none.exists() && !dir.path().join("none.city.partial").exists());
}

/// The Khronos glTF validator's verdict on each file (`tests/peers/gltf_validate.js`, npm
/// `gltf-validator` under `$CIM_PEERS_NODE` or `~/.cache/cim-peers/node/node_modules`, which
/// `.ci/test` installs); `None` where it is not installed (a failure under
/// `CIM_REQUIRE_PEER_TESTS=1`).
fn gltf_validator(files: &[PathBuf]) -> Option<Vec<serde_json::Value>> {
    let modules = std::env::var_os("CIM_PEERS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/cim-peers/node/node_modules")
        });
    if !modules.join("gltf-validator").is_dir() {
        assert!(
            std::env::var_os("CIM_REQUIRE_PEER_TESTS").is_none(),
            "gltf-validator is not installed in {}",
            modules.display()
        );
        eprintln!(
            "note: gltf-validator not installed in {}; not validated",
            modules.display()
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/gltf_validate.js");
    let out = std::process::Command::new("node")
        .arg(script)
        .args(files)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    let reports: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        reports.len(),
        files.len(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(reports)
}

/// A GLB's JSON and binary chunk (the GLB inside a b3dm too).
fn glb_parts(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
    let u32_at = |b: &[u8], k: usize| u32::from_le_bytes(b[k..k + 4].try_into().unwrap()) as usize;
    let glb = if &bytes[..4] == b"b3dm" {
        let skip = 28 + u32_at(bytes, 12) + u32_at(bytes, 16) + u32_at(bytes, 20) + u32_at(bytes, 24);
        &bytes[skip..]
    } else {
        bytes
    };
    assert_eq!(&glb[..4], b"glTF");
    assert_eq!(u32_at(glb, 8), glb.len(), "GLB length");
    let jlen = u32_at(glb, 12);
    let json: serde_json::Value = serde_json::from_slice(&glb[20..20 + jlen]).unwrap();
    let bin = glb[20 + jlen + 8..].to_vec();
    (json, bin)
}

/// Every POSITION of a GLB, with its node's translation added (glTF frame).
fn glb_positions(json: &serde_json::Value, bin: &[u8]) -> Vec<[f64; 3]> {
    let t: Vec<f64> = json["nodes"][0]["translation"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_f64().unwrap()).collect())
        .unwrap_or_else(|| vec![0.0; 3]);
    let mut out = Vec::new();
    for prim in json["meshes"][0]["primitives"].as_array().unwrap() {
        let acc = &json["accessors"][prim["attributes"]["POSITION"].as_u64().unwrap() as usize];
        let view = &json["bufferViews"][acc["bufferView"].as_u64().unwrap() as usize];
        let at = view["byteOffset"].as_u64().unwrap() as usize;
        for k in 0..acc["count"].as_u64().unwrap() as usize {
            let f = |c: usize| {
                let o = at + 12 * k + 4 * c;
                f64::from(f32::from_le_bytes(bin[o..o + 4].try_into().unwrap()))
            };
            out.push([t[0] + f(0), t[1] + f(1), t[2] + f(2)]);
        }
    }
    out
}

/// ECEF on WGS 84, written here independently of the exporter's.
fn wgs84_ecef(lon: f64, lat: f64, h: f64) -> [f64; 3] {
    let a = 6_378_137.0;
    let e2 = 0.006_694_379_990_141_317;
    let (l, p) = (lon.to_radians(), lat.to_radians());
    let n = a / (1.0 - e2 * p.sin().powi(2)).sqrt();
    [
        (n + h) * p.cos() * l.cos(),
        (n + h) * p.cos() * l.sin(),
        (n * (1.0 - e2) + h) * p.sin(),
    ]
}

fn tiles_options(
    version: cim_importers::export::tiles::TilesVersion,
    geoid: f64,
    max: usize,
) -> cim_importers::export::tiles::TilesOptions {
    cim_importers::export::tiles::TilesOptions {
        version,
        geoid_offset_m: geoid,
        max_features: max,
    }
}

#[test]
fn tokyo_buildings_are_placed_on_the_globe_to_the_millimetre_in_3d_tiles() {
    use cim_importers::export::tiles::TilesVersion;
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("citygml/plateau_53392633/53392633_bldg_6697_2_op.gml");
    let mut p = new_project(&dir.path().join("tokyo.gpkg"), 6677);
    import(&mut p, &file, None);
    // A roof corner as the file states it: JGD2011 latitude, longitude (≡ WGS 84 here to
    // well under a millimetre) and height.
    let (lat, lon, h) = (35.533_096_948_566_886, 139.796_351_967_431_8, 3.664_108_11);
    for (version, geoid) in [(TilesVersion::V1_1, 36.7), (TilesVersion::V1_0, 0.0)] {
        let out = dir.path().join(format!("tiles_{geoid}"));
        // Two features a tile at most: a tree of several levels.
        let done = export_file(
            &p,
            &FeatureFilter::default(),
            &out,
            ExportFormat::Tiles3d,
            &tiles_options(version, geoid, 2),
        )
        .unwrap();
        assert_eq!(done.count, 9);
        let tileset: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("tileset.json")).unwrap()).unwrap();
        let want_version = if version == TilesVersion::V1_1 {
            "1.1"
        } else {
            "1.0"
        };
        assert_eq!(tileset["asset"]["version"], want_version);
        let m: Vec<f64> = tileset["root"]["transform"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // Walk the tree: every leaf has content, inner tiles have a larger error than their children.
        let mut contents = Vec::new();
        let mut stack = vec![(tileset["root"].clone(), f64::INFINITY)];
        while let Some((t, parent_error)) = stack.pop() {
            let e = t["geometricError"].as_f64().unwrap();
            assert!(e < parent_error, "{t}");
            match t["children"].as_array() {
                Some(children) => stack.extend(children.iter().map(|c| (c.clone(), e))),
                None => contents.push(out.join(t["content"]["uri"].as_str().unwrap())),
            }
        }
        assert!(contents.len() >= 5, "{} tiles", contents.len());
        let mut features = 0;
        let mut best = f64::INFINITY;
        let want = wgs84_ecef(lon, lat, h + geoid);
        for c in &contents {
            let bytes = std::fs::read(c).unwrap();
            let (json, bin) = glb_parts(&bytes);
            if version == TilesVersion::V1_1 {
                let table = &json["extensions"]["EXT_structural_metadata"]["propertyTables"][0];
                features += table["count"].as_u64().unwrap();
                assert!(table["properties"]["code"]["values"].is_u64());
            } else {
                let ft_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
                let ft: serde_json::Value = serde_json::from_slice(&bytes[28..28 + ft_len]).unwrap();
                features += ft["BATCH_LENGTH"].as_u64().unwrap();
            }
            for g in glb_positions(&json, &bin) {
                // glTF y up to the tile's z up, then the root transform (column-major).
                let l = [g[0], -g[2], g[1]];
                let e = [0, 1, 2].map(|r| m[r] * l[0] + m[4 + r] * l[1] + m[8 + r] * l[2] + m[12 + r]);
                let d =
                    ((e[0] - want[0]).powi(2) + (e[1] - want[1]).powi(2) + (e[2] - want[2]).powi(2)).sqrt();
                best = best.min(d);
            }
        }
        assert_eq!(features, 9);
        assert!(
            best < 0.001,
            "the roof corner is {best} m from where WGS 84 puts it"
        );
        if let Some(reports) = gltf_validator(&contents) {
            for r in reports {
                assert_eq!(r["errors"], 0, "{r}");
            }
        }
    }
    // The folder exists now: refused, not overwritten.
    let again = export_file(
        &p,
        &FeatureFilter::default(),
        &dir.path().join("tiles_0"),
        ExportFormat::Tiles3d,
        &Default::default(),
    );
    assert!(again.unwrap_err().to_string().contains("already exists"));
}

#[test]
fn a_glb_of_the_city_is_valid_and_carries_codes_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = new_project(&dir.path().join("dh.gpkg"), 28992);
    import(&mut p, &fixture("cityjson/DH_01_subs.city.json"), Some(28992));
    let out = dir.path().join("dh.glb");
    let done = export_file(
        &p,
        &FeatureFilter::default(),
        &out,
        ExportFormat::Glb,
        &Default::default(),
    )
    .unwrap();
    // 8 parts and the one building with its own geometry; the 3 buildings made only of parts
    // are in their parts, not left out.
    assert_eq!(done.count, 9);
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let (json, bin) = glb_parts(&std::fs::read(&out).unwrap());
    let table = &json["extensions"]["EXT_structural_metadata"]["propertyTables"][0];
    assert_eq!(table["count"], 9);
    let props =
        json["extensions"]["EXT_structural_metadata"]["schema"]["classes"]["feature"]["properties"].clone();
    assert!(
        props["roofType"].is_object() && props["code"].is_object(),
        "{props}"
    );
    // Its coordinates: metres about the stated origin, y up.
    let origin = json["asset"]["extras"]["cim"]["origin"]
        .as_array()
        .unwrap()
        .clone();
    let o: Vec<f64> = origin.iter().map(|v| v.as_f64().unwrap()).collect();
    let pos = glb_positions(&json, &bin);
    let top = pos.iter().map(|q| q[1] + o[2]).fold(f64::MIN, f64::max);
    // The highest ridge DH_01_subs states is 14.739 m.
    assert!((top - 14.739).abs() < 1e-3, "{top}");
    if let Some(reports) = gltf_validator(&[out]) {
        assert_eq!(reports[0]["errors"], 0, "{}", reports[0]);
        assert_eq!(reports[0]["warnings"], 0, "{}", reports[0]);
    }
}

/// CesiumJS's drawing of the tileset in `dir` (`tests/peers/cesium_tileset.js`: headless
/// Chromium, the tileset unlit red on black from above, 800×600): the red pixels, tiles that
/// failed, page errors. `None` where Chromium or the npm packages are missing (a failure under
/// `CIM_REQUIRE_PEER_TESTS=1`).
fn cesium(dir: &Path) -> Option<serde_json::Value> {
    let modules = std::env::var_os("CIM_PEERS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/cim-peers/node/node_modules")
        });
    let chromium =
        std::env::var_os("CIM_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !(modules.join("cesium").is_dir() && modules.join("playwright-core").is_dir() && chromium.exists()) {
        assert!(
            std::env::var_os("CIM_REQUIRE_PEER_TESTS").is_none(),
            "CesiumJS, playwright-core ({}) or Chromium ({}) is missing",
            modules.display(),
            chromium.display()
        );
        eprintln!("note: CesiumJS or Chromium not installed; the tileset is not drawn");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/cesium_tileset.js");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(dir)
        .env("NODE_PATH", &modules)
        .output()
        .expect("node runs");
    let line = String::from_utf8_lossy(&out.stdout);
    Some(
        serde_json::from_str(line.trim())
            .unwrap_or_else(|e| panic!("{e}: {line} {}", String::from_utf8_lossy(&out.stderr))),
    )
}

#[test]
fn cesium_draws_the_exported_tilesets_and_reports_a_missing_tile() {
    use cim_importers::export::tiles::TilesVersion;
    let dir = tempfile::tempdir().unwrap();
    let mut p = new_project(&dir.path().join("tokyo.gpkg"), 6677);
    import(
        &mut p,
        &fixture("citygml/plateau_53392633/53392633_bldg_6697_2_op.gml"),
        None,
    );
    let mut drawn = Vec::new();
    for (name, version, max) in [("v11", TilesVersion::V1_1, 2), ("v10", TilesVersion::V1_0, 1000)] {
        let out = dir.path().join(name);
        export_file(
            &p,
            &FeatureFilter::default(),
            &out,
            ExportFormat::Tiles3d,
            &tiles_options(version, 36.7, max),
        )
        .unwrap();
        let Some(r) = cesium(&out) else { return };
        assert_eq!(r["failed"], serde_json::json!([]), "{name}: {r}");
        assert_eq!(r["errors"], serde_json::json!([]), "{name}: {r}");
        assert_eq!(r["loaded"], true, "{name}: {r}");
        // The nine buildings fill a good part of the view (about 23,000 of 480,000 pixels).
        let pixels = r["pixels"].as_u64().unwrap();
        assert!(pixels > 10_000, "{name}: {r}");
        drawn.push(pixels);
    }
    // The same buildings whatever the version and tiling.
    let (a, b) = (drawn[0] as f64, drawn[1] as f64);
    assert!((a - b).abs() < 0.02 * a, "{drawn:?}");
    // A negative control: the harness sees a tile that is not there.
    let broken = dir.path().join("v11");
    for e in std::fs::read_dir(broken.join("content")).unwrap().take(1) {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let r = cesium(&broken).unwrap();
    assert_ne!(r["failed"], serde_json::json!([]), "{r}");
}

/// Every glTF texture coordinate of the textured primitives of a GLB, and the images embedded.
fn glb_uvs_and_images(json: &serde_json::Value, bin: &[u8]) -> (Vec<[f32; 2]>, Vec<Vec<u8>>) {
    let view_bytes = |v: usize| {
        let view = &json["bufferViews"][v];
        let at = view["byteOffset"].as_u64().unwrap() as usize;
        bin[at..at + view["byteLength"].as_u64().unwrap() as usize].to_vec()
    };
    let mut uvs = Vec::new();
    for prim in json["meshes"][0]["primitives"].as_array().unwrap() {
        let Some(a) = prim["attributes"]["TEXCOORD_0"].as_u64() else {
            continue;
        };
        // A textured primitive's material has the texture.
        let m = &json["materials"][prim["material"].as_u64().unwrap() as usize];
        assert!(
            m["pbrMetallicRoughness"]["baseColorTexture"]["index"].is_u64(),
            "{m}"
        );
        let acc = &json["accessors"][a as usize];
        let bytes = view_bytes(acc["bufferView"].as_u64().unwrap() as usize);
        for k in 0..acc["count"].as_u64().unwrap() as usize {
            let f =
                |c: usize| f32::from_le_bytes(bytes[8 * k + 4 * c..8 * k + 4 * c + 4].try_into().unwrap());
            uvs.push([f(0), f(1)]);
        }
    }
    let images = json["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| view_bytes(i["bufferView"].as_u64().unwrap() as usize))
                .collect()
        })
        .unwrap_or_default();
    (uvs, images)
}

#[test]
fn photo_textures_and_colours_go_into_the_glb_and_the_3d_tiles() {
    use cim_importers::export::tiles::TilesVersion;
    let dir = tempfile::tempdir().unwrap();
    let file = fixture("citygml/plateau_53392633/53392633_bldg_6697_2_op.gml");
    let mut p = new_project(&dir.path().join("tokyo.gpkg"), 6677);
    import(&mut p, &file, None);
    // What the project holds: the images, and each textured vertex's coordinate in glTF's
    // convention (v down from the top).
    let mut stored_images: Vec<Vec<u8>> = Vec::new();
    let mut stored_uvs: std::collections::HashSet<[u32; 2]> = Default::default();
    let mut finest: BTreeMap<String, cim_engine::mesh::Representation> = BTreeMap::new();
    p.for_each_feature(&FeatureFilter::default(), |s| {
        for rep in p.representations(&s.feature.code).unwrap() {
            let code = s.feature.code.to_string();
            if finest.get(&code).is_none_or(|r| rep.lod >= r.lod) {
                finest.insert(code, rep);
            }
        }
        Ok(())
    })
    .unwrap();
    for rep in finest.values() {
        for paint in &rep.paints {
            if let cim_engine::mesh::Paint::Texture(id) = *paint {
                let t = p.texture(id).unwrap().unwrap();
                if !stored_images.contains(&t.data) {
                    stored_images.push(t.data);
                }
            }
        }
        if let Some(uvs) = &rep.mesh.uvs {
            stored_uvs.extend(uvs.iter().map(|uv| [uv[0].to_bits(), (1.0f32 - uv[1]).to_bits()]));
        }
    }
    assert!(stored_images.len() >= 5, "{}", stored_images.len());

    let out = dir.path().join("tokyo.glb");
    let done = export_file(
        &p,
        &FeatureFilter::default(),
        &out,
        ExportFormat::Glb,
        &Default::default(),
    )
    .unwrap();
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let (json, bin) = glb_parts(&std::fs::read(&out).unwrap());
    let (uvs, mut images) = glb_uvs_and_images(&json, &bin);
    // Every image once, byte for byte as delivered; every coordinate one the model has.
    images.sort();
    let mut want = stored_images.clone();
    want.sort();
    assert_eq!(images, want);
    assert!(uvs.len() > 100, "{}", uvs.len());
    for uv in &uvs {
        assert!(stored_uvs.contains(&[uv[0].to_bits(), uv[1].to_bits()]), "{uv:?}");
    }
    assert_eq!(json["samplers"][0]["wrapS"], 10497);

    // 3D Tiles: each tile embeds the images its buildings use; all of them together.
    let tiles = dir.path().join("tiles");
    export_file(
        &p,
        &FeatureFilter::default(),
        &tiles,
        ExportFormat::Tiles3d,
        &tiles_options(TilesVersion::V1_1, 36.7, 3),
    )
    .unwrap();
    let mut contents: Vec<PathBuf> = std::fs::read_dir(tiles.join("content"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    contents.sort();
    assert!(contents.len() >= 3, "{contents:?}");
    let mut all: Vec<Vec<u8>> = Vec::new();
    for c in &contents {
        let (json, bin) = glb_parts(&std::fs::read(c).unwrap());
        for image in glb_uvs_and_images(&json, &bin).1 {
            if !all.contains(&image) {
                all.push(image);
            }
        }
    }
    all.sort();
    assert_eq!(all, want);

    // Colours: Den Haag's three materials, each a material of that colour.
    let mut dh = new_project(&dir.path().join("dh.gpkg"), 28992);
    import(&mut dh, &fixture("cityjson/DH_01_subs.city.json"), Some(28992));
    let mut colours: Vec<[f32; 4]> = Vec::new();
    dh.for_each_feature(&FeatureFilter::default(), |s| {
        for rep in dh.representations(&s.feature.code).unwrap() {
            for paint in rep.paints {
                if let cim_engine::mesh::Paint::Color(c) = paint {
                    if !colours.contains(&c) {
                        colours.push(c);
                    }
                }
            }
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(colours.len(), 3);
    let dh_out = dir.path().join("dh.glb");
    export_file(
        &dh,
        &FeatureFilter::default(),
        &dh_out,
        ExportFormat::Glb,
        &Default::default(),
    )
    .unwrap();
    let (json, _) = glb_parts(&std::fs::read(&dh_out).unwrap());
    let factors: Vec<[f32; 4]> = json["materials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let f = &m["pbrMetallicRoughness"]["baseColorFactor"];
            [0, 1, 2, 3].map(|k| f[k].as_f64().unwrap_or(-1.0) as f32)
        })
        .collect();
    for c in &colours {
        assert!(factors.contains(c), "{c:?} not in {factors:?}");
    }

    let mut files = vec![out, dh_out];
    files.extend(contents);
    if let Some(reports) = gltf_validator(&files) {
        for (f, r) in files.iter().zip(&reports) {
            assert_eq!(r["errors"], 0, "{}: {r}", f.display());
            assert_eq!(r["warnings"], 0, "{}: {r}", f.display());
        }
    }
}

/// Oblique photography out as 3D Tiles: every rewritten glb (and b3dm) passes the Khronos
/// validator, and CesiumJS draws the block with no tile failing, the same in 1.1 and 1.0.
#[test]
fn oblique_photography_exports_as_3d_tiles_that_validate_and_draw() {
    use cim_importers::export::tiles::TilesVersion;
    let dir = tempfile::tempdir().unwrap();
    let mut p = new_project(&dir.path().join("zs.gpkg"), 4547);
    cim_importers::osgb::import_osgb(
        &mut p,
        &fixture("osgb/scially_Production_5"),
        &cim_importers::osgb::OsgbOptions::default(),
    )
    .unwrap();
    let mut drawn = Vec::new();
    for (name, version) in [("v11", TilesVersion::V1_1), ("v10", TilesVersion::V1_0)] {
        let out = dir.path().join(name);
        let e = export_file(
            &p,
            &FeatureFilter::default(),
            &out,
            ExportFormat::Tiles3d,
            &tiles_options(version, 0.0, 1000),
        )
        .unwrap();
        assert_eq!((e.what, e.count), ("tileset", 1));
        let set = out.join("tilesets/scially_Production_5");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&set)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "glb" || x == "b3dm"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 5, "{files:?}");
        if let Some(reports) = gltf_validator(&files) {
            for r in reports {
                assert_eq!(r["errors"], 0, "{r}");
            }
        }
        let Some(r) = cesium(&out) else { continue };
        assert_eq!(r["failed"], serde_json::json!([]), "{name}: {r}");
        assert_eq!(r["errors"], serde_json::json!([]), "{name}: {r}");
        assert_eq!(r["loaded"], true, "{name}: {r}");
        let pixels = r["pixels"].as_u64().unwrap();
        assert!(pixels > 1_000, "{name}: {r}");
        drawn.push(pixels);
    }
    if drawn.len() == 2 {
        let (a, b) = (drawn[0] as f64, drawn[1] as f64);
        assert!((a - b).abs() < 0.05 * a, "{drawn:?}");
    }
}

/// The terrain in 3D Tiles: a quadtree of meshes whose geometric errors are measured against
/// the DEM (0 at the leaves, never less than a child's above), every cell centre of the leaves
/// placed on the globe to the millimetre, valid glTF, drawn by CesiumJS; 1.0 as b3dm.
#[test]
fn the_terrain_exports_as_meshes_with_levels_of_detail() {
    use cim_importers::export::tiles::TilesVersion;
    let dir = tempfile::tempdir().unwrap();
    let mut p = new_project(&dir.path().join("bubenec.gpkg"), 32633);
    import(&mut p, &fixture("dem/bubenec_dtm_1m_utm33n.tif"), None);
    let dem = p.terrain(&p.terrains().unwrap()[0].name).unwrap();
    let out = dir.path().join("tiles");
    let e = export_file(
        &p,
        &FeatureFilter::default(),
        &out,
        ExportFormat::Tiles3d,
        &tiles_options(TilesVersion::V1_1, 0.0, 1000),
    )
    .unwrap();
    assert_eq!(e.what, "terrain");
    assert!(
        e.details.iter().any(|d| d.contains("levels of detail")),
        "{:?}",
        e.details
    );
    let top: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("tileset.json")).unwrap()).unwrap();
    let entry = &top["root"]["children"][0];
    assert_eq!(entry["content"]["uri"], "terrain/tileset.json");
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("terrain/tileset.json")).unwrap()).unwrap();
    let root = &t["root"];
    assert_eq!(root["refine"], "REPLACE");
    let m: Vec<f64> = root["transform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // Errors: leaves 0, parents at least their children's and above 0 (the ground is not flat).
    let mut leaves = Vec::new();
    let mut stack = vec![(root.clone(), f64::INFINITY)];
    let mut inner = 0;
    while let Some((tile, parent)) = stack.pop() {
        let ge = tile["geometricError"].as_f64().unwrap();
        assert!(ge <= parent, "{ge} under a parent of {parent}");
        match tile["children"].as_array() {
            Some(c) => {
                inner += 1;
                assert!(ge > 0.0, "{tile}");
                stack.extend(c.iter().map(|c| (c.clone(), ge)));
            }
            None => {
                assert_eq!(ge, 0.0);
                leaves.push(tile["content"]["uri"].as_str().unwrap().to_string());
            }
        }
    }
    // A leaf for each block of 64 × 64 cells with data (a quad of four cells with heights):
    // 670 × 718 cells, 11 × 12 blocks, those outside the DEM's data left out.
    let with_data = |bx: usize, by: usize| {
        let (c1, r1) = (
            (bx * 64 + 64).min(dem.width - 1),
            (by * 64 + 64).min(dem.height - 1),
        );
        (by * 64..r1).any(|r| {
            (bx * 64..c1).any(|c| {
                [(c, r), (c + 1, r), (c, r + 1), (c + 1, r + 1)]
                    .iter()
                    .all(|&(c, r)| dem.get(c, r).is_some())
            })
        })
    };
    let blocks = (0..12)
        .flat_map(|by| (0..11).map(move |bx| (bx, by)))
        .filter(|&(bx, by)| with_data(bx, by))
        .count();
    assert!(
        blocks > 100 && inner >= 1 + 4 + 16,
        "{blocks} blocks, {inner} inner tiles"
    );
    assert_eq!(leaves.len(), blocks, "{}×{}", dem.width, dem.height);
    // A leaf's vertex at a cell with data: ECEF by the root's transform from its glTF
    // position, against the cell centre's longitude, latitude and height.
    let first = leaves[leaves.len() / 2].clone();
    let name = first.trim_start_matches("content/").trim_end_matches(".glb");
    let xy: Vec<usize> = name.split('_').skip(1).map(|v| v.parse().unwrap()).collect();
    let (col, row) = (xy[0] * 64..xy[0] * 64 + 64)
        .flat_map(|c| (xy[1] * 64..xy[1] * 64 + 64).map(move |r| (c, r)))
        .find(|&(c, r)| {
            [(c, r), (c + 1, r), (c, r + 1), (c + 1, r + 1)]
                .iter()
                .all(|&(c, r)| dem.get(c, r).is_some())
        })
        .unwrap();
    let (json, bin) = glb_parts(&std::fs::read(out.join("terrain").join(&first)).unwrap());
    let to_wgs84 = cim_engine::Transform::new(&Crs::from_epsg(4326).unwrap(), p.crs());
    let (x, y) = (
        dem.origin_x + (col as f64 + 0.5) * dem.cell_w,
        dem.origin_y - (row as f64 + 0.5) * dem.cell_h,
    );
    let (lon, lat) = to_wgs84.apply(x, y).unwrap();
    let want = wgs84_ecef(lon, lat, f64::from(dem.get(col, row).unwrap()));
    let best = glb_positions(&json, &bin)
        .iter()
        .map(|g| {
            // glTF y up → ENU, then the root's transform (column-major).
            let e = [g[0], -g[2], g[1]];
            let w: Vec<f64> = (0..3)
                .map(|r| m[r] * e[0] + m[4 + r] * e[1] + m[8 + r] * e[2] + m[12 + r])
                .collect();
            ((w[0] - want[0]).powi(2) + (w[1] - want[1]).powi(2) + (w[2] - want[2]).powi(2)).sqrt()
        })
        .fold(f64::INFINITY, f64::min);
    assert!(
        best < 0.001,
        "cell ({col}, {row}) is {best} m from where it belongs"
    );
    // The Khronos validator: the root's and a leaf's GLB.
    let root_glb = out.join("terrain").join(root["content"]["uri"].as_str().unwrap());
    if let Some(reports) = gltf_validator(&[root_glb, out.join("terrain").join(&first)]) {
        for r in reports {
            assert_eq!(r["errors"], 0, "{r}");
        }
    }
    // CesiumJS draws it (seen from above it fills much of the view).
    if let Some(r) = cesium(&out) {
        assert_eq!(r["failed"], serde_json::json!([]), "{r}");
        assert_eq!(r["loaded"], true, "{r}");
        assert!(r["pixels"].as_u64().unwrap() > 50_000, "{r}");
    }
    // 3D Tiles 1.0: the same tree of b3dm.
    let old = dir.path().join("tiles10");
    export_file(
        &p,
        &FeatureFilter::default(),
        &old,
        ExportFormat::Tiles3d,
        &tiles_options(TilesVersion::V1_0, 0.0, 1000),
    )
    .unwrap();
    let b3dm = std::fs::read_dir(old.join("terrain/content")).unwrap().count();
    assert_eq!(
        b3dm,
        std::fs::read_dir(out.join("terrain/content")).unwrap().count()
    );
    assert!(old
        .join("terrain/content")
        .join(first.replace("content/", "").replace(".glb", ".b3dm"))
        .exists());
    // A choice of layers leaves the terrain out.
    let chosen = FeatureFilter {
        layers: Some(vec!["none".into()]),
        ..FeatureFilter::default()
    };
    assert!(export_file(
        &p,
        &chosen,
        &dir.path().join("x"),
        ExportFormat::Tiles3d,
        &tiles_options(TilesVersion::V1_1, 0.0, 1000)
    )
    .is_err());
}
