//! A mutation fuzzer for cim's parsers that runs on stable Rust (cargo-fuzz needs nightly): it
//! starts from real files, mutates them (bit flips, byte changes, insertions, deletions, cuts,
//! splices, interesting numbers), and feeds each mutant to a parser, catching panics. A mutant
//! that panics is written to `fuzz-crashes/<target>/` to become a test.
//!
//!     cargo run --release -p cim-benches --bin fuzz_parsers -- TARGET SECONDS [SEED]
//!
//! Targets: `cityjson` and `citygml` (reader and the whole city model import into a project), `mesh` (the
//! stored mesh decoder), `step` (IFC), `sumo_net` (a SUMO network read, and the road network
//! built from it), `sumo_routes` (a SUMO route file against SUMO's grid), `od_csv` (an
//! origin–destination table), `las` (LAS/LAZ read, tiled, its ground gridded), `tiles3d` (3D
//! Tiles content: b3dm, i3dm, pnts, cmpt, glb with Draco and meshopt, decoded and placed),
//! `subtree` (implicit tiling's subtree files), `osgb` (OpenSceneGraph binary tiles, read and
//! placed), `sniff` (format detection). Exit status 1 if anything panicked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cim_engine::{Crs, Project};
use cim_importers::pipeline::ImportOptions;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = flate2::read::GzDecoder::new(f).read_to_end(&mut out);
    }
    out
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// Seeds of a target: real files, and a few made here.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let read = |p: &str| std::fs::read(fixtures().join(p)).unwrap_or_default();
    match target {
        "cityjson" => vec![
            read("cityjson/DH_01_subs.city.json"),
            read("cityjson/3dbag_multi_lod.city.json"),
            br#"{"type":"CityJSON","version":"2.0","transform":{"scale":[0.001,0.001,0.001],"translate":[0,0,0]},"CityObjects":{"a":{"type":"Building","geometry":[{"type":"GeometryInstance","template":0,"boundaries":[0],"transformationMatrix":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]}]}},"vertices":[[0,0,0]],"geometry-templates":{"templates":[{"type":"MultiSurface","lod":"2","boundaries":[[[0,1,2]]]}],"vertices-templates":[[0,0,0],[1,0,0],[0,1,0]]}}"#.to_vec(),
            b"{\"type\":\"CityJSON\",\"version\":\"2.0\",\"transform\":{\"scale\":[1,1,1],\"translate\":[0,0,0]},\"CityObjects\":{},\"vertices\":[]}\n{\"type\":\"CityJSONFeature\",\"id\":\"a\",\"CityObjects\":{\"a\":{\"type\":\"Building\",\"geometry\":[{\"type\":\"Solid\",\"lod\":\"1\",\"boundaries\":[[[[0,1,2]]]]}]}},\"vertices\":[[0,0,0],[1,0,0],[0,1,0]]}\n".to_vec(),
        ],
        "citygml" => vec![
            read("citygml/Building_LOD2-EPSG25832_CityGML2.gml"),
            read("citygml/Building_LOD2-EPSG25832_CityGML3.gml"),
            read("citygml/zurich_lod2_citygml1.xml"),
        ],
        "step" => vec![
            read("ifc/geographic-referencing.ifc"),
            // Extrusions of every profile read, placed.
            b"ISO-10303-21;HEADER;FILE_DESCRIPTION((''),'2;1');FILE_NAME('t.ifc','',(''),(''),'','','');FILE_SCHEMA(('IFC4'));ENDSEC;DATA;
#1=IFCCARTESIANPOINT((0.,0.,0.));#2=IFCDIRECTION((0.,0.,1.));#3=IFCDIRECTION((1.,0.,0.));#4=IFCAXIS2PLACEMENT3D(#1,#2,#3);
#5=IFCCARTESIANPOINT((1000.,500.));#6=IFCAXIS2PLACEMENT2D(#5,$);#10=IFCRECTANGLEPROFILEDEF(.AREA.,$,#6,2000.,3000.);
#11=IFCEXTRUDEDAREASOLID(#10,#4,#2,4000.);#20=IFCCIRCLEHOLLOWPROFILEDEF(.AREA.,$,$,500.,20.);#21=IFCEXTRUDEDAREASOLID(#20,#4,#2,1000.);
#30=IFCCARTESIANPOINT((0.,0.));#31=IFCCARTESIANPOINT((10.,0.));#32=IFCCARTESIANPOINT((10.,10.));#34=IFCPOLYLINE((#30,#31,#32,#30));
#35=IFCCARTESIANPOINTLIST2D(((4.,4.),(4.,6.),(6.,6.)));#36=IFCINDEXEDPOLYCURVE(#35,(IFCLINEINDEX((1,2,3,1))),$);
#37=IFCARBITRARYPROFILEDEFWITHVOIDS(.AREA.,'p',#34,(#36));#40=IFCDIRECTION((1.,0.,1.));#41=IFCEXTRUDEDAREASOLID(#37,#4,#40,2.);
#60=IFCLOCALPLACEMENT($,#4);#61=IFCLOCALPLACEMENT(#60,#4);#70=IFCPRODUCTDEFINITIONSHAPE($,$,());
#71=IFCWALL('0123456789012345678901',$,'w',$,$,#61,#70,$,$);
ENDSEC;END-ISO-10303-21;".to_vec(),
            read("ifc/UT_GeoRef_1.ifc"),
            read("ifc/MCON-1.ifc"),
        ],
        "sumo_net" => vec![
            gunzip(&repo().join("tests/data/sumo/grid.net.xml.gz")),
            read("sumo/cross.net.xml"),
        ],
        "las" => vec![
            std::fs::read(fixtures().join("pointcloud/simple.las")).unwrap_or_default(),
            std::fs::read(fixtures().join("pointcloud/simple.laz")).unwrap_or_default(),
        ],
        "tiles3d" => {
            use cim_importers::tiles3d::content;
            use serde_json::json;
            let b3dm = read("3dtiles/TilesetWithRequestVolume/city/ll.b3dm");
            let glb = read("gltf/compression/Box.glb");
            let pos: Vec<u8> = [0f32, 0.0, 0.0, 10.0, 0.0, 0.0].iter().flat_map(|v| v.to_le_bytes()).collect();
            let i3dm = content::container(b"i3dm", &json!({"INSTANCES_LENGTH": 2, "POSITION": {"byteOffset": 0}, "EAST_NORTH_UP": true}), &pos, None, &glb);
            let q: Vec<u8> = [0u16, 0, 0, 65535, 1, 2, 7, 7, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
            let pnts = content::container(
                b"pnts",
                &json!({"POINTS_LENGTH": 3, "POSITION_QUANTIZED": {"byteOffset": 0}, "QUANTIZED_VOLUME_OFFSET": [0, 0, 0],
                        "QUANTIZED_VOLUME_SCALE": [1, 1, 1], "RGB565": {"byteOffset": 18}}),
                &[q, vec![1, 2, 3, 4, 5, 6]].concat(),
                None,
                &[],
            );
            vec![
                b3dm.clone(),
                glb.clone(),
                read("gltf/compression/BoxDraco.glb"),
                read("gltf/compression/BoxMeshopt.glb"),
                read("3dtiles/SparseImplicitQuadtree/content/content_5__0_21.glb"),
                // Property tables of every kind the metadata decoder reads.
                read("3dtiles/EXT_structural_metadata/MultipleClasses/MultipleClasses.gltf"),
                read("3dtiles/EXT_structural_metadata/FeatureIdAttributeAndPropertyTable/FeatureIdAttributeAndPropertyTable.gltf"),
                i3dm.clone(),
                pnts.clone(),
                content::composite(&[pnts, i3dm, b3dm]),
            ]
        }
        "osgb" => vec![
            read("mesh/fanvanzh_3dtiles_test.osgb"),
            read("osgb/scially_Production_5/Data/Tile_+000_+012/Tile_+000_+012.osgb"),
        ],
        "subtree" => vec![
            read("3dtiles/SparseImplicitQuadtree/subtrees/0.0.0.subtree"),
            read("3dtiles/SparseImplicitQuadtree/subtrees/3.3.6.subtree"),
        ],
        "od_csv" => vec![
            b"origin,destination,trips\nA,B,12\nB,A,3.5\n# a comment\n\nC,\"A, north\",1\n".to_vec(),
            "\u{feff}from;to;count\n\"Zone \"\"1\"\"\";2;7\n2;1;0\n".as_bytes().to_vec(),
            b"o\td\tn\n1\t2\t1e3\n".to_vec(),
        ],
        "sumo_routes" => vec![
            gunzip(&repo().join("tests/data/sumo/grid.rou.xml.gz"))[..20_000].to_vec(),
            br#"<routes><vType id="t"/><route id="r" edges="A0A1 A1A2"/><vehicle id="v" route="r" depart="3"/><trip id="x" from="A0A1" to="B2C2" depart="1.5"/><flow id="f" from="A0A1" to="A1A2" begin="0" end="100" period="7"/><flow id="g" route="r" begin="0" end="50" vehsPerHour="360" number="4"/></routes>"#.to_vec(),
        ],
        "mesh" => {
            let mut b = cim_engine::mesh::MeshBuilder::new([85_000.0, 447_000.0, 0.0]);
            let ring = vec![[85_000.0, 447_000.0, 0.0], [85_010.0, 447_000.0, 0.0], [85_010.0, 447_010.0, 3.0], [85_000.0, 447_010.0, 3.0]];
            let _ = b.add_polygon(&[ring], cim_engine::mesh::SurfaceClass::Roof, Some(&[vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]), Some(3));
            vec![cim_engine::mesh::encode_mesh(&b.finish())]
        }
        _ => ["cityjson/delft.city.json", "vector/jsonfg_building.json", "dem/osmnx_elevation1.tif", "vector/bubenec.gpkg", "osm/West-Oakland.osm"]
            .iter()
            .map(|p| {
                let mut b = read(p);
                b.truncate(8192);
                b
            })
            .collect(),
    }
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1e308",
    b"NaN",
    b"null",
    b"[]",
    b"{}",
    b"4294967295",
    b"\"\"",
    b"-0.0",
    b"[[[[",
    b"]]]]",
];

fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>], data: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..8) {
            0 if len > 0 => {
                let k = rng.random_range(0..len);
                data[k] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let k = rng.random_range(0..len);
                data[k] = rng.random();
            }
            2 => {
                let k = rng.random_range(0..=len);
                let x = INTERESTING[rng.random_range(0..INTERESTING.len())];
                data.splice(k..k, x.iter().copied());
            }
            3 if len > 1 => {
                let a = rng.random_range(0..len);
                let b = (a + rng.random_range(1..64)).min(len);
                data.drain(a..b);
            }
            4 if len > 0 => data.truncate(rng.random_range(0..len)),
            5 if len > 8 => {
                // Duplicate a slice elsewhere.
                let a = rng.random_range(0..len - 1);
                let b = (a + rng.random_range(1..256)).min(len);
                let piece: Vec<u8> = data[a..b].to_vec();
                let at = rng.random_range(0..=data.len());
                data.splice(at..at, piece);
            }
            6 if !seeds.is_empty() => {
                // Splice in a piece of another seed.
                let other = &seeds[rng.random_range(0..seeds.len())];
                if other.len() > 1 {
                    let a = rng.random_range(0..other.len() - 1);
                    let b = (a + rng.random_range(1..256)).min(other.len());
                    let at = rng.random_range(0..=data.len());
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => {
                // A digit changed into another: numbers stay numbers, indices move.
                let digits: Vec<usize> = data
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_ascii_digit())
                    .map(|(k, _)| k)
                    .collect();
                if !digits.is_empty() {
                    let k = digits[rng.random_range(0..digits.len())];
                    data[k] = b'0' + rng.random_range(0..10u8);
                }
            }
        }
    }
}

/// SUMO's 10×10 grid as cim builds it (once), for route files to name its edges.
fn grid_network() -> &'static cim_engine::network::Network {
    static NET: std::sync::OnceLock<cim_engine::network::Network> = std::sync::OnceLock::new();
    NET.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let utm = Crs::from_epsg(32633).expect("EPSG:32633");
        let mut p = Project::create(&dir.path().join("grid.cim.gpkg"), &utm, "000000").expect("project");
        let opts = ImportOptions {
            origin: Some([500_000.0, 5_500_000.0, 0.0, 0.0]),
            ..Default::default()
        };
        cim_importers::import_file(
            &mut p,
            &repo().join("tests/data/sumo/grid.net.xml.gz"),
            &opts,
            &mut |_| {},
        )
        .expect("grid");
        p.build_network(&Default::default()).expect("network")
    })
}

/// Runs one input through the target; panics are the finding.
fn run(target: &str, data: &[u8], work: &Path, crs: &Crs, n: u64) {
    match target {
        "cityjson" => {
            let label = work.join("fuzz.city.json");
            if let Ok(model) = cim_importers::citymodel::cityjson::read_cityjson_bytes(&label, data) {
                let path = work.join(format!("p{n}.cim.gpkg"));
                if let Ok(mut p) = Project::create(&path, crs, "000000") {
                    let opts = ImportOptions {
                        src_crs: Some(crs.clone()),
                        allow_empty: true,
                        ..Default::default()
                    };
                    let _ = cim_importers::citymodel::import_city_model(&mut p, model, &opts);
                }
                let _ = std::fs::remove_file(&path);
            }
        }
        "mesh" => {
            let _ = cim_engine::mesh::decode_mesh(data);
        }
        "sumo_net" => {
            // Read, imported into a project, and the road network built from it.
            let file = work.join("fuzz.net.xml");
            if std::fs::write(&file, data).is_ok() {
                let utm = Crs::from_epsg(32633).expect("EPSG:32633");
                if let Ok(src) = cim_importers::sumo::read_sumo_net(
                    &file,
                    Some([500_000.0, 5_500_000.0, 0.0, 0.0]),
                    None,
                    &utm,
                ) {
                    let path = work.join(format!("p{n}.cim.gpkg"));
                    if let Ok(mut p) = Project::create(&path, &utm, "000000") {
                        let _ = cim_importers::pipeline::import_vectors(
                            &mut p,
                            vec![src],
                            &ImportOptions::default(),
                            &mut |_| {},
                        );
                        let _ = p.build_network(&Default::default());
                    }
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        "las" => {
            let file = work.join("fuzz.laz");
            if std::fs::write(&file, data).is_ok() {
                if let Ok(c) = cim_importers::pointcloud::read_las(&file) {
                    let _ = cim_importers::pointcloud::tile_points(&c, 100);
                    let _ = cim_importers::pointcloud::height_grid(
                        &c,
                        1.0,
                        cim_importers::pointcloud::HeightModel::Ground,
                    );
                }
            }
        }
        "tiles3d" => {
            // Content read into the frame near Exton, then placed in the Dutch grid.
            use cim_importers::tiles3d::{content, decode_tile, Placer};
            if let Some(kind) = content::sniff(data) {
                let m = [
                    1.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    1.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    1.0,
                    0.0,
                    1_215_012.0,
                    -4_736_310.0,
                    4_081_602.0,
                    1.0,
                ];
                if let Ok(p) = Placer::new(&cim_engine::ContentFrame::Ecef { geoid_offset_m: 0.0 }, crs) {
                    let _ = decode_tile(data, kind, Some(&m), &p, None);
                }
            }
        }
        "osgb" => {
            // Read, then decoded as a tile of an ENU dataset near Zhongshan and placed.
            if cim_importers::osgb::reader::read_osgb(data).is_ok() {
                let enu = cim_importers::export::tiles::Enu::at(113.38, 22.495, 0.0);
                if let Ok(p) = cim_importers::tiles3d::Placer::new(
                    &cim_engine::ContentFrame::Ecef { geoid_offset_m: 0.0 },
                    crs,
                ) {
                    let _ = cim_importers::tiles3d::decode_tile(data, "osgb", Some(&enu.matrix()), &p, None);
                }
            }
        }
        "subtree" => {
            let _ = cim_importers::tiles3d::implicit::read_subtree(data, 3, 4, work);
            let _ = cim_importers::tiles3d::implicit::read_subtree(data, 2, 8, work);
        }
        "od_csv" => {
            let file = work.join("fuzz.od.csv");
            if std::fs::write(&file, data).is_ok() {
                let _ = cim_scenarios::traffic::read_od_table(&file);
            }
        }
        "sumo_routes" => {
            let file = work.join("fuzz.rou.xml");
            if std::fs::write(&file, data).is_ok() {
                let _ = cim_scenarios::traffic::read_sumo_routes(&file, grid_network());
            }
        }
        "step" => {
            // The index, then every instance's parameters.
            if let Ok(f) =
                cim_importers::ifc::step::StepFile::from_bytes(&work.join("fuzz.ifc"), data.to_vec())
            {
                for (ty, _) in f.type_counts() {
                    for id in f.ids_of(&ty) {
                        let _ = f.get(id);
                    }
                }
                // The model: georeferencing, structure, placements, every body (booleans and
                // openings included), placed by --origin where the file has no georeferencing.
                let _ = cim_importers::ifc::import::read_ifc_file(&f, crs, Some([0.0, 0.0, 0.0, 0.0]), None);
                let _ = cim_importers::ifc::import::read_ifc_file(&f, crs, None, None);
            }
        }
        "citygml" => {
            let label = work.join("fuzz.gml");
            if let Ok(mut model) = cim_importers::citymodel::citygml::read_citygml_bytes(&label, data) {
                model.crs = Some(crs.clone());
                let path = work.join(format!("p{n}.cim.gpkg"));
                if let Ok(mut p) = Project::create(&path, crs, "000000") {
                    let opts = ImportOptions {
                        allow_empty: true,
                        ..Default::default()
                    };
                    let _ = cim_importers::citymodel::import_city_model(&mut p, model, &opts);
                }
                let _ = std::fs::remove_file(&path);
            }
        }
        _ => {
            let _ = cim_importers::file::sniff(data);
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let target = args.get(1).cloned().unwrap_or_else(|| "cityjson".into());
    let seconds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let seeds = seeds(&target);
    if seeds.iter().all(Vec::is_empty) {
        eprintln!("no seeds for '{target}' (are ../shared/fixtures there?)");
        return std::process::ExitCode::FAILURE;
    }
    let work = tempfile::tempdir().expect("temp dir");
    let crashes = PathBuf::from("fuzz-crashes").join(&target);
    let crs = Crs::from_epsg(28992).expect("EPSG:28992");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Panics are caught and counted; their messages are not printed for each one.
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let (mut runs, mut found) = (0u64, 0u64);
    while start.elapsed() < Duration::from_secs(seconds) {
        let mut data = seeds[rng.random_range(0..seeds.len())].clone();
        mutate(&mut rng, &seeds, &mut data);
        runs += 1;
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&target, &data, work.path(), &crs, runs)
        }));
        if ok.is_err() {
            found += 1;
            let _ = std::fs::create_dir_all(&crashes);
            let file = crashes.join(format!("crash-{seed}-{runs}"));
            let _ = std::fs::write(&file, &data);
            eprintln!("panic on input {} (saved to {})", runs, file.display());
        }
    }
    println!("{target}: {runs} inputs in {seconds} s (seed {seed}), {found} panicked");
    if found > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
