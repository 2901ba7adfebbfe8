//! `cim run SCENARIO.toml`: runs a flood scenario on its project and stores the run.

use super::open_project;
use anyhow::{bail, Context, Result};
use cim_engine::RunRecord;
use cim_scenarios::flood::{self, config::ScenarioConfig, FloodClass, StoredRun};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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
    let mut config = ScenarioConfig::load(&a.scenario)?;
    if let Some(t) = a.threads {
        config.parameters.threads = t;
    }
    let text = std::fs::read_to_string(&a.scenario).unwrap_or_default();
    let done =
        execute(&config, text, a.json).with_context(|| format!("scenario {}", a.scenario.display()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&done.summary)?);
    } else {
        print_summary(&config.name, &config.project, &done);
    }
    Ok(())
}

/// Runs and stores a scenario (`scenario_text` is kept with the run), with a progress bar unless
/// `quiet`; Ctrl-C stops it at the end of the current step, keeping what it reached.
pub fn execute(config: &ScenarioConfig, scenario_text: String, quiet: bool) -> Result<StoredRun> {
    let mut project = open_project(&config.project)?;
    static STOP: AtomicBool = AtomicBool::new(false);
    static HANDLER: std::sync::Once = std::sync::Once::new();
    // Where a handler cannot be set (an embedding that has its own), Ctrl-C just ends the process.
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    });
    STOP.store(false, Ordering::SeqCst);
    let stop = &STOP;
    let duration_s = config.time.duration_min * 60.0;
    let bar = progress_bar(duration_s, quiet);
    let started = Instant::now();
    let mut steps = 0u64;
    let mut last_draw = Instant::now();
    let stored = flood::run_and_store(
        &mut project,
        config,
        scenario_text,
        flood::available_memory(),
        |info| {
            steps += 1;
            if last_draw.elapsed().as_millis() >= 100 {
                last_draw = Instant::now();
                bar.set_position(info.time_s as u64);
                bar.set_message(format!(
                    "Δt {:.2} s · {} wet cells · max {:.2} m · {:.0} steps/s",
                    info.dt_s,
                    info.wet_cells,
                    info.max_depth_m,
                    steps as f64 / started.elapsed().as_secs_f64().max(1e-9)
                ));
            }
            !stop.load(Ordering::SeqCst)
        },
    );
    bar.finish_and_clear();
    Ok(stored?)
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

pub fn print_summary(name: &str, project: &Path, done: &StoredRun) {
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
