//! Per-point cost of the pure-Rust CRS transforms the importers run on every coordinate:
//! CGCS2000 → Gauss-Krüger, WGS 84 → UTM / Web Mercator, WGS 84 → Krovak (with datum shift).

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_engine::{Crs, Transform};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const POINTS: usize = 10_000;

fn bench_transforms(c: &mut Criterion) {
    let mut group = c.benchmark_group("crs_transform");
    group.throughput(Throughput::Elements(POINTS as u64));
    for (target, source, lon0, lat0) in [
        (4547u32, 4490u32, 113.0, 23.0),
        (32633, 4326, 14.0, 50.0),
        (3857, 4326, 14.0, 50.0),
        (5514, 4326, 14.0, 49.5),
    ] {
        let t = Transform::new(
            &Crs::from_epsg(target).expect("target CRS"),
            &Crs::from_epsg(source).expect("source CRS"),
        );
        let xs: Vec<f64> = (0..POINTS).map(|i| lon0 + (i % 100) as f64 * 1e-3).collect();
        let ys: Vec<f64> = (0..POINTS).map(|i| lat0 + (i / 100) as f64 * 1e-3).collect();
        group.bench_with_input(
            BenchmarkId::new("apply_slice", format!("{source}_to_{target}")),
            &(),
            |b, _| {
                b.iter_batched_ref(
                    || (xs.clone(), ys.clone()),
                    |(x, y)| t.apply_slice(x, y).expect("transform"),
                    criterion::BatchSize::LargeInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_transforms);
criterion_main!(benches);
