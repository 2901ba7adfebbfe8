//! `flood_peer_case DIR N DX MINUTES [THREADS]`: the landlab comparison case run by cim.
//!
//! Writes `DIR/dem.f32` (N×N little-endian f32, row 0 north), runs cim's flood model on it
//! (closed edges, n = 0.03, 100 mm/h of rain, 1e-5 m of water everywhere at the start, θ = 0.8
//! and α = 0.7 as landlab's defaults, Δt at most 10 s as the script asks of landlab), writes
//! the end depths to `DIR/cim_depth.f64` and prints one JSON line with the timing.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use cim_benches::flood_case::hills;
use cim_scenarios::flood::{FloodGrid, FloodParams, Forcing, Rain, Simulation, TimeSeries};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: flood_peer_case DIR N DX MINUTES [THREADS]";
    let dir = std::path::PathBuf::from(args.get(1).ok_or(usage)?);
    let parse = |k: usize| -> Result<f64, String> {
        args.get(k)
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| usage.to_string())
    };
    let (n, dx, minutes) = (parse(2)? as usize, parse(3)?, parse(4)?);
    let threads = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(0);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let z = hills(n, dx, 42);
    write_raw(&dir.join("dem.f32"), z.iter().flat_map(|v| v.to_le_bytes()))?;

    let h_init = 1e-5;
    let grid = FloodGrid::new(n, n, (0.0, n as f64 * dx), (dx, dx), z, 0.03);
    let forcing = Forcing::rain_only(Rain::uniform(TimeSeries::constant(100.0)));
    let params = FloodParams {
        alpha: 0.7,
        theta: 0.8,
        dt_max_s: 10.0,
        h_dry_m: h_init,
        threads,
    };
    let duration = minutes * 60.0;
    let mut sim = Simulation::new(grid, forcing, params, duration).map_err(|e| e.to_string())?;
    sim.set_initial_depth(&vec![h_init; n * n])
        .map_err(|e| e.to_string())?;
    let mut steps = 0u64;
    let start = Instant::now();
    sim.run_until(duration, |_| {
        steps += 1;
        true
    })
    .map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    write_raw(
        &dir.join("cim_depth.f64"),
        sim.depth().iter().flat_map(|v| v.to_le_bytes()),
    )?;
    let b = sim.balance();
    println!(
        "{{\"cells\": {}, \"steps\": {steps}, \"seconds\": {secs:.3}, \"cell_updates_per_s\": {:.4e}, \"volume_error\": {:.3e}}}",
        n * n,
        (n * n) as f64 * steps as f64 / secs,
        b.relative_error()
    );
    Ok(())
}

fn write_raw(path: &std::path::Path, bytes: impl Iterator<Item = u8>) -> Result<(), String> {
    let data: Vec<u8> = bytes.collect();
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&data))
        .map_err(|e| format!("{}: {e}", path.display()))
}
