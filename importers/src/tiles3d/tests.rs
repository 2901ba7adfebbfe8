use super::*;

fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel);
    assert!(p.exists(), "fixture {} missing", p.display());
    p
}

fn utm18() -> Crs {
    Crs::from_epsg(32618).unwrap()
}

fn ecef_placer(crs: &Crs) -> Placer {
    Placer::new(&ContentFrame::Ecef { geoid_offset_m: 0.0 }, crs).unwrap()
}

/// Decodes tile `id` of a tree into the frame (ECEF).
fn decoded(tree: &tileset::Tree, id: usize) -> content::Content {
    let t = &tree.tiles[id];
    let file = t.content.as_ref().unwrap();
    let bytes = std::fs::read(file).unwrap();
    content::decode(
        &bytes,
        content::sniff(&bytes).unwrap(),
        &t.transform,
        file.parent(),
    )
    .unwrap()
}

#[test]
fn the_request_volume_sample_reads_with_its_external_tileset() {
    let tree = tileset::read_tree(&fixture("3dtiles/TilesetWithRequestVolume/tileset.json")).unwrap();
    assert_eq!(tree.version, "1.0");
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    // Root; the tile naming city/tileset.json, whose root is its child with four b3dm
    // children; the building with its transform; the points.
    let parents: Vec<Option<u32>> = tree.tiles.iter().map(|t| t.parent).collect();
    assert_eq!(
        parents,
        [
            None,
            Some(0),
            Some(1),
            Some(2),
            Some(2),
            Some(2),
            Some(2),
            Some(0),
            Some(0)
        ]
    );
    let names: Vec<String> = tree
        .tiles
        .iter()
        .map(|t| {
            t.content
                .as_ref()
                .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        [
            "",
            "",
            "",
            "ll.b3dm",
            "lr.b3dm",
            "ur.b3dm",
            "ul.b3dm",
            "building.b3dm",
            "points.pnts"
        ]
    );
    assert!(tree.tiles.iter().all(|t| t.add), "ADD is inherited");
    assert_eq!(
        (tree.tiles[0].geometric_error, tree.tiles[3].geometric_error),
        (100.0, 0.0)
    );
    // The city tiles: ten buildings each, batched, with their batch table.
    for id in 3..7 {
        let c = decoded(&tree, id);
        let ids: std::collections::BTreeSet<u32> = c
            .model
            .parts
            .iter()
            .flat_map(|p| p.feature_ids.clone().unwrap())
            .collect();
        assert_eq!(ids, (0..10).collect(), "tile {id}");
        let bt = &c.attributes[0];
        assert_eq!(bt["id"].as_array().map(Vec::len), Some(10), "{bt}");
        assert_eq!(bt["Height"].as_array().map(Vec::len), Some(10), "{bt}");
    }
    // The point cloud: 125,000 coloured points.
    let pts = decoded(&tree, 8);
    assert_eq!(pts.points.len(), 125_000);
    assert_eq!(pts.colors.as_ref().map(Vec::len), Some(125_000));
}

/// Each building of the batched city tiles lies where its batch table's longitude and
/// latitude (radians) put it: an independent check of RTC_CENTER, y-up to z-up and placement.
#[test]
fn batched_buildings_lie_at_their_batch_tables_longitude_and_latitude() {
    let tree = tileset::read_tree(&fixture("3dtiles/TilesetWithRequestVolume/tileset.json")).unwrap();
    let mut checked = 0;
    for id in 3..7 {
        let c = decoded(&tree, id);
        let bt = &c.attributes[0];
        for f in 0..10u32 {
            let mut sum = [0.0; 3];
            let mut n = 0.0;
            for p in &c.model.parts {
                for (v, fid) in p.positions.iter().zip(p.feature_ids.as_ref().unwrap()) {
                    if *fid == f {
                        let g = geodetic(*v);
                        sum = [sum[0] + g[0], sum[1] + g[1], sum[2] + g[2]];
                        n += 1.0;
                    }
                }
            }
            let (lon, lat) = (
                bt["Longitude"][f as usize].as_f64().unwrap(),
                bt["Latitude"][f as usize].as_f64().unwrap(),
            );
            // Metres between the building's vertex mean and its stated position.
            let de = (sum[0] / n - lon.to_degrees()).to_radians() * 6_378_137.0 * lat.cos();
            let dn = (sum[1] / n - lat.to_degrees()).to_radians() * 6_378_137.0;
            assert!(
                de.hypot(dn) < 5.0,
                "tile {id} building {f}: {de:.2} m east, {dn:.2} m north of its batch table position"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}

/// ECEF into the project CRS as PROJ does it (GDAL's gdaltransform from EPSG:4978): within
/// 1 cm, on the building's vertices and on the first points of the point tile.
#[test]
fn placement_from_ecef_matches_proj_within_a_centimetre() {
    let tree = tileset::read_tree(&fixture("3dtiles/TilesetWithRequestVolume/tileset.json")).unwrap();
    let mut probe: Vec<[f64; 3]> = decoded(&tree, 7).model.parts[0]
        .positions
        .iter()
        .step_by(97)
        .copied()
        .collect();
    probe.extend(decoded(&tree, 8).points.iter().step_by(25_000).copied());
    probe.extend(
        decoded(&tree, 3).model.parts[0]
            .positions
            .iter()
            .step_by(301)
            .copied(),
    );
    assert!(probe.len() > 10);
    let input: String = probe
        .iter()
        .map(|p| format!("{:.6} {:.6} {:.6}\n", p[0], p[1], p[2]))
        .collect();
    if std::process::Command::new("gdaltransform")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CIM_REQUIRE_PEER_TESTS").is_none(),
            "gdaltransform is missing"
        );
        return;
    }
    let mut child = std::process::Command::new("gdaltransform")
        .args(["-s_srs", "EPSG:4978", "-t_srs", "EPSG:32618"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let proj: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split_whitespace().filter_map(|x| x.parse().ok()).collect())
        .collect();
    assert_eq!(proj.len(), probe.len(), "{text}");
    let mut ours = probe.clone();
    ecef_placer(&utm18()).place(&mut ours).unwrap();
    for (k, (a, b)) in ours.iter().zip(&proj).enumerate() {
        let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
        assert!(
            d.iter().all(|v| v.abs() < 0.01),
            "point {k}: cim {a:?}, PROJ {b:?} ({d:?})"
        );
    }
}

#[test]
fn geodetic_inverts_the_ecef_of_a_point() {
    let p = crate::export::tiles::ecef(113.38, 22.495, 35.2);
    let g = geodetic(p);
    assert!(
        (g[0] - 113.38).abs() < 1e-10 && (g[1] - 22.495).abs() < 1e-10 && (g[2] - 35.2).abs() < 1e-6,
        "{g:?}"
    );
}

/// The same 23 buildings as 3D Tiles 1.0 (b3dm, batch table, y-up glTF with a node matrix)
/// and 1.1 (glb, EXT_mesh_features and EXT_structural_metadata) land in the same place.
#[test]
fn b3dm_and_glb_of_the_same_buildings_land_in_the_same_place() {
    let a = tileset::read_tree(&fixture("3dtiles/pg2b3dm_3dbag_sibbe/tileset_b3dm.json")).unwrap();
    let b = tileset::read_tree(&fixture("3dtiles/pg2b3dm_3dbag_sibbe/tileset_glb.json")).unwrap();
    let (ca, cb) = (decoded(&a, 0), decoded(&b, 0));
    let ids = |c: &content::Content| -> std::collections::BTreeSet<u32> {
        c.model
            .parts
            .iter()
            .flat_map(|p| p.feature_ids.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(ids(&ca), (0..23).collect());
    assert_eq!(ids(&cb), (0..23).collect());
    let (ba, bb) = (ca.bounds().unwrap(), cb.bounds().unwrap());
    for i in 0..6 {
        assert!((ba[i] - bb[i]).abs() < 0.05, "{ba:?} against {bb:?}");
    }
    // In the Dutch grid both lie at Sibbe within the region of the upstream tileset (lon
    // 5.8499–5.8737°, lat 50.8252–50.8399°: RD 187,604–189,270 × 315,140–316,786 by GDAL,
    // widened by 10 m), 151.7–223.5 m above the ellipsoid.
    let rd = Crs::from_epsg(28992).unwrap();
    let mut pts: Vec<[f64; 3]> = cb
        .model
        .parts
        .iter()
        .flat_map(|p| p.positions.iter().copied())
        .collect();
    ecef_placer(&rd).place(&mut pts).unwrap();
    let bounds = bounds_of(&pts);
    assert!(
        bounds[0] > 187_594.0 && bounds[3] < 189_280.0 && bounds[1] > 315_130.0 && bounds[4] < 316_796.0,
        "{bounds:?}"
    );
    assert!(bounds[2] > 151.0 && bounds[5] < 224.0, "{bounds:?}");
    // The batch table and the structural metadata are kept.
    assert_eq!(
        ca.attributes[0]["identificatie"].as_array().map(Vec::len),
        Some(23)
    );
    assert!(
        cb.attributes[0]["propertyTables"].is_array(),
        "{}",
        cb.attributes[0]
    );
}

#[test]
fn implicit_tiling_expands_to_the_available_tiles() {
    let tree = tileset::read_tree(&fixture("3dtiles/SparseImplicitQuadtree/tileset.json")).unwrap();
    assert_eq!(tree.version, "1.1");
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    // 32 content tiles at level 5 and their ancestors.
    let with_content: Vec<&tileset::RawTile> = tree.tiles.iter().filter(|t| t.content.is_some()).collect();
    assert_eq!(with_content.len(), 32);
    assert_eq!(tree.tiles.len(), 63);
    for t in &with_content {
        assert!(t.content.as_ref().unwrap().exists(), "{:?}", t.content);
        assert_eq!(t.geometric_error, 1.0, "32 m halved five times");
    }
    // Each content lies within its tile's volume.
    for (id, t) in tree.tiles.iter().enumerate().filter(|(_, t)| t.content.is_some()) {
        let c = decoded(&tree, id);
        let b = c.bounds().unwrap();
        let tileset::Volume::Box(v) = t.volume else {
            panic!("box")
        };
        let (lo, hi) = ([v[0] - v[3], v[1] - v[7]], [v[0] + v[3], v[1] + v[7]]);
        assert!(
            b[0] >= lo[0] - 1e-6 && b[3] <= hi[0] + 1e-6 && b[1] >= lo[1] - 1e-6 && b[4] <= hi[1] + 1e-6,
            "tile {id}: content {b:?} outside {lo:?}..{hi:?}"
        );
    }
    // Every parent is an earlier tile one level up.
    for (id, t) in tree.tiles.iter().enumerate().skip(1) {
        let p = t.parent.unwrap() as usize;
        assert!(p < id);
        assert_eq!(tree.tiles[p].geometric_error, t.geometric_error * 2.0);
    }
}

#[test]
fn instanced_trees_are_placed_once_per_instance() {
    let tree = tileset::read_tree(&fixture("3dtiles/TilesetWithTreeBillboards/tileset.json")).unwrap();
    let c = decoded(&tree, 1);
    let bytes = std::fs::read(tree.tiles[1].content.as_ref().unwrap()).unwrap();
    // The glTF once, by its own counts.
    let (json, _) = {
        let body = &bytes[32
            + (12..28)
                .step_by(4)
                .map(|o| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize)
                .sum::<usize>()..];
        gltf::split_glb(body).unwrap()
    };
    let once = gltf::count_triangles(&json);
    assert!(once > 0);
    assert_eq!(c.model.triangles(), 25 * once);
    // Trees stand up (east-north-up at each position): each instance taller than wide.
    let mut pts: Vec<[f64; 3]> = c
        .model
        .parts
        .iter()
        .flat_map(|p| p.positions.iter().copied())
        .collect();
    ecef_placer(&utm18()).place(&mut pts).unwrap();
    let b = bounds_of(&pts);
    assert!(b[5] - b[2] > 15.0 && b[5] - b[2] < 30.0, "{b:?}");
}

#[test]
fn damaged_content_is_named_and_the_rest_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("3dtiles/TilesetWithRequestVolume");
    let copy = dir.path().join("set");
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
        std::fs::copy(src.join(f), copy.join(f)).unwrap();
    }
    // ul.b3dm is missing; building.b3dm is cut in half; points.pnts says more points than it has.
    let b = std::fs::read(src.join("building.b3dm")).unwrap();
    std::fs::write(copy.join("building.b3dm"), &b[..b.len() / 2]).unwrap();
    let mut p = std::fs::read(src.join("points.pnts")).unwrap();
    p.truncate(p.len() - 1000);
    let n = p.len() as u32;
    p[8..12].copy_from_slice(&n.to_le_bytes());
    std::fs::write(copy.join("points.pnts"), &p).unwrap();
    let crs = utm18();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let r = import_3dtiles(
        &mut project,
        &copy.join("tileset.json"),
        &Tiles3dOptions::default(),
    )
    .unwrap();
    let said: Vec<String> = r.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(said.len(), 3, "{said:?}");
    assert!(
        said.iter()
            .any(|w| w.contains("ul.b3dm") && w.contains("cannot read it")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|w| w.contains("building.b3dm") && w.contains("truncated")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|w| w.contains("points.pnts") && w.contains("run past")),
        "{said:?}"
    );
    assert_eq!(r.contents.get("b3dm"), Some(&3));
    assert_eq!(r.tileset.tiles, 9);
    // Under --strict nothing is written.
    let strict = Tiles3dOptions {
        name: Some("strict".into()),
        strict: true,
        ..Tiles3dOptions::default()
    };
    let e = import_3dtiles(&mut project, &copy.join("tileset.json"), &strict)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--strict"), "{e}");
    assert_eq!(project.tilesets().unwrap().len(), 1);
}

#[test]
fn a_subtree_with_a_wrong_length_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("3dtiles/SparseImplicitQuadtree");
    let copy = dir.path().join("set");
    std::fs::create_dir_all(copy.join("subtrees")).unwrap();
    std::fs::create_dir_all(copy.join("content")).unwrap();
    for e in std::fs::read_dir(src.join("content")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join("content").join(e.file_name())).unwrap();
    }
    for e in std::fs::read_dir(src.join("subtrees")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join("subtrees").join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join("tileset.json"), copy.join("tileset.json")).unwrap();
    let root = copy.join("subtrees/0.0.0.subtree");
    let mut b = std::fs::read(&root).unwrap();
    b.truncate(b.len() - 3);
    std::fs::write(&root, &b).unwrap();
    let e = tileset::read_tree(&copy.join("tileset.json")).unwrap_err();
    assert!(e.contains("0.0.0.subtree") && e.contains("wrong length"), "{e}");
    // A deeper one: its tiles are left out with a warning, the rest reads.
    std::fs::copy(src.join("subtrees/0.0.0.subtree"), &root).unwrap();
    std::fs::write(copy.join("subtrees/3.3.6.subtree"), b"subt").unwrap();
    let tree = tileset::read_tree(&copy.join("tileset.json")).unwrap();
    assert_eq!(tree.warnings.len(), 1);
    assert!(
        tree.warnings[0].0.ends_with("3.3.6.subtree") && tree.warnings[0].1.contains("truncated"),
        "{:?}",
        tree.warnings
    );
    assert!(
        tree.tiles.len() < 63 && tree.tiles.len() > 40,
        "{}",
        tree.tiles.len()
    );
}

#[test]
fn a_tileset_in_local_coordinates_asks_for_an_origin_and_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let crs = utm18();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let path = fixture("3dtiles/SparseImplicitQuadtree/tileset.json");
    let e = import_3dtiles(&mut project, &path, &Tiles3dOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not georeferenced") && e.contains("--origin"), "{e}");
    let o = Tiles3dOptions {
        origin: Some([447_600.0, 4_432_500.0, 10.0, 90.0]),
        ..Tiles3dOptions::default()
    };
    let r = import_3dtiles(&mut project, &path, &o).unwrap();
    // The unit square turned 90° about the origin: x from −1 to 0 east, y from 0 to 1 north.
    let b = r.tileset.bounds;
    let near = |a: f64, e: f64| (a - e).abs() < 1e-6;
    assert!(
        near(b[0], 447_599.0) && near(b[3], 447_600.0) && near(b[1], 4_432_500.0) && near(b[4], 4_432_501.0),
        "{b:?}"
    );
    assert_eq!((r.tileset.tiles, r.contents.get("glb")), (63, Some(&32)));
    assert_eq!(
        project.tilesets().unwrap()[0].frame,
        ContentFrame::Local {
            origin: [447_600.0, 4_432_500.0, 10.0, 90.0]
        }
    );
}

#[test]
fn packed_and_referenced_content_decode_alike_from_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let crs = utm18();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let path = fixture("3dtiles/TilesetWithRequestVolume/tileset.json");
    let packed = import_3dtiles(
        &mut project,
        &path,
        &Tiles3dOptions {
            name: Some("packed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let referenced = import_3dtiles(
        &mut project,
        &path,
        &Tiles3dOptions {
            name: Some("referenced".into()),
            reference: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        (packed.tileset.triangles, packed.tileset.points),
        (referenced.tileset.triangles, referenced.tileset.points)
    );
    assert!(packed.tileset.root.is_none() && referenced.tileset.root.is_some());
    let sets = project.tilesets().unwrap();
    let placer = Placer::new(&sets[0].frame, project.crs()).unwrap();
    for name in ["packed", "referenced"] {
        let tiles = project.tiles(name).unwrap();
        let (t, _) = &tiles[7];
        match (&t.content, name) {
            (TileContent::Packed { .. }, "packed") | (TileContent::Referenced { .. }, "referenced") => {}
            other => panic!("{other:?}"),
        }
        let format = match &t.content {
            TileContent::Packed { format, .. } | TileContent::Referenced { format, .. } => format.clone(),
            TileContent::None => unreachable!(),
        };
        let bytes = project.tile_bytes(name, 7).unwrap().unwrap();
        let c = decode_tile(&bytes, &format, t.transform.as_ref(), &placer, None).unwrap();
        let b = c.bounds().unwrap();
        // Inside the tile's stored bounds, near Exton at the project's heights.
        for i in 0..3 {
            assert!(
                b[i] >= t.bounds[i] - 1e-6 && b[i + 3] <= t.bounds[i + 3] + 1e-6,
                "{b:?} in {:?}",
                t.bounds
            );
        }
        assert!(
            b[0] > 447_000.0 && b[3] < 448_500.0 && b[2] > -5.0 && b[5] < 70.0,
            "{b:?}"
        );
    }
}

fn glb_model(rel: &str) -> gltf::Model {
    let bytes = std::fs::read(fixture(rel)).unwrap();
    let (json, bin) = gltf::split_glb(&bytes).unwrap();
    gltf::read_gltf(&json, bin, None).unwrap()
}

/// Every vertex of `a` has one of `b` within `tol`, and both have the same triangles.
fn same_geometry(a: &gltf::Model, b: &gltf::Model, tol: f64) {
    assert_eq!(a.triangles(), b.triangles());
    let pa: Vec<[f64; 3]> = a
        .parts
        .iter()
        .flat_map(|p| {
            p.triangles
                .iter()
                .flat_map(|t| t.map(|i| p.positions[i as usize]))
        })
        .collect();
    let pb: Vec<[f64; 3]> = b
        .parts
        .iter()
        .flat_map(|p| {
            p.triangles
                .iter()
                .flat_map(|t| t.map(|i| p.positions[i as usize]))
        })
        .collect();
    for p in &pa {
        assert!(
            pb.iter().any(|q| (0..3).all(|k| (p[k] - q[k]).abs() <= tol)),
            "{p:?} has no match"
        );
    }
    for q in &pb {
        assert!(
            pa.iter().any(|p| (0..3).all(|k| (p[k] - q[k]).abs() <= tol)),
            "{q:?} has no match"
        );
    }
}

#[test]
fn draco_and_meshopt_boxes_decode_to_the_plain_box() {
    let plain = glb_model("gltf/compression/Box.glb");
    assert_eq!(plain.triangles(), 12);
    // Draco quantises positions (the box is 1 m across): within a millimetre.
    same_geometry(&plain, &glb_model("gltf/compression/BoxDraco.glb"), 1e-3);
    // meshopt with KHR_mesh_quantization: integer positions scaled by the node back to metres.
    same_geometry(&plain, &glb_model("gltf/compression/BoxMeshopt.glb"), 1e-3);
}

#[test]
fn the_meshopt_pirate_decodes_whole() {
    let m = glb_model("gltf/pirate_meshopt.glb");
    assert_eq!(m.parts.len(), 1);
    assert_eq!(m.parts[0].positions.len(), 2_887);
    assert_eq!(m.triangles(), 15_030 / 3);
    let b = bounds_of(&m.parts[0].positions);
    // A figure about a metre tall, not the raw 16-bit integers.
    assert!(
        b.iter().all(|v| v.is_finite()) && b[4] - b[1] > 0.5 && b[4] - b[1] < 5.0,
        "{b:?}"
    );
}

#[test]
fn a_corrupted_draco_buffer_is_an_error_not_a_panic() {
    let mut bytes = std::fs::read(fixture("gltf/compression/BoxDraco.glb")).unwrap();
    let (json, _) = gltf::split_glb(&bytes).unwrap();
    // Scribble over the Draco stream (in the binary chunk after the JSON one).
    let json_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let bin_start = 20 + json_len + 8;
    for b in bytes[bin_start + 10..].iter_mut().step_by(3) {
        *b ^= 0x5A;
    }
    let (_, bin) = gltf::split_glb(&bytes).unwrap();
    let e = gltf::read_gltf(&json, bin, None).unwrap_err();
    assert!(
        e.contains("Draco") || e.contains("POSITION") || e.contains("point"),
        "{e}"
    );
}

/// A pnts of four coloured points at an RTC centre, quantized; an i3dm of the box three times
/// (normals up/right, a scale); both in a cmpt with a b3dm: each read as written.
#[test]
fn pnts_i3dm_and_cmpt_read_as_written() {
    use serde_json::json;
    // Quantized positions: offset (10, 20, 30), scale (2, 2, 2).
    let q: Vec<u8> = [[0u16, 0, 0], [65535, 0, 0], [0, 65535, 0], [0, 0, 65535]]
        .iter()
        .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let mut bin = q.clone();
    bin.extend_from_slice(&[0u8; 0]);
    let rgb_at = bin.len();
    bin.extend_from_slice(&[255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]);
    let pnts = content::container(
        b"pnts",
        &json!({"POINTS_LENGTH": 4, "POSITION_QUANTIZED": {"byteOffset": 0}, "QUANTIZED_VOLUME_OFFSET": [10.0, 20.0, 30.0],
                "QUANTIZED_VOLUME_SCALE": [2.0, 2.0, 2.0], "RGB": {"byteOffset": rgb_at}, "RTC_CENTER": [1000.0, 0.0, 0.0]}),
        &bin,
        None,
        &[],
    );
    let c = content::decode(&pnts, "pnts", &IDENTITY, None).unwrap();
    assert_eq!(
        c.points,
        [
            [1010.0, 20.0, 30.0],
            [1012.0, 20.0, 30.0],
            [1010.0, 22.0, 30.0],
            [1010.0, 20.0, 32.0]
        ]
    );
    assert_eq!(c.colors.as_ref().unwrap()[1], [0, 255, 0]);
    // The box (1 m, centred) three times: at x = 0, 10, 20, the last scaled 2×, all turned so
    // that their x runs north (right = north, up = up).
    let glb = std::fs::read(fixture("gltf/compression/Box.glb")).unwrap();
    let pos: Vec<u8> = [[0f32, 0.0, 0.0], [10.0, 0.0, 0.0], [20.0, 0.0, 0.0]]
        .iter()
        .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let up: Vec<u8> = [[0f32, 0.0, 1.0]; 3]
        .iter()
        .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let right: Vec<u8> = [[0f32, 1.0, 0.0]; 3]
        .iter()
        .flat_map(|p| p.iter().flat_map(|v| v.to_le_bytes()))
        .collect();
    let scale: Vec<u8> = [1f32, 1.0, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut bin = pos;
    let up_at = bin.len();
    bin.extend(up);
    let right_at = bin.len();
    bin.extend(right);
    let scale_at = bin.len();
    bin.extend(scale);
    let i3dm = content::container(
        b"i3dm",
        &json!({"INSTANCES_LENGTH": 3, "POSITION": {"byteOffset": 0}, "NORMAL_UP": {"byteOffset": up_at},
                "NORMAL_RIGHT": {"byteOffset": right_at}, "SCALE": {"byteOffset": scale_at}}),
        &bin,
        Some(&json!({"name": ["a", "b", "c"]})),
        &glb,
    );
    let c = content::decode(&i3dm, "i3dm", &IDENTITY, None).unwrap();
    assert_eq!(c.model.triangles(), 36);
    let b = c.bounds().unwrap();
    let near = |a: f64, e: f64| (a - e).abs() < 1e-6;
    // x from the first box's −0.5 to the third's 21; y (the boxes' x, turned) ±1 at most.
    assert!(
        near(b[0], -0.5) && near(b[3], 21.0) && near(b[1], -1.0) && near(b[4], 1.0),
        "{b:?}"
    );
    assert_eq!(c.attributes[0]["name"][2], "c");
    // All three in a composite with a city tile.
    let b3dm = std::fs::read(fixture("3dtiles/TilesetWithRequestVolume/city/ll.b3dm")).unwrap();
    let cmpt = content::composite(&[pnts, i3dm.clone(), b3dm.clone()]);
    let c = content::decode(&cmpt, "cmpt", &IDENTITY, None).unwrap();
    let alone = content::decode(&b3dm, "b3dm", &IDENTITY, None).unwrap();
    assert_eq!(c.points.len(), 4);
    assert_eq!(c.model.triangles(), 36 + alone.model.triangles());
    // Cut short: the inner tile and the reason.
    let e = content::decode(&cmpt[..cmpt.len() - 100], "cmpt", &IDENTITY, None).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
    let e = content::decode(&i3dm[..40], "i3dm", &IDENTITY, None).unwrap_err();
    assert!(e.contains("truncated"), "{e}");
}

/// A glTF model placed by --origin (turned 90°: its x runs north) and a .gltf whose buffer and
/// image lie in files, packed into one GLB: both decode back from the project.
#[test]
fn gltf_models_are_placed_by_their_origin_and_packed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let crs = utm18();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let house = fixture("gltf/house1-1.glb");
    let e = model::import_model(&mut project, &house, None, None, None, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--origin") && e.contains("house1-1.glb"), "{e}");
    let r = model::import_model(
        &mut project,
        &house,
        None,
        Some([447_600.0, 4_432_500.0, 10.0, 90.0]),
        None,
        false,
    )
    .unwrap();
    assert_eq!(r.tileset.triangles, 340);
    // The model's own box, turned z up then 90° anticlockwise, at the origin.
    let bytes = std::fs::read(&house).unwrap();
    let (json, bin) = gltf::split_glb(&bytes).unwrap();
    let m = gltf::read_gltf(&json, bin, None).unwrap();
    let local: Vec<[f64; 3]> = m
        .parts
        .iter()
        .flat_map(|p| {
            p.positions
                .iter()
                .map(|v| gltf::apply(&content::Y_UP_TO_Z_UP, *v))
        })
        .collect();
    let lb = bounds_of(&local);
    let b = r.tileset.bounds;
    let near = |a: f64, e: f64| (a - e).abs() < 1e-6;
    // x' = E − y, y' = N + x, z' = H + z.
    assert!(
        near(b[0], 447_600.0 - lb[4]) && near(b[3], 447_600.0 - lb[1]),
        "{b:?} from {lb:?}"
    );
    assert!(
        near(b[1], 4_432_500.0 + lb[0]) && near(b[4], 4_432_500.0 + lb[3]),
        "{b:?} from {lb:?}"
    );
    assert!(
        near(b[2], 10.0 + lb[2]) && near(b[5], 10.0 + lb[5]),
        "{b:?} from {lb:?}"
    );
    // BoxTextured with its buffer and PNG in files beside it.
    let text = std::fs::read_to_string(fixture("gltf/BoxTextured.gltf")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let buffer = gltf::uri_bytes(doc["buffers"][0]["uri"].as_str().unwrap(), None).unwrap();
    std::fs::write(dir.path().join("box.bin"), &buffer).unwrap();
    doc["buffers"][0]["uri"] = serde_json::json!("box.bin");
    let png = gltf::uri_bytes(doc["images"][0]["uri"].as_str().unwrap(), None).unwrap();
    std::fs::write(dir.path().join("logo%20.png".replace("%20", " ")), &png).unwrap();
    doc["images"][0]["uri"] = serde_json::json!("logo%20.png");
    let file = dir.path().join("box.gltf");
    std::fs::write(&file, doc.to_string()).unwrap();
    let r = model::import_model(
        &mut project,
        &file,
        None,
        Some([447_700.0, 4_432_500.0, 0.0, 0.0]),
        None,
        false,
    )
    .unwrap();
    assert_eq!((r.tileset.triangles, r.images), (12, 1));
    let (t, _) = &project.tiles("box").unwrap()[0];
    let TileContent::Packed { format, .. } = &t.content else {
        panic!("{:?}", t.content)
    };
    assert_eq!(format, "glb");
    let bytes = project.tile_bytes("box", 0).unwrap().unwrap();
    let placer = Placer::new(&project.tilesets().unwrap()[0].frame, project.crs()).unwrap();
    let c = decode_tile(&bytes, "glb", None, &placer, None).unwrap();
    assert_eq!((c.model.triangles(), c.model.images.len()), (12, 1));
    assert_eq!(c.model.images[0].bytes, png);
    assert!(c.model.parts[0].uvs.is_some());
}

/// An OBJ in projected coordinates (z up) with its MTL and a PNG texture, placed by
/// --src-crs to the millimetre; a texture that is missing is a warning, not a failure.
#[test]
fn an_obj_with_its_mtl_and_texture_becomes_a_model_tileset() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("gltf/BoxTextured.gltf")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let png = gltf::uri_bytes(doc["images"][0]["uri"].as_str().unwrap(), None).unwrap();
    std::fs::write(dir.path().join("facade.png"), &png).unwrap();
    std::fs::write(
        dir.path().join("house.mtl"),
        "newmtl wall\nKd 0.8 0.7 0.6\nmap_Kd facade.png\nnewmtl roof\nKd 0.6 0.1 0.1\nmap_Kd missing.jpg\n",
    )
    .unwrap();
    // A 10 × 8 m box, 6 m high, walls textured, roof red, at (447,600.123, 4,432,500.456, 20).
    let (x, y, z) = (447_600.123, 4_432_500.456, 20.0);
    let mut obj = String::from("mtllib house.mtl\no house\n");
    for (dx, dy, dz) in [
        (0.0, 0.0, 0.0),
        (10.0, 0.0, 0.0),
        (10.0, 8.0, 0.0),
        (0.0, 8.0, 0.0),
        (0.0, 0.0, 6.0),
        (10.0, 0.0, 6.0),
        (10.0, 8.0, 6.0),
        (0.0, 8.0, 6.0),
    ] {
        obj += &format!("v {:.3} {:.3} {:.3}\n", x + dx, y + dy, z + dz);
    }
    obj += "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl wall\n";
    obj += "f 1/1 2/2 6/3 5/4\nf 2/1 3/2 7/3 6/4\nf 3/1 4/2 8/3 7/4\nf 4/1 1/2 5/3 8/4\nusemtl roof\nf 5/1 6/2 7/3 8/4\n";
    let file = dir.path().join("house.obj");
    std::fs::write(&file, obj).unwrap();
    let crs = utm18();
    let mut project = Project::create(&dir.path().join("p.cim.gpkg"), &crs, "000000").unwrap();
    let r = model::import_model(&mut project, &file, None, None, Some(&crs), false).unwrap();
    assert_eq!((r.tileset.triangles, r.images), (10, 1));
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].to_string().contains("missing.jpg"),
        "{:?}",
        r.warnings
    );
    let b = r.tileset.bounds;
    let want = [x, y, z, x + 10.0, y + 8.0, z + 6.0];
    for i in 0..6 {
        assert!((b[i] - want[i]).abs() < 1e-3, "{b:?} against {want:?}");
    }
    // Back from the project: textured walls, the roof's colour.
    let bytes = project.tile_bytes("house", 0).unwrap().unwrap();
    let placer = Placer::new(&project.tilesets().unwrap()[0].frame, project.crs()).unwrap();
    let c = decode_tile(&bytes, "glb", None, &placer, None).unwrap();
    assert_eq!(c.model.images[0].bytes, png);
    let roof = c.model.materials.iter().find(|m| m.image.is_none()).unwrap();
    assert!((roof.color[0] - 0.6).abs() < 1e-6 && (roof.color[1] - 0.1).abs() < 1e-6);
    let top = c
        .model
        .parts
        .iter()
        .flat_map(|p| p.positions.iter())
        .map(|q| q[2])
        .fold(f64::MIN, f64::max);
    assert!((top - (z + 6.0)).abs() < 1e-3, "{top}");
    // Not an OBJ.
    std::fs::write(dir.path().join("bad.obj"), "v 1 2\nf 1 2 3\n").unwrap();
    let e = model::import_model(
        &mut project,
        &dir.path().join("bad.obj"),
        None,
        None,
        Some(&crs),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("bad.obj"), "{e}");
}

/// Triangles, points and the bounds of every tile's content, decoded and placed from the
/// project.
fn content_of(project: &Project, name: &str) -> (u64, u64, [f64; 6]) {
    let set = project
        .tilesets()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    let placer = Placer::new(&set.frame, project.crs()).unwrap();
    let base = set.root.as_ref().map(PathBuf::from);
    let (mut tri, mut pts) = (0, 0);
    let mut b = crate::pointcloud::bounds_of(std::iter::empty());
    for (t, _) in project.tiles(name).unwrap() {
        let format = match &t.content {
            TileContent::Packed { format, .. } | TileContent::Referenced { format, .. } => format.clone(),
            TileContent::None => continue,
        };
        let bytes = project.tile_bytes(name, t.id).unwrap().unwrap();
        let c = decode_tile(&bytes, &format, t.transform.as_ref(), &placer, base.as_deref()).unwrap();
        tri += c.model.triangles();
        pts += c.points.len() as u64;
        if let Some(cb) = c.bounds() {
            b = union(b, cb);
        }
    }
    (tri, pts, b)
}

/// Every kind of tileset out as 3D Tiles (1.1 and 1.0) and back in through our reader: the
/// same triangles and points, within a centimetre.
#[test]
fn tilesets_round_trip_through_a_3d_tiles_export() {
    let dir = tempfile::tempdir().unwrap();
    let check = |project: &mut Project, names: &[&str], crs: &Crs, tag: &str| {
        for (version, v) in [
            (crate::export::tiles::TilesVersion::V1_1, "11"),
            (crate::export::tiles::TilesVersion::V1_0, "10"),
        ] {
            let out = dir.path().join(format!("{tag}-{v}"));
            let opts = crate::export::tiles::TilesOptions {
                version,
                ..Default::default()
            };
            crate::export::tiles::write_3dtiles(project, &cim_engine::FeatureFilter::default(), &out, &opts)
                .unwrap();
            let mut back =
                Project::create(&dir.path().join(format!("{tag}-{v}.cim.gpkg")), crs, "000000").unwrap();
            for name in names {
                let path = out.join("tilesets").join(name).join("tileset.json");
                let r = import_3dtiles(
                    &mut back,
                    &path,
                    &Tiles3dOptions {
                        name: Some(name.to_string()),
                        ..Default::default()
                    },
                )
                .unwrap();
                assert!(r.warnings.is_empty(), "{name} {v}: {:?}", r.warnings);
                let (a, b) = (content_of(project, name), content_of(&back, name));
                assert_eq!((a.0, a.1), (b.0, b.1), "{name} {v}");
                for i in 0..6 {
                    assert!(
                        (a.2[i] - b.2[i]).abs() < 0.01,
                        "{name} {v}: {:?} against {:?}",
                        a.2,
                        b.2
                    );
                }
            }
        }
    };
    // 3D Tiles as delivered (ECEF, external tileset, b3dm, pnts), an implicit tileset placed by
    // --origin and a glTF model, in UTM 18N.
    let crs = utm18();
    let mut p = Project::create(&dir.path().join("a.cim.gpkg"), &crs, "000000").unwrap();
    import_3dtiles(
        &mut p,
        &fixture("3dtiles/TilesetWithRequestVolume/tileset.json"),
        &Tiles3dOptions {
            name: Some("city".into()),
            ..Default::default()
        },
    )
    .unwrap();
    import_3dtiles(
        &mut p,
        &fixture("3dtiles/SparseImplicitQuadtree/tileset.json"),
        &Tiles3dOptions {
            name: Some("sparse".into()),
            origin: Some([447_600.0, 4_432_500.0, 10.0, 30.0]),
            ..Default::default()
        },
    )
    .unwrap();
    model::import_model(
        &mut p,
        &fixture("gltf/house1-1.glb"),
        Some("house"),
        Some([447_650.0, 4_432_550.0, 5.0, 0.0]),
        None,
        false,
    )
    .unwrap();
    check(&mut p, &["city", "sparse", "house"], &crs, "utm");
    // Oblique photography in the standard GK zone, and lidar in UTM 10N.
    let gk = Crs::from_epsg(4547).unwrap();
    let mut p = Project::create(&dir.path().join("b.cim.gpkg"), &gk, "442000").unwrap();
    crate::osgb::import_osgb(
        &mut p,
        &fixture("osgb/scially_Production_5"),
        &crate::osgb::OsgbOptions {
            name: Some("photo".into()),
            ..Default::default()
        },
    )
    .unwrap();
    check(&mut p, &["photo"], &gk, "osgb");
    let utm10 = Crs::from_epsg(32610).unwrap();
    let mut p = Project::create(&dir.path().join("c.cim.gpkg"), &utm10, "000000").unwrap();
    crate::pointcloud::import_point_cloud(
        &mut p,
        &fixture("pointcloud/autzen_trim.laz"),
        Some("autzen"),
        None,
    )
    .unwrap();
    check(&mut p, &["autzen"], &utm10, "lidar");
}

/// A glTF of the fixtures decoded as content, in its own frame.
fn gltf_content(rel: &str) -> content::Content {
    let file = fixture(rel);
    let bytes = std::fs::read(&file).unwrap();
    content::decode(&bytes, "gltf", &gltf::translation([0.0; 3]), file.parent()).unwrap()
}

#[test]
fn property_tables_are_decoded_into_each_features_values() {
    // The sample's README: four VEC3 FLOAT32 values, feature 2's is (2.0, 2.1, 2.2).
    let c = gltf_content(
        "3dtiles/EXT_structural_metadata/FeatureIdAttributeAndPropertyTable/FeatureIdAttributeAndPropertyTable.gltf",
    );
    assert_eq!(
        c.feature_properties(2),
        vec![(
            "example_VEC3_FLOAT32".to_string(),
            serde_json::json!([2.0, 2.1, 2.2])
        )]
    );
    assert!(c.feature_properties(4).is_empty());
    // Two classes, two tables: the first table's row for a feature; every column decoded.
    let c = gltf_content("3dtiles/EXT_structural_metadata/MultipleClasses/MultipleClasses.gltf");
    let row: std::collections::BTreeMap<String, serde_json::Value> =
        c.feature_properties(1).into_iter().collect();
    assert_eq!(row["example_FLOAT32"], serde_json::json!(2.2));
    assert_eq!(row["example_INT64"], serde_json::json!(2_345_678));
    let tables = c.attributes[0]["decoded"].as_array().unwrap();
    assert_eq!(
        tables[1]["properties"]["example_UINT16"],
        serde_json::json!([12345, 23456, 34567, 45678])
    );
    assert_eq!(
        tables[1]["properties"]["example_FLOAT64"],
        serde_json::json!([1.234567, 2.345678, 3.456789, 4.567890])
    );
    assert!(c.attributes[0].get("problems").is_none());
}

#[test]
fn batch_tables_give_each_feature_its_values_binary_ones_too() {
    let file = fixture("3dtiles/TilesetWithRequestVolume/city/lr.b3dm");
    let bytes = std::fs::read(&file).unwrap();
    let c = content::decode(&bytes, "b3dm", &gltf::translation([0.0; 3]), None).unwrap();
    let row: std::collections::BTreeMap<String, serde_json::Value> =
        c.feature_properties(3).into_iter().collect();
    assert_eq!(row["id"], serde_json::json!(3));
    assert!(row["Longitude"].as_f64().unwrap() < -1.31, "{row:?}");
    // The same b3dm with a binary batch table: a FLOAT height and a VEC2 of UNSIGNED_SHORT for
    // its ten buildings, and a JSON name.
    let u = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let (ftj, ftb, btj, btb) = (u(12), u(16), u(20), u(24));
    let ft = &bytes[28..28 + ftj + ftb];
    let glb = &bytes[28 + ftj + ftb + btj + btb..];
    let mut json = serde_json::json!({
        "height": {"byteOffset": 0, "componentType": "FLOAT", "type": "SCALAR"},
        "floors": {"byteOffset": 40, "componentType": "UNSIGNED_SHORT", "type": "VEC2"},
        "name": (0..10).map(|k| format!("b{k}")).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut bin = Vec::new();
    for k in 0..10u16 {
        bin.extend_from_slice(&(f32::from(k) * 3.5).to_le_bytes());
    }
    for k in 0..10u16 {
        bin.extend_from_slice(&k.to_le_bytes());
        bin.extend_from_slice(&(k + 1).to_le_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(&bytes[..12]);
    out.extend_from_slice(&(ftj as u32).to_le_bytes());
    out.extend_from_slice(&(ftb as u32).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(ft);
    out.extend_from_slice(&json);
    out.extend_from_slice(&bin);
    out.extend_from_slice(glb);
    let total = out.len() as u32;
    out[8..12].copy_from_slice(&total.to_le_bytes());
    let c = content::decode(&out, "b3dm", &gltf::translation([0.0; 3]), None).unwrap();
    let row: std::collections::BTreeMap<String, serde_json::Value> =
        c.feature_properties(4).into_iter().collect();
    assert_eq!(row["height"], serde_json::json!(14.0));
    assert_eq!(row["floors"], serde_json::json!([4, 5]));
    assert_eq!(row["name"], serde_json::json!("b4"));
    // A binary property running past the binary is said, the others kept.
    let mut short = out.clone();
    let at = 28 + ftj + ftb;
    let text = String::from_utf8(short[at..at + json.len()].to_vec())
        .unwrap()
        .replace("\"byteOffset\":40", "\"byteOffset\":44");
    short[at..at + json.len()].copy_from_slice(text.as_bytes());
    let c = content::decode(&short, "b3dm", &gltf::translation([0.0; 3]), None).unwrap();
    let row: std::collections::BTreeMap<String, serde_json::Value> =
        c.feature_properties(4).into_iter().collect();
    assert!(
        !row.contains_key("floors") && row.contains_key("height"),
        "{row:?}"
    );
    let problems = c.attributes[0]["cim_problems"].to_string();
    assert!(problems.contains("floors"), "{problems}");
}

#[test]
fn metadata_of_the_wrong_shape_is_not_a_panic() {
    // Found by the fuzzer: EXT_structural_metadata as an array, a batch table as an array.
    let gltf = br#"{"asset":{"version":"2.0"},"extensions":{"EXT_structural_metadata":[{"children":[1]}]}}"#;
    let c = content::decode(gltf, "gltf", &gltf::translation([0.0; 3]), None);
    match c {
        Ok(c) => assert!(c.attributes.is_empty()),
        Err(e) => assert!(!e.is_empty()),
    }
    let bt = serde_json::json!([1, 2]);
    let mut problems = Vec::new();
    let out = metadata::batch_table(bt.clone(), &[], 2, &mut problems);
    assert_eq!(out, bt);
    assert!(metadata::feature_properties(&[out], 0).is_empty());
    // A property table naming a class that is not there, and views that are not there.
    let ext = serde_json::json!({"schema": {"classes": {}}});
    let table = serde_json::json!({"class": "x/y", "count": 3, "properties": {"a": {"values": 9}}});
    let t = metadata::property_table(&ext, &table, &|_| None, &mut problems);
    assert_eq!(t["properties"], serde_json::json!({}));
    assert!(problems.iter().any(|p| p.contains("'a'")), "{problems:?}");
}
