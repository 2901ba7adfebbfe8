//! Running a flood scenario and storing it in its project: the one entry point of `cim run`
//! (and of `cim demo`). The run's depth and speed frames, its peaks, its per-building and
//! per-road results and its summary all go into the project file, in one transaction at the end.

use std::time::Instant;

use cim_engine::{Project, Raster, RunBuilding, RunRecord, RunRoad, RunSpool};

use super::config::ScenarioConfig;
use super::{prepare, run_flood, PreparedFlood, RunOutput, RunResult, StepInfo};
use crate::ScenarioError;

/// A finished (or stopped) run, stored in its project.
pub struct StoredRun {
    pub result: RunResult,
    /// What `cim run --json` prints and the run's record keeps: the run's summary, its grid,
    /// its raster tables, its wall time.
    pub summary: serde_json::Value,
    /// The coverage tables of its rasters, in the project.
    pub rasters: Vec<String>,
    pub wall_s: f64,
    /// Cells of its grid.
    pub cells: f64,
}

/// Frames spooled as coverages of the run.
struct Frames<'a> {
    spool: &'a mut RunSpool,
    prepared: &'a PreparedFlood,
}

impl Frames<'_> {
    fn put(
        &mut self,
        quantity: &str,
        time_s: Option<f64>,
        data: &[f32],
        uom: &str,
    ) -> Result<(), ScenarioError> {
        let g = &self.prepared.grid;
        let raster = Raster {
            width: g.width,
            height: g.height,
            origin_x: g.origin_x,
            origin_y: g.origin_y,
            cell_w: g.dx,
            cell_h: g.dy,
            data: data.to_vec(),
        };
        self.spool.put(quantity, time_s, &raster, uom)?;
        Ok(())
    }
}

impl RunOutput for Frames<'_> {
    fn write_step(
        &mut self,
        time_s: f64,
        depth_m: &[f32],
        speed_m_per_s: &[f32],
    ) -> Result<(), ScenarioError> {
        self.put("depth", Some(time_s), depth_m, "m")?;
        self.put("speed", Some(time_s), speed_m_per_s, "m/s")
    }
}

/// Prepares scenario `config` on `project`, runs it (calling `on_step` after each step; it
/// returns `false` to stop, keeping what was reached) and stores the run under the scenario's
/// name, replacing one of that name. `scenario_text` is kept with the run; `memory_limit_bytes`
/// bounds the grid. Nothing is stored when the run fails.
pub fn run_and_store(
    project: &mut Project,
    config: &ScenarioConfig,
    scenario_text: String,
    memory_limit_bytes: u64,
    on_step: impl FnMut(&StepInfo) -> bool,
) -> Result<StoredRun, ScenarioError> {
    let prepared = prepare(config, project, memory_limit_bytes)?;
    let mut spool = project.begin_run(&config.name)?;
    let started = Instant::now();
    let result = run_flood(
        &prepared,
        &mut Frames {
            spool: &mut spool,
            prepared: &prepared,
        },
        on_step,
    )?;
    let wall_s = started.elapsed().as_secs_f64();
    let mut peaks = Frames {
        spool: &mut spool,
        prepared: &prepared,
    };
    peaks.put("max_depth", None, &result.max_depth_m, "m")?;
    peaks.put("max_speed", None, &result.max_speed_m_per_s, "m/s")?;
    peaks.put("time_of_max_depth", None, &result.time_of_max_depth_s, "s")?;

    let cells = prepared.grid.num_cells() as f64;
    let rasters = spool.tables();
    let mut summary = serde_json::json!({
        "run": result.summary,
        "grid": {
            "terrain": prepared.terrain,
            "width": prepared.grid.width,
            "height": prepared.grid.height,
            "origin": [prepared.grid.origin_x, prepared.grid.origin_y],
            "cell_m": prepared.grid.dx,
        },
        "rasters": rasters,
        "wall_s": wall_s,
        "cell_updates_per_s": cells * result.summary.steps as f64 / wall_s.max(1e-9),
    });
    // The headline numbers it declares, read from its summary as older runs' are.
    let (kpis, kpi_snapshots) = cim_engine::flood_kpis(&summary["run"]);
    summary["kpis"] = serde_json::to_value(kpis).unwrap_or_default();
    summary["kpi_snapshots"] = serde_json::to_value(kpi_snapshots).unwrap_or_default();
    let record = RunRecord {
        name: config.name.clone(),
        model: config.model.clone(),
        scenario: scenario_text,
        created: String::new(),
        completed: result.summary.completed,
        time_reached_s: result.summary.time_reached_s,
        outputs: String::new(),
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
            closed_intervals: r.closed_intervals.clone(),
        })
        .collect();
    project.save_run(&record, &buildings, &roads, Some(spool))?;
    Ok(StoredRun {
        result,
        summary,
        rasters,
        wall_s,
        cells,
    })
}

/// MemAvailable from /proc/meminfo; 8 GiB where it cannot be read.
pub fn available_memory() -> u64 {
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
