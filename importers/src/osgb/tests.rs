use super::*;

fn fixture(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel);
    assert!(p.exists(), "fixture {} missing", p.display());
    p
}

fn production() -> PathBuf {
    fixture("osgb/scially_Production_5")
}

fn tile(level: &str) -> PathBuf {
    production()
        .join("Data/Tile_+000_+012")
        .join(format!("Tile_+000_+012{level}.osgb"))
}

fn scene(path: &Path) -> reader::Scene {
    reader::read_osgb(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_fanvanzh_tile_reads_with_its_texture_and_its_paged_child() {
    let s = scene(&fixture("mesh/fanvanzh_3dtiles_test.osgb"));
    assert_eq!(s.version, 91);
    let counts: Vec<(usize, usize)> = s
        .geometries
        .iter()
        .map(|g| (g.positions.len(), g.triangles.len()))
        .collect();
    assert_eq!(counts, [(194, 112), (6, 2)]);
    assert_eq!(s.images.len(), 1);
    assert_eq!(
        (s.images[0].mime.as_str(), s.images[0].bytes.len()),
        ("image/jpeg", 16_767)
    );
    assert_eq!(s.geometries[0].image, Some(0));
    assert_eq!(s.geometries[1].image, None);
    assert_eq!(s.geometries[0].uvs.as_ref().map(Vec::len), Some(194));
    assert_eq!(s.paged.len(), 1);
    let p = &s.paged[0];
    assert_eq!(p.range_mode, 1);
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].0, "Tile_+000_+000_L16_0.osgb");
    assert!(
        (p.radius - 36.65).abs() < 0.01 && (p.center[2] - 438.41).abs() < 0.01,
        "{p:?}"
    );
}

#[test]
fn the_production_pyramid_reads_level_by_level() {
    // (vertices, triangles, images) of each level, as the OSG serializers lay them out.
    let want = [
        ("", 6_746, 3_434, 1),
        ("_L15_0u", 9_886, 5_325, 1),
        ("_L16_0uu", 15_730, 9_216, 1),
        ("_L17_0uuu", 25_624, 16_928, 1),
        ("_L18_0uuuu", 40_919, 29_910, 4),
    ];
    for (level, v, t, i) in want {
        let s = scene(&tile(level));
        assert_eq!(s.version, 80, "{level}");
        let verts: usize = s.geometries.iter().map(|g| g.positions.len()).sum();
        assert_eq!(
            (verts, s.triangles() as usize, s.images.len()),
            (v, t, i),
            "{level}"
        );
        assert!(s.images.iter().all(|im| im.mime == "image/jpeg"), "{level}");
        // Local coordinates of a 100 m block at index (+000, +012).
        for g in &s.geometries {
            for q in &g.positions {
                assert!(
                    q[0] > -0.2
                        && q[0] < 100.2
                        && q[1] > 1199.8
                        && q[1] < 1300.4
                        && q[2] > 2.7
                        && q[2] < 51.1,
                    "{level}: {q:?}"
                );
            }
        }
    }
    let deepest = scene(&tile("_L18_0uuuu"));
    let files: Vec<&str> = deepest
        .paged
        .iter()
        .flat_map(|p| p.files.iter().map(|f| f.0.as_str()))
        .collect();
    assert_eq!(
        files,
        [
            "Tile_+000_+012_L19_0uuuu0.osgb",
            "Tile_+000_+012_L19_0uuuu1.osgb",
            "Tile_+000_+012_L19_0uuuu2.osgb",
            "Tile_+000_+012_L19_0uuuu3.osgb"
        ]
    );
}

#[test]
fn metadata_takes_the_wkt_over_its_mislabelled_epsg_code() {
    let m = read_metadata(&production().join("metadata.xml")).unwrap();
    assert_eq!(m.origin, [501_027.524, 2_488_718.808, 0.0]);
    let Srs::Crs { crs, .. } = &m.srs else {
        panic!("{:?}", m.srs)
    };
    assert!(
        crs.proj4().contains("+lon_0=113.37") && crs.proj4().contains("+y_0=90"),
        "{}",
        crs.proj4()
    );
    let dir = tempfile::tempdir().unwrap();
    for (srs, want) in [
        ("EPSG:4547", None),
        ("ENU:22.495,113.38", None),
        ("LOCAL", Some("cim reads EPSG:n")),
        ("EPSG:4326", Some("not a projected CRS")),
        ("ENU:222,1", Some("latitude")),
    ] {
        let p = dir.path().join("metadata.xml");
        std::fs::write(
            &p,
            format!("<ModelMetadata><SRS>{srs}</SRS><SRSOrigin>1,2,3</SRSOrigin></ModelMetadata>"),
        )
        .unwrap();
        match (read_metadata(&p), want) {
            (Ok(_), None) => {}
            (Err(e), Some(w)) => assert!(
                e.to_string().contains(w) && e.to_string().contains("metadata.xml"),
                "{e}"
            ),
            (r, w) => panic!("{srs}: {r:?} where {w:?} was wanted"),
        }
    }
}

fn project(dir: &Path, crs: &Crs) -> Project {
    Project::create(&dir.join("p.cim.gpkg"), crs, "442000").unwrap()
}

/// In the dataset's own CRS the tiles are placed exactly: the origin plus the local
/// coordinates; errors halve level by level; the absent deepest level ends the pyramid.
#[test]
fn a_dataset_in_the_project_crs_is_placed_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let crs = match read_metadata(&production().join("metadata.xml")).unwrap().srs {
        Srs::Crs { crs, .. } => crs,
        other => panic!("{other:?}"),
    };
    let mut p = project(dir.path(), &crs);
    let r = import_osgb(&mut p, &production(), &OsgbOptions::default()).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!((r.blocks, r.absent, r.tileset.tiles), (1, 4, 6));
    assert_eq!(r.tileset.triangles, 3_434 + 5_325 + 9_216 + 16_928 + 29_910);
    let tiles = p.tiles(&r.tileset.name).unwrap();
    // Bounds of the block's first tile: origin + the local box of its files (it holds its
    // finer levels), to the millimetre.
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    for level in ["", "_L15_0u", "_L16_0uu", "_L17_0uuu", "_L18_0uuuu"] {
        for g in &scene(&tile(level)).geometries {
            for q in &g.positions {
                for i in 0..3 {
                    lo[i] = lo[i].min(q[i]);
                    hi[i] = hi[i].max(q[i]);
                }
            }
        }
    }
    let b = tiles[1].0.bounds;
    let o = [501_027.524, 2_488_718.808, 0.0];
    for i in 0..3 {
        assert!(
            (b[i] - (o[i] + lo[i])).abs() < 1e-3 && (b[i + 3] - (o[i] + hi[i])).abs() < 1e-3,
            "{b:?}"
        );
    }
    // 32 × radius / range: 64, 32, 16, 8, then 4 at L18 (whose four children are absent).
    let errors: Vec<f64> = tiles
        .iter()
        .skip(1)
        .map(|(t, _)| (t.geometric_error * 10.0).round() / 10.0)
        .collect();
    assert_eq!(errors, [64.0, 32.0, 16.0, 8.0, 4.0]);
    assert!(tiles[0].0.geometric_error >= 128.0);
    let parents: Vec<Option<u32>> = tiles.iter().map(|(t, _)| t.parent).collect();
    assert_eq!(parents, [None, Some(0), Some(1), Some(2), Some(3), Some(4)]);
    // The stored content decodes back to the same triangles, textured.
    let bytes = p.tile_bytes(&r.tileset.name, 5).unwrap().unwrap();
    let c = decode(&bytes, &gltf::IDENTITY).unwrap();
    assert_eq!((c.model.triangles(), c.model.images.len()), (29_910, 4));
    assert!(c
        .model
        .parts
        .iter()
        .all(|q| q.uvs.is_some() && q.material.is_some()));
}

/// In another CRS (the standard zone EPSG:4547 the metadata mislabels): every point moved as
/// PROJ moves it, checked on the block's corner by GDAL from the metadata's own WKT.
#[test]
fn a_dataset_in_another_crs_is_moved_as_proj_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = project(dir.path(), &Crs::from_epsg(4547).unwrap());
    let r = import_osgb(
        &mut p,
        &production(),
        &OsgbOptions {
            name: Some("zs".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let b = r.tileset.bounds;
    // 113.37°E lies about 64 km west of the 114°E zone's centre.
    assert!(
        b[0] > 430_000.0 && b[3] < 445_000.0 && b[1] > 2_480_000.0 && b[4] < 2_500_000.0,
        "{b:?}"
    );
    let placer = crate::tiles3d::Placer::new(&p.tilesets().unwrap()[0].frame, p.crs()).unwrap();
    let mut corner = [[0.0, 1200.0, 10.0]];
    placer.place(&mut corner).unwrap();
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
    let meta = std::fs::read_to_string(production().join("metadata.xml")).unwrap();
    let wkt = xml_text(&meta, "SRS").unwrap().to_string();
    let wkt_file = dir.path().join("srs.wkt");
    // GDAL would take the WKT's AUTHORITY too: give it the parameters alone.
    let bare = wkt.replace(",\n    AUTHORITY[\"EPSG\",\"4547\"]]", "]");
    assert_ne!(bare, wkt);
    std::fs::write(&wkt_file, &bare).unwrap();
    let out = std::process::Command::new("gdaltransform")
        .args(["-s_srs", wkt_file.to_str().unwrap(), "-t_srs", "EPSG:4547"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"501027.524 2489918.808 10\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert!(
        (corner[0][0] - v[0]).abs() < 0.001 && (corner[0][1] - v[1]).abs() < 0.001,
        "cim {:?}, GDAL {v:?}",
        corner[0]
    );
}

/// An ENU dataset (the same files with `ENU:lat,lon`): placed through ECEF; its edge lies
/// where GDAL puts the same ECEF point, within 5 cm.
#[test]
fn an_enu_dataset_is_placed_through_ecef() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("enu");
    std::fs::create_dir_all(set.join("Data/Tile_+000_+012")).unwrap();
    for level in ["", "_L15_0u"] {
        std::fs::copy(
            tile(level),
            set.join("Data/Tile_+000_+012")
                .join(format!("Tile_+000_+012{level}.osgb")),
        )
        .unwrap();
    }
    std::fs::write(set.join("metadata.xml"), "<ModelMetadata version=\"1\"><SRS>ENU:22.495,113.38</SRS><SRSOrigin>0,0,0</SRSOrigin></ModelMetadata>").unwrap();
    let mut p = project(dir.path(), &Crs::from_epsg(32649).unwrap());
    let r = import_osgb(&mut p, &set, &OsgbOptions::default()).unwrap();
    // The second level is there, its children are not.
    assert_eq!((r.tileset.tiles, r.absent), (3, 1));
    let enu = crate::export::tiles::Enu::at(113.38, 22.495, 0.0);
    let edge = [100.0, 1300.0, 50.0];
    let ecef = gltf::apply(&enu.matrix(), edge);
    let placer = crate::tiles3d::Placer::new(&p.tilesets().unwrap()[0].frame, p.crs()).unwrap();
    let mut ours = [ecef];
    placer.place(&mut ours).unwrap();
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
    let out = std::process::Command::new("gdaltransform")
        .args(["-s_srs", "EPSG:4978", "-t_srs", "EPSG:32649"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(format!("{:.4} {:.4} {:.4}\n", ecef[0], ecef[1], ecef[2]).as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let v: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    for i in 0..3 {
        assert!((ours[0][i] - v[i]).abs() < 0.05, "cim {:?}, GDAL {v:?}", ours[0]);
    }
    // The tile's bounds hold that edge.
    let b = r.tileset.bounds;
    assert!(
        ours[0][0] <= b[3] + 0.5 && ours[0][1] <= b[4] + 0.5,
        "{b:?} {:?}",
        ours[0]
    );
}

#[test]
fn a_damaged_file_is_left_out_with_a_warning_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("cut");
    std::fs::create_dir_all(set.join("Data/Tile_+000_+012")).unwrap();
    for level in ["", "_L15_0u", "_L16_0uu"] {
        std::fs::copy(
            tile(level),
            set.join("Data/Tile_+000_+012")
                .join(format!("Tile_+000_+012{level}.osgb")),
        )
        .unwrap();
    }
    std::fs::copy(production().join("metadata.xml"), set.join("metadata.xml")).unwrap();
    let l15 = set.join("Data/Tile_+000_+012/Tile_+000_+012_L15_0u.osgb");
    let b = std::fs::read(&l15).unwrap();
    std::fs::write(&l15, &b[..b.len() / 3]).unwrap();
    let mut p = project(dir.path(), &Crs::from_epsg(4547).unwrap());
    let r = import_osgb(&mut p, &set, &OsgbOptions::default()).unwrap();
    assert_eq!(r.warnings.len(), 1);
    let w = r.warnings[0].to_string();
    assert!(w.contains("_L15_0u.osgb") && w.contains("truncated"), "{w}");
    assert_eq!(r.tileset.tiles, 2);
    let e = import_osgb(
        &mut p,
        &set,
        &OsgbOptions {
            strict: true,
            name: Some("s".into()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--strict"), "{e}");
    // Not a dataset at all.
    let e = import_osgb(&mut p, dir.path(), &OsgbOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no metadata.xml"), "{e}");
    // Every truncation of a file is an error, never a panic.
    let small = std::fs::read(fixture("mesh/fanvanzh_3dtiles_test.osgb")).unwrap();
    for cut in (0..small.len()).step_by(97) {
        assert!(reader::read_osgb(&small[..cut]).is_err(), "cut at {cut}");
    }
}
