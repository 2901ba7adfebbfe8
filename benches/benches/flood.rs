//! Flood model speed: cell-updates per second of the local inertial step on a 2000×2000 grid
//! (200×200 when CI runs the benches once), every cell wet, 100 mm/h of rain, n = 0.03.

use cim_benches::flood_case::hills;
use cim_scenarios::flood::{FloodGrid, FloodParams, Forcing, Rain, Simulation, TimeSeries};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn size() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        2000
    } else {
        200
    }
}

fn wet_simulation(n: usize, threads: usize) -> Simulation {
    let dx = 2.0;
    let grid = FloodGrid::new(n, n, (0.0, n as f64 * dx), (dx, dx), hills(n, dx, 42), 0.03);
    let forcing = Forcing::rain_only(Rain::uniform(TimeSeries::constant(100.0)));
    let params = FloodParams {
        threads,
        ..FloodParams::default()
    };
    let mut sim = Simulation::new(grid, forcing, params, 3600.0).expect("valid case");
    sim.set_initial_depth(&vec![0.02; n * n]).expect("depth");
    // A few steps so the flow is moving before timing.
    for _ in 0..5 {
        sim.step(0.5).expect("stable");
    }
    sim
}

fn step(c: &mut Criterion) {
    let n = size();
    let mut group = c.benchmark_group("flood_step");
    group.throughput(Throughput::Elements((n * n) as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        let mut sim = wet_simulation(n, threads);
        group.bench_function(format!("{n}x{n}_threads{threads}"), |b| {
            b.iter(|| sim.step(0.5).expect("stable"))
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
