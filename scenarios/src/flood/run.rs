//! A whole flood run: the simulation stepped to its outputs, with buildings and roads watched
//! along the way, and the summary that answers "what floods, what closes".

use serde::Serialize;

use super::{PreparedFlood, Simulation, StepInfo, VolumeBalance};
use crate::ScenarioError;

/// Water shallower than this at a building counts as dry, m (the default of
/// `[buildings] flooded_m`: a door sill).
pub const WET_AT_BUILDING_M: f64 = 0.10;
/// Up to this depth a flooded building is "shallow", m (water over the sill, below car doors).
pub const SHALLOW_MAX_M: f64 = 0.3;
/// Beyond this depth a building is "deep", m (dangerous to wade; the common 0.5 m threshold).
pub const MODERATE_MAX_M: f64 = 0.5;
/// A road is closed while water on it is deeper than this, m (the default of `[roads]
/// closed_m`).
pub const ROAD_CLOSED_M: f64 = 0.3;
/// Buildings and roads are checked every this many simulated seconds (and at every output).
pub const WATCH_EVERY_S: f64 = 10.0;

/// How badly a building floods: by the depth along its walls (a percentile of its wall cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FloodClass {
    /// Below the flooded threshold (0.10 m by default).
    Dry,
    /// From the threshold up to 0.3 m.
    Shallow,
    /// 0.3–0.5 m.
    Moderate,
    /// Over 0.5 m.
    Deep,
}

impl FloodClass {
    /// The class of a building with water `m` deep along its walls, flooded from `flooded_m`.
    pub fn of_depth(m: f64, flooded_m: f64) -> FloodClass {
        if m < flooded_m {
            FloodClass::Dry
        } else if m < SHALLOW_MAX_M {
            FloodClass::Shallow
        } else if m <= MODERATE_MAX_M {
            FloodClass::Moderate
        } else {
            FloodClass::Deep
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FloodClass::Dry => "dry",
            FloodClass::Shallow => "<0.3 m",
            FloodClass::Moderate => "0.3-0.5 m",
            FloodClass::Deep => ">0.5 m",
        }
    }

    pub const ALL: [FloodClass; 4] = [
        FloodClass::Dry,
        FloodClass::Shallow,
        FloodClass::Moderate,
        FloodClass::Deep,
    ];
}

/// The `p`-th percentile (0–100, nearest rank) of the depths at `cells`; 0 for none.
///
/// # Examples
/// ```
/// use cim_scenarios::flood::wall_depth;
/// let h = [0.0, 0.02, 0.05, 0.9, 0.04];
/// // One deep cell in a corner does not make the building deep at the 90th percentile of 5.
/// assert_eq!(wall_depth(&h, &[0, 1, 2, 4, 3], 50.0), 0.04);
/// assert_eq!(wall_depth(&h, &[0, 1, 2, 4, 3], 100.0), 0.9);
/// ```
pub fn wall_depth(h: &[f64], cells: &[usize], p: f64) -> f64 {
    wall_depth_in(h, cells, p, &mut Vec::new())
}

/// [`wall_depth`] with a scratch buffer (a run asks it for every building every 10 s).
fn wall_depth_in(h: &[f64], cells: &[usize], p: f64, scratch: &mut Vec<f64>) -> f64 {
    if cells.is_empty() {
        return 0.0;
    }
    scratch.clear();
    scratch.extend(cells.iter().map(|&c| h[c]));
    // Nearest rank: the smallest value with at least p % of the cells at or below it.
    let rank = ((p / 100.0 * scratch.len() as f64).ceil() as usize).clamp(1, scratch.len());
    let (_, v, _) = scratch.select_nth_unstable_by(rank - 1, f64::total_cmp);
    *v
}

/// One building's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildingResult {
    pub code: String,
    pub max_depth_m: f64,
    pub first_wet_s: Option<f64>,
    pub class: FloodClass,
    /// Its class at each of the summary's snapshots, in order (a digit each: 0 dry … 3 deep), so
    /// a playback can colour it as the water rises and falls.
    pub classes: String,
}

/// One road's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RoadResult {
    pub code: String,
    pub length_m: f64,
    pub max_depth_m: f64,
    /// When it first closed (water deeper than `[roads] closed_m`), and when it last reopened (`None`
    /// while still closed at the end).
    pub closed_s: Option<f64>,
    pub reopened_s: Option<f64>,
    pub closed_for_s: f64,
    /// Every interval it was closed, in order: from, and to (`None`: still closed at the end).
    pub closed_intervals: Vec<(f64, Option<f64>)>,
}

/// The state of the city at one output time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    pub time_s: f64,
    pub max_depth_m: f64,
    pub wet_cells: u64,
    /// Buildings by class now (dry, shallow, moderate, deep).
    pub buildings_by_class: [u64; 4],
    pub roads_closed: u64,
    pub road_closed_length_m: f64,
    /// Rain fallen so far, spread over the domain, mm.
    pub rain_mm: f64,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Whether it reached the scenario's end (a stopped run keeps what it had).
    pub completed: bool,
    pub time_reached_s: f64,
    pub duration_s: f64,
    pub steps: u64,
    pub cells: u64,
    pub cell_size_m: f64,
    /// The terrain the run was made on, as stored then (a viewer compares it with the
    /// project's terrain now).
    pub terrain: cim_engine::TerrainInfo,
    pub balance: VolumeBalanceSummary,
    pub max_depth_m: f64,
    pub max_speed_m_per_s: f64,
    pub buildings_by_class: [u64; 4],
    /// How buildings were judged: the percentile of their wall cells' depths, and the depth
    /// from which they count as flooded.
    pub exposure_percentile: f64,
    pub flooded_m: f64,
    /// The depth above which a road counted as closed.
    pub road_closed_m: f64,
    pub roads_closed: u64,
    pub road_closed_length_m: f64,
    pub snapshots: Vec<Snapshot>,
}

/// The volume balance with its error, as a run's summary reports it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct VolumeBalanceSummary {
    #[serde(flatten)]
    pub volumes: VolumeBalance,
    pub error_m3: f64,
    pub relative_error: f64,
}

impl From<VolumeBalance> for VolumeBalanceSummary {
    fn from(b: VolumeBalance) -> Self {
        VolumeBalanceSummary {
            volumes: b,
            error_m3: b.error_m3(),
            relative_error: b.relative_error(),
        }
    }
}

/// Everything a run leaves: the summary, per-feature tables and the peak rasters.
pub struct RunResult {
    pub summary: RunSummary,
    pub buildings: Vec<BuildingResult>,
    pub roads: Vec<RoadResult>,
    pub max_depth_m: Vec<f32>,
    pub max_speed_m_per_s: Vec<f32>,
    /// NaN where a cell never got wet.
    pub time_of_max_depth_s: Vec<f32>,
}

/// Where a run's depth and speed go at each output time (files, a store, a test's memory).
pub trait RunOutput {
    fn write_step(
        &mut self,
        time_s: f64,
        depth_m: &[f32],
        speed_m_per_s: &[f32],
    ) -> Result<(), ScenarioError>;
}

/// Runs a prepared flood to its end, or until `on_step` returns `false` (Ctrl-C): then the
/// result holds everything up to that time and `completed` is false. An unstable run is an
/// error naming the time and cell. Driven by the one run loop ([`crate::run::drive`]).
pub fn run_flood(
    prepared: &PreparedFlood,
    output: &mut dyn RunOutput,
    on_step: impl FnMut(&StepInfo) -> bool,
) -> Result<RunResult, ScenarioError> {
    let mut run = FloodRun::new(prepared, output)?;
    let completed = crate::run::drive(&mut run, on_step)?;
    run.into_result(completed)
}

/// A flood run under way: the simulation, what is watched, the snapshots so far.
pub struct FloodRun<'a> {
    prepared: &'a PreparedFlood,
    output: &'a mut dyn RunOutput,
    sim: Simulation,
    watch: Watch<'a>,
    snapshots: Vec<Snapshot>,
    steps: u64,
    last: StepInfo,
    /// The next of `prepared.output_times_s` to reach.
    next_output: usize,
}

impl<'a> FloodRun<'a> {
    pub fn new(
        prepared: &'a PreparedFlood,
        output: &'a mut dyn RunOutput,
    ) -> Result<FloodRun<'a>, ScenarioError> {
        Ok(FloodRun {
            sim: Simulation::new(
                prepared.grid.clone(),
                prepared.forcing.clone(),
                prepared.params.clone(),
                prepared.duration_s,
            )?,
            watch: Watch::new(prepared),
            prepared,
            output,
            snapshots: Vec::new(),
            steps: 0,
            last: StepInfo {
                time_s: 0.0,
                dt_s: 0.0,
                wet_cells: 0,
                max_depth_m: 0.0,
            },
            next_output: 0,
        })
    }
}

impl crate::run::Model for FloodRun<'_> {
    type Step = StepInfo;
    type Result = RunResult;

    fn describe(info: &StepInfo) -> (f64, String) {
        (
            info.time_s,
            format!(
                "Δt {:.2} s · {} wet cells · max {:.2} m",
                info.dt_s, info.wet_cells, info.max_depth_m
            ),
        )
    }

    fn finish(self, completed: bool, wall_s: f64) -> Result<crate::run::Outcome<RunResult>, ScenarioError> {
        let prepared = self.prepared;
        super::store::outcome(prepared, self.into_result(completed)?, wall_s)
    }

    fn time_s(&self) -> f64 {
        self.sim.time_s()
    }

    /// To the next 10 s check or output time, whichever comes first.
    fn step(
        &mut self,
        go_on: &mut dyn FnMut(&StepInfo) -> bool,
    ) -> Result<crate::run::Stepped, ScenarioError> {
        use crate::run::Stepped;
        let Some(&t_out) = self.prepared.output_times_s.get(self.next_output) else {
            return Ok(Stepped::Done);
        };
        if self.sim.time_s() < t_out {
            let next_watch = ((self.sim.time_s() / WATCH_EVERY_S).floor() + 1.0) * WATCH_EVERY_S;
            let until = next_watch.min(t_out);
            let mut going = true;
            let (steps, last) = (&mut self.steps, &mut self.last);
            self.sim.run_until(until, |info| {
                *steps += 1;
                *last = *info;
                going = go_on(info);
                going
            })?;
            self.watch.check(&self.sim);
            if !going {
                return Ok(Stepped::Stopped);
            }
        }
        if self.sim.time_s() >= t_out {
            self.next_output += 1;
            return Ok(Stepped::Output(t_out));
        }
        Ok(Stepped::Going)
    }

    /// The buildings' and roads' state, and the depth and speed frames.
    fn snapshot(&mut self, time_s: f64) -> Result<(), ScenarioError> {
        self.snapshots
            .push(self.watch.snapshot(&self.sim, &self.last, self.prepared));
        let depth: Vec<f32> = self.sim.depth().iter().map(|&h| h as f32).collect();
        self.output.write_step(time_s, &depth, &self.sim.speed())
    }
}

impl FloodRun<'_> {
    /// Everything the run leaves in memory, `completed` or stopped.
    pub fn into_result(self, completed: bool) -> Result<RunResult, ScenarioError> {
        let (prepared, sim, watch, snapshots, steps) =
            (self.prepared, self.sim, self.watch, self.snapshots, self.steps);
        let stopped = !completed;
        let end = sim.time_s();
        let buildings = watch.building_results();
        let roads = watch.road_results(end);
        let mut by_class = [0u64; 4];
        for b in &buildings {
            by_class[b.class as usize] += 1;
        }
        let closed: Vec<&RoadResult> = roads.iter().filter(|r| r.closed_s.is_some()).collect();
        let max_speed = sim.max_speed();
        let summary = RunSummary {
            completed: !stopped,
            time_reached_s: end,
            duration_s: prepared.duration_s,
            steps,
            cells: prepared.grid.num_cells() as u64,
            cell_size_m: prepared.grid.dx,
            terrain: prepared.terrain_info.clone(),
            balance: sim.balance().into(),
            max_depth_m: sim.max_depth().iter().copied().fold(0.0f32, f32::max).into(),
            max_speed_m_per_s: max_speed.iter().copied().fold(0.0f32, f32::max).into(),
            buildings_by_class: by_class,
            exposure_percentile: prepared.config.buildings.percentile,
            flooded_m: prepared.config.buildings.flooded_m,
            road_closed_m: prepared.config.roads.closed_m,
            roads_closed: closed.len() as u64,
            // A fold from +0: an empty f64 sum is -0, which reports print as "-0.0 km".
            road_closed_length_m: closed.iter().map(|r| r.length_m).fold(0.0, |a, b| a + b),
            snapshots,
        };
        Ok(RunResult {
            summary,
            buildings,
            roads,
            max_depth_m: sim.max_depth().to_vec(),
            max_speed_m_per_s: max_speed,
            time_of_max_depth_s: sim.time_of_max_depth(),
        })
    }
}

/// Buildings and roads followed through a run.
struct Watch<'a> {
    prepared: &'a PreparedFlood,
    /// When each building first had water at or over the flooded threshold along its walls.
    first_wet: Vec<Option<f64>>,
    /// Each building's highest wall depth at the checks so far.
    building_max: Vec<f64>,
    /// Reused for each building's wall depths.
    scratch: Vec<f64>,
    roads: Vec<RoadWatch>,
    /// Each building's class at each snapshot so far, a digit each.
    classes: Vec<String>,
}

impl<'a> Watch<'a> {
    fn new(prepared: &'a PreparedFlood) -> Watch<'a> {
        let nr = prepared.roads.len();
        Watch {
            prepared,
            first_wet: vec![None; prepared.buildings.len()],
            building_max: vec![0.0; prepared.buildings.len()],
            scratch: Vec::new(),
            roads: vec![RoadWatch::default(); nr],
            classes: vec![String::new(); prepared.buildings.len()],
        }
    }

    fn check(&mut self, sim: &Simulation) {
        let (h, t) = (sim.depth(), sim.time_s());
        let deepest = |cells: &[usize]| cells.iter().map(|&c| h[c]).fold(0.0, f64::max);
        let e = &self.prepared.config.buildings;
        for (k, b) in self.prepared.buildings.iter().enumerate() {
            let d = wall_depth_in(h, &b.cells, e.percentile, &mut self.scratch);
            self.building_max[k] = self.building_max[k].max(d);
            if self.first_wet[k].is_none() && d >= e.flooded_m {
                self.first_wet[k] = Some(t);
            }
        }
        let closed_m = self.prepared.config.roads.closed_m;
        for (r, w) in self.prepared.roads.iter().zip(&mut self.roads) {
            w.observe(deepest(&r.cells), closed_m, t);
        }
    }

    fn snapshot(&mut self, sim: &Simulation, last: &StepInfo, prepared: &PreparedFlood) -> Snapshot {
        let h = sim.depth();
        let e = &prepared.config.buildings;
        let mut by_class = [0u64; 4];
        for (b, classes) in prepared.buildings.iter().zip(&mut self.classes) {
            let d = wall_depth_in(h, &b.cells, e.percentile, &mut self.scratch);
            let class = FloodClass::of_depth(d, e.flooded_m) as usize;
            by_class[class] += 1;
            classes.push(char::from(b'0' + class as u8));
        }
        let closed: Vec<usize> = (0..prepared.roads.len())
            .filter(|&k| self.roads[k].since.is_some())
            .collect();
        let area = prepared.grid.num_cells() as f64 * prepared.grid.cell_area();
        Snapshot {
            time_s: sim.time_s(),
            max_depth_m: last.max_depth_m,
            wet_cells: last.wet_cells,
            buildings_by_class: by_class,
            roads_closed: closed.len() as u64,
            road_closed_length_m: closed
                .iter()
                .map(|&k| prepared.roads[k].length_m)
                .fold(0.0, |a, b| a + b),
            rain_mm: sim.balance().rain_m3 / area * 1000.0,
        }
    }

    /// Each building's worst: the highest of its wall depth (the percentile) over the checks.
    fn building_results(&self) -> Vec<BuildingResult> {
        let flooded_m = self.prepared.config.buildings.flooded_m;
        self.prepared
            .buildings
            .iter()
            .zip(&self.first_wet)
            .zip(&self.classes)
            .zip(&self.building_max)
            .map(|(((b, first), classes), &d)| BuildingResult {
                code: b.code.clone(),
                max_depth_m: d,
                first_wet_s: *first,
                class: FloodClass::of_depth(d, flooded_m),
                classes: classes.clone(),
            })
            .collect()
    }

    fn road_results(&self, end: f64) -> Vec<RoadResult> {
        self.prepared
            .roads
            .iter()
            .enumerate()
            .map(|(k, r)| self.roads[k].result(&r.code, r.length_m, end))
            .collect()
    }
}

/// One road watched through a run: its deepest water, and when it closed and reopened.
#[derive(Clone, Debug, Default, PartialEq)]
struct RoadWatch {
    max_depth_m: f64,
    /// The intervals closed and reopened so far.
    intervals: Vec<(f64, Option<f64>)>,
    /// When it closed this time, while it is closed.
    since: Option<f64>,
}

impl RoadWatch {
    /// Water `depth_m` deep on it at time `t`: closed while deeper than `closed_m`.
    fn observe(&mut self, depth_m: f64, closed_m: f64, t: f64) {
        self.max_depth_m = self.max_depth_m.max(depth_m);
        match (depth_m > closed_m, self.since) {
            (true, None) => self.since = Some(t),
            (false, Some(since)) => {
                self.intervals.push((since, Some(t)));
                self.since = None;
            }
            _ => {}
        }
    }

    /// Its result for a run that ended at `end`.
    fn result(&self, code: &str, length_m: f64, end: f64) -> RoadResult {
        let intervals: Vec<(f64, Option<f64>)> = self
            .intervals
            .iter()
            .copied()
            .chain(self.since.map(|s| (s, None)))
            .collect();
        RoadResult {
            code: code.to_string(),
            length_m,
            max_depth_m: self.max_depth_m,
            closed_s: intervals.first().map(|i| i.0),
            reopened_s: intervals.last().and_then(|i| i.1),
            closed_for_s: intervals.iter().map(|(a, b)| b.unwrap_or(end) - a).sum(),
            closed_intervals: intervals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_road_keeps_every_interval_it_was_closed() {
        let mut w = RoadWatch::default();
        for (t, d) in [
            (0.0, 0.0),
            (10.0, 0.4),
            (20.0, 0.5),
            (30.0, 0.1),
            (40.0, 0.2),
            (50.0, 0.35),
            (90.0, 0.6),
        ] {
            w.observe(d, 0.3, t);
        }
        let r = w.result("r", 100.0, 100.0);
        assert_eq!(r.closed_intervals, vec![(10.0, Some(30.0)), (50.0, None)]);
        assert_eq!((r.closed_s, r.reopened_s), (Some(10.0), None));
        assert_eq!((r.closed_for_s, r.max_depth_m), (20.0 + 50.0, 0.6));
        // Reopened at the end: the last reopening is its end.
        w.observe(0.0, 0.3, 95.0);
        let r = w.result("r", 100.0, 100.0);
        assert_eq!(r.closed_intervals, vec![(10.0, Some(30.0)), (50.0, Some(95.0))]);
        assert_eq!((r.reopened_s, r.closed_for_s), (Some(95.0), 65.0));
        // Never closed.
        let r = RoadWatch::default().result("r", 1.0, 100.0);
        assert!(r.closed_intervals.is_empty() && r.closed_s.is_none() && r.closed_for_s == 0.0);
    }

    #[test]
    fn a_building_is_judged_by_its_walls_not_its_deepest_corner() {
        // 20 wall cells: 17 dry-ish, a corner of 3 deep cells (roof water gathering).
        let mut h = vec![0.03; 20];
        h[0] = 0.8;
        h[1] = 0.6;
        h[2] = 0.4;
        let cells: Vec<usize> = (0..20).collect();
        let p90 = wall_depth(&h, &cells, 90.0);
        assert_eq!(p90, 0.4); // the 18th of 20 sorted depths
        assert_eq!(wall_depth(&h, &cells, 100.0), 0.8);
        assert_eq!(wall_depth(&h, &cells, 50.0), 0.03);
        assert_eq!(wall_depth(&h, &[], 90.0), 0.0);
        assert_eq!(FloodClass::of_depth(0.03, WET_AT_BUILDING_M), FloodClass::Dry);
        assert_eq!(FloodClass::of_depth(0.10, WET_AT_BUILDING_M), FloodClass::Shallow);
        assert_eq!(FloodClass::of_depth(0.03, 0.01), FloodClass::Shallow);
        assert_eq!(FloodClass::of_depth(p90, WET_AT_BUILDING_M), FloodClass::Moderate);
        assert_eq!(FloodClass::of_depth(0.51, WET_AT_BUILDING_M), FloodClass::Deep);
    }
}
