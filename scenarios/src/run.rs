//! Running any scenario: one lifecycle for every model. A scenario file names its model
//! (`model = "flood"`, the default); [`Scenario::load`] reads it (with its `extends` baseline),
//! [`execute`] opens the project, runs the model, reports progress at most ten times a second,
//! stops cleanly at the end of a step when asked (Ctrl-C, through [`stop_on_ctrl_c`]) keeping
//! what it reached, and stores the run in the project. `cim run`, `cim demo` and scripts go
//! through it; the CLI only parses arguments and prints.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use cim_engine::{Project, Raster, ResultTable, RunRecord, RunSpool};

use crate::flood::{self, config::ScenarioConfig};
use crate::traffic::{self, TrafficConfig};
use crate::ScenarioError;

/// The models a scenario may name.
pub const MODELS: [&str; 2] = ["flood", "traffic"];

/// A scenario, read and checked, by its model.
#[derive(Clone, Debug)]
pub enum Scenario {
    Flood(Box<ScenarioConfig>),
    Traffic(Box<TrafficConfig>),
}

impl Scenario {
    /// Reads the scenario file at `path` (merging the baseline it `extends`) as its model's.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let table = flood::config::load_table(path, 0)?;
        let model = match table.get("model") {
            None => "flood",
            Some(toml::Value::String(m)) => m.as_str(),
            Some(other) => {
                return Err(ScenarioError::invalid(format!(
                    "{}: model must be text, one of {}; got {other}",
                    path.display(),
                    MODELS.join(", ")
                )))
            }
        };
        match model {
            "flood" => Ok(Scenario::Flood(Box::new(ScenarioConfig::load(path)?))),
            "traffic" => Ok(Scenario::Traffic(Box::new(TrafficConfig::load(path)?))),
            other => Err(ScenarioError::invalid(format!(
                "{}: model '{other}' is not known (known: {})",
                path.display(),
                MODELS.join(", ")
            ))),
        }
    }

    pub fn model(&self) -> &'static str {
        match self {
            Scenario::Flood(_) => "flood",
            Scenario::Traffic(_) => "traffic",
        }
    }

    /// The run's name (what it is stored as).
    pub fn name(&self) -> &str {
        match self {
            Scenario::Flood(c) => &c.name,
            Scenario::Traffic(c) => &c.name,
        }
    }

    /// The project it runs on.
    pub fn project(&self) -> &Path {
        match self {
            Scenario::Flood(c) => &c.project,
            Scenario::Traffic(c) => &c.project,
        }
    }

    /// How much time it simulates, s.
    pub fn duration_s(&self) -> f64 {
        match self {
            Scenario::Flood(c) => c.time.duration_min * 60.0,
            Scenario::Traffic(c) => c.time.duration_min * 60.0,
        }
    }

    /// Runs it on `threads` worker threads (results do not depend on the number).
    pub fn set_threads(&mut self, threads: usize) {
        match self {
            Scenario::Flood(c) => c.parameters.threads = threads,
            Scenario::Traffic(c) => c.parameters.threads = threads,
        }
    }
}

/// What a model's step came to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stepped {
    /// Still short of its next output time.
    Going,
    /// It reached this output time: take a snapshot there.
    Output(f64),
    /// Past its last output time.
    Done,
    /// Told to stop during the step; its state is where it stopped.
    Stopped,
}

/// A simulation as the lifecycle runs it: prepared by its model from the scenario and the
/// project, then stepped (each step to the model's next check or output time at most),
/// snapshot at its output times and where it was stopped, and finished into what it leaves —
/// its summary with its KPIs, the result tables it declares, its end rasters — which
/// [`execute`] stores in the project the same way for every model.
pub trait Model: Sized {
    /// What the model says after each of its simulation steps (time step, wet cells…).
    type Step;
    /// What it gives back in memory besides what is stored (its typed result).
    type Result;

    /// A step's simulated time and its state in words, for progress reports.
    fn describe(step: &Self::Step) -> (f64, String);

    /// Simulated time reached, s.
    fn time_s(&self) -> f64;

    /// Advances; after each simulation step `go_on` is asked whether to go on, and the step
    /// ends there when it says no.
    fn step(&mut self, go_on: &mut dyn FnMut(&Self::Step) -> bool) -> Result<Stepped, ScenarioError>;

    /// Records its state at `time_s` (an output time, or where it stopped).
    fn snapshot(&mut self, time_s: f64) -> Result<(), ScenarioError>;

    /// Ends the run (`completed`, or stopped after `wall_s` of wall time): what it leaves.
    fn finish(self, completed: bool, wall_s: f64) -> Result<Outcome<Self::Result>, ScenarioError>;
}

/// What a finished (or stopped) model leaves.
pub struct Outcome<R> {
    pub completed: bool,
    pub time_reached_s: f64,
    /// Its summary: what `cim run --json` prints and the run's record keeps. It declares the
    /// run's KPIs (`kpis`, `kpi_snapshots`: [`cim_engine::RunSummary`] reads them); the
    /// lifecycle adds `rasters` (the coverage tables) and `wall_s`.
    pub summary: serde_json::Value,
    /// Its result tables, keyed by city code.
    pub tables: Vec<ResultTable>,
    /// Rasters of the whole run (peaks), stored beside the frames it wrote while running.
    pub rasters: Vec<EndRaster>,
    pub result: R,
}

/// A raster a model leaves at its end.
pub struct EndRaster {
    pub quantity: String,
    pub raster: Raster,
    pub uom: String,
}

/// The one run loop: steps `model` to its end, a snapshot at every output time, or until
/// `go_on` says no (then a last snapshot where it stopped). Returns whether it completed.
pub fn drive<M: Model>(
    model: &mut M,
    mut go_on: impl FnMut(&M::Step) -> bool,
) -> Result<bool, ScenarioError> {
    loop {
        match model.step(&mut go_on)? {
            Stepped::Going => {}
            Stepped::Output(t) => model.snapshot(t)?,
            Stepped::Done => return Ok(true),
            Stepped::Stopped => {
                let t = model.time_s();
                model.snapshot(t)?;
                return Ok(false);
            }
        }
    }
}

/// How far a run has come.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Simulated time reached, and the whole, s.
    pub time_s: f64,
    pub duration_s: f64,
    /// Steps taken so far, and per second of wall time.
    pub steps: u64,
    pub steps_per_s: f64,
    /// What the model says of its state (`Δt 0.42 s · 1203 wet cells · max 0.31 m`).
    pub detail: String,
}

/// A run done (or stopped) and stored, by its model.
pub enum Finished {
    Flood(Box<flood::StoredRun>),
    Traffic(Stored<traffic::TrafficResult>),
}

impl Finished {
    /// What `cim run --json` prints and the run's record keeps.
    pub fn summary(&self) -> &serde_json::Value {
        match self {
            Finished::Flood(r) => &r.summary,
            Finished::Traffic(r) => &r.summary,
        }
    }

    /// Whether it reached its end (a stopped run keeps what it had).
    pub fn completed(&self) -> bool {
        match self {
            Finished::Flood(r) => r.result.summary.completed,
            Finished::Traffic(r) => r.result.completed,
        }
    }
}

/// What the lifecycle stored of a run, beside the model's own result.
pub struct Stored<R> {
    pub result: R,
    /// The summary as stored.
    pub summary: serde_json::Value,
    /// The coverage tables of its rasters, in the project.
    pub rasters: Vec<String>,
    pub wall_s: f64,
}

/// The stop flag Ctrl-C sets (its handler installed once per process; where one cannot be set,
/// as in an embedding with its own, Ctrl-C just ends the process). Cleared here: a run that
/// starts is not stopped by an earlier Ctrl-C.
pub fn stop_on_ctrl_c() -> &'static AtomicBool {
    static STOP: AtomicBool = AtomicBool::new(false);
    static HANDLER: std::sync::Once = std::sync::Once::new();
    HANDLER.call_once(|| {
        let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    });
    STOP.store(false, Ordering::SeqCst);
    &STOP
}

/// Runs `scenario` on its project and stores the run there (`scenario_text`, the file as
/// written, is kept with it). `progress` hears at most ten times a second and once at the end;
/// the run stops at the end of the step during which `stop` is set, keeping what it reached.
/// Nothing is stored when the run fails.
pub fn execute(
    scenario: &Scenario,
    scenario_text: String,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Finished, ScenarioError> {
    let mut project = Project::open(scenario.project())?;
    let name = scenario.name().to_string();
    let mut life = Life {
        scenario,
        scenario_text,
        stop,
        progress,
    };
    match scenario {
        Scenario::Flood(config) => {
            let prepared = flood::prepare(config, &project, flood::available_memory())?;
            let mut spool = project.begin_run(&name)?;
            let outcome = {
                let mut frames = flood::SpoolFrames::new(&mut spool, &prepared.grid);
                let model = flood::FloodRun::new(&prepared, &mut frames)?;
                life.run(model)?
            };
            let stored = store(&mut project, scenario, life.scenario_text, spool, outcome)?;
            Ok(Finished::Flood(Box::new(flood::StoredRun {
                cells: prepared.grid.num_cells() as f64,
                result: stored.result,
                summary: stored.summary,
                rasters: stored.rasters,
                wall_s: stored.wall_s,
            })))
        }
        Scenario::Traffic(config) => {
            let prepared = traffic::prepare(config, &project)?;
            let spool = project.begin_run(&name)?;
            let outcome = life.run(traffic::TrafficRun::new(&prepared, config)?)?;
            let stored = store(&mut project, scenario, life.scenario_text, spool, outcome)?;
            Ok(Finished::Traffic(stored))
        }
    }
}

/// The parts of a run every model shares.
struct Life<'a> {
    scenario: &'a Scenario,
    scenario_text: String,
    stop: &'a AtomicBool,
    progress: &'a mut dyn FnMut(&Progress),
}

impl Life<'_> {
    /// Drives `model` to its end or to a stop, reporting progress, and finishes it.
    fn run<M: Model>(&mut self, mut model: M) -> Result<(Outcome<M::Result>, f64), ScenarioError> {
        let duration_s = self.scenario.duration_s();
        let started = Instant::now();
        let mut last: Option<Instant> = None;
        let mut steps = 0u64;
        let mut reached = 0.0;
        let (stop, progress) = (self.stop, &mut *self.progress);
        let mut report = |time_s: f64, detail: String, steps: u64, force: bool| {
            if !force && last.is_some_and(|l| l.elapsed().as_millis() < 100) {
                return;
            }
            last = Some(Instant::now());
            progress(&Progress {
                time_s,
                duration_s,
                steps,
                steps_per_s: steps as f64 / started.elapsed().as_secs_f64().max(1e-9),
                detail,
            });
        };
        let completed = drive(&mut model, |step| {
            steps += 1;
            let (t, detail) = M::describe(step);
            reached = t;
            report(t, detail, steps, false);
            !stop.load(Ordering::SeqCst)
        })?;
        report(reached, String::new(), steps, true);
        let wall_s = started.elapsed().as_secs_f64();
        Ok((model.finish(completed, wall_s)?, wall_s))
    }
}

/// Stores what a model left as the scenario's run, replacing one of that name: its record and
/// summary, its result tables and its rasters (the frames spooled while it ran, and its end
/// rasters), in one transaction.
fn store<R>(
    project: &mut Project,
    scenario: &Scenario,
    scenario_text: String,
    mut spool: RunSpool,
    (outcome, wall_s): (Outcome<R>, f64),
) -> Result<Stored<R>, ScenarioError> {
    for r in &outcome.rasters {
        spool.put(&r.quantity, None, &r.raster, &r.uom)?;
    }
    let rasters = spool.tables();
    let mut summary = outcome.summary;
    if let Some(map) = summary.as_object_mut() {
        map.insert("rasters".into(), serde_json::json!(rasters));
        map.insert("wall_s".into(), serde_json::json!(wall_s));
    }
    let record = RunRecord {
        name: scenario.name().to_string(),
        model: scenario.model().to_string(),
        scenario: scenario_text,
        created: String::new(),
        completed: outcome.completed,
        time_reached_s: outcome.time_reached_s,
        outputs: String::new(),
        summary: summary.clone(),
    };
    project.save_run(&record, &outcome.tables, Some(spool))?;
    Ok(Stored {
        result: outcome.result,
        summary,
        rasters,
        wall_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that ticks 1 s a step, outputs every 3 s up to 9 s.
    struct Clock {
        t: f64,
        snaps: Vec<f64>,
    }

    impl Model for Clock {
        type Step = f64;
        type Result = Vec<f64>;

        fn describe(t: &f64) -> (f64, String) {
            (*t, String::new())
        }

        fn finish(self, completed: bool, _wall_s: f64) -> Result<Outcome<Vec<f64>>, ScenarioError> {
            Ok(Outcome {
                completed,
                time_reached_s: self.t,
                summary: serde_json::json!({}),
                tables: Vec::new(),
                rasters: Vec::new(),
                result: self.snaps,
            })
        }

        fn time_s(&self) -> f64 {
            self.t
        }

        fn step(&mut self, go_on: &mut dyn FnMut(&f64) -> bool) -> Result<Stepped, ScenarioError> {
            if self.t >= 9.0 {
                return Ok(Stepped::Done);
            }
            self.t += 1.0;
            if !go_on(&self.t) {
                return Ok(Stepped::Stopped);
            }
            Ok(if self.t % 3.0 == 0.0 {
                Stepped::Output(self.t)
            } else {
                Stepped::Going
            })
        }

        fn snapshot(&mut self, time_s: f64) -> Result<(), ScenarioError> {
            self.snaps.push(time_s);
            Ok(())
        }
    }

    #[test]
    fn the_run_loop_snapshots_every_output_and_where_it_stopped() {
        let mut c = Clock {
            t: 0.0,
            snaps: vec![],
        };
        assert!(drive(&mut c, |_| true).unwrap());
        assert_eq!(c.snaps, [3.0, 6.0, 9.0]);
        let mut c = Clock {
            t: 0.0,
            snaps: vec![],
        };
        assert!(!drive(&mut c, |t| *t < 5.0).unwrap());
        assert_eq!(c.snaps, [3.0, 5.0]);
    }
}
