//! Traffic (issue 14's targets): vehicle-steps per second on SUMO's 10×10 grid with SUMO's
//! routes for 3,600 random trips (`tests/data/sumo`), the network imported and built once, each
//! iteration the whole simulation to the last arrival. SUMO 1.28 ran the same case at
//! 1.0–2.4×10⁵ vehicle updates/s here; `benches/peer/traffic_sumo.sh` runs both and prints the
//! ratio (target ≥ 10×, aiming at 20×).
//!
//! `network/build_1m_edges`: the road network built from a road layer of 499,000 two-way streets
//! (a 500 × 500 grid, 998,000 edges) stored in a project: read, junctions, edges, connections,
//! control. Target: ≤ 10 s. (`cargo test --benches` builds a 20 × 20 grid once.)

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_importers::pipeline::ImportOptions;
use cim_scenarios::traffic::{read_sumo_routes, Hierarchies, Router, Sim, SimNet, SimParams, Trip};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

fn bench(c: &mut Criterion) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sumo");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("grid.cim.gpkg");
    let crs = cim_engine::Crs::from_epsg(32633).expect("crs");
    let mut project = cim_engine::Project::create(&path, &crs, "110000").expect("project");
    let opts = ImportOptions {
        origin: Some([500_000.0, 5_500_000.0, 0.0, 0.0]),
        ..ImportOptions::default()
    };
    cim_importers::import_file(&mut project, &data.join("grid.net.xml.gz"), &opts, &mut |_| {})
        .expect("grid");
    let net = project.build_network(&Default::default()).expect("network");
    let demand = read_sumo_routes(&data.join("grid.rou.xml.gz"), &net).expect("routes");
    let router = Router::new(&net);
    let trips: Vec<Trip> = demand
        .trips
        .into_iter()
        .map(|t| Trip {
            id: t.id,
            depart_s: t.depart_s,
            route: t
                .route
                .or_else(|| router.route(t.from, t.to, None))
                .unwrap_or_default(),
        })
        .collect();
    let simnet = SimNet::new(&net);
    let run = || {
        let mut sim = Sim::new(simnet.clone(), SimParams::default(), trips.clone(), 300.0);
        while !sim.finished() && sim.time_s < 7200.0 {
            sim.step();
        }
        sim.vehicle_steps
    };
    let steps = run();
    assert_eq!(steps, run(), "the same vehicle-steps every run");
    let mut g = c.benchmark_group("traffic");
    g.sample_size(10);
    g.throughput(Throughput::Elements(steps));
    g.bench_function("grid_10x10_3600_trips", |b| b.iter(run));
    g.finish();
}

/// A project whose road layer is an `n` × `n` grid of 100 m two-way residential streets.
fn grid_project(dir: &Path, n: usize) -> cim_engine::Project {
    use cim_engine::{AttrValue, Attributes, FeatureKind, FieldDef, FieldType};
    use cim_importers::SourceFeature;
    let crs = cim_engine::Crs::from_epsg(32633).expect("crs");
    let mut project =
        cim_engine::Project::create(&dir.join("grid1m.cim.gpkg"), &crs, "110000").expect("project");
    let (x0, y0, s) = (460_000.0, 5_550_000.0, 100.0);
    let mut features = Vec::with_capacity(2 * n * n);
    for i in 0..n {
        for j in 0..n {
            for (di, dj) in [(1, 0), (0, 1)] {
                if i + di >= n || j + dj >= n {
                    continue;
                }
                let mut attributes = Attributes::new();
                attributes.insert("highway".into(), AttrValue::Text("residential".into()));
                let k = features.len() as u64;
                let a = (x0 + i as f64 * s, y0 + j as f64 * s);
                let b = (x0 + (i + di) as f64 * s, y0 + (j + dj) as f64 * s);
                features.push(Ok(SourceFeature {
                    record: k + 1,
                    key: format!("fid:{}", k + 1),
                    geometry: Some(geo::Geometry::LineString(geo::LineString::from(vec![a, b]))),
                    attributes,
                    kind: Some(FeatureKind::Road),
                    height_hint: None,
                    warnings: Vec::new(),
                }));
            }
        }
    }
    let source = cim_importers::VectorSource {
        path: dir.join("grid.generated"),
        layer_name: "roads".into(),
        crs: Some(crs),
        fields: vec![FieldDef {
            name: "highway".into(),
            field_type: FieldType::Text,
        }],
        features: Box::new(features.into_iter()),
        warnings: Vec::new(),
    };
    let opts = ImportOptions {
        kind: Some(cim_engine::FeatureKind::Road),
        ..ImportOptions::default()
    };
    cim_importers::pipeline::import_vectors(&mut project, vec![source], &opts, &mut |_| {}).expect("import");
    project
}

fn bench_network(c: &mut Criterion) {
    let n: usize = if std::env::args().any(|a| a == "--bench") {
        500
    } else {
        20
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let project = grid_project(dir.path(), n);
    let edges = (4 * n * (n - 1)) as u64;
    let mut g = c.benchmark_group("network");
    g.sample_size(10);
    g.throughput(Throughput::Elements(edges));
    g.bench_function(format!("build_{}k_edges", edges / 1000), |b| {
        b.iter(|| {
            let net = project.build_network(&Default::default()).expect("network");
            assert_eq!(net.edges.len() as u64, edges);
            net.junctions.len()
        })
    });
    g.finish();
}

/// Routing (issue 14, item 5): 1,000 fastest routes over the edge graph of a 100 × 100 grid
/// of two-way streets (39,600 edges) by contraction hierarchies and by Dijkstra's search, and
/// the hierarchies' preparation. (`cargo test --benches`: a 20 × 20 grid.)
fn bench_routing(c: &mut Criterion) {
    let n: usize = if std::env::args().any(|a| a == "--bench") {
        100
    } else {
        20
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let net = grid_project(dir.path(), n)
        .build_network(&Default::default())
        .expect("network");
    let m = net.edges.len() as u64;
    let pairs: Vec<(u32, u32)> = (0..1000u64)
        .map(|k| {
            let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ((h % m) as u32, ((h >> 32) % m) as u32)
        })
        .collect();
    let ch = Router::new(&net).with_hierarchies(Hierarchies::Always);
    let plain = Router::new(&net).with_hierarchies(Hierarchies::Never);
    let all = |r: &Router| {
        pairs
            .iter()
            .filter_map(|&(a, b)| r.route(a, b, None))
            .map(|x| x.len())
            .sum::<usize>()
    };
    assert!(all(&ch) > 0);
    let mut g = c.benchmark_group("routing");
    g.sample_size(10);
    g.throughput(Throughput::Elements(pairs.len() as u64));
    let k = m / 1000;
    g.bench_function(format!("ch_1000_routes_{k}k_edges"), |b| b.iter(|| all(&ch)));
    g.bench_function(format!("dijkstra_1000_routes_{k}k_edges"), |b| {
        b.iter(|| all(&plain))
    });
    g.throughput(Throughput::Elements(m));
    g.bench_function(format!("prepare_{k}k_edges"), |b| {
        b.iter(|| plain.clone().with_hierarchies(Hierarchies::Always).hierarchies())
    });
    g.finish();
}

criterion_group!(benches, bench, bench_network, bench_routing);
criterion_main!(benches);
