//! `cim run SCENARIO.toml`: runs a flood scenario on its project and stores the run.

use super::open_project;
use anyhow::{bail, Context, Result};
use cim_engine::{Crs, Raster, RunBuilding, RunRecord, RunRoad};
use cim_scenarios::flood::{self, config::ScenarioConfig, FloodClass, PreparedFlood, RunOutput, RunResult};
use cim_scenarios::ScenarioError;
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
        print_summary(&config.name, &done.result, &done.folder, done.wall_s, done.cells);
    }
    Ok(())
}

/// A finished (or stopped) run, stored in its project.
pub struct Done {
    pub result: RunResult,
    pub folder: PathBuf,
    pub summary: serde_json::Value,
    pub wall_s: f64,
    pub cells: f64,
}

/// Prepares, runs and stores a scenario; `scenario_text` is kept with the run.
pub fn execute(config: &ScenarioConfig, scenario_text: String, quiet: bool) -> Result<Done> {
    let mut project = open_project(&config.project)?;
    let prepared = flood::prepare(config, &project, available_memory())?;
    let (folder, folder_rel) = run_folder(&config.project, &config.name);
    let partial = folder.with_extension("partial");
    if let Some(runs_dir) = folder.parent() {
        std::fs::create_dir_all(runs_dir).with_context(|| format!("cannot create {}", runs_dir.display()))?;
        remove_stale_partials(runs_dir);
    }
    // Held while the run writes: a run killed before it finished leaves its `.partial` folder
    // with no lock held, which the next run removes.
    let lock = lock_partial(&partial)?;
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).with_context(|| format!("cannot create {}", partial.display()))?;

    // Ctrl-C stops the run at the end of the current step; what it reached is kept.
    static STOP: AtomicBool = AtomicBool::new(false);
    static HANDLER: std::sync::Once = std::sync::Once::new();
    // Where a handler cannot be set (an embedding that has its own), Ctrl-C just ends the process.
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    });
    STOP.store(false, Ordering::SeqCst);
    let stop = &STOP;
    let bar = progress_bar(prepared.duration_s, quiet);
    let mut writer = TiffSteps {
        dir: partial.clone(),
        grid: &prepared,
        crs: project.crs().clone(),
    };
    let started = Instant::now();
    let cells = prepared.grid.num_cells() as f64;
    let mut steps = 0u64;
    let mut last_draw = Instant::now();
    let result = flood::run_flood(&prepared, &mut writer, |info| {
        steps += 1;
        if last_draw.elapsed().as_millis() >= 100 {
            last_draw = Instant::now();
            let rate = cells * steps as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(info.time_s as u64);
            bar.set_message(format!(
                "Δt {:.2} s · {} wet cells · max {:.2} m · {:.2e} cell-updates/s",
                info.dt_s, info.wet_cells, info.max_depth_m, rate
            ));
        }
        !stop.load(Ordering::SeqCst)
    });
    bar.finish_and_clear();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e.into());
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    write_peaks(&partial, &prepared, &result, project.crs())?;
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::rename(&partial, &folder)
        .with_context(|| format!("cannot move outputs to {}", folder.display()))?;
    drop(lock);
    let _ = std::fs::remove_file(lock_path(&partial));

    let summary = serde_json::json!({
        "run": result.summary,
        "grid": {
            "terrain": prepared.terrain,
            "width": prepared.grid.width,
            "height": prepared.grid.height,
            "origin": [prepared.grid.origin_x, prepared.grid.origin_y],
            "cell_m": prepared.grid.dx,
        },
        "outputs": folder.display().to_string(),
        "wall_s": wall_s,
        "cell_updates_per_s": cells * result.summary.steps as f64 / wall_s.max(1e-9),
    });
    let record = RunRecord {
        name: config.name.clone(),
        model: config.model.clone(),
        scenario: scenario_text,
        created: String::new(),
        completed: result.summary.completed,
        time_reached_s: result.summary.time_reached_s,
        outputs: folder_rel,
        summary: summary.clone(),
    };
    let buildings: Vec<RunBuilding> = result
        .buildings
        .iter()
        .map(|b| RunBuilding {
            code: b.code.clone(),
            max_depth_m: b.max_depth_m,
            first_wet_s: b.first_wet_s,
            class: b.class.label().to_string(),
            classes: b.classes.clone(),
        })
        .collect();
    let roads: Vec<RunRoad> = result
        .roads
        .iter()
        .map(|r| RunRoad {
            code: r.code.clone(),
            length_m: r.length_m,
            max_depth_m: r.max_depth_m,
            closed_s: r.closed_s,
            reopened_s: r.reopened_s,
            closed_for_s: r.closed_for_s,
        })
        .collect();
    project.save_run(&record, &buildings, &roads)?;
    Ok(Done {
        result,
        folder,
        summary,
        wall_s,
        cells,
    })
}

fn lock_path(partial: &Path) -> PathBuf {
    partial.with_extension("partial.lock")
}

/// Locks `<run>.partial.lock` for this run (waiting if another run of the same name holds it).
fn lock_partial(partial: &Path) -> Result<std::fs::File> {
    let path = lock_path(partial);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

/// Removes the `.partial` folders that killed runs left behind: those whose lock no running
/// run holds.
pub fn remove_stale_partials(runs_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "partial") && p.is_dir() {
            let lock = lock_path(&p);
            let free = match std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock)
            {
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => false,
            };
            if free {
                let _ = std::fs::remove_dir_all(&p);
                let _ = std::fs::remove_file(&lock);
            }
        }
    }
}

/// `<project folder>/<project file name>.runs/<run name>`, and the same relative to the project's folder.
pub fn run_folder(project: &Path, name: &str) -> (PathBuf, String) {
    let file = project
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file.strip_suffix(".gpkg").unwrap_or(&file).to_string();
    let rel = format!("{stem}.runs/{name}");
    let dir = project.parent().unwrap_or(Path::new(""));
    (dir.join(&rel), rel)
}

/// MemAvailable from /proc/meminfo; 8 GiB where it cannot be read.
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(8 << 30, |kb| kb * 1024)
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

/// One GeoTIFF of depth and one of speed per output time.
struct TiffSteps<'a> {
    dir: PathBuf,
    grid: &'a PreparedFlood,
    crs: Crs,
}

impl RunOutput for TiffSteps<'_> {
    fn write_step(
        &mut self,
        time_s: f64,
        depth_m: &[f32],
        speed_m_per_s: &[f32],
    ) -> Result<(), ScenarioError> {
        let t = time_s.round() as u64;
        for (what, data) in [("depth", depth_m), ("speed", speed_m_per_s)] {
            let path = self.dir.join(format!("{what}_t{t:06}.tif"));
            write_tif(&path, self.grid, data, &self.crs).map_err(|e| ScenarioError::Invalid {
                message: format!("{e:#}"),
            })?;
        }
        Ok(())
    }
}

fn write_tif(path: &Path, p: &PreparedFlood, data: &[f32], crs: &Crs) -> Result<()> {
    let g = &p.grid;
    let raster = Raster {
        width: g.width,
        height: g.height,
        origin_x: g.origin_x,
        origin_y: g.origin_y,
        cell_w: g.dx,
        cell_h: g.dy,
        data: data.to_vec(),
    };
    cim_importers::export::write_geotiff(path, &raster, crs)?;
    Ok(())
}

fn write_peaks(dir: &Path, p: &PreparedFlood, r: &RunResult, crs: &Crs) -> Result<()> {
    write_tif(&dir.join("max_depth.tif"), p, &r.max_depth_m, crs)?;
    write_tif(&dir.join("max_speed.tif"), p, &r.max_speed_m_per_s, crs)?;
    write_tif(&dir.join("time_of_max_depth.tif"), p, &r.time_of_max_depth_s, crs)?;
    let mut csv = String::from("code,max_depth_m,first_wet_s,class\n");
    for b in &r.buildings {
        csv.push_str(&format!(
            "{},{:.4},{},{}\n",
            b.code,
            b.max_depth_m,
            b.first_wet_s.map_or(String::new(), |t| format!("{t:.0}")),
            b.class.label()
        ));
    }
    std::fs::write(dir.join("buildings.csv"), csv)?;
    let mut csv = String::from("code,length_m,max_depth_m,closed_s,reopened_s,closed_for_s\n");
    for r in &r.roads {
        let t = |v: Option<f64>| v.map_or(String::new(), |t| format!("{t:.0}"));
        csv.push_str(&format!(
            "{},{:.1},{:.4},{},{},{:.0}\n",
            r.code,
            r.length_m,
            r.max_depth_m,
            t(r.closed_s),
            t(r.reopened_s),
            r.closed_for_s
        ));
    }
    std::fs::write(dir.join("roads.csv"), csv)?;
    Ok(())
}

pub fn print_summary(name: &str, r: &RunResult, folder: &Path, wall: f64, cells: f64) {
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
    println!("  outputs: {}", folder.display());
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
