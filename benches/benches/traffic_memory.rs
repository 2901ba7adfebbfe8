//! Issue 14's memory target: ≤ 200 bytes a vehicle in flight. SUMO's 10×10 grid (the network
//! of `tests/data/sumo`) with 12,000 random trips departing over 20 minutes, so that thousands
//! are on the road at once; the heap is counted by a counting allocator. Printed: the heap the
//! simulation adds while its vehicles are on the road (vehicle state, lane lists, link
//! bookkeeping, counts), divided by the vehicles in flight at the peak; and, apart, what the
//! demand costs per trip before any departs (routes, ids, result slots).
//!
//! `cargo bench -p cim-benches --bench traffic_memory` (a plain program: it prints).

// The one unsafe item: a global allocator that counts, forwarding every call to the system's.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};

use cim_importers::pipeline::ImportOptions;
use cim_scenarios::traffic::{random_trips, RandomTrips, Router, Sim, SimNet, SimParams, Trip};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sumo");
    let dir = tempfile::tempdir().expect("temp dir");
    let crs = cim_engine::Crs::from_epsg(32633).expect("crs");
    let mut project =
        cim_engine::Project::create(&dir.path().join("grid.cim.gpkg"), &crs, "110000").expect("project");
    let opts = ImportOptions {
        origin: Some([500_000.0, 5_500_000.0, 0.0, 0.0]),
        ..ImportOptions::default()
    };
    cim_importers::import_file(&mut project, &data.join("grid.net.xml.gz"), &opts, &mut |_| {})
        .expect("grid");
    let net = project.build_network(&Default::default()).expect("network");
    let router = Router::new(&net);
    let trips: Vec<Trip> = random_trips(
        &net,
        &router,
        &RandomTrips {
            end_s: if quick { 120.0 } else { 1200.0 },
            period_s: 0.1,
            ..RandomTrips::default()
        },
    )
    .into_iter()
    .map(|t| Trip {
        id: t.id,
        depart_s: t.depart_s,
        route: t.route.unwrap_or_default(),
    })
    .collect();
    let n_trips = trips.len();
    let simnet = SimNet::new(&net);
    let before_demand = live();
    let demand_copy = trips.clone();
    let demand_bytes = live() - before_demand;
    drop(demand_copy);
    let before = live();
    let mut sim = Sim::new(simnet, SimParams::default(), trips, 300.0);
    let loaded = live();
    let (mut peak_running, mut at_peak) = (0usize, 0isize);
    while !sim.finished() && sim.time_s < 7200.0 {
        sim.step();
        if sim.running > peak_running {
            peak_running = sim.running;
            at_peak = live();
        }
    }
    let in_flight = (at_peak - loaded) as f64 / peak_running.max(1) as f64;
    println!("traffic memory: SUMO's 10x10 grid, {n_trips} random trips");
    println!("  vehicles in flight at the peak      {peak_running}");
    println!(
        "  heap added by vehicles in flight    {:.0} bytes a vehicle (target <= 200)",
        in_flight
    );
    println!(
        "  the simulation loaded, per trip     {:.0} bytes (network share included: {} bytes in all)",
        (loaded - before) as f64 / n_trips as f64,
        loaded - before
    );
    println!(
        "  the demand (routes, ids), per trip  {:.0} bytes",
        demand_bytes as f64 / n_trips as f64
    );
}
