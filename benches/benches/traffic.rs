//! Traffic (issue 14's targets): vehicle-steps per second on SUMO's 10×10 grid with SUMO's
//! routes for 3,600 random trips (`tests/data/sumo`), the network imported and built once, each
//! iteration the whole simulation to the last arrival. SUMO 1.28 ran the same case at
//! 1.0–2.4×10⁵ vehicle updates/s here; `benches/peer/traffic_sumo.sh` runs both and prints the
//! ratio (target ≥ 10×, aiming at 20×).

// Linked for the allocator the `cim` binary uses (set in cim-benches).
extern crate cim_benches;

use cim_importers::pipeline::ImportOptions;
use cim_scenarios::traffic::{read_sumo_routes, Router, Sim, SimNet, SimParams, Trip};
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

criterion_group!(benches, bench);
criterion_main!(benches);
