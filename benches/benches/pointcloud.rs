//! Point clouds (issue 15): LAZ decode of the Autzen fixture (`pointcloud::read_las`, the `las`
//! and `laz` crates underneath) and octree tiling (`pointcloud::tile_points`) of 2M synthetic
//! points. Targets: decode at least as fast as `lazrs` (PyPI, the same engine) on the same file,
//! tiling ≥ 1M points/s. `python3 benches/peer/pointcloud_lazrs.py` prints lazrs's figure beside
//! cim's and the ratio.

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_importers::pointcloud::{read_las, tile_points, PointCloud, MAX_TILE_POINTS};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn autzen() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/pointcloud/autzen_trim.laz")
}

fn decode(c: &mut Criterion) {
    let path = autzen();
    let n = read_las(&path).expect("autzen").xyz.len() as u64;
    let mut g = c.benchmark_group("laz_decode");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(n));
    g.bench_function("autzen_trim", |b| {
        b.iter(|| read_las(&path).expect("autzen").xyz.len())
    });
    g.finish();
}

fn tiling(c: &mut Criterion) {
    let cloud = cim_benches::points::synthetic_cloud(2_000_000, 7);
    let mut g = c.benchmark_group("point_tiling");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements(cloud.xyz.len() as u64));
    g.bench_function("2M", |b| b.iter(|| tile_points(&cloud, MAX_TILE_POINTS).len()));
    g.finish();
    let _: &PointCloud = &cloud;
}

criterion_group!(benches, decode, tiling);
criterion_main!(benches);
