//! A traffic run in a project: the network built from its road layers, the demand routed, the
//! simulation stepped to the end of every trip (or the scenario's end), and what it leaves —
//! a trip table, counts per road and direction per output interval, KPIs — through the one
//! run lifecycle ([`crate::run`]).

use std::time::Instant;

use cim_engine::network::{Network, NetworkOptions};
use cim_engine::{Cell, ColumnKind, Kpi, KpiSnapshot, Project, ResultColumn, ResultTable};

use super::config::TrafficConfig;
use super::demand::{random_trips, read_sumo_routes, TripSpec};
use super::net::SimNet;
use super::route::Router;
use super::sim::{Closed, Sim, Status, Trip};
use crate::run::{Outcome, Stepped};
use crate::ScenarioError;

/// A traffic scenario made ready: its network, its trips routed.
pub struct PreparedTraffic {
    pub network: Network,
    /// The network as the simulation drives it, with the scenario's signal plans.
    pub sim_net: SimNet,
    /// Routes over it (the demand's, and reroutes round closures).
    pub router: Router,
    pub trips: Vec<Trip>,
    /// Origin and destination edge of each trip.
    pub ends: Vec<(u32, u32)>,
    /// What was assumed or left out.
    pub notes: Vec<String>,
    pub duration_s: f64,
    pub output_every_s: f64,
    /// Closed intervals of each edge (empty where nothing closes).
    pub closures: Vec<Closed>,
}

/// Each edge's closed intervals from the scenario's `[closures]`: a flood run's roads (every
/// interval each was closed, shifted by the delay) and the roads listed. A flood run or a road
/// code the project does not have is an error naming it.
fn closures(
    config: &TrafficConfig,
    project: &Project,
    network: &Network,
    notes: &mut Vec<String>,
) -> Result<Vec<Closed>, ScenarioError> {
    let c = &config.closures;
    let mut by_code: std::collections::HashMap<&str, Vec<u32>> = std::collections::HashMap::new();
    for (k, e) in network.edges.iter().enumerate() {
        by_code.entry(e.code.as_str()).or_default().push(k as u32);
    }
    let mut out: Vec<Closed> = vec![Vec::new(); network.edges.len()];
    if let Some(run) = &c.flood_run {
        let Some(record) = project.run(run)? else {
            let names: Vec<String> = project.runs()?.into_iter().map(|r| r.name).collect();
            return Err(ScenarioError::invalid(format!(
                "closures.flood_run '{run}' is not a run in {} (runs: {})",
                project.path().display(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )));
        };
        if record.model != "flood" {
            return Err(ScenarioError::invalid(format!(
                "closures.flood_run '{run}' is a {} run, not a flood",
                record.model
            )));
        }
        let shift = c.delay_min * 60.0;
        let (mut roads, mut missing) = (0usize, 0usize);
        for r in project.run_roads(run)? {
            let mut iv = r.closed_intervals.clone();
            // Runs stored before intervals were kept: the first closing to the last reopening.
            if iv.is_empty() {
                if let Some(a) = r.closed_s {
                    iv.push((a, r.reopened_s));
                }
            }
            if iv.is_empty() {
                continue;
            }
            match by_code.get(r.code.as_str()) {
                Some(edges) => {
                    roads += 1;
                    for &e in edges {
                        out[e as usize].extend(iv.iter().map(|&(a, b)| (a + shift, b.map(|b| b + shift))));
                    }
                }
                None => missing += 1,
            }
        }
        notes.push(format!(
            "flood run '{run}' closes {roads} road(s) of the network{}",
            if missing > 0 {
                format!(" ({missing} closed road(s) are not roads cars use here)")
            } else {
                String::new()
            }
        ));
    }
    for r in &c.road {
        let Some(edges) = by_code.get(r.code.as_str()) else {
            return Err(ScenarioError::invalid(format!(
                "closures.road '{}' is not a road of the network built from {}",
                r.code,
                project.path().display()
            )));
        };
        for &e in edges {
            out[e as usize].push((r.from_min * 60.0, r.to_min.map(|t| t * 60.0)));
        }
    }
    Ok(out)
}

/// The simulation's network with the scenario's `[[signals]]` plans; a plan that names no
/// controller, or does not fit its junctions, is an error naming it.
fn signal_plans(
    config: &TrafficConfig,
    network: &Network,
    notes: &mut Vec<String>,
) -> Result<SimNet, ScenarioError> {
    use super::net::{Plan, PlanPhase};
    let mut sim_net = SimNet::new(network);
    let actuated = config.parameters.signals == "actuated";
    for (k, s) in config.signals.iter().enumerate() {
        let what = format!("signals[{}]", k + 1);
        let controller = match (s.controller, s.node) {
            (Some(c), None) => c,
            (None, Some(n)) => network
                .junctions
                .iter()
                .find(|j| j.osm_node == Some(n))
                .and_then(|j| j.controller)
                .ok_or_else(|| {
                    ScenarioError::invalid(format!(
                        "{what}: node {n} is not a signalled junction of the network"
                    ))
                })?,
            _ => {
                return Err(ScenarioError::invalid(format!(
                    "{what}: give controller (from cim_net_signals) or node, not both"
                )))
            }
        };
        let mut phases = Vec::new();
        for (i, p) in s.phase.iter().enumerate() {
            phases.push(match (&p.state, p.green.is_empty()) {
                (Some(st), true) => PlanPhase::State {
                    state: st.clone(),
                    duration_s: p.duration_s,
                },
                (None, false) => PlanPhase::Green {
                    roads: p.green.clone(),
                    duration_s: p.duration_s,
                },
                _ => {
                    return Err(ScenarioError::invalid(format!(
                        "{what} phase {}: give green (road codes) or state, one of them",
                        i + 1
                    )))
                }
            });
        }
        let plan = Plan {
            controller,
            offset_s: s.offset_s,
            cycle_s: s.cycle_s,
            phases,
        };
        sim_net
            .set_plan(network, &plan)
            .map_err(|e| ScenarioError::invalid(format!("{what} (controller {controller}): {e}")))?;
        let p = &sim_net.programs[controller as usize];
        notes.push(format!(
            "what-if: controller {controller} runs a plan of {} phases, cycle {:.0} s, offset {:.0} s",
            p.phases.len(),
            p.cycle_s(),
            p.offset_s
        ));
    }
    if actuated {
        let a = super::net::Actuated {
            min_s: config.parameters.min_green_s,
            max_s: config.parameters.max_green_s,
            gap_s: config.parameters.max_gap_s,
        };
        for p in &mut sim_net.programs {
            p.actuate(a);
        }
        notes.push(format!(
            "signals actuated: greens {:.0} to {:.0} s, ended after a gap of {:.1} s",
            a.min_s, a.max_s, a.gap_s
        ));
    }
    Ok(sim_net)
}

/// Builds the network from the project's road layers and routes the demand: trips whose route
/// cannot be driven are kept without one (undelivered), never dropped.
pub fn prepare(config: &TrafficConfig, project: &Project) -> Result<PreparedTraffic, ScenarioError> {
    let network = project.build_network_edited(&NetworkOptions::default(), &config.edits()?)?;
    if network.edges.is_empty() {
        return Err(ScenarioError::invalid(format!(
            "{}: no road cars may use in the project's road layers (import OSM or a road layer first)",
            project.path().display()
        )));
    }
    let router = Router::new(&network);
    let mut notes = network.notes.clone();
    let sim_net = signal_plans(config, &network, &mut notes)?;
    let closures = closures(config, project, &network, &mut notes)?;
    let mut specs: Vec<TripSpec> = Vec::new();
    if let Some(r) = config.random_trips() {
        specs.extend(random_trips(&network, &router, &r));
    }
    if let Some(od) = config.od() {
        let (t, n) = super::od::od_trips(project, &network, &router, &od)?;
        specs.extend(t);
        notes.extend(n);
    }
    for f in &config.demand.sumo {
        let d = read_sumo_routes(f, &network)?;
        notes.extend(d.notes);
        specs.extend(d.trips);
    }
    let (mut trips, mut ends) = (Vec::with_capacity(specs.len()), Vec::with_capacity(specs.len()));
    let mut rerouted = 0u64;
    for s in specs {
        // A route given must be drivable here (lane connections between its edges); one that
        // is not is routed again between its ends.
        let given = s.route.filter(|r| {
            let ok = r.windows(2).all(|w| router.successors(w[0]).contains(&w[1]));
            if !ok {
                rerouted += 1;
            }
            ok
        });
        let route = given
            .or_else(|| router.route(s.from, s.to, None))
            .unwrap_or_default();
        ends.push((s.from, s.to));
        trips.push(Trip {
            id: s.id,
            depart_s: s.depart_s,
            route,
        });
    }
    if rerouted > 0 {
        notes.push(format!(
            "{rerouted} given route(s) turn where the network has no lane connection; routed again between their ends"
        ));
    }
    Ok(PreparedTraffic {
        network,
        sim_net,
        router,
        trips,
        ends,
        notes,
        duration_s: config.time.duration_min * 60.0,
        output_every_s: config.time.output_every_min * 60.0,
        closures,
    })
}

/// What one step of the run says.
#[derive(Clone, Copy, Debug)]
pub struct TrafficStep {
    pub time_s: f64,
    pub running: usize,
    pub arrived: usize,
}

/// What a traffic run gives back in memory.
#[derive(Clone, Debug)]
pub struct TrafficResult {
    pub kpis: Vec<Kpi>,
    pub vehicle_steps: u64,
    pub steps: u64,
    pub time_reached_s: f64,
    pub completed: bool,
    pub wall_s: f64,
}

/// A traffic run under way.
pub struct TrafficRun<'a> {
    prepared: &'a PreparedTraffic,
    sim: Sim,
    next_output: f64,
    snapshots: Vec<KpiSnapshot>,
    arrived: usize,
    /// Vehicle positions for playback: every this often (0: none), the next due, and the
    /// frames so far (time, vehicles, the encoded frame).
    positions_every_s: f64,
    next_frame: f64,
    frames: Vec<(f64, usize, f64, Vec<u8>)>,
    /// The flood run whose closed roads it drives round, and the delay after the water, s
    /// (in the summary, for playing both together).
    flood_run: Option<String>,
    closure_delay_s: f64,
}

impl<'a> TrafficRun<'a> {
    pub fn new(
        prepared: &'a PreparedTraffic,
        config: &TrafficConfig,
    ) -> Result<TrafficRun<'a>, ScenarioError> {
        let mut sim = Sim::new(
            prepared.sim_net.clone(),
            config.sim_params(),
            prepared.trips.clone(),
            prepared.output_every_s,
        );
        sim.set_threads(config.parameters.threads)?;
        if prepared.closures.iter().any(|c| !c.is_empty()) {
            sim.set_closures(
                prepared.closures.clone(),
                prepared.router.clone(),
                config.closures.reroute,
            );
        }
        if config.routing.reroute_every_min > 0.0 {
            sim.set_rerouting(
                prepared.router.clone(),
                config.routing.reroute_every_min * 60.0,
                config.routing.smoothing,
            );
        }
        Ok(TrafficRun {
            prepared,
            sim,
            next_output: prepared.output_every_s,
            snapshots: Vec::new(),
            arrived: 0,
            positions_every_s: config.time.positions_every_s,
            next_frame: 0.0,
            frames: Vec::new(),
            flood_run: config.closures.flood_run.clone(),
            closure_delay_s: config.closures.delay_min * 60.0,
        })
    }

    /// Records where every vehicle is now.
    fn frame(&mut self) {
        use cim_engine::network::frames::{encode_frame, VehiclePos};
        let net = &self.sim.net;
        let v: Vec<VehiclePos> = self
            .sim
            .vehicles()
            .map(|(trip, lane, pos, speed)| {
                let l = &net.lanes[lane as usize];
                VehiclePos {
                    trip,
                    edge: l.edge,
                    lane: l.index.min(255) as u8,
                    pos_m: pos as f32,
                    speed_m_s: speed as f32,
                }
            })
            .collect();
        let mean = if v.is_empty() {
            0.0
        } else {
            self.sim.vehicles().map(|x| x.3).sum::<f64>() / v.len() as f64
        };
        self.frames
            .push((self.sim.time_s, v.len(), mean, encode_frame(&v)));
    }

    fn done(&self) -> bool {
        self.sim.finished() || self.sim.time_s >= self.prepared.duration_s - 1e-9
    }
}

impl crate::run::Model for TrafficRun<'_> {
    type Step = TrafficStep;
    type Result = TrafficResult;

    fn describe(s: &TrafficStep) -> (f64, String) {
        (
            s.time_s,
            format!("{} vehicles on the road · {} arrived", s.running, s.arrived),
        )
    }

    fn time_s(&self) -> f64 {
        self.sim.time_s
    }

    fn step(&mut self, go_on: &mut dyn FnMut(&TrafficStep) -> bool) -> Result<Stepped, ScenarioError> {
        if self.done() {
            return Ok(Stepped::Done);
        }
        while !self.done() && self.sim.time_s < self.next_output - 1e-9 {
            self.sim.step();
            self.arrived = self.sim.arrived;
            if self.positions_every_s > 0.0 && self.sim.time_s >= self.next_frame - 1e-9 {
                self.frame();
                self.next_frame = self.sim.time_s + self.positions_every_s;
            }
            let s = TrafficStep {
                time_s: self.sim.time_s,
                running: self.sim.running,
                arrived: self.arrived,
            };
            if !go_on(&s) {
                return Ok(Stepped::Stopped);
            }
        }
        let t = self.sim.time_s;
        if self.done() {
            // The last snapshot, where it ended.
            return Ok(if self.snapshots.last().is_some_and(|s| s.time_s >= t) {
                Stepped::Done
            } else {
                Stepped::Output(t)
            });
        }
        self.next_output += self.prepared.output_every_s;
        Ok(Stepped::Output(t))
    }

    fn snapshot(&mut self, time_s: f64) -> Result<(), ScenarioError> {
        let (mut n, mut sum) = (0usize, 0.0);
        for (_, _, _, v) in self.sim.vehicles() {
            n += 1;
            sum += v;
        }
        let mut values = std::collections::BTreeMap::new();
        values.insert("running".to_string(), n as f64);
        values.insert("arrived".to_string(), self.arrived as f64);
        values.insert("stuck".to_string(), self.sim.stuck_now() as f64);
        let undelivered = self
            .sim
            .results
            .iter()
            .filter(|r| r.status == Status::Undelivered)
            .count();
        values.insert("undelivered".to_string(), undelivered as f64);
        values.insert(
            "mean_speed_m_s".to_string(),
            if n > 0 { sum / n as f64 } else { 0.0 },
        );
        self.snapshots.push(KpiSnapshot { time_s, values });
        Ok(())
    }

    fn finish(mut self, completed: bool, wall_s: f64) -> Result<Outcome<TrafficResult>, ScenarioError> {
        let started = Instant::now();
        self.sim.close();
        let p = self.prepared;
        let net = &p.network;
        let sim = &self.sim;
        let end = sim.time_s;
        let results = &sim.results;
        let count = |s: Status| results.iter().filter(|r| r.status == s).count();
        let arrived: Vec<_> = results.iter().filter(|r| r.status == Status::Arrived).collect();
        let mean = |f: &dyn Fn(&&super::sim::TripResult) -> f64| {
            if arrived.is_empty() {
                0.0
            } else {
                arrived.iter().map(f).sum::<f64>() / arrived.len() as f64
            }
        };
        let mean_trip = mean(&|r| r.arrived_s.unwrap_or(0.0) - r.departed_s.unwrap_or(0.0));
        let delay_h = results.iter().map(|r| r.time_loss_s).sum::<f64>() / 3600.0;
        // How long arrived trips waited to get on the road (SUMO's departDelay).
        let depart_delay = {
            let d: Vec<f64> = results
                .iter()
                .zip(&sim.trips)
                .filter(|(r, _)| r.status == Status::Arrived)
                .map(|(r, t)| (r.departed_s.unwrap_or(t.depart_s) - t.depart_s).max(0.0))
                .collect();
            if d.is_empty() {
                0.0
            } else {
                d.iter().sum::<f64>() / d.len() as f64
            }
        };
        let kpis = vec![
            Kpi::new("trips", "trips", "", results.len() as f64),
            Kpi::new("arrived", "trips arrived", "", arrived.len() as f64),
            Kpi::new(
                "undelivered",
                "trips undelivered (no route)",
                "",
                count(Status::Undelivered) as f64,
            ),
            Kpi::new("stuck", "vehicles stuck", "", count(Status::Stuck) as f64),
            Kpi::new(
                "not_finished",
                "trips not finished at the end",
                "",
                (count(Status::Running) + count(Status::Waiting)) as f64,
            ),
            Kpi::new("mean_trip_s", "mean trip time", "s", mean_trip),
            Kpi::new("mean_waiting_s", "mean waiting time", "s", mean(&|r| r.waiting_s)),
            Kpi::new(
                "mean_depart_delay_s",
                "mean departure delay (no room to start)",
                "s",
                depart_delay,
            ),
            Kpi::new(
                "mean_time_loss_s",
                "mean time loss",
                "s",
                mean(&|r| r.time_loss_s),
            ),
            Kpi::new(
                "mean_route_m",
                "mean route length",
                "m",
                mean(&|r| r.route_length_m),
            ),
            Kpi::new(
                "rerouted",
                "trips rerouted (closures, periodic rerouting)",
                "",
                results.iter().filter(|r| r.reroutes > 0).count() as f64,
            ),
            Kpi::new(
                "teleports",
                "teleports (halted too long, moved ahead)",
                "",
                results.iter().map(|r| f64::from(r.teleports)).sum(),
            ),
            Kpi::new("total_delay_veh_h", "total delay", "veh·h", delay_h),
            Kpi::new(
                "throughput_veh_h",
                "throughput",
                "veh/h",
                if end > 0.0 {
                    arrived.len() as f64 * 3600.0 / end
                } else {
                    0.0
                },
            ),
        ];

        // Trips.
        use ColumnKind::*;
        let mut trips = ResultTable::new(
            "cim_run_trips",
            vec![
                ResultColumn::new("trip", Text),
                ResultColumn::new("status", Text),
                ResultColumn::new("depart_s", Real),
                ResultColumn::nullable("departed_s", Real),
                ResultColumn::nullable("arrived_s", Real),
                ResultColumn::nullable("duration_s", Real),
                ResultColumn::new("route_length_m", Real),
                ResultColumn::new("waiting_s", Real),
                ResultColumn::new("time_loss_s", Real),
                ResultColumn::new("reroutes", Integer),
                ResultColumn::new("teleports", Integer),
                ResultColumn::new("origin", Text),
                ResultColumn::new("destination", Text),
            ],
            &["trip"],
        );
        for (k, (t, r)) in sim.trips.iter().zip(results).enumerate() {
            let (o, d) = p.ends[k];
            trips.rows.push(vec![
                Cell::from(t.id.as_str()),
                Cell::from(r.status.name()),
                t.depart_s.into(),
                r.departed_s.into(),
                r.arrived_s.into(),
                r.arrived_s.zip(r.departed_s).map(|(a, b)| a - b).into(),
                r.route_length_m.into(),
                r.waiting_s.into(),
                r.time_loss_s.into(),
                i64::from(r.reroutes).into(),
                i64::from(r.teleports).into(),
                net.edges[o as usize].code.as_str().into(),
                net.edges[d as usize].code.as_str().into(),
            ]);
        }
        // Roads by direction and interval.
        let mut flows = ResultTable::new(
            "cim_run_road_flows",
            vec![
                ResultColumn::new("code", Text),
                ResultColumn::new("direction", Text),
                ResultColumn::new("part", Integer),
                ResultColumn::new("from_s", Real),
                ResultColumn::new("entered", Integer),
                ResultColumn::new("left", Integer),
                ResultColumn::nullable("mean_speed_m_s", Real),
                ResultColumn::new("density_veh_km", Real),
                ResultColumn::new("longest_queue", Integer),
            ],
            &["code", "direction", "part", "from_s"],
        );
        let steps_per_bin = (sim.bin_s / sim.params.step_s).max(1.0);
        for (b, bin) in sim.bins.iter().enumerate() {
            for (e, c) in bin.iter().enumerate() {
                if c.samples == 0 && c.entered == 0 && c.left == 0 {
                    continue;
                }
                let edge = &net.edges[e];
                flows.rows.push(vec![
                    Cell::from(edge.code.as_str()),
                    Cell::from(if edge.backward { "backward" } else { "forward" }),
                    i64::from(edge.part).into(),
                    (b as f64 * sim.bin_s).into(),
                    i64::from(c.entered).into(),
                    i64::from(c.left).into(),
                    (c.samples > 0).then(|| c.speed_sum / c.samples as f64).into(),
                    (c.samples as f64 / steps_per_bin / (edge.length_m / 1000.0).max(1e-6)).into(),
                    i64::from(c.longest_queue).into(),
                ]);
            }
        }
        // Playback: the frames, and the edges they name (the run's network, what-ifs included).
        let mut vehicles = ResultTable::new(
            "cim_run_vehicles",
            vec![
                ResultColumn::new("t", Real),
                ResultColumn::new("vehicles", Integer),
                ResultColumn::new("mean_speed_m_s", Real),
                ResultColumn::new("frame", Blob),
            ],
            &["t"],
        );
        for (t, n, mean, f) in std::mem::take(&mut self.frames) {
            vehicles
                .rows
                .push(vec![t.into(), (n as u64).into(), mean.into(), Cell::Blob(f)]);
        }
        let mut edges = ResultTable::new(
            "cim_run_edges",
            vec![
                ResultColumn::new("edge", Integer),
                ResultColumn::new("code", Text),
                ResultColumn::new("direction", Text),
                ResultColumn::new("part", Integer),
                ResultColumn::new("lanes", Integer),
                ResultColumn::new("length_m", Real),
                ResultColumn::new("speed_m_s", Real),
                ResultColumn::new("shape", Blob),
            ],
            &["edge"],
        );
        if !vehicles.rows.is_empty() {
            for (k, e) in net.edges.iter().enumerate() {
                // x, y pairs as little-endian f64, in the project CRS.
                let shape: Vec<u8> = e
                    .shape
                    .iter()
                    .flat_map(|p| p[0].to_le_bytes().into_iter().chain(p[1].to_le_bytes()))
                    .collect();
                edges.rows.push(vec![
                    (k as u64).into(),
                    e.code.as_str().into(),
                    Cell::from(if e.backward { "backward" } else { "forward" }),
                    i64::from(e.part).into(),
                    i64::from(e.lanes).into(),
                    e.length_m.into(),
                    e.speed_m_s.into(),
                    Cell::Blob(shape),
                ]);
            }
        }
        let vehicle_steps = sim.vehicle_steps;
        let summary = serde_json::json!({
            "run": {
                "completed": completed,
                "time_reached_s": end,
                "duration_s": p.duration_s,
                "steps": sim.steps,
                "vehicle_steps": vehicle_steps,
                "network": net.stats,
                "notes": p.notes,
                "playback_frames": vehicles.rows.len(),
                "flow_bin_s": sim.bin_s,
                "flood_run": self.flood_run,
                "closure_delay_s": self.closure_delay_s,
            },
            "vehicle_updates_per_s": vehicle_steps as f64 / wall_s.max(1e-9),
            "kpis": kpis,
            "kpi_snapshots": self.snapshots,
        });
        let result = TrafficResult {
            kpis,
            vehicle_steps,
            steps: sim.steps,
            time_reached_s: end,
            completed,
            wall_s: wall_s + started.elapsed().as_secs_f64(),
        };
        Ok(Outcome {
            completed,
            time_reached_s: end,
            summary,
            tables: if vehicles.rows.is_empty() {
                vec![trips, flows]
            } else {
                vec![trips, flows, vehicles, edges]
            },
            rasters: Vec::new(),
            result,
        })
    }
}
