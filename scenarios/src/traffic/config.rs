//! The traffic scenario file (TOML), `model = "traffic"`: the project, how long, the demand
//! (random trips, SUMO route files), the driver model. A variant `extends` its baseline as a
//! flood scenario does. See `scenarios/README.md`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::demand::RandomTrips;
use super::sim::{Follow, SimParams, VehicleType};
use crate::ScenarioError;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    pub name: String,
    pub project: PathBuf,
    pub model: String,
    #[serde(default)]
    pub extends: Option<PathBuf>,
    #[serde(default)]
    pub description: String,
    /// Drives every random draw (trips, speed factors, dawdling).
    #[serde(default = "seed")]
    pub seed: u64,
    pub time: TimeConfig,
    pub demand: DemandConfig,
    #[serde(default)]
    pub driver: DriverConfig,
    #[serde(default)]
    pub parameters: ParametersConfig,
    #[serde(default)]
    pub closures: ClosuresConfig,
    /// What-if changes to the road network.
    #[serde(default)]
    pub network: NetworkConfig,
    /// Signal plans replacing the default programs, one per controller.
    #[serde(default)]
    pub signals: Vec<SignalConfig>,
    #[serde(default)]
    pub routing: RoutingConfig,
}

/// `[routing]`: periodic rerouting on the travel times seen (off by default: routes are the
/// fastest at the speed limits, changed only round closures).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Every vehicle on the road is routed again this often, min (0: never).
    pub reroute_every_min: f64,
    /// Share of an edge's previous travel-time estimate kept at each update (0 to below 1).
    pub smoothing: f64,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            reroute_every_min: 0.0,
            smoothing: 0.5,
        }
    }
}

/// `[network]`: roads added or changed, turns banned.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    #[serde(default)]
    pub add: Vec<AddRoadConfig>,
    #[serde(default)]
    pub change: Vec<ChangeRoadConfig>,
    #[serde(default)]
    pub ban_turn: Vec<BanTurnConfig>,
}

/// `[[network.add]]`: a road that is not there yet.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AddRoadConfig {
    /// Its code in the results (default `added-<n>`).
    #[serde(default)]
    pub code: Option<String>,
    /// `LINESTRING (x y, ...)` in the project CRS; its ends on junctions (within 15 m).
    pub wkt: String,
    #[serde(default = "one_lane")]
    pub lanes: u32,
    #[serde(default = "fifty")]
    pub speed_kmh: f64,
    #[serde(default)]
    pub oneway: bool,
    /// Road class (`highway`), for priority at junctions.
    #[serde(default = "unclassified")]
    pub class: String,
}

fn one_lane() -> u32 {
    1
}

fn fifty() -> f64 {
    50.0
}

fn unclassified() -> String {
    "unclassified".into()
}

/// `[[network.change]]`: a road's lanes (per direction) or speed limit.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoadConfig {
    pub code: String,
    #[serde(default)]
    pub lanes: Option<u32>,
    #[serde(default)]
    pub speed_kmh: Option<f64>,
}

/// `[[network.ban_turn]]`: no turn from one road onto another.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BanTurnConfig {
    pub from: String,
    pub to: String,
}

/// `[[signals]]`: a controller's plan.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignalConfig {
    /// The controller (`controller` in cim_net_signals) …
    #[serde(default)]
    pub controller: Option<u32>,
    /// … or an OSM node (SUMO junction) of one of its junctions.
    #[serde(default)]
    pub node: Option<i64>,
    #[serde(default)]
    pub offset_s: f64,
    /// Greens scaled so the cycle, yellows included, lasts this long.
    #[serde(default)]
    pub cycle_s: Option<f64>,
    pub phase: Vec<PhaseConfig>,
}

/// One phase: approaches (road codes) green, or a SUMO state string.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PhaseConfig {
    #[serde(default)]
    pub green: Vec<String>,
    #[serde(default)]
    pub state: Option<String>,
    pub duration_s: f64,
}

/// Roads closed during the run: every interval a flood run kept a road closed (shifted by
/// `delay_min`), and roads listed by city code with a time window.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClosuresConfig {
    /// A flood run stored in the same project.
    #[serde(default)]
    pub flood_run: Option<String>,
    /// The flood's closures apply this much later in the traffic run (the flood began
    /// `-delay_min` before the traffic run's start when negative), min.
    #[serde(default)]
    pub delay_min: f64,
    #[serde(default)]
    pub road: Vec<RoadClosure>,
    /// Vehicles reroute round closed roads (default); `false`: they wait before them.
    #[serde(default = "yes")]
    pub reroute: bool,
}

fn yes() -> bool {
    true
}

impl Default for ClosuresConfig {
    fn default() -> Self {
        ClosuresConfig {
            flood_run: None,
            delay_min: 0.0,
            road: Vec::new(),
            reroute: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoadClosure {
    /// The road's city code.
    pub code: String,
    #[serde(default)]
    pub from_min: f64,
    /// Open again then (default: closed to the end).
    #[serde(default)]
    pub to_min: Option<f64>,
}

fn seed() -> u64 {
    42
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// The run ends when every trip is done, or at this time at the latest, min.
    pub duration_min: f64,
    /// Outputs (KPIs, road counts) every this often, min.
    #[serde(default = "five")]
    pub output_every_min: f64,
    /// Vehicle positions for playback every this often, s (0: none).
    #[serde(default = "one_s")]
    pub positions_every_s: f64,
}

fn one_s() -> f64 {
    1.0
}

fn five() -> f64 {
    5.0
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DemandConfig {
    #[serde(default)]
    pub random: Option<RandomConfig>,
    /// SUMO route files (`<vehicle>`, `<trip>`, `<flow>`, `<route>`), relative to this file.
    #[serde(default)]
    pub sumo: Vec<PathBuf>,
    /// Trips between the zones of a polygon layer, from a CSV table.
    #[serde(default)]
    pub od: Option<OdConfig>,
}

/// `[demand.od]`: an origin–destination table between zones.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OdConfig {
    /// CSV with origin, destination and trips columns, relative to this file.
    pub file: PathBuf,
    /// The polygon layer whose features are the zones.
    pub zones: String,
    /// The attribute naming each zone in the table (default: the feature's city code).
    #[serde(default)]
    pub zone_field: Option<String>,
    #[serde(default)]
    pub begin_s: f64,
    #[serde(default = "hour")]
    pub end_s: f64,
    /// Shares of the trips in equal slices of [begin_s, end_s) (default: even).
    #[serde(default)]
    pub profile: Vec<f64>,
    /// Every count is multiplied by this.
    #[serde(default = "one")]
    pub scale: f64,
}

fn hour() -> f64 {
    3600.0
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RandomConfig {
    pub begin_s: f64,
    pub end_s: f64,
    pub period_s: f64,
    pub fringe_factor: f64,
    pub min_distance_m: f64,
}

impl Default for RandomConfig {
    fn default() -> Self {
        let r = RandomTrips::default();
        RandomConfig {
            begin_s: r.begin_s,
            end_s: r.end_s,
            period_s: r.period_s,
            fringe_factor: r.fringe_factor,
            min_distance_m: r.min_distance_m,
        }
    }
}

/// The drivers and their cars; SUMO's passenger car by default.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DriverConfig {
    /// `krauss` (SUMO's default) or `idm`.
    pub car_following: String,
    pub length_m: f64,
    pub min_gap_m: f64,
    pub accel: f64,
    pub decel: f64,
    pub sigma: f64,
    pub tau_s: f64,
    pub speed_dev: f64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        let v = VehicleType::default();
        DriverConfig {
            car_following: "krauss".into(),
            length_m: v.length_m,
            min_gap_m: v.min_gap_m,
            accel: v.accel,
            decel: v.decel,
            sigma: v.sigma,
            tau_s: v.tau_s,
            speed_dev: v.speed_dev,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ParametersConfig {
    /// 1 s, or 0.5 s.
    pub step_s: f64,
    /// A vehicle halted this long counts as stuck, s.
    pub stuck_after_s: f64,
    /// A vehicle halted this long jumps ahead along its route to the first edge with room
    /// (SUMO's `time-to-teleport`), s; 0 (the default): never, it stays and counts stuck.
    pub teleport_after_s: f64,
    /// Worker threads (0: all cores); results do not depend on it.
    pub threads: usize,
    /// Signal programs: `fixed` (time, SUMO's static) or `actuated` (greens from
    /// `min_green_s` to `max_green_s`, ended when no vehicle is due within `max_gap_s`).
    pub signals: String,
    pub min_green_s: f64,
    pub max_green_s: f64,
    pub max_gap_s: f64,
}

impl Default for ParametersConfig {
    fn default() -> Self {
        ParametersConfig {
            step_s: 1.0,
            stuck_after_s: 300.0,
            teleport_after_s: 0.0,
            threads: 0,
            signals: "fixed".into(),
            min_green_s: 5.0,
            max_green_s: 50.0,
            max_gap_s: 3.0,
        }
    }
}

impl TrafficConfig {
    /// Reads a traffic scenario (with its `extends` baseline merged).
    pub fn load(path: &Path) -> Result<TrafficConfig, ScenarioError> {
        let table = crate::flood::config::load_table(path, 0)?;
        let c: TrafficConfig = table.try_into().map_err(|e: toml::de::Error| {
            ScenarioError::invalid(format!("{}: {}", path.display(), e.message()))
        })?;
        c.check()
            .map_err(|e| ScenarioError::invalid(format!("{}: {e}", path.display())))?;
        Ok(c)
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::invalid(m));
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return bad(format!(
                "name '{}' must be non-empty and without slashes",
                self.name
            ));
        }
        if !(self.time.duration_min > 0.0 && self.time.duration_min <= 7.0 * 24.0 * 60.0) {
            return bad(format!(
                "time.duration_min {} must be more than 0 and at most a week",
                self.time.duration_min
            ));
        }
        if !(self.time.positions_every_s >= 0.0 && self.time.positions_every_s.is_finite()) {
            return bad("time.positions_every_s must be 0 (none) or more".into());
        }
        if self.time.output_every_min.is_nan() || self.time.output_every_min <= 0.0 {
            return bad("time.output_every_min must be positive".into());
        }
        if ![0.5, 1.0].contains(&self.parameters.step_s) {
            return bad(format!(
                "parameters.step_s {} must be 1 or 0.5",
                self.parameters.step_s
            ));
        }
        if self.demand.random.is_none() && self.demand.sumo.is_empty() && self.demand.od.is_none() {
            return bad(
                "[demand] needs random trips ([demand.random]), SUMO route files (sumo = [...]) or an OD table ([demand.od])"
                    .into(),
            );
        }
        let pm = &self.parameters;
        if !["fixed", "actuated"].contains(&pm.signals.as_str()) {
            return bad(format!(
                "parameters.signals '{}' must be fixed or actuated",
                pm.signals
            ));
        }
        if !(pm.min_green_s >= 1.0
            && pm.max_green_s >= pm.min_green_s
            && pm.max_green_s <= 600.0
            && pm.max_gap_s > 0.0)
        {
            return bad(format!(
                "parameters: min_green_s {} (1 or more), max_green_s {} (from min_green_s to 600) and max_gap_s {} (above 0) do not fit",
                pm.min_green_s, pm.max_green_s, pm.max_gap_s
            ));
        }
        if !(pm.teleport_after_s >= 0.0 && pm.teleport_after_s.is_finite()) {
            return bad(format!(
                "parameters.teleport_after_s {} must be 0 (never) or more",
                pm.teleport_after_s
            ));
        }
        let r = &self.routing;
        if !(r.reroute_every_min >= 0.0
            && r.reroute_every_min.is_finite()
            && (0.0..1.0).contains(&r.smoothing))
        {
            return bad(format!(
                "routing: reroute_every_min {} must be 0 (never) or more, smoothing {} from 0 to below 1",
                r.reroute_every_min, r.smoothing
            ));
        }
        if let Some(o) = &self.demand.od {
            if !(o.end_s > o.begin_s && o.begin_s >= 0.0) {
                return bad(format!(
                    "demand.od: end_s {} must be after begin_s {} (0 or more)",
                    o.end_s, o.begin_s
                ));
            }
            if o.profile.iter().any(|p| !p.is_finite() || *p < 0.0)
                || !o.profile.is_empty() && o.profile.iter().sum::<f64>() <= 0.0
            {
                return bad(format!(
                    "demand.od.profile {:?}: shares must be 0 or more, and not all 0",
                    o.profile
                ));
            }
            if !(o.scale.is_finite() && o.scale >= 0.0) {
                return bad(format!("demand.od.scale {} must be 0 or more", o.scale));
            }
        }
        if let Some(r) = &self.demand.random {
            if r.period_s.is_nan() || r.period_s <= 0.0 || r.end_s < r.begin_s || r.fringe_factor < 0.0 {
                return bad(format!(
                    "demand.random: period_s {} must be positive, end_s {} not before begin_s {}, fringe_factor {} not negative",
                    r.period_s, r.end_s, r.begin_s, r.fringe_factor
                ));
            }
        }
        if !["krauss", "idm"].contains(&self.driver.car_following.as_str()) {
            return bad(format!(
                "driver.car_following '{}' must be krauss or idm",
                self.driver.car_following
            ));
        }
        for r in &self.closures.road {
            if r.to_min.is_some_and(|t| t <= r.from_min) || r.from_min < 0.0 {
                return bad(format!(
                    "closures.road '{}': from_min {} must be 0 or more and before to_min {:?}",
                    r.code, r.from_min, r.to_min
                ));
            }
        }
        let d = &self.driver;
        let plausible = [
            ("length_m", d.length_m, 1.0, 30.0),
            ("min_gap_m", d.min_gap_m, 0.0, 20.0),
            ("accel", d.accel, 0.1, 10.0),
            ("decel", d.decel, 0.1, 15.0),
            ("sigma", d.sigma, 0.0, 1.0),
            ("tau_s", d.tau_s, 0.1, 5.0),
            ("speed_dev", d.speed_dev, 0.0, 1.0),
        ];
        for (k, v, lo, hi) in plausible {
            if !(lo..=hi).contains(&v) {
                return bad(format!("driver.{k} {v} must be between {lo} and {hi}"));
            }
        }
        Ok(())
    }

    /// The simulation's parameters.
    pub fn sim_params(&self) -> SimParams {
        let d = &self.driver;
        SimParams {
            step_s: self.parameters.step_s,
            vtype: VehicleType {
                length_m: d.length_m,
                min_gap_m: d.min_gap_m,
                accel: d.accel,
                decel: d.decel,
                sigma: d.sigma,
                tau_s: d.tau_s,
                speed_dev: d.speed_dev,
                ..VehicleType::default()
            },
            follow: if d.car_following == "idm" {
                Follow::Idm
            } else {
                Follow::Krauss
            },
            seed: self.seed,
            stuck_after_s: self.parameters.stuck_after_s,
            teleport_after_s: self.parameters.teleport_after_s,
            ..SimParams::default()
        }
    }

    /// The network what-ifs, read (a WKT that is not a line is an error naming it).
    pub fn edits(&self) -> Result<cim_engine::network::NetworkEdits, ScenarioError> {
        use cim_engine::network::{NetworkEdits, NewRoad, RoadChange, TurnBan};
        let n = &self.network;
        let mut add = Vec::new();
        for (k, a) in n.add.iter().enumerate() {
            let code = a.code.clone().unwrap_or_else(|| format!("added-{}", k + 1));
            let geom: wkt::Wkt<f64> = a
                .wkt
                .parse()
                .map_err(|e| ScenarioError::invalid(format!("network.add '{code}': wkt is not WKT: {e}")))?;
            let line = match geo::Geometry::try_from(geom) {
                Ok(geo::Geometry::LineString(l)) => l.0.iter().map(|c| [c.x, c.y]).collect::<Vec<_>>(),
                _ => {
                    return Err(ScenarioError::invalid(format!(
                        "network.add '{code}': wkt must be a LINESTRING in the project CRS"
                    )))
                }
            };
            add.push(NewRoad {
                code,
                line,
                lanes: a.lanes,
                speed_m_s: a.speed_kmh / 3.6,
                oneway: a.oneway,
                class: a.class.clone(),
            });
        }
        for c in &n.change {
            if c.lanes.is_some_and(|l| !(1..=20).contains(&l))
                || c.speed_kmh.is_some_and(|v| !(v > 0.0 && v < 360.0))
                || c.lanes.is_none() && c.speed_kmh.is_none()
            {
                return Err(ScenarioError::invalid(format!(
                    "network.change '{}': give lanes (1 to 20) or speed_kmh (above 0), or both",
                    c.code
                )));
            }
        }
        Ok(NetworkEdits {
            add,
            change: n
                .change
                .iter()
                .map(|c| RoadChange {
                    code: c.code.clone(),
                    lanes: c.lanes,
                    speed_m_s: c.speed_kmh.map(|v| v / 3.6),
                })
                .collect(),
            ban: n
                .ban_turn
                .iter()
                .map(|b| TurnBan {
                    from: b.from.clone(),
                    to: b.to.clone(),
                })
                .collect(),
        })
    }

    /// The OD demand, if any.
    pub fn od(&self) -> Option<super::od::OdDemand> {
        self.demand.od.as_ref().map(|o| super::od::OdDemand {
            file: o.file.clone(),
            zones: o.zones.clone(),
            zone_field: o.zone_field.clone(),
            begin_s: o.begin_s,
            end_s: o.end_s,
            profile: o.profile.clone(),
            scale: o.scale,
            seed: self.seed,
        })
    }

    pub fn random_trips(&self) -> Option<RandomTrips> {
        self.demand.random.as_ref().map(|r| RandomTrips {
            begin_s: r.begin_s,
            end_s: r.end_s,
            period_s: r.period_s,
            seed: self.seed,
            fringe_factor: r.fringe_factor,
            min_distance_m: r.min_distance_m,
        })
    }
}
