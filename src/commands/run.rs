//! `cim run SCENARIO.toml`: runs a scenario (flood, traffic) on its project and stores the run.

use super::open_project;
use anyhow::{bail, Context, Result};
use cim_engine::RunRecord;
use cim_scenarios::flood::{FloodClass, StoredRun};
use cim_scenarios::run::{stop_on_ctrl_c, Finished, Scenario};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RunArgs {
    /// The scenario file (TOML; see scenarios/README.md).
    pub scenario: PathBuf,
    /// Worker threads (default: the scenario's, or all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: RunArgs) -> Result<()> {
    let mut scenario = Scenario::load(&a.scenario)?;
    if let Some(t) = a.threads {
        scenario.set_threads(t);
    }
    let text = std::fs::read_to_string(&a.scenario).unwrap_or_default();
    let done =
        execute(&scenario, text, a.json).with_context(|| format!("scenario {}", a.scenario.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(done.summary())?);
    } else {
        print_summary(&scenario, &done);
    }
    Ok(())
}

/// Runs and stores a scenario (`scenario_text` is kept with the run), with a progress bar unless
/// `quiet`; Ctrl-C stops it at the end of the current step, keeping what it reached.
pub fn execute(scenario: &Scenario, scenario_text: String, quiet: bool) -> Result<Finished> {
    // Opened here first for its clear errors and notices.
    drop(open_project(scenario.project())?);
    let bar = progress_bar(scenario.duration_s(), quiet);
    let done = cim_scenarios::run::execute(scenario, scenario_text, stop_on_ctrl_c(), &mut |p| {
        bar.set_position(p.time_s as u64);
        bar.set_message(format!("{} · {:.0} steps/s", p.detail, p.steps_per_s));
    });
    bar.finish_and_clear();
    Ok(done?)
}

fn progress_bar(duration_s: f64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::new(duration_s.ceil() as u64);
    if quiet || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} s simulated · {msg} ({elapsed}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The run's summary in words, as its model tells it.
pub fn print_summary(scenario: &Scenario, done: &Finished) {
    match done {
        Finished::Flood(r) => print_flood(scenario.name(), scenario.project(), r),
        Finished::Traffic(r) => print_traffic(scenario.name(), scenario.project(), r),
    }
}

fn print_traffic(
    name: &str,
    project: &Path,
    done: &cim_scenarios::run::Stored<cim_scenarios::traffic::TrafficResult>,
) {
    let r = &done.result;
    let state = if r.completed {
        "complete".to_string()
    } else {
        format!("stopped at {:.0} s (results so far kept)", r.time_reached_s)
    };
    println!("run '{name}': {state}, {:.0} s simulated", r.time_reached_s);
    println!(
        "  {} steps, {} vehicle updates in {} ({:.2e} vehicle updates/s)",
        r.steps,
        r.vehicle_steps,
        if done.wall_s < 1.0 {
            format!("{:.0} ms", done.wall_s * 1000.0)
        } else {
            format!("{:.1} s", done.wall_s)
        },
        r.vehicle_steps as f64 / done.wall_s.max(1e-9)
    );
    for k in &r.kpis {
        let unit = if k.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", k.unit)
        };
        let digits = if k.unit.is_empty() { 0 } else { 1 };
        println!("  {:<32} {:>12.digits$}{unit}", k.label, k.value);
    }
    if let Some(notes) = done.summary["run"]["notes"].as_array() {
        for n in notes.iter().take(5).filter_map(|n| n.as_str()) {
            println!("  note: {n}");
        }
    }
    let frames = done.summary["run"]["playback_frames"].as_u64().unwrap_or(0);
    println!(
        "  tables in {}: cim_run_trips, cim_run_road_flows (by road, direction and interval){}",
        project.display(),
        if frames > 0 {
            format!(", cim_run_vehicles ({frames} frames of vehicle positions for playback)")
        } else {
            String::new()
        }
    );
}

fn print_flood(name: &str, project: &Path, done: &StoredRun) {
    let (r, wall, cells) = (&done.result, done.wall_s, done.cells);
    let s = &r.summary;
    let state = if s.completed {
        "complete".to_string()
    } else {
        format!(
            "stopped at {:.0} s of {:.0} s (results so far kept)",
            s.time_reached_s, s.duration_s
        )
    };
    println!("run '{name}': {state}");
    println!(
        "  grid {} cells of {} m · {} steps in {:.1} s ({:.2e} cell-updates/s)",
        s.cells,
        s.cell_size_m,
        s.steps,
        wall,
        cells * s.steps as f64 / wall.max(1e-9)
    );
    println!(
        "  max depth {:.2} m · max speed {:.2} m/s",
        s.max_depth_m, s.max_speed_m_per_s
    );
    print!(
        "  buildings (p{} of wall depths, flooded from {} m):",
        s.exposure_percentile, s.flooded_m
    );
    for c in FloodClass::ALL {
        print!(" {} {}", s.buildings_by_class[c as usize], c.label());
    }
    println!();
    println!(
        "  roads closed (> {} m): {} · {:.0} m",
        s.road_closed_m,
        s.roads_closed,
        s.road_closed_length_m + 0.0
    );
    let (b, v) = (&s.balance, &s.balance.volumes);
    println!(
        "  volume m³: rain {:.1} · inflow {:.1} · out {:.1} · drained {:.1} · stored {:.1} · error {:.2e} (relative {:.1e})",
        v.rain_m3,
        v.inflow_m3 + v.boundary_in_m3,
        v.boundary_out_m3,
        v.drained_m3,
        v.stored_m3,
        b.error_m3,
        b.relative_error
    );
    println!(
        "  rasters: {} coverages in {} (peaks, and depth and speed every output time; GDAL opens GPKG:{}:{})",
        done.rasters.len(),
        project.display(),
        project.display(),
        done.rasters
            .iter()
            .find(|t| t.ends_with("_max_depth"))
            .or(done.rasters.first())
            .map_or("", String::as_str)
    );
}

/// Refuses a stored run name that is not there, listing the ones that are.
pub fn require_run(project: &cim_engine::Project, name: &str) -> Result<RunRecord> {
    match project.run(name)? {
        Some(r) => Ok(r),
        None => {
            let names: Vec<String> = project.runs()?.into_iter().map(|r| r.name).collect();
            bail!(
                "no run '{name}' in {} (runs: {})",
                project.path().display(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )
        }
    }
}
