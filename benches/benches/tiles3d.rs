//! 3D Tiles content decode (issue 15): every content file of the fixtures (b3dm with batch
//! tables, i3dm instances, pnts, 1.1 glb with metadata, Draco and meshopt glb) read into
//! triangles and points in the tileset's frame (`tiles3d::content::decode`), and the same
//! placed in the project CRS (`tiles3d::decode_tile`: ECEF → UTM). Target: ≥ 50 MB/s of
//! content, Draco included. Also OSGB read (target ≥ 100 MB/s).

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_engine::{ContentFrame, Crs};
use cim_importers::tiles3d::{content, decode_tile, Placer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

fn contents() -> Vec<(String, Vec<u8>)> {
    let f = fixtures();
    [
        "3dtiles/TilesetWithRequestVolume/city/ll.b3dm",
        "3dtiles/TilesetWithRequestVolume/city/lr.b3dm",
        "3dtiles/TilesetWithRequestVolume/city/ul.b3dm",
        "3dtiles/TilesetWithRequestVolume/city/ur.b3dm",
        "3dtiles/TilesetWithRequestVolume/building.b3dm",
        "3dtiles/TilesetWithRequestVolume/points.pnts",
        "3dtiles/TilesetWithTreeBillboards/tree.i3dm",
        "3dtiles/pg2b3dm_3dbag_sibbe/1_1_0.b3dm",
        "3dtiles/pg2b3dm_3dbag_sibbe/1_1_0.glb",
        "gltf/compression/BoxDraco.glb",
        "gltf/pirate_meshopt.glb",
    ]
    .iter()
    .map(|r| {
        let bytes = std::fs::read(f.join(r)).expect("fixture");
        let kind = content::sniff(&bytes).expect("content").to_string();
        (kind, bytes)
    })
    .collect()
}

fn decode(c: &mut Criterion) {
    let all = contents();
    let bytes: usize = all.iter().map(|(_, b)| b.len()).sum();
    // The tiles' frame near Exton (the pg2b3dm tile is elsewhere: it only costs the same).
    let transform = [
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
    let mut g = c.benchmark_group("tiles3d_decode");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("fixtures_to_frame", |b| {
        b.iter(|| {
            all.iter()
                .map(|(k, c)| {
                    content::decode(c, k, &transform, None)
                        .expect("decode")
                        .model
                        .triangles()
                })
                .sum::<u64>()
        })
    });
    let crs = Crs::from_epsg(32618).expect("crs");
    let placer = Placer::new(&ContentFrame::Ecef { geoid_offset_m: 0.0 }, &crs).expect("placer");
    g.bench_function("fixtures_placed_utm", |b| {
        b.iter(|| {
            all.iter()
                .map(|(k, c)| {
                    decode_tile(c, k, Some(&transform), &placer, None)
                        .expect("decode")
                        .points
                        .len()
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

/// OSGB read (`osgb::reader::read_osgb`: the scene graph, triangles, texture coordinates and
/// the embedded JPEGs) of the five files of the ContextCapture fixture (4.7 MB). Target:
/// ≥ 100 MB/s.
fn osgb(c: &mut Criterion) {
    let dir = fixtures().join("osgb/scially_Production_5/Data/Tile_+000_+012");
    let files: Vec<Vec<u8>> = ["", "_L15_0u", "_L16_0uu", "_L17_0uuu", "_L18_0uuuu"]
        .iter()
        .map(|l| std::fs::read(dir.join(format!("Tile_+000_+012{l}.osgb"))).expect("fixture"))
        .collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("osgb_read");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("production_5_pyramid", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|f| {
                    cim_importers::osgb::reader::read_osgb(f)
                        .expect("osgb")
                        .triangles()
                })
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, decode, osgb);
criterion_main!(benches);
