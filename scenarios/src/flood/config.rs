//! The flood scenario file (TOML): what to simulate, where, for how long, driven by what, and
//! the what-if modifications. See `scenarios/README.md` for the format with examples.
//!
//! A variant names its baseline with `extends = "baseline.toml"`: the baseline's tables are
//! merged under the variant's (a key the variant sets wins; `[[modify]]` entries add up), so a
//! variant file holds only what differs.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::design_storm::ChicagoStorm;
use super::{Interp, TimeSeries};
use crate::ScenarioError;

/// A scenario as written in its file, with `extends` resolved.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// A short name; runs are stored under it.
    pub name: String,
    /// The project file, relative to the scenario file.
    pub project: PathBuf,
    /// Which model: only `"flood"` so far.
    #[serde(default = "flood")]
    pub model: String,
    /// The baseline this file varies (already merged in; kept for the record).
    #[serde(default)]
    pub extends: Option<PathBuf>,
    #[serde(default)]
    pub description: String,
    /// Kept for the scenario convention: the flood model draws no random numbers.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub domain: DomainConfig,
    pub time: TimeConfig,
    #[serde(default)]
    pub parameters: ParametersConfig,
    #[serde(default)]
    pub rain: Option<RainConfig>,
    #[serde(default)]
    pub inflow: Vec<InflowConfig>,
    #[serde(default)]
    pub drainage: DrainageConfig,
    #[serde(default)]
    pub boundary: BoundaryConfig,
    #[serde(default)]
    pub modify: Vec<Modification>,
    #[serde(default)]
    pub buildings: ExposureConfig,
    #[serde(default)]
    pub roads: RoadsConfig,
}

/// When a road counts as closed.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RoadsConfig {
    /// A road is closed while water anywhere along it is deeper than this, m (0.3 m: cars
    /// stall; GB 51222-2017 counts a road waterlogged (内涝) from 0.15 m in a lane).
    pub closed_m: f64,
}

impl Default for RoadsConfig {
    fn default() -> Self {
        RoadsConfig {
            closed_m: super::ROAD_CLOSED_M,
        }
    }
}

/// How a building's exposure is judged: the depth along its walls by a percentile of its wall
/// cells (robust to one deep cell in a corner), and the depth from which it counts as flooded.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ExposureConfig {
    /// Water against the walls below this is "dry" (not flooded), m: a door sill.
    pub flooded_m: f64,
    /// Which percentile of the wall cells' depths is the building's depth (0–100; 100 is the
    /// deepest cell).
    pub percentile: f64,
}

impl Default for ExposureConfig {
    fn default() -> Self {
        ExposureConfig {
            flooded_m: 0.10,
            percentile: 90.0,
        }
    }
}

fn flood() -> String {
    "flood".into()
}

/// Where: a terrain of the project, optionally cut to a box and resampled.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// The project terrain (default: the only one).
    pub terrain: Option<String>,
    /// `[min_x, min_y, max_x, max_y]` in the project CRS (default: the whole terrain).
    pub bbox: Option<[f64; 4]>,
    /// Cell size, m (default: the terrain's).
    pub resolution_m: Option<f64>,
    /// Layers whose footprints block the flow (default: every layer of kind building).
    pub building_layers: Option<Vec<String>>,
    /// Layers whose lines are reported as roads (default: every layer of kind road).
    pub road_layers: Option<Vec<String>>,
    /// The city as of this date (features' validity), e.g. "2024-06-01".
    pub as_of: Option<String>,
}

/// When.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    pub duration_min: f64,
    /// Depth and velocity are written every this many minutes (default: 10, and the end).
    #[serde(default = "ten")]
    pub output_interval_min: f64,
}

fn ten() -> f64 {
    10.0
}

/// Numerical and physical parameters.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ParametersConfig {
    /// Manning's n where no layer gives one.
    pub manning_n: f64,
    /// n from polygons: the layer and its numeric attribute.
    pub manning_layer: Option<String>,
    pub manning_attribute: Option<String>,
    pub alpha: f64,
    pub theta: f64,
    pub dt_max_s: f64,
    pub wet_dry_m: f64,
    /// 0: all cores. The results do not depend on it.
    pub threads: usize,
}

impl Default for ParametersConfig {
    fn default() -> Self {
        let p = super::FloodParams::default();
        ParametersConfig {
            manning_n: 0.03,
            manning_layer: None,
            manning_attribute: None,
            alpha: p.alpha,
            theta: p.theta,
            dt_max_s: p.dt_max_s,
            wet_dry_m: p.h_dry_m,
            threads: 0,
        }
    }
}

/// A value over time: a constant, or `[[minute, value], ...]` points.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum SeriesConfig {
    Constant(f64),
    Points(Vec<[f64; 2]>),
}

impl SeriesConfig {
    /// The series in seconds.
    pub fn to_series(&self, interp: Interp, what: &str) -> Result<TimeSeries, ScenarioError> {
        match self {
            SeriesConfig::Constant(v) => TimeSeries::new(vec![(0.0, *v)], interp),
            SeriesConfig::Points(p) => {
                TimeSeries::new(p.iter().map(|[t, v]| (t * 60.0, *v)).collect(), interp)
            }
        }
        .map_err(|e| ScenarioError::invalid(format!("{what}: {e}")))
    }
}

/// Rain: a hyetograph (mm/h; held until the next point) everywhere, and zones that differ.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RainConfig {
    /// The hyetograph as a table (or a constant); or give `chicago` instead.
    #[serde(default)]
    pub mm_per_h: Option<SeriesConfig>,
    /// A Chicago design storm from the local storm-intensity formula.
    #[serde(default)]
    pub chicago: Option<ChicagoStorm>,
    #[serde(default)]
    pub zone: Vec<RainZoneConfig>,
}

impl RainConfig {
    /// The hyetograph, mm/h: the table as written, or the design storm's steps.
    pub fn hyetograph(&self) -> Result<SeriesConfig, ScenarioError> {
        match (&self.mm_per_h, &self.chicago) {
            (Some(s), None) => Ok(s.clone()),
            (None, Some(c)) => {
                c.check()?;
                Ok(SeriesConfig::Points(c.hyetograph()))
            }
            _ => Err(ScenarioError::invalid(
                "[rain] needs one of mm_per_h (a table) or chicago (a design storm)",
            )),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RainZoneConfig {
    pub name: String,
    /// WKT polygon in the project CRS.
    pub polygon: String,
    pub mm_per_h: SeriesConfig,
}

/// Water entering the domain (m³/s; straight lines between points) at a point or along a line.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InflowConfig {
    pub name: String,
    pub point: Option<[f64; 2]>,
    pub line: Option<Vec<[f64; 2]>>,
    pub m3_per_s: SeriesConfig,
}

/// Drainage: a capacity over the ground (mm/h), roofs' downpipes and inlets with their own
/// capacity.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DrainageConfig {
    #[serde(default)]
    pub capacity_mm_per_h: f64,
    /// Share of roof rain that downpipes take into the sewers (0–1; default 1, as in cities
    /// where roofs connect to the storm sewer).
    #[serde(default = "one")]
    pub roofs_to_sewer: f64,
    /// Roof rain intensity the sewers take, mm/h (default: `capacity_mm_per_h`); the rest
    /// spills along the walls.
    #[serde(default)]
    pub roof_capacity_mm_per_h: Option<f64>,
    #[serde(default)]
    pub inlet: Vec<InletConfig>,
}

fn one() -> f64 {
    1.0
}

impl Default for DrainageConfig {
    fn default() -> Self {
        DrainageConfig {
            capacity_mm_per_h: 0.0,
            roofs_to_sewer: 1.0,
            roof_capacity_mm_per_h: None,
            inlet: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InletConfig {
    pub name: String,
    pub point: [f64; 2],
    pub capacity_m3_per_s: f64,
}

/// The edges: `"closed"`, `"free"` or `{ level = [[minute, m], ...] }`, for all or per edge.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BoundaryConfig {
    #[serde(default = "closed")]
    pub default: EdgeConfig,
    pub north: Option<EdgeConfig>,
    pub south: Option<EdgeConfig>,
    pub east: Option<EdgeConfig>,
    pub west: Option<EdgeConfig>,
    /// Water-surface slope beyond a free edge (m/m).
    #[serde(default = "free_slope")]
    pub free_slope: f64,
}

impl Default for BoundaryConfig {
    fn default() -> Self {
        BoundaryConfig {
            default: closed(),
            north: None,
            south: None,
            east: None,
            west: None,
            free_slope: free_slope(),
        }
    }
}

fn closed() -> EdgeConfig {
    EdgeConfig::Named("closed".into())
}

fn free_slope() -> f64 {
    0.001
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum EdgeConfig {
    Named(String),
    Level { level: SeriesConfig },
}

/// A what-if change to the city before the run.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Modification {
    /// Raise (or, negative, lower) the ground along a line by `raise_m`, or up to `crest_m`.
    Levee {
        line: Vec<[f64; 2]>,
        #[serde(default = "one_cell")]
        width_m: f64,
        raise_m: Option<f64>,
        crest_m: Option<f64>,
    },
    /// Dig a polygon (WKT) `depth_m` deep, or down to `bottom_m`.
    Pond {
        polygon: String,
        depth_m: Option<f64>,
        bottom_m: Option<f64>,
    },
    /// A new building (WKT footprint) that blocks the flow.
    AddBuilding { polygon: String },
    /// Take a building out, by its city code.
    RemoveBuilding { code: String },
    /// Set the drainage capacity over the ground, mm/h.
    Drainage { capacity_mm_per_h: f64 },
}

fn one_cell() -> f64 {
    0.0
}

impl ScenarioConfig {
    /// Reads a scenario file, merging the baseline it `extends`.
    pub fn load(path: &Path) -> Result<ScenarioConfig, ScenarioError> {
        let table = load_table(path, 0)?;
        let config: ScenarioConfig = table.try_into().map_err(|e: toml::de::Error| {
            ScenarioError::invalid(format!("{}: {}", path.display(), e.message()))
        })?;
        config
            .check()
            .map_err(|e| ScenarioError::invalid(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// Reads a scenario from TOML text (`extends` is not followed).
    pub fn from_toml(text: &str) -> Result<ScenarioConfig, ScenarioError> {
        let config: ScenarioConfig =
            toml::from_str(text).map_err(|e| ScenarioError::invalid(e.message().to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// The checks that need no project.
    fn check(&self) -> Result<(), ScenarioError> {
        if self.model != "flood" {
            return Err(ScenarioError::invalid(format!(
                "model '{}' is not known (known: flood)",
                self.model
            )));
        }
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return Err(ScenarioError::invalid(format!(
                "name '{}' must be non-empty and without slashes",
                self.name
            )));
        }
        let t = &self.time;
        if !(t.duration_min > 0.0 && t.duration_min.is_finite()) {
            return Err(ScenarioError::invalid(format!(
                "time.duration_min {} must be positive",
                t.duration_min
            )));
        }
        if t.duration_min > MAX_DURATION_MIN {
            return Err(ScenarioError::invalid(format!(
                "time.duration_min {} ({:.1} days) is beyond a flood run's plausible length (up to {} days)",
                t.duration_min,
                t.duration_min / 1440.0,
                MAX_DURATION_MIN / 1440.0
            )));
        }
        if !(t.output_interval_min > 0.0 && t.output_interval_min.is_finite()) {
            return Err(ScenarioError::invalid(format!(
                "time.output_interval_min {} must be positive",
                t.output_interval_min
            )));
        }
        if let Some(r) = self.domain.resolution_m {
            if !(r > 0.0 && r.is_finite()) {
                return Err(ScenarioError::invalid(format!(
                    "domain.resolution_m {r} must be positive"
                )));
            }
        }
        if let Some(b) = self.domain.bbox {
            if !(b.iter().all(|v| v.is_finite()) && b[0] < b[2] && b[1] < b[3]) {
                return Err(ScenarioError::invalid(format!(
                    "domain.bbox {b:?} must be [min_x, min_y, max_x, max_y]"
                )));
            }
        }
        if self.parameters.manning_layer.is_some() != self.parameters.manning_attribute.is_some() {
            return Err(ScenarioError::invalid(
                "parameters.manning_layer and parameters.manning_attribute go together",
            ));
        }
        self.check_plausible()?;
        for m in &self.modify {
            match m {
                Modification::Levee {
                    line,
                    raise_m,
                    crest_m,
                    ..
                } => {
                    if line.len() < 2 {
                        return Err(ScenarioError::invalid(
                            "a levee needs a line of at least two points",
                        ));
                    }
                    if raise_m.is_some() == crest_m.is_some() {
                        return Err(ScenarioError::invalid("a levee needs one of raise_m or crest_m"));
                    }
                }
                Modification::Pond {
                    depth_m, bottom_m, ..
                } if depth_m.is_some() == bottom_m.is_some() => {
                    return Err(ScenarioError::invalid("a pond needs one of depth_m or bottom_m"));
                }
                Modification::Drainage { capacity_mm_per_h } if *capacity_mm_per_h < 0.0 => {
                    return Err(ScenarioError::invalid(format!(
                        "drainage capacity {capacity_mm_per_h} mm/h must be zero or more"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Longer than any flood run (a month).
const MAX_DURATION_MIN: f64 = 30.0 * 1440.0;
/// Rain intensity, mm/h: the world's heaviest one-minute rain (31 mm at Unionville, 1956) is
/// about 1,900 mm/h.
const MAX_RAIN_MM_PER_H: f64 = 2000.0;
/// Inflow, m³/s: more than the Amazon's mouth (about 2×10⁵).
const MAX_INFLOW_M3_PER_S: f64 = 3.0e5;
/// How far a levee may raise or a pond deepen the ground, m (a levee is rarely over 20 m).
const MAX_EARTHWORK_M: f64 = 100.0;
/// Ground levels (levee crests, pond bottoms), m: from the Dead Sea shore to Everest.
const GROUND_LEVEL_RANGE_M: (f64, f64) = (-500.0, 9000.0);

/// `what` = `v` must be finite and within `lo..=hi`; the error names the plausible range.
fn in_range(what: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<(), ScenarioError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(ScenarioError::invalid(format!(
        "{what} = {} {unit} is outside the plausible range {lo} to {hi} {unit}",
        short(v)
    )))
}

/// A number as a person writes it: 1e300, not 300 digits.
fn short(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn series_in_range(what: &str, s: &SeriesConfig, lo: f64, hi: f64, unit: &str) -> Result<(), ScenarioError> {
    match s {
        SeriesConfig::Constant(v) => in_range(what, *v, lo, hi, unit),
        SeriesConfig::Points(p) => p
            .iter()
            .try_for_each(|[t, v]| in_range(&format!("{what} at minute {}", short(*t)), *v, lo, hi, unit)),
    }
}

impl ScenarioConfig {
    /// Values no real storm, river or earthwork has: refused with the plausible range (a typo
    /// of a few zeros would otherwise run for hours or print 300-digit depths).
    fn check_plausible(&self) -> Result<(), ScenarioError> {
        if let Some(rain) = &self.rain {
            series_in_range(
                "rain.mm_per_h",
                &rain.hyetograph()?,
                0.0,
                MAX_RAIN_MM_PER_H,
                "mm/h",
            )?;
            for z in &rain.zone {
                let what = format!("rain zone '{}' mm_per_h", z.name);
                series_in_range(&what, &z.mm_per_h, 0.0, MAX_RAIN_MM_PER_H, "mm/h")?;
            }
        }
        for i in &self.inflow {
            let what = format!("inflow '{}' m3_per_s", i.name);
            series_in_range(
                &what,
                &i.m3_per_s,
                -MAX_INFLOW_M3_PER_S,
                MAX_INFLOW_M3_PER_S,
                "m³/s",
            )?;
        }
        in_range(
            "drainage.capacity_mm_per_h",
            self.drainage.capacity_mm_per_h,
            0.0,
            MAX_RAIN_MM_PER_H,
            "mm/h",
        )?;
        in_range(
            "drainage.roofs_to_sewer",
            self.drainage.roofs_to_sewer,
            0.0,
            1.0,
            "",
        )?;
        if let Some(c) = self.drainage.roof_capacity_mm_per_h {
            in_range(
                "drainage.roof_capacity_mm_per_h",
                c,
                0.0,
                MAX_RAIN_MM_PER_H,
                "mm/h",
            )?;
        }
        for i in &self.drainage.inlet {
            let what = format!("inlet '{}' capacity_m3_per_s", i.name);
            in_range(&what, i.capacity_m3_per_s, 0.0, MAX_INFLOW_M3_PER_S, "m³/s")?;
        }
        let p = &self.parameters;
        in_range("parameters.manning_n", p.manning_n, 0.001, 1.0, "s/m^(1/3)")?;
        in_range("buildings.flooded_m", self.buildings.flooded_m, 0.0, 0.3, "m")?;
        in_range("buildings.percentile", self.buildings.percentile, 0.0, 100.0, "")?;
        in_range("roads.closed_m", self.roads.closed_m, 0.01, 2.0, "m")?;
        let (lo, hi) = GROUND_LEVEL_RANGE_M;
        for m in &self.modify {
            match m {
                Modification::Levee {
                    raise_m,
                    crest_m,
                    width_m,
                    ..
                } => {
                    if let Some(r) = raise_m {
                        in_range("levee raise_m", *r, -MAX_EARTHWORK_M, MAX_EARTHWORK_M, "m")?;
                    }
                    if let Some(c) = crest_m {
                        in_range("levee crest_m", *c, lo, hi, "m")?;
                    }
                    in_range("levee width_m", *width_m, 0.0, 1000.0, "m")?;
                }
                Modification::Pond {
                    depth_m, bottom_m, ..
                } => {
                    if let Some(d) = depth_m {
                        in_range("pond depth_m", *d, 0.0, MAX_EARTHWORK_M, "m")?;
                    }
                    if let Some(b) = bottom_m {
                        in_range("pond bottom_m", *b, lo, hi, "m")?;
                    }
                }
                Modification::Drainage { capacity_mm_per_h } => {
                    in_range(
                        "drainage capacity_mm_per_h",
                        *capacity_mm_per_h,
                        0.0,
                        MAX_RAIN_MM_PER_H,
                        "mm/h",
                    )?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The file's table with its baseline merged under it; `project` and `extends` paths are made
/// relative to the current directory.
pub(crate) fn load_table(path: &Path, depth: usize) -> Result<toml::Table, ScenarioError> {
    if depth > 8 {
        return Err(ScenarioError::invalid(format!(
            "{}: `extends` goes more than 8 files deep (a loop?)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::invalid(format!("{}: cannot read: {e}", path.display())))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ScenarioError::invalid(format!("{}: {}", path.display(), e)))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    for key in ["project", "extends"] {
        if let Some(toml::Value::String(p)) = table.get(key) {
            let joined = dir.join(p);
            table.insert(
                key.into(),
                toml::Value::String(joined.to_string_lossy().into_owned()),
            );
        }
    }
    // Files a traffic scenario's demand names, likewise.
    if let Some(toml::Value::Table(demand)) = table.get_mut("demand") {
        if let Some(toml::Value::Array(files)) = demand.get_mut("sumo") {
            for f in files.iter_mut() {
                if let toml::Value::String(p) = f {
                    *p = dir.join(&*p).to_string_lossy().into_owned();
                }
            }
        }
        if let Some(toml::Value::Table(od)) = demand.get_mut("od") {
            if let Some(toml::Value::String(p)) = od.get_mut("file") {
                *p = dir.join(&*p).to_string_lossy().into_owned();
            }
        }
    }
    let Some(toml::Value::String(base)) = table.get("extends").cloned() else {
        return Ok(table);
    };
    let mut merged = load_table(Path::new(&base), depth + 1)?;
    merge(&mut merged, table);
    Ok(merged)
}

/// `over` on top of `base`: tables merge key by key, `modify` lists add up, anything else in
/// `over` replaces what `base` had.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o)) if k == "modify" => b.extend(o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        name = "storm"
        project = "city.cim.gpkg"
        [time]
        duration_min = 60
        [rain]
        mm_per_h = [[0, 100], [60, 0]]
        [drainage]
        capacity_mm_per_h = 20
        [boundary]
        default = "free"
        north = { level = [[0, 12.5], [60, 13.0]] }
    "#;

    #[test]
    fn a_scenario_reads_with_defaults() {
        let c = ScenarioConfig::from_toml(BASE).unwrap();
        assert_eq!(c.model, "flood");
        assert_eq!(c.time.output_interval_min, 10.0);
        assert_eq!(c.parameters.manning_n, 0.03);
        assert_eq!(c.boundary.default, EdgeConfig::Named("free".into()));
        assert!(matches!(c.boundary.north, Some(EdgeConfig::Level { .. })));
        let rain = c
            .rain
            .unwrap()
            .hyetograph()
            .unwrap()
            .to_series(Interp::Step, "rain")
            .unwrap();
        assert_eq!(rain.value_at(30.0 * 60.0), 100.0);
        assert_eq!(rain.value_at(61.0 * 60.0), 0.0);
    }

    #[test]
    fn a_variant_extends_its_baseline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), BASE).unwrap();
        std::fs::write(
            dir.path().join("levee.toml"),
            r#"
            name = "storm-levee"
            extends = "base.toml"
            [drainage]
            capacity_mm_per_h = 40
            [[modify]]
            type = "levee"
            line = [[0, 0], [100, 0]]
            raise_m = 1.5
            "#,
        )
        .unwrap();
        let c = ScenarioConfig::load(&dir.path().join("levee.toml")).unwrap();
        assert_eq!(c.name, "storm-levee");
        assert_eq!(c.drainage.capacity_mm_per_h, 40.0);
        assert_eq!(c.time.duration_min, 60.0);
        assert_eq!(c.project, dir.path().join("city.cim.gpkg"));
        assert_eq!(c.modify.len(), 1);
    }

    #[test]
    fn absurd_values_are_refused_with_the_plausible_range() {
        let levee = |raise: &str| {
            format!("{BASE}\n[[modify]]\ntype = \"levee\"\nline = [[0, 0], [100, 0]]\nraise_m = {raise}\n")
        };
        assert!(ScenarioConfig::from_toml(&levee("1.5")).is_ok());
        let cases = [
            (
                levee("1e9"),
                "levee raise_m = 1e9 m is outside the plausible range -100 to 100 m",
            ),
            (
                BASE.replace("duration_min = 60", "duration_min = 100000000"),
                "(69444.4 days) is beyond a flood run's plausible length (up to 30 days)",
            ),
            (
                BASE.replace("[[0, 100], [60, 0]]", "1e300"),
                "rain.mm_per_h = 1e300 mm/h is outside the plausible range 0 to 2000 mm/h",
            ),
            (
                BASE.replace("[[0, 100], [60, 0]]", "[[0, 100], [30, -4]]"),
                "rain.mm_per_h at minute 30 = -4 mm/h",
            ),
            (
                BASE.replace("capacity_mm_per_h = 20", "capacity_mm_per_h = inf"),
                "drainage.capacity_mm_per_h = inf",
            ),
        ];
        for (toml, expected) in cases {
            let e = ScenarioConfig::from_toml(&toml).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e = ScenarioConfig::from_toml(&BASE.replace("duration_min = 60", "duration_min = -5"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("duration_min"), "{e}");
        let e = ScenarioConfig::from_toml(&BASE.replace("[drainage]", "[drainage]\ncapacity = 3"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("capacity"), "{e}");
        let e = ScenarioConfig::from_toml(&format!(
            "{BASE}\n[[modify]]\ntype = \"pond\"\npolygon = \"POLYGON((0 0,1 0,1 1,0 0))\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("depth_m"), "{e}");
    }
}
