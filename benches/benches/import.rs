//! Import of a generated GeoPackage of building footprints into a cim project (read → CRS →
//! validate → heights → city codes → one transaction). Target: ≥ 200k polygons/s on 1M polygons,
//! and no slower than `ogr2ogr` converting the same file (benches/peer/import_ogr2ogr.sh).

use cim_benches::gpkg_gen::write_buildings_gpkg;
use cim_engine::{Crs, Project};
use cim_importers::pipeline::{import_vectors, HeightOptions, ImportOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

fn bench_import(c: &mut Criterion) {
    // `cargo bench` measures 1M; `cargo test --benches` (CI) runs a small case once.
    let n: usize = if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        2_000
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("buildings.gpkg");
    write_buildings_gpkg(&src, n, 7).expect("generate input");
    let crs = Crs::from_epsg(32650).expect("EPSG:32650");
    let mut group = c.benchmark_group("import");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));
    let mut round = 0u32;
    group.bench_function(format!("gpkg_{n}_polygons"), |b| {
        b.iter(|| {
            round += 1;
            let path = dir.path().join(format!("p{round}.cim.gpkg"));
            let mut project = Project::create(&path, &crs, "000000").expect("create");
            let source = cim_importers::vector::open_vector(&src, Some("buildings")).expect("open");
            let opts = ImportOptions {
                heights: HeightOptions {
                    height_attr: Some("height_m".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let report = import_vectors(&mut project, vec![source], &opts, &mut |_| {}).expect("import");
            assert_eq!(report.layers[0].inserted, n as u64);
            drop(project);
            std::fs::remove_file(&path).ok();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_import);
criterion_main!(benches);
