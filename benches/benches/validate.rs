//! Validity check of one huge polygon (a coastline, a district boundary): the per-polygon step
//! that used to grow with the square of the vertex count. Peer: `benches/peer/validate_shapely.py`
//! (GEOS `is_valid` on the same polygon).

use cim_benches::huge_polygon::huge_ring;
use cim_importers::validate::{check_shape, Verdict};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench_validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate_polygon");
    group.sample_size(10);
    for n in [10_000usize, 200_000, 2_000_000] {
        let ring = huge_ring(n, 500_000.0, 2_550_000.0, 8_000.0, 42);
        let polygon: geo::Geometry<f64> = geo::Polygon::new(geo::LineString::from(ring), vec![]).into();
        assert_eq!(check_shape(&polygon), Verdict::Ok);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("check_shape", n), &polygon, |b, p| {
            b.iter(|| check_shape(p))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
