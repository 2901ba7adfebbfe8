//! A stored run's summary, typed: what every model states (model, whether it completed, the time
//! it reached of the time it was to simulate) and its headline numbers (KPIs: what `cim runs`
//! lists, `cim compare` sets side by side and the viewer charts), overall and at each snapshot.
//! A model declares its KPIs in the summary it stores (`kpis`, `kpi_snapshots`); flood runs
//! stored before that are read from their flood summary. CLI and viewer use the typed values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RunRecord;

/// One headline number of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// Stable key (`buildings_deep`, `roads_closed`).
    pub key: String,
    /// In words, for tables (`buildings >0.5 m`, `roads closed (> 0.3 m)`).
    pub label: String,
    /// `""` for counts.
    pub unit: String,
    pub value: f64,
}

impl Kpi {
    pub fn new(key: &str, label: impl Into<String>, unit: &str, value: f64) -> Kpi {
        Kpi {
            key: key.to_string(),
            label: label.into(),
            unit: unit.to_string(),
            // An empty sum's -0 would print as "-0".
            value: value + 0.0,
        }
    }
}

/// The KPIs at one snapshot of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiSnapshot {
    pub time_s: f64,
    pub values: BTreeMap<String, f64>,
}

/// A run's summary, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub model: String,
    pub completed: bool,
    pub time_reached_s: f64,
    /// The time it was to simulate, s (the reached time where the summary does not say).
    pub duration_s: f64,
    pub kpis: Vec<Kpi>,
    /// In time order.
    pub snapshots: Vec<KpiSnapshot>,
    /// The terrain it ran on, as stored then (runs stored before it was recorded: `None`).
    pub terrain: Option<super::TerrainInfo>,
    /// The raster quantity (and its unit) whose difference `cim compare` maps, where the model
    /// names one (`summary.compare`; flood runs: `max_depth`, in m).
    pub compare_raster: Option<(String, String)>,
}

/// Flood building classes: their keys and labels, driest first.
pub const FLOOD_CLASSES: [(&str, &str); 4] = [
    ("buildings_dry", "dry"),
    ("buildings_shallow", "<0.3 m"),
    ("buildings_moderate", "0.3-0.5 m"),
    ("buildings_deep", ">0.5 m"),
];

impl RunSummary {
    /// The typed summary of a stored run, read by its model (a model cim does not know gives
    /// the record's fields and no KPIs).
    pub fn of(r: &RunRecord) -> RunSummary {
        let mut s = RunSummary {
            model: r.model.clone(),
            completed: r.completed,
            time_reached_s: r.time_reached_s,
            duration_s: r.time_reached_s,
            kpis: Vec::new(),
            snapshots: Vec::new(),
            terrain: None,
            compare_raster: r.summary.get("compare").and_then(|c| {
                Some((
                    c.get("raster")?.as_str()?.to_string(),
                    c.get("unit").and_then(Value::as_str).unwrap_or("").to_string(),
                ))
            }),
        };
        // What the model declared.
        let declared = r.summary.get("kpis").is_some();
        if let Some(k) = r.summary.get("kpis") {
            s.kpis = serde_json::from_value(k.clone()).unwrap_or_default();
            s.snapshots = r
                .summary
                .get("kpi_snapshots")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default();
        }
        if r.model == "flood" {
            // `cim run` stores the model's summary under "run", beside its own timings.
            let run = r.summary.get("run").unwrap_or(&r.summary);
            s.duration_s = run
                .get("duration_s")
                .and_then(Value::as_f64)
                .unwrap_or(r.time_reached_s);
            // Runs stored before models declared their KPIs.
            if !declared {
                (s.kpis, s.snapshots) = flood_kpis(run);
            }
            s.terrain = run
                .get("terrain")
                .and_then(|t| serde_json::from_value(t.clone()).ok());
            // Runs stored before models named it.
            if s.compare_raster.is_none() {
                s.compare_raster = Some(("max_depth".into(), "m".into()));
            }
        }
        s.snapshots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        s
    }

    /// The KPI of `key`, if the run has it.
    pub fn value(&self, key: &str) -> Option<f64> {
        self.kpis.iter().find(|k| k.key == key).map(|k| k.value)
    }
}

/// A number of a summary (`+ 0.0` turns the -0 of older runs' empty sums into 0).
fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).map(|x| x + 0.0)
}

/// Buildings by flood class, as keyed values.
fn classes(v: &Value) -> impl Iterator<Item = (&'static str, &'static str, f64)> + '_ {
    FLOOD_CLASSES.iter().enumerate().map(move |(k, (key, label))| {
        let n = v
            .get("buildings_by_class")
            .and_then(|c| c.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        (*key, *label, n)
    })
}

/// The KPIs of a flood run summary (its `run` part): buildings by class, roads closed and
/// their length, the deepest water, the water left and the water that left; and the same at
/// each snapshot. What the flood declares when it stores a run, and how runs stored before
/// that are read.
pub fn flood_kpis(run: &Value) -> (Vec<Kpi>, Vec<KpiSnapshot>) {
    let snapshots = run
        .get("snapshots")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(flood_snapshot).collect())
        .unwrap_or_default();
    (flood_totals(run), snapshots)
}

fn flood_totals(run: &Value) -> Vec<Kpi> {
    let mut out: Vec<Kpi> = classes(run)
        .map(|(key, label, value)| Kpi::new(key, format!("buildings {label}"), "", value))
        .collect();
    let closed_at = num(run, "road_closed_m").unwrap_or(0.3);
    let mut push = |key: &str, label: String, unit: &str, value: Option<f64>| {
        out.push(Kpi::new(key, label, unit, value.unwrap_or(0.0)))
    };
    push(
        "roads_closed",
        format!("roads closed (> {closed_at} m)"),
        "",
        num(run, "roads_closed"),
    );
    push(
        "road_closed_length_m",
        "closed road length".into(),
        "m",
        num(run, "road_closed_length_m"),
    );
    push("max_depth_m", "max depth".into(), "m", num(run, "max_depth_m"));
    let balance = run.get("balance").unwrap_or(&Value::Null);
    push(
        "stored_m3",
        "water left in the domain".into(),
        "m³",
        num(balance, "stored_m3"),
    );
    push(
        "boundary_out_m3",
        "water out over the boundary".into(),
        "m³",
        num(balance, "boundary_out_m3"),
    );
    out
}

fn flood_snapshot(s: &Value) -> KpiSnapshot {
    let mut values: BTreeMap<String, f64> = classes(s).map(|(key, _, n)| (key.to_string(), n)).collect();
    for key in [
        "roads_closed",
        "road_closed_length_m",
        "max_depth_m",
        "rain_mm",
        "wet_cells",
    ] {
        values.insert(key.to_string(), num(s, key).unwrap_or(0.0));
    }
    KpiSnapshot {
        time_s: num(s, "time_s").unwrap_or(0.0),
        values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_summary_reads_as_kpis_and_snapshots() {
        let r = RunRecord {
            name: "a".into(),
            model: "flood".into(),
            scenario: String::new(),
            created: String::new(),
            completed: false,
            time_reached_s: 900.0,
            outputs: String::new(),
            summary: serde_json::json!({"run": {
                "duration_s": 3600.0, "buildings_by_class": [5, 2, 1, 3], "roads_closed": 2,
                "road_closed_length_m": -0.0, "road_closed_m": 0.15, "max_depth_m": 0.7,
                "balance": {"stored_m3": 12.5, "boundary_out_m3": 1.0},
                "snapshots": [{"time_s": 600.0, "buildings_by_class": [9, 1, 1, 0], "roads_closed": 1},
                              {"time_s": 300.0, "buildings_by_class": [11, 0, 0, 0]}]}}),
        };
        let s = RunSummary::of(&r);
        assert_eq!(
            (s.duration_s, s.completed, s.time_reached_s),
            (3600.0, false, 900.0)
        );
        assert_eq!(s.value("buildings_deep"), Some(3.0));
        assert_eq!(s.value("road_closed_length_m"), Some(0.0));
        assert!(s.value("road_closed_length_m").unwrap().is_sign_positive());
        assert_eq!(
            s.kpis.iter().find(|k| k.key == "roads_closed").unwrap().label,
            "roads closed (> 0.15 m)"
        );
        assert_eq!(
            s.snapshots.iter().map(|x| x.time_s).collect::<Vec<_>>(),
            [300.0, 600.0]
        );
        assert_eq!(s.snapshots[1].values["buildings_shallow"], 1.0);
        assert_eq!(s.snapshots[0].values["roads_closed"], 0.0);
        // A model cim does not know: the record's fields, no KPIs.
        let other = RunSummary::of(&RunRecord {
            model: "x".into(),
            ..r
        });
        assert!(other.kpis.is_empty() && other.snapshots.is_empty());
    }
}
