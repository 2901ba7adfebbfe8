//! CityJSON and CityGML into a project (read, place, triangulate, footprints, store features and
//! meshes in one transaction). Targets (issue 12): ≥ 50 MB/s, `delft.city.json` (1.4 MB, 570 objects,
//! 36,271 triangles) in < 0.1 s; `cjio info` takes 0.48 s on it here
//! (benches/peer/cityjson_cjio.py prints both and the ratio).

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_engine::{Crs, Project};
use cim_importers::pipeline::ImportOptions;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn delft() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/cityjson/delft.city.json")
}

/// `copies` of a CityJSON file side by side on a grid (each moved by 600 m steps, its ids
/// suffixed): a bigger city of the same make-up. The file's vertices must be integers at scale
/// 0.001 (delft and the 3D BAG sample are).
fn bigger(dir: &Path, source: &Path, copies: usize) -> PathBuf {
    let text = std::fs::read_to_string(source).expect("CityJSON fixture");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let objects = doc["CityObjects"].as_object().cloned().unwrap_or_default();
    let vertices = doc["vertices"].as_array().cloned().unwrap_or_default();
    let n = vertices.len() as u64;
    let mut all_objects = serde_json::Map::new();
    let mut all_vertices = Vec::new();
    let side = (copies as f64).sqrt().ceil() as u64;
    for c in 0..copies as u64 {
        for v in &vertices {
            let mut v = v.clone();
            // Integer coordinates at scale 0.001: 600 m is 600,000.
            v[0] = serde_json::json!(v[0].as_i64().unwrap_or(0) + 600_000 * (c % side) as i64);
            v[1] = serde_json::json!(v[1].as_i64().unwrap_or(0) + 600_000 * (c / side) as i64);
            all_vertices.push(v);
        }
        for (id, o) in &objects {
            let mut o = o.clone();
            shift_indices(&mut o["geometry"], c * n);
            o.as_object_mut().map(|m| m.remove("parents"));
            o.as_object_mut().map(|m| m.remove("children"));
            all_objects.insert(format!("{id}-{c}"), o);
        }
    }
    doc["CityObjects"] = serde_json::Value::Object(all_objects);
    doc["vertices"] = serde_json::Value::Array(all_vertices);
    let stem = source
        .file_name()
        .map(|n| n.to_string_lossy().replace(".city.json", ""))
        .unwrap_or_default();
    let path = dir.join(format!("{stem}_x{copies}.city.json"));
    std::fs::write(&path, doc.to_string()).expect("write");
    path
}

/// Adds `by` to every vertex index in geometries' boundaries.
fn shift_indices(g: &mut serde_json::Value, by: u64) {
    if let Some(list) = g.as_array_mut() {
        for geom in list {
            shift(&mut geom["boundaries"], by);
        }
    }
}

fn shift(b: &mut serde_json::Value, by: u64) {
    match b {
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| shift(x, by)),
        serde_json::Value::Number(n) => *b = serde_json::json!(n.as_u64().unwrap_or(0) + by),
        _ => {}
    }
}

fn bench_cityjson(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let full = std::env::args().any(|a| a == "--bench");
    let plateau = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/citygml/plateau_53392633/53392633_bldg_6697_2_op.gml");
    let mut files = vec![(delft(), 28992), (plateau, 6677)];
    if full {
        files.push((bigger(dir.path(), &delft(), 20), 28992));
    }
    let mut group = c.benchmark_group("cityjson");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let mut round = 0u32;
    for (file, epsg) in files {
        let crs = Crs::from_epsg(epsg).expect("project CRS");
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        group.throughput(Throughput::Bytes(bytes));
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        group.bench_function(format!("import_{name}"), |b| {
            b.iter_batched(
                || {
                    round += 1;
                    let path = dir.path().join(format!("p{round}.cim.gpkg"));
                    Project::create(&path, &crs, "000000").expect("create")
                },
                |mut project| {
                    let done = cim_importers::import_file(
                        &mut project,
                        &file,
                        &ImportOptions::default(),
                        &mut |_| {},
                    )
                    .expect("import");
                    assert!(matches!(done, cim_importers::Imported::Features(_)));
                    let path = project.path().to_path_buf();
                    drop(project);
                    std::fs::remove_file(&path).ok();
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// 3D Tiles export of 10k LoD2 buildings (the 3D BAG sample's 10, LoD 2.2 the finest, 1000
/// times over): target ≥ 10k buildings/s (pg2b3dm's published run: about 1.4k/s). 1k buildings
/// when CI runs the benches once.
fn bench_3dtiles(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let full = std::env::args().any(|a| a == "--bench");
    let copies = if full { 1000 } else { 100 };
    let bag = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/cityjson/3dbag_multi_lod.city.json");
    let file = bigger(dir.path(), &bag, copies);
    let crs = Crs::from_epsg(28992).expect("RD New");
    let mut project = Project::create(&dir.path().join("bag.gpkg"), &crs, "000000").expect("project");
    let opts = ImportOptions {
        src_crs: Some(crs.clone()),
        ..ImportOptions::default()
    };
    cim_importers::import_file(&mut project, &file, &opts, &mut |_| {}).expect("import");
    let mut group = c.benchmark_group("export");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(10 * copies as u64));
    let mut round = 0u32;
    group.bench_function(format!("3dtiles_1.1_{}_lod2_buildings", 10 * copies), |b| {
        b.iter(|| {
            round += 1;
            let out = dir.path().join(format!("tiles{round}"));
            let done = cim_importers::export::export_file(
                &project,
                &cim_engine::FeatureFilter::default(),
                &out,
                cim_importers::export::ExportFormat::Tiles3d,
                &Default::default(),
            )
            .expect("export");
            assert_eq!(done.count, 10 * copies);
            std::fs::remove_dir_all(&out).ok();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_cityjson, bench_3dtiles);
criterion_main!(benches);
