//! A by-hand throughput check (not a timed test):
//! `cargo test -p cim-engine --release --test store_throughput -- --ignored --nocapture`
//! (`CIM_THROUGHPUT_N` sets the number of polygons, default 1,000,000).
#![allow(clippy::unwrap_used)]

use cim_engine::{
    AttrValue, Attributes, CityCode, Classification, Crs, Feature, FeatureFilter, FeatureKind, FieldDef,
    FieldType, GeometryType, HeightSource, LayerSpec, Lod1, Project, Validity,
};
use geo::polygon;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux), to see past other processes on a busy machine.
fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

#[test]
#[ignore = "throughput check, run by hand"]
fn write_a_million_small_polygons() {
    let n: usize = std::env::var("CIM_THROUGHPUT_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.cim.gpkg");
    let mut p = Project::create(&path, &Crs::from_epsg(4547).unwrap(), "110105").unwrap();
    let spec = LayerSpec {
        name: "buildings".into(),
        kind: FeatureKind::Building,
        classification: Classification::Public,
        geometry_type: GeometryType::Polygon,
        fields: vec![
            FieldDef {
                name: "name".into(),
                field_type: FieldType::Text,
            },
            FieldDef {
                name: "floors".into(),
                field_type: FieldType::Int,
            },
        ],
        source: "synthetic".into(),
    };
    // Features are built outside the timed loop: the store's cost alone is measured.
    let side = (n as f64).sqrt().ceil() as usize;
    let features: Vec<Feature> = (0..n)
        .map(|i| {
            let (x, y) = (500_000.0 + (i % side) as f64 * 12.0, 4_400_000.0 + (i / side) as f64 * 12.0);
            let key = format!("fid:{i}");
            let mut attributes = Attributes::new();
            attributes.insert("name".into(), AttrValue::Text(format!("b{i}")));
            attributes.insert("floors".into(), AttrValue::Int((i % 30) as i64));
            Feature {
                code: CityCode::derive("110105", FeatureKind::Building, "buildings", &key),
                kind: FeatureKind::Building,
                geometry: polygon![(x: x, y: y), (x: x + 10.0, y: y), (x: x + 10.0, y: y + 8.0), (x: x, y: y + 8.0), (x: x, y: y)].into(),
                lod1: Some(Lod1 { base_m: 0.0, height_m: 3.0 * (i % 30) as f64, height_source: HeightSource::Default }),
                attributes,
                validity: Validity::default(),
                classification: Classification::Public,
                source_key: key,
            }
        })
        .collect();
    let cpu0 = thread_cpu_secs();
    let t0 = Instant::now();
    let mut tx = p.import().unwrap();
    tx.ensure_layer(&spec).unwrap();
    for f in &features {
        tx.write("buildings", f).unwrap();
    }
    let t_write = t0.elapsed();
    let stats = tx.commit().unwrap();
    let t_total = t0.elapsed();
    let cpu = thread_cpu_secs() - cpu0;
    assert_eq!(stats.inserted, n as u64);
    let size = std::fs::metadata(&path).unwrap().len();
    println!(
        "{n} polygons: write loop {:.2} s, commit {:.2} s, total {:.2} s = {:.0} polygons/s \
         (CPU {cpu:.2} s = {:.0} polygons/CPU-s); file {:.0} MiB",
        t_write.as_secs_f64(),
        (t_total - t_write).as_secs_f64(),
        t_total.as_secs_f64(),
        n as f64 / t_total.as_secs_f64(),
        n as f64 / cpu,
        size as f64 / 1048576.0
    );
    drop(p);
    let t1 = Instant::now();
    let p = Project::open(&path).unwrap();
    let count = p.count(&FeatureFilter::default()).unwrap();
    let hits = p
        .count(&FeatureFilter {
            bbox: Some([500_000.0, 4_400_000.0, 500_100.0, 4_400_100.0]),
            ..Default::default()
        })
        .unwrap();
    println!(
        "open + count {count} + bbox count {hits}: {:.3} s",
        t1.elapsed().as_secs_f64()
    );
    assert_eq!(count, n as u64);
    let t2 = Instant::now();
    let mut seen = 0u64;
    p.for_each_feature(&FeatureFilter::default(), |_| {
        seen += 1;
        Ok(())
    })
    .unwrap();
    println!(
        "read back {seen} features: {:.2} s = {:.0} features/s",
        t2.elapsed().as_secs_f64(),
        seen as f64 / t2.elapsed().as_secs_f64()
    );
}
