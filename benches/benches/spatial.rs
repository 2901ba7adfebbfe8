//! Spatial index benches on 1M synthetic LOD1 buildings (see `cim_benches::footprints`), and
//! ray picks among 100k LoD2 buildings (real 3D BAG LoD 2.2 meshes laid out on a grid, see
//! `cim_benches::lod2`).
//!
//! Targets (2-core dev machine, one core used): bulk load ≤ 1 s; window queries hitting ≈10
//! buildings ≥ 1M/s; ray pick ≤ 50 µs; among 100k LoD2 buildings (issue 12) ray pick ≤ 20 µs
//! and ≤ 300 B of index a building beyond its triangles (printed before the group runs). The peer script `benches/peer/spatial_shapely.py` runs
//! the same windows through shapely's STRtree. Throughput is in queries: criterion's
//! "thrpt" line is queries per second.
//!
//! Measured figures, with the peer ratios, are recorded in benches/README.md.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use cim_benches::footprints::{lod1_items, points, rays, synthetic_footprints, window_queries};
use cim_spatial_index::{Aabb3, Item, SpatialIndex};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use geo::{polygon, Polygon};

const BATCH: usize = 10_000;

/// 1M under `cargo bench`; a small city when CI runs the benches once (`cargo test --benches`).
fn num_buildings() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        20_000
    }
}

struct City {
    footprints: Vec<(Polygon<f64>, f64)>,
    index: SpatialIndex,
}

fn city() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| {
        let footprints = synthetic_footprints(num_buildings(), 42);
        let index = SpatialIndex::bulk_load(lod1_items(&footprints));
        City { footprints, index }
    })
}

fn bulk_load(c: &mut Criterion) {
    let items: Vec<Item> = lod1_items(&city().footprints);
    let mut g = c.benchmark_group("bulk_load");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("1M_lod1_prisms", |b| {
        b.iter_batched(|| items.clone(), SpatialIndex::bulk_load, BatchSize::PerIteration)
    });
    g.finish();
}

fn window(c: &mut Criterion) {
    let city = city();
    let queries = window_queries(BATCH, 43, &city.footprints, 10.0);
    let mut g = c.benchmark_group("window_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("for_each_in_window_2d_10_hits", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for (min, max) in &queries {
                city.index.for_each_in_window_2d(*min, *max, |_| hits += 1);
            }
            black_box(hits)
        })
    });
    g.bench_function("window_2d_sorted_vec_10_hits", |b| {
        b.iter(|| {
            queries
                .iter()
                .map(|(min, max)| city.index.window_2d(*min, *max).len())
                .sum::<usize>()
        })
    });
    let boxes: Vec<Aabb3> = queries
        .iter()
        .map(|(a, b)| Aabb3::new([a[0], a[1], 20.0], [b[0], b[1], 60.0]))
        .collect();
    g.bench_function("window_3d_z20_60", |b| {
        b.iter(|| boxes.iter().map(|q| city.index.window(q).len()).sum::<usize>())
    });
    g.finish();
}

fn polygon_query(c: &mut Criterion) {
    let city = city();
    // Diamonds inscribed in the ≈10-hit windows: box filter plus exact geo test.
    let polys: Vec<Polygon<f64>> = window_queries(1000, 44, &city.footprints, 10.0)
        .into_iter()
        .map(|(a, b)| {
            let (cx, cy) = (0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1]));
            polygon![(x: a[0], y: cy), (x: cx, y: a[1]), (x: b[0], y: cy), (x: cx, y: b[1])]
        })
        .collect();
    let mut g = c.benchmark_group("polygon_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(polys.len() as u64));
    g.bench_function("intersecting_polygon", |b| {
        b.iter(|| {
            polys
                .iter()
                .map(|p| city.index.intersecting_polygon(p).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn ray_pick(c: &mut Criterion) {
    let city = city();
    let rays = rays(1000, 45, &city.footprints);
    let mut g = c.benchmark_group("ray_pick_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(rays.len() as u64));
    g.bench_function("camera_rays_from_300m", |b| {
        b.iter(|| {
            rays.iter()
                .filter(|(o, d)| city.index.ray_pick(*o, *d).is_some())
                .count()
        })
    });
    g.finish();
}

fn knn(c: &mut Criterion) {
    let city = city();
    let pts = points(1000, 46, &city.footprints);
    let mut g = c.benchmark_group("knn_1M");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(pts.len() as u64));
    for k in [1, 10] {
        g.bench_function(format!("nearest_2d_k{k}"), |b| {
            b.iter(|| {
                pts.iter()
                    .map(|p| city.index.nearest_2d(*p, k).len())
                    .sum::<usize>()
            })
        });
    }
    g.finish();
}

/// 100k under `cargo bench`, 5k when CI runs the benches once.
fn num_lod2() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        5_000
    }
}

fn ray_pick_lod2(c: &mut Criterion) {
    let city = cim_benches::lod2::lod2_city(num_lod2());
    let n = city.items.len();
    let (lo, hi) = city.extent;
    let index = SpatialIndex::bulk_load(city.items);
    // Camera rays from 300 m, as in the LOD1 bench, over the inner part of the city.
    let mut rng = 47u64;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let margin = 0.2 * (hi[0] - lo[0]);
    let rays: Vec<([f64; 3], [f64; 3])> = (0..1000)
        .map(|_| {
            let x = lo[0] + margin + next() * (hi[0] - lo[0] - 2.0 * margin);
            let y = lo[1] + margin + next() * (hi[1] - lo[1] - 2.0 * margin);
            let heading = next() * std::f64::consts::TAU;
            let pitch = (15.0 + 45.0 * next()).to_radians();
            (
                [x, y, 300.0],
                [
                    heading.cos() * pitch.cos(),
                    heading.sin() * pitch.cos(),
                    -pitch.sin(),
                ],
            )
        })
        .collect();
    let hits = rays
        .iter()
        .filter(|(o, d)| index.ray_pick(*o, *d).is_some_and(|h| h.tag.is_some()))
        .count();
    eprintln!(
        "lod2 city: {n} buildings, {} triangles, {} vertices; index {} B a building beyond its \
         triangles (target 300; BVH nodes, tree, arena and id map; positions, triangles and tags \
         are {} B a building); {hits} of {} rays hit a surface",
        city.triangles,
        city.vertices,
        index.memory_bytes() / n,
        (12 * city.vertices + 16 * city.triangles) / n,
        rays.len()
    );
    let mut g = c.benchmark_group("ray_pick_100k_lod2");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(rays.len() as u64));
    g.bench_function("camera_rays_from_300m", |b| {
        b.iter(|| {
            rays.iter()
                .filter(|(o, d)| index.ray_pick(*o, *d).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bulk_load,
    window,
    polygon_query,
    ray_pick,
    knn,
    ray_pick_lod2
);
criterion_main!(benches);
