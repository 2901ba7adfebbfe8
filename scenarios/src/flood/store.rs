//! What a flood run leaves in its project: its depth and speed frames (spooled while it runs),
//! its peaks, its per-building and per-road result tables and its summary with its KPIs. The
//! lifecycle ([`crate::run::execute`]) stores them in one transaction at the end.

use cim_engine::{Raster, RunBuilding, RunRoad, RunSpool};

use super::{FloodGrid, PreparedFlood, RunOutput, RunResult};
use crate::run::{EndRaster, Outcome};
use crate::ScenarioError;

/// A finished (or stopped) flood run, stored in its project.
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

/// Depth and speed frames spooled as coverages of the run.
pub struct SpoolFrames<'a> {
    spool: &'a mut RunSpool,
    grid: &'a FloodGrid,
}

impl<'a> SpoolFrames<'a> {
    pub fn new(spool: &'a mut RunSpool, grid: &'a FloodGrid) -> SpoolFrames<'a> {
        SpoolFrames { spool, grid }
    }
}

/// A grid's values as a raster.
fn raster(g: &FloodGrid, data: &[f32]) -> Raster {
    Raster {
        width: g.width,
        height: g.height,
        origin_x: g.origin_x,
        origin_y: g.origin_y,
        cell_w: g.dx,
        cell_h: g.dy,
        data: data.to_vec(),
    }
}

impl RunOutput for SpoolFrames<'_> {
    fn write_step(
        &mut self,
        time_s: f64,
        depth_m: &[f32],
        speed_m_per_s: &[f32],
    ) -> Result<(), ScenarioError> {
        self.spool
            .put("depth", Some(time_s), &raster(self.grid, depth_m), "m")?;
        self.spool
            .put("speed", Some(time_s), &raster(self.grid, speed_m_per_s), "m/s")?;
        Ok(())
    }
}

/// What a flood run leaves: its summary (with the KPIs it declares), its building and road
/// tables, its peak rasters.
pub(super) fn outcome(
    prepared: &PreparedFlood,
    result: RunResult,
    wall_s: f64,
) -> Result<Outcome<RunResult>, ScenarioError> {
    let g = &prepared.grid;
    let cells = g.num_cells() as f64;
    let mut summary = serde_json::json!({
        "run": result.summary,
        "grid": {
            "terrain": prepared.terrain,
            "width": g.width,
            "height": g.height,
            "origin": [g.origin_x, g.origin_y],
            "cell_m": g.dx,
        },
        "cell_updates_per_s": cells * result.summary.steps as f64 / wall_s.max(1e-9),
        // What `cim compare` maps the difference of.
        "compare": {"raster": "max_depth", "unit": "m"},
    });
    // The headline numbers it declares, read from its summary as older runs' are.
    let (kpis, kpi_snapshots) = cim_engine::flood_kpis(&summary["run"]);
    summary["kpis"] = serde_json::to_value(kpis).unwrap_or_default();
    summary["kpi_snapshots"] = serde_json::to_value(kpi_snapshots).unwrap_or_default();
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
    let peak = |quantity: &str, data: &[f32], uom: &str| EndRaster {
        quantity: quantity.to_string(),
        raster: raster(g, data),
        uom: uom.to_string(),
    };
    Ok(Outcome {
        completed: result.summary.completed,
        time_reached_s: result.summary.time_reached_s,
        summary,
        tables: vec![RunBuilding::table(&buildings), RunRoad::table(&roads)],
        rasters: vec![
            peak("max_depth", &result.max_depth_m, "m"),
            peak("max_speed", &result.max_speed_m_per_s, "m/s"),
            peak("time_of_max_depth", &result.time_of_max_depth_s, "s"),
        ],
        result,
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
