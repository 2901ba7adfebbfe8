//! The microscopic simulation: vehicles on lanes, stepped together.
//!
//! Each step has phases, every one a pure function of the state the step began with, so the
//! result is the same for any number of threads:
//! 1. vehicles due depart where their first lane has room (else they wait, in order);
//! 2. the first vehicle of each lane registers its approach to its next link; whether the
//!    link is open for it is decided from the signal, the foes approaching or crossing, stop
//!    signs and room beyond the junction (vehicles do not block the box);
//! 3. every vehicle's next speed, from its leader (on its lane, or beyond the junction) or the
//!    stop line (Krauss, or IDM), then the dawdling drawn from hash(seed, vehicle, step);
//! 4. moves, in lane order, vehicles crossing a junction handed over through a buffer;
//! 5. lane changes: to a lane that continues on the route (strategic), or to a faster one.

use rayon::prelude::*;

use super::net::{Rule, SimNet};
use cim_engine::network::Turn;

/// Car-following model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// Krauss, as SUMO's default.
    Krauss,
    /// Intelligent Driver Model (Treiber), integrated in quarter steps.
    Idm,
}

/// A vehicle type; the defaults are SUMO's passenger car.
#[derive(Clone, Debug, PartialEq)]
pub struct VehicleType {
    pub length_m: f64,
    pub min_gap_m: f64,
    pub accel: f64,
    pub decel: f64,
    pub emergency_decel: f64,
    /// Driver imperfection, 0–1.
    pub sigma: f64,
    /// Reaction time (Krauss), desired time headway (IDM), s.
    pub tau_s: f64,
    pub max_speed: f64,
    /// Spread of the drivers' speed factor (a normal of mean 1, cut to 0.2–2).
    pub speed_dev: f64,
}

impl Default for VehicleType {
    fn default() -> Self {
        VehicleType {
            length_m: 5.0,
            min_gap_m: 2.5,
            accel: 2.6,
            decel: 4.5,
            emergency_decel: 9.0,
            sigma: 0.5,
            tau_s: 1.0,
            max_speed: 55.56,
            speed_dev: 0.1,
        }
    }
}

/// How the simulation runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimParams {
    /// Step, s (1, or 0.5).
    pub step_s: f64,
    pub vtype: VehicleType,
    pub follow: Follow,
    pub seed: u64,
    /// A vehicle halted this long is counted stuck, s.
    pub stuck_after_s: f64,
    /// A vehicle halted this long jumps ahead along its route (SUMO's teleporting), s; 0: never.
    pub teleport_after_s: f64,
    /// A vehicle yields to a foe due at the junction within this time, s.
    pub yield_gap_s: f64,
    /// A link is blocked for its foes this long after a vehicle passes it, s.
    pub clear_s: f64,
}

impl Default for SimParams {
    fn default() -> Self {
        SimParams {
            step_s: 1.0,
            vtype: VehicleType::default(),
            follow: Follow::Krauss,
            seed: 42,
            stuck_after_s: 300.0,
            teleport_after_s: 0.0,
            yield_gap_s: 3.0,
            clear_s: 2.0,
        }
    }
}

/// One trip: when, and which edges.
#[derive(Clone, Debug, PartialEq)]
pub struct Trip {
    pub id: String,
    pub depart_s: f64,
    pub route: Vec<u32>,
}

/// How a trip ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not yet on the road (its time not come, or no room yet).
    Waiting,
    Running,
    Arrived,
    /// Halted longer than the stuck time (still on the road at the end).
    Stuck,
    /// No route could take it where it was going.
    Undelivered,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Running => "running",
            Status::Arrived => "arrived",
            Status::Stuck => "stuck",
            Status::Undelivered => "undelivered",
        }
    }
}

/// What became of a trip.
#[derive(Clone, Debug, PartialEq)]
pub struct TripResult {
    pub status: Status,
    pub departed_s: Option<f64>,
    pub arrived_s: Option<f64>,
    pub route_length_m: f64,
    /// Time spent slower than 0.1 m/s, s.
    pub waiting_s: f64,
    /// Time lost against driving at the desired speed, s.
    pub time_loss_s: f64,
    pub reroutes: u32,
    /// Times it jumped ahead along its route, halted too long (teleporting on).
    pub teleports: u32,
}

/// A vehicle on the road.
#[derive(Clone, Debug)]
struct Veh {
    trip: u32,
    /// Index of its current edge in its route.
    at: u32,
    lane: u32,
    /// Its front's distance from the start of its lane, m.
    pos: f64,
    v: f64,
    factor: f64,
    halted_s: f64,
    /// When it came to a halt at a stop line (stop signs, all-way stops).
    stopped_at: Option<f64>,
    stuck: bool,
}

/// The first vehicle of a lane and its next link.
#[derive(Clone, Copy, Debug)]
struct Approach {
    link: u32,
    /// To the stop line, m.
    dist: f64,
    v: f64,
    /// Halted at the line since.
    stopped_at: Option<f64>,
}

/// Closed intervals of an edge: from, and to (`None`: to the end), s.
pub type Closed = Vec<(f64, Option<f64>)>;

/// Counts per edge for one time bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EdgeBin {
    pub entered: u32,
    pub left: u32,
    /// Vehicle-steps on the edge and the sum of their speeds.
    pub samples: u64,
    pub speed_sum: f64,
    /// Most vehicles halted on it at once.
    pub longest_queue: u32,
}

/// The state of a simulation.
pub struct Sim {
    pub net: SimNet,
    pub params: SimParams,
    pub trips: Vec<Trip>,
    pub results: Vec<TripResult>,
    /// Vehicle slots, by trip index (`None` off the road).
    veh: Vec<Option<Veh>>,
    /// Vehicles of each lane, front first.
    lane_veh: Vec<Vec<u32>>,
    /// Trips by departure, and the next not yet due.
    order: Vec<u32>,
    next_due: usize,
    /// Due but not yet inserted, in order.
    waiting: Vec<u32>,
    /// Until when each link is occupied by a vehicle that passed it.
    busy_until: Vec<f64>,
    pub time_s: f64,
    pub steps: u64,
    /// Vehicle-steps simulated (one vehicle moved one step).
    pub vehicle_steps: u64,
    pub running: usize,
    /// Trips arrived so far.
    pub arrived: usize,
    /// Per-edge counts in bins of `bin_s`.
    pub bin_s: f64,
    pub bins: Vec<Vec<EdgeBin>>,
    /// Its own worker threads, where a number was set (else rayon's global pool).
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    /// Closed intervals of each edge (from, to; `None`: to the end), and the router that
    /// takes vehicles round them.
    closures: Vec<Closed>,
    closed_now: Vec<bool>,
    router: Option<super::route::Router>,
    /// Each trip's destination edge (its route's last, kept when a reroute shortens it).
    destination: Vec<u32>,
    /// Trips whose route was cut short for want of a way round: they leave at its end,
    /// undelivered.
    cut: Vec<bool>,
    /// Whether vehicles reroute round closures (else they wait before the closed road).
    reroute: bool,
    /// Periodic rerouting on the travel times seen, where asked for.
    rerouting: Option<Rerouting>,
    /// Each program's current phase and the time spent in it (actuated programs; fixed-time
    /// ones follow the clock).
    tls: Vec<(usize, f64)>,
}

/// Periodic rerouting (SUMO's rerouting device): every `period_s`, each edge's cost becomes
/// `weight` × its cost before + (1 − `weight`) × the travel time at the mean speed seen on it
/// since (its free-flow time where no one drove it), and every vehicle on the road is routed
/// again from its next edge; trips are routed on the current costs when they become due.
#[derive(Clone, Debug)]
struct Rerouting {
    period_s: f64,
    weight: f64,
    next_s: f64,
    free: Vec<f64>,
    cost: Vec<f64>,
    speed_sum: Vec<f64>,
    samples: Vec<u32>,
}

/// Vehicles on the road from which the speeds are computed on several threads.
const PARALLEL_FROM: usize = 20_000;

/// The constraints ahead of a vehicle (gap, leader speed): at most three (its leader or the
/// one beyond the junction, the stop line, a neighbour changing in).
#[derive(Clone, Copy, Default)]
struct Ahead {
    items: [(f64, f64); 3],
    n: usize,
}

impl Ahead {
    fn push(&mut self, x: (f64, f64)) {
        if self.n < 3 {
            self.items[self.n] = x;
            self.n += 1;
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, (f64, f64)> {
        self.items[..self.n].iter()
    }

    fn iter_mut(&mut self) -> std::slice::IterMut<'_, (f64, f64)> {
        self.items[..self.n].iter_mut()
    }
}

/// A number in [0, 1) from the seed, a vehicle and a step (SplitMix64).
fn uniform(seed: u64, veh: u64, step: u64) -> f64 {
    unit(
        seed.wrapping_add(veh.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(step.wrapping_mul(0xBF58_476D_1CE4_E5B9))
            .wrapping_add(0x94D0_49BB_1331_11EB),
    )
}

/// SplitMix64's finaliser of `z`, as a number in [0, 1).
pub(super) fn unit(mut z: u64) -> f64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// A driver's speed factor: normal(1, dev) cut to [0.2, 2], drawn for the vehicle.
fn speed_factor(seed: u64, veh: u64, dev: f64) -> f64 {
    if dev <= 0.0 {
        return 1.0;
    }
    for k in 0..100u64 {
        let u1 = uniform(seed ^ 0x5EED, veh, 2 * k + 1_000_000_007).max(1e-300);
        let u2 = uniform(seed ^ 0x5EED, veh, 2 * k + 1_000_000_008);
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let f = 1.0 + dev * z;
        if (0.2..=2.0).contains(&f) {
            return f;
        }
    }
    1.0
}

/// Krauss's safe speed behind a leader at speed `vl` with `gap` m to spare (SUMO's original
/// formulation): the fastest speed from which braking at `b` after the reaction time `tau`
/// stops behind the leader braking alike.
fn krauss_safe(gap: f64, vl: f64, b: f64, tau: f64) -> f64 {
    let g = gap.max(0.0);
    (-tau * b + ((tau * b).powi(2) + vl * vl + 2.0 * b * g).sqrt()).max(0.0)
}

impl Sim {
    /// A simulation of `trips` (routes of edges of `net`) from time 0.
    pub fn new(net: SimNet, params: SimParams, trips: Vec<Trip>, bin_s: f64) -> Sim {
        let mut order: Vec<u32> = (0..trips.len() as u32).collect();
        order.sort_by(|&a, &b| {
            trips[a as usize]
                .depart_s
                .total_cmp(&trips[b as usize].depart_s)
                .then(a.cmp(&b))
        });
        let results = trips
            .iter()
            .map(|t| TripResult {
                status: if t.route.is_empty() {
                    Status::Undelivered
                } else {
                    Status::Waiting
                },
                departed_s: None,
                arrived_s: None,
                route_length_m: 0.0,
                waiting_s: 0.0,
                time_loss_s: 0.0,
                reroutes: 0,
                teleports: 0,
            })
            .collect();
        Sim {
            lane_veh: vec![Vec::new(); net.lanes.len()],
            busy_until: vec![f64::NEG_INFINITY; net.links.len()],
            veh: vec![None; trips.len()],
            net,
            params,
            trips,
            results,
            order,
            next_due: 0,
            waiting: Vec::new(),
            time_s: 0.0,
            steps: 0,
            vehicle_steps: 0,
            running: 0,
            arrived: 0,
            bin_s,
            bins: Vec::new(),
            pool: None,
            closures: Vec::new(),
            closed_now: Vec::new(),
            router: None,
            destination: Vec::new(),
            cut: Vec::new(),
            rerouting: None,
            tls: Vec::new(),
            reroute: true,
        }
    }

    /// Closes edges in time windows (`closures[edge]`: from, to; `None` to the end). A vehicle
    /// whose remaining route meets a closed edge is rerouted at once (it turns off at its next
    /// junction); one left with no way is cut short and leaves at the end of its edge,
    /// undelivered; a trip not yet departed is routed round what is closed when it departs.
    pub fn set_closures(&mut self, closures: Vec<Closed>, router: super::route::Router, reroute: bool) {
        self.reroute = reroute;
        self.closed_now = vec![false; closures.len()];
        self.closures = closures;
        self.take_router(router);
    }

    /// Routes from here on with `router`: each trip's destination kept (a reroute may shorten
    /// its route), none cut short yet.
    fn take_router(&mut self, router: super::route::Router) {
        self.router = Some(router);
        self.destination = self
            .trips
            .iter()
            .map(|t| t.route.last().copied().unwrap_or(0))
            .collect();
        self.cut = vec![false; self.trips.len()];
    }

    /// Reroutes every vehicle every `period_s` on smoothed travel times (see [`Rerouting`]);
    /// `weight` in [0, 1) is the share of the cost before kept at each update.
    pub fn set_rerouting(&mut self, router: super::route::Router, period_s: f64, weight: f64) {
        let n = self.net.edge_length.len();
        let free: Vec<f64> = (0..n)
            .map(|e| self.net.edge_length[e] / self.net.edge_speed[e].max(0.1))
            .collect();
        if self.router.is_none() {
            self.closures = vec![Vec::new(); n];
            self.closed_now = vec![false; n];
            self.reroute = true;
            self.take_router(router);
        }
        self.rerouting = Some(Rerouting {
            period_s,
            weight,
            next_s: period_s,
            cost: free.clone(),
            free,
            speed_sum: vec![0.0; n],
            samples: vec![0; n],
        });
    }

    /// Periodic rerouting: new costs, and each vehicle on the road routed again from its next
    /// edge where that is faster now.
    fn periodic_reroute(&mut self) {
        let Some(rr) = self.rerouting.as_mut() else { return };
        if self.time_s + 1e-9 < rr.next_s {
            return;
        }
        rr.next_s += rr.period_s;
        for e in 0..rr.cost.len() {
            let seen = if rr.samples[e] > 0 {
                let v = rr.speed_sum[e] / f64::from(rr.samples[e]);
                (self.net.edge_length[e] / v.max(0.5)).max(rr.free[e])
            } else {
                rr.free[e]
            };
            rr.cost[e] = rr.weight * rr.cost[e] + (1.0 - rr.weight) * seen;
            rr.speed_sum[e] = 0.0;
            rr.samples[e] = 0;
        }
        let cost = rr.cost.clone();
        let Some(router) = self.router.as_mut() else {
            return;
        };
        router.set_costs(cost);
        let ids: Vec<u32> = self.veh.iter().flatten().map(|v| v.trip).collect();
        for id in ids {
            let Some(v) = self.veh[id as usize].as_ref() else {
                continue;
            };
            let at = v.at as usize;
            let route = &self.trips[id as usize].route;
            let Some(&next) = route.get(at + 1) else { continue };
            if self.cut[id as usize] {
                continue;
            }
            let dest = self.destination[id as usize];
            let Some(new) = self
                .router
                .as_ref()
                .and_then(|r| r.route(next, dest, Some(&self.closed_now)))
            else {
                continue;
            };
            if new[..] != route[at + 1..] {
                let route = &mut self.trips[id as usize].route;
                route.truncate(at + 1);
                route.extend(new);
                self.results[id as usize].reroutes += 1;
            }
        }
    }

    /// Updates which edges are closed now; reroutes where that changed.
    fn apply_closures(&mut self) {
        if self.router.is_none() {
            return;
        }
        let t = self.time_s;
        let mut changed = false;
        let mut newly_closed = false;
        for (e, iv) in self.closures.iter().enumerate() {
            let now = iv.iter().any(|&(a, b)| t >= a && b.is_none_or(|b| t < b));
            if now != self.closed_now[e] {
                changed = true;
                newly_closed |= now;
                self.closed_now[e] = now;
            }
        }
        if !changed || !newly_closed || !self.reroute {
            return;
        }
        let ids: Vec<u32> = self.veh.iter().flatten().map(|v| v.trip).collect();
        for id in ids {
            self.reroute_if_blocked(id);
        }
    }

    /// Reroutes vehicle `id` when its remaining route meets a closed edge.
    fn reroute_if_blocked(&mut self, id: u32) {
        let Some(v) = self.veh[id as usize].as_ref() else {
            return;
        };
        let at = v.at as usize;
        let route = &self.trips[id as usize].route;
        if !route[at + 1..].iter().any(|&e| self.closed_now[e as usize]) {
            return;
        }
        let Some(router) = &self.router else { return };
        let here = route[at];
        let dest = self.destination[id as usize];
        let new = router.route(here, dest, Some(&self.closed_now));
        let r = &mut self.results[id as usize];
        r.reroutes += 1;
        let route = &mut self.trips[id as usize].route;
        route.truncate(at);
        match new {
            Some(rest) => route.extend(rest),
            None => {
                route.push(here);
                self.cut[id as usize] = true;
            }
        }
    }

    /// Runs on `threads` worker threads (0: rayon's global pool); results do not depend on it.
    pub fn set_threads(&mut self, threads: usize) -> Result<(), crate::ScenarioError> {
        self.pool = if threads == 0 {
            None
        } else {
            Some(std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| {
                        crate::ScenarioError::invalid(format!("cannot start {threads} threads: {e}"))
                    })?,
            ))
        };
        Ok(())
    }

    /// Whether every trip has ended (arrived, undelivered) or is stuck, and none is due.
    pub fn finished(&self) -> bool {
        self.next_due >= self.order.len() && self.waiting.is_empty() && self.running == 0
    }

    /// Vehicles on the road now: (trip, lane, front position, speed).
    pub fn vehicles(&self) -> impl Iterator<Item = (u32, u32, f64, f64)> + '_ {
        self.veh.iter().flatten().map(|v| (v.trip, v.lane, v.pos, v.v))
    }

    /// The counts of the current time bin (made when first needed), by its index.
    fn bin_index(&mut self) -> usize {
        let k = (self.time_s / self.bin_s).floor().max(0.0) as usize;
        let edges = self.net.edge_lane.len();
        while self.bins.len() <= k {
            self.bins.push(vec![EdgeBin::default(); edges]);
        }
        k
    }

    fn bin(&mut self) -> &mut Vec<EdgeBin> {
        let k = self.bin_index();
        &mut self.bins[k]
    }

    /// The desired speed of vehicle `v` on its lane.
    fn desired(&self, v: &Veh) -> f64 {
        (self.net.lanes[v.lane as usize].speed_m_s * v.factor).min(self.params.vtype.max_speed)
    }

    /// Its next edge, if its route goes on.
    fn next_edge(&self, v: &Veh) -> Option<u32> {
        self.trips[v.trip as usize].route.get(v.at as usize + 1).copied()
    }

    /// Room at the start of `lane`: from its start to the back of its last vehicle, m.
    fn room(&self, lane: u32) -> f64 {
        match self.lane_veh[lane as usize].last() {
            Some(&b) => {
                let b = self.veh[b as usize].as_ref().map_or(0.0, |b| b.pos);
                b - self.params.vtype.length_m
            }
            None => f64::INFINITY,
        }
    }

    /// The lane a vehicle enters `edge` on, going on to `next`: of the lanes that lead there
    /// (all where none does), the one with most room at its start (the rightmost of equals).
    fn entry_lane(&self, edge: u32, next: Option<u32>) -> Option<u32> {
        let all = (0..self.net.edge_lanes[edge as usize]).map(|i| self.net.lane(edge, i));
        let leading: Vec<u32> = all
            .clone()
            .filter(|&l| next.is_none_or(|n| self.net.link_to(l, n).is_some()))
            .collect();
        let lanes = if leading.is_empty() {
            all.collect()
        } else {
            leading
        };
        lanes
            .iter()
            .copied()
            .max_by(|&a, &b| self.room(a).total_cmp(&self.room(b)).then(b.cmp(&a)))
    }

    /// Advances one step.
    pub fn step(&mut self) {
        let dt = self.params.step_s;
        self.apply_closures();
        self.periodic_reroute();
        self.insert();
        let approaches = self.approaches();
        self.actuate(&approaches);
        let open = self.open_links(&approaches);
        let changers = self.changers();
        let speeds = self.speeds(&approaches, &open, &changers);
        self.apply_speeds(&speeds, &approaches);
        self.moves();
        self.lane_changes();
        self.teleports();
        self.time_s += dt;
        self.steps += 1;
    }

    /// Phase 1: trips due go on the road where their first lane has room.
    fn insert(&mut self) {
        while self.next_due < self.order.len()
            && self.trips[self.order[self.next_due] as usize].depart_s <= self.time_s + 1e-9
        {
            let t = self.order[self.next_due];
            self.next_due += 1;
            if self.results[t as usize].status == Status::Waiting {
                // On the travel times seen so far, where vehicles reroute periodically.
                if self.rerouting.is_some() {
                    let route = &self.trips[t as usize].route;
                    if let (Some(&first), Some(r)) = (route.first(), self.router.as_ref()) {
                        let dest = self.destination[t as usize];
                        if let Some(new) = r.route(first, dest, Some(&self.closed_now)) {
                            self.trips[t as usize].route = new;
                        }
                    }
                }
                self.waiting.push(t);
            }
        }
        let vt = self.params.vtype.clone();
        let mut blocked_edges: Vec<u32> = Vec::new();
        let mut still = Vec::new();
        for t in std::mem::take(&mut self.waiting) {
            if self.router.is_some() && self.reroute {
                let route = &self.trips[t as usize].route;
                if route.iter().any(|&e| self.closed_now[e as usize]) {
                    let dest = self.destination[t as usize];
                    let new = self
                        .router
                        .as_ref()
                        .and_then(|r| r.route(route[0], dest, Some(&self.closed_now)))
                        .filter(|r| !self.closed_now[r[0] as usize]);
                    self.results[t as usize].reroutes += 1;
                    match new {
                        Some(r) => self.trips[t as usize].route = r,
                        None => {
                            // No way now: undelivered, never dropped silently.
                            self.results[t as usize].status = Status::Undelivered;
                            continue;
                        }
                    }
                }
            }
            let route = &self.trips[t as usize].route;
            let first = route[0];
            // Trips on an edge depart in order: one that cannot blocks those behind it.
            if blocked_edges.contains(&first) {
                still.push(t);
                continue;
            }
            let Some(lane) = self.entry_lane(first, route.get(1).copied()) else {
                still.push(t);
                continue;
            };
            let room = self.room(lane);
            let base = vt.length_m + 0.1;
            let length = self.net.lanes[lane as usize].length_m;
            let factor = speed_factor(self.params.seed, u64::from(t), vt.speed_dev);
            let desired = (self.net.lanes[lane as usize].speed_m_s * factor).min(vt.max_speed);
            let lead_v = self.lane_veh[lane as usize]
                .last()
                .and_then(|&b| self.veh[b as usize].as_ref())
                .map(|b| b.v);
            // At full speed, as far up as its gap behind the last vehicle allows (SUMO's
            // departPos "last", so departures keep the spacing of the flow ahead); behind a
            // slow or halted vehicle, at the lane's start at the speed that is safe there.
            let (pos, v) = match lead_v {
                None => (base, desired),
                Some(lv) => {
                    let full = room - vt.min_gap_m - desired * vt.tau_s;
                    if full >= base && lv >= desired - 0.5 {
                        (full.min(length - 0.1), desired)
                    } else if lv < desired - 0.5 && room >= base + vt.min_gap_m {
                        (
                            base,
                            krauss_safe(room - base - vt.min_gap_m, lv, vt.decel, vt.tau_s).min(desired),
                        )
                    } else {
                        (f64::NAN, 0.0)
                    }
                }
            };
            if pos.is_nan() || pos > length {
                blocked_edges.push(first);
                still.push(t);
                continue;
            }
            let back = self.lane_veh[lane as usize].len();
            self.put_on(t, lane, back, pos, v, factor);
            self.results[t as usize].route_length_m = length - pos;
            self.bin()[first as usize].entered += 1;
        }
        self.waiting = still;
    }

    /// The neighbouring lane a vehicle on `lane` must move to because its lane does not lead
    /// to its next edge (toward the nearest lane that does), if any.
    fn strategic_target(&self, lane: u32, v: &Veh) -> Option<u32> {
        let edge = self.net.lanes[lane as usize].edge;
        let n_lanes = self.net.edge_lanes[edge as usize];
        let next = self.next_edge(v)?;
        if n_lanes < 2 || self.net.link_to(lane, next).is_some() {
            return None;
        }
        let index = self.net.lanes[lane as usize].index;
        (0..n_lanes)
            .filter(|&i| self.net.link_to(self.net.lane(edge, i), next).is_some())
            .min_by_key(|&i| (i64::from(i) - i64::from(index)).abs())
            .map(|i| self.net.lane(edge, if i > index { index + 1 } else { index - 1 }))
    }

    /// Vehicles that must change into each lane (position, speed), sorted by position: the
    /// vehicles behind them on that lane make room (cooperative lane changing).
    fn changers(&self) -> Vec<Vec<(f64, f64)>> {
        let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new(); self.lane_veh.len()];
        for (lane, vs) in self.lane_veh.iter().enumerate() {
            if self.net.edge_lanes[self.net.lanes[lane].edge as usize] < 2 {
                continue;
            }
            for &id in vs {
                let Some(v) = self.veh[id as usize].as_ref() else {
                    continue;
                };
                if let Some(t) = self.strategic_target(lane as u32, v) {
                    out[t as usize].push((v.pos, v.v));
                }
            }
        }
        for o in &mut out {
            o.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    }

    /// Puts trip `t`'s vehicle on the rightmost lane of its first edge at `pos` (its front, m)
    /// and speed `v`, among the vehicles there by position (initial states: a ring road
    /// filled evenly). `false` if the trip is on the road already or `pos` is off the lane.
    pub fn place(&mut self, t: u32, pos: f64, v: f64) -> bool {
        let Some(&first) = self.trips.get(t as usize).and_then(|x| x.route.first()) else {
            return false;
        };
        let lane = self.net.lane(first, 0);
        if self.veh[t as usize].is_some() || !(0.0..=self.net.lanes[lane as usize].length_m).contains(&pos) {
            return false;
        }
        let at = self.index_behind(lane, pos);
        let factor = speed_factor(self.params.seed, u64::from(t), self.params.vtype.speed_dev);
        self.put_on(t, lane, at, pos, v, factor);
        self.order.retain(|&o| o != t);
        true
    }

    /// Trip `t`'s vehicle onto `lane` at index `at` (front first), at `pos` and speed `v`:
    /// running from now.
    fn put_on(&mut self, t: u32, lane: u32, at: usize, pos: f64, v: f64, factor: f64) {
        self.lane_veh[lane as usize].insert(at, t);
        self.veh[t as usize] = Some(Veh {
            trip: t,
            at: 0,
            lane,
            pos,
            v,
            factor,
            halted_s: 0.0,
            stopped_at: None,
            stuck: false,
        });
        let r = &mut self.results[t as usize];
        r.status = Status::Running;
        r.departed_s = Some(self.time_s);
        self.running += 1;
    }

    /// Phase 2a: each lane's first vehicle and the link it is heading for.
    fn approaches(&self) -> Vec<Option<Approach>> {
        self.lane_veh
            .iter()
            .enumerate()
            .map(|(lane, vs)| {
                let &id = vs.first()?;
                let v = self.veh[id as usize].as_ref()?;
                let next = self.next_edge(v)?;
                let link = self.net.link_to(lane as u32, next)?;
                Some(Approach {
                    link,
                    dist: self.net.lanes[lane].length_m - v.pos,
                    v: v.v,
                    stopped_at: v.stopped_at,
                })
            })
            .collect()
    }

    /// Actuated programs: a green phase goes on past its minimum while a vehicle on one of its
    /// green lanes is due at the stop line within the gap, up to its maximum; other phases keep
    /// their durations.
    fn actuate(&mut self, approaches: &[Option<Approach>]) {
        if self.tls.len() != self.net.programs.len() {
            self.tls = vec![(0, 0.0); self.net.programs.len()];
        }
        let dt = self.params.step_s;
        for (k, p) in self.net.programs.iter().enumerate() {
            let Some(a) = p.actuated else { continue };
            if p.phases.is_empty() {
                continue;
            }
            let (phase, elapsed) = self.tls[k];
            let state = p.phases[phase].1.as_bytes();
            let next = if p.is_green(phase) {
                let demand = p.links.iter().enumerate().any(|(i, &l)| {
                    matches!(state.get(i), Some(b'G' | b'g'))
                        && approaches[self.net.links[l as usize].from_lane as usize]
                            .is_some_and(|x| x.link == l && x.dist / x.v.max(0.1) < a.gap_s)
                });
                elapsed >= a.max_s || (elapsed >= a.min_s && !demand)
            } else {
                elapsed >= p.phases[phase].0
            };
            self.tls[k] = if next {
                ((phase + 1) % p.phases.len(), dt)
            } else {
                (phase, elapsed + dt)
            };
        }
    }

    /// Phase 2b: whether each approach's link is open to it.
    fn open_links(&self, approaches: &[Option<Approach>]) -> Vec<bool> {
        let t = self.time_s;
        let vt = &self.params.vtype;
        let states: Vec<&str> = self
            .net
            .programs
            .iter()
            .enumerate()
            .map(|(k, p)| match (&p.actuated, self.tls.get(k)) {
                (Some(_), Some(&(phase, _))) => p.phases.get(phase).map_or("", |x| x.1.as_str()),
                _ => p.state_at(t),
            })
            .collect();
        let signal = |link: u32| -> char {
            let l = &self.net.links[link as usize];
            l.controller
                .and_then(|c| states[c as usize].as_bytes().get(l.signal as usize))
                .map_or('G', |&b| b as char)
        };
        // Rank of a link now: a signal's G beats its g; otherwise the link's own.
        let rank = |link: u32| -> i32 {
            let l = &self.net.links[link as usize];
            match l.rule {
                Rule::Signal => match signal(link) {
                    'G' => 4,
                    'g' => 2,
                    'y' => 3,
                    _ => -1,
                },
                _ => l.rank,
            }
        };
        // The approach on a link's lane heading for that link, if any.
        let approach_on = |link: u32| {
            let from = self.net.links[link as usize].from_lane;
            approaches[from as usize].filter(|a| a.link == link)
        };
        approaches
            .iter()
            .map(|a| {
                let Some(a) = a else { return false };
                let l = &self.net.links[a.link as usize];
                // A closed road is not entered.
                if self
                    .closed_now
                    .get(self.net.lanes[l.to_lane as usize].edge as usize)
                    .copied()
                    .unwrap_or(false)
                {
                    return false;
                }
                // Do not block the box: where the lane beyond is full up to the junction and
                // not moving, wait before the line.
                let jammed = self.lane_veh[l.to_lane as usize]
                    .last()
                    .and_then(|&b| self.veh[b as usize].as_ref())
                    .is_some_and(|b| b.v < 1.0);
                if jammed && self.room(l.to_lane) < vt.length_m + vt.min_gap_m {
                    return false;
                }
                let busy = l.foes.iter().any(|&f| self.busy_until[f as usize] > t);
                let mine = rank(a.link);
                // Foes of higher rank due soon, or halted at their line ready to go first.
                let foe_due = |min_rank: i32| {
                    l.foes.iter().any(|&f| {
                        rank(f) > min_rank
                            && approach_on(f).is_some_and(|b| {
                                b.dist / b.v.max(0.1) < self.params.yield_gap_s || b.dist < 1.0 && b.v < 0.1
                            })
                    })
                };
                match l.rule {
                    Rule::Free => true,
                    Rule::Signal => match signal(a.link) {
                        'G' => !busy,
                        'g' => !busy && !foe_due(mine),
                        // Yellow: drive on where stopping would take more than comfortable braking.
                        'y' => a.dist < a.v * a.v / (2.0 * vt.decel) + 0.5,
                        _ => false,
                    },
                    Rule::Yield => !busy && !foe_due(mine),
                    Rule::Stop => a.stopped_at.is_some() && !busy && !foe_due(mine),
                    Rule::AllStop => {
                        let Some(since) = a.stopped_at else { return false };
                        // First come, first served among those halted at their lines.
                        !busy
                            && !l.foes.iter().any(|&f| {
                                approach_on(f).is_some_and(|b| {
                                    b.stopped_at
                                        .is_some_and(|s| s < since || (s == since && f < a.link))
                                })
                            })
                    }
                }
            })
            .collect()
    }

    /// Phase 3: the next speed of every vehicle, lane by lane, from the state the step began with.
    fn speeds(
        &self,
        approaches: &[Option<Approach>],
        open: &[bool],
        changers: &[Vec<(f64, f64)>],
    ) -> Vec<Vec<f64>> {
        match &self.pool {
            Some(pool) => pool.install(|| self.speeds_on(approaches, open, changers)),
            None => self.speeds_on(approaches, open, changers),
        }
    }

    fn speeds_on(
        &self,
        approaches: &[Option<Approach>],
        open: &[bool],
        changers: &[Vec<(f64, f64)>],
    ) -> Vec<Vec<f64>> {
        let p = &self.params;
        let vt = &p.vtype;
        let dt = p.step_s;
        let per_lane = |(lane, vs): (usize, &Vec<u32>)| {
            let length = self.net.lanes[lane].length_m;
            let mut out = Vec::with_capacity(vs.len());
            for (k, &id) in vs.iter().enumerate() {
                let Some(v) = self.veh[id as usize].as_ref() else {
                    out.push(0.0);
                    continue;
                };
                let desired = self.desired(v);
                // (gap, leader speed) of the nearest constraint ahead.
                let mut ahead = Ahead::default();
                // A neighbour waiting to change in just ahead: leave it room.
                let c = &changers[lane];
                let i = c.partition_point(|x| x.0 <= v.pos + 0.1);
                if let Some(&(cp, cv)) = c.get(i) {
                    let g = cp - vt.length_m - v.pos - vt.min_gap_m;
                    // Only where one can still brake for it.
                    if g >= 0.0 || v.v < 0.1 {
                        ahead.push((g.max(0.0), cv));
                    }
                }
                if k > 0 {
                    if let Some(l) = self.veh[vs[k - 1] as usize].as_ref() {
                        ahead.push((l.pos - vt.length_m - v.pos - vt.min_gap_m, l.v));
                    }
                } else if let Some(next) = self.next_edge(v) {
                    let to_line = length - v.pos;
                    match approaches[lane] {
                        Some(a) if open[lane] => {
                            // The last vehicle beyond, if any.
                            let to = self.net.links[a.link as usize].to_lane;
                            if let Some(&b) = self.lane_veh[to as usize].last() {
                                if let Some(b) = self.veh[b as usize].as_ref() {
                                    ahead.push((to_line + b.pos - vt.length_m - vt.min_gap_m, b.v));
                                }
                            }
                        }
                        // Closed, or on a lane that does not lead on (it must change
                        // lanes first): stop at the line.
                        _ => ahead.push((to_line - 0.1, 0.0)),
                    }
                    let _ = next;
                }
                let v_next = match p.follow {
                    Follow::Krauss => {
                        let vmax = (v.v + vt.accel * dt).min(desired);
                        let safe = ahead
                            .iter()
                            .map(|&(g, vl)| krauss_safe(g, vl, vt.decel, vt.tau_s))
                            .fold(f64::INFINITY, f64::min);
                        let mut w = vmax.min(safe);
                        // Dawdling.
                        let u = uniform(p.seed, u64::from(id), self.steps);
                        if w < vt.accel {
                            w -= vt.sigma * w * u;
                        } else {
                            w -= vt.sigma * vt.accel * u * dt;
                        }
                        let floor_ = (v.v - vt.decel * dt)
                            .max(0.0)
                            .min(safe.max(v.v - vt.emergency_decel * dt));
                        w.max(floor_).max(0.0)
                    }
                    Follow::Idm => {
                        let sub = 4;
                        let h = dt / f64::from(sub);
                        let mut w = v.v;
                        let mut gaps = ahead;
                        for _ in 0..sub {
                            let mut acc = vt.accel * (1.0 - (w / desired.max(0.1)).powi(4));
                            for &(g, vl) in gaps.iter() {
                                let s = (g + vt.min_gap_m).max(0.01);
                                let star = vt.min_gap_m
                                    + (w * vt.tau_s + w * (w - vl) / (2.0 * (vt.accel * vt.decel).sqrt()))
                                        .max(0.0);
                                acc -= vt.accel * (star / s).powi(2);
                            }
                            let nw = (w + acc * h).max(0.0);
                            for gv in gaps.iter_mut() {
                                gv.0 -= (nw - gv.1) * h;
                            }
                            w = nw;
                        }
                        w
                    }
                };
                out.push(v_next);
            }
            out
        };
        // Threads pay off only with many vehicles; the result is the same either way.
        if self.running >= PARALLEL_FROM {
            self.lane_veh.par_iter().enumerate().map(per_lane).collect()
        } else {
            self.lane_veh.iter().enumerate().map(per_lane).collect()
        }
    }

    /// Sets the new speeds; counts halts, waiting and time lost.
    fn apply_speeds(&mut self, speeds: &[Vec<f64>], approaches: &[Option<Approach>]) {
        let dt = self.params.step_s;
        let t = self.time_s;
        for (lane, vs) in self.lane_veh.iter().enumerate() {
            for (k, &id) in vs.iter().enumerate() {
                let Some(desired) = self.veh[id as usize].as_ref().map(|v| self.desired(v)) else {
                    continue;
                };
                let Some(v) = self.veh[id as usize].as_mut() else {
                    continue;
                };
                v.v = speeds[lane][k];
                let r = &mut self.results[id as usize];
                if v.v < 0.1 {
                    r.waiting_s += dt;
                    v.halted_s += dt;
                } else {
                    v.halted_s = 0.0;
                }
                r.time_loss_s += dt * (1.0 - v.v / desired.max(0.1)).max(0.0);
                // Halted at the stop line: stop signs and all-way stops note when.
                let at_line = k == 0 && approaches[lane].is_some_and(|a| a.dist < 1.5) && v.v < 0.1;
                if at_line {
                    v.stopped_at.get_or_insert(t);
                } else if k != 0 || approaches[lane].is_none_or(|a| a.dist >= 1.5) {
                    v.stopped_at = None;
                }
                if !v.stuck && v.halted_s >= self.params.stuck_after_s {
                    v.stuck = true;
                }
            }
        }
    }

    /// Phase 4: moves, and hand-overs across junctions.
    fn moves(&mut self) {
        let dt = self.params.step_s;
        let t = self.time_s;
        let clear = self.params.clear_s;
        let mut handed: Vec<(u32, f64, u32)> = Vec::new();
        let mut arrived: Vec<u32> = Vec::new();
        let bin = self.bin_index();
        for lane in 0..self.lane_veh.len() {
            let length = self.net.lanes[lane].length_m;
            let edge = self.net.lanes[lane].edge;
            let mut keep = Vec::with_capacity(self.lane_veh[lane].len());
            let vs = std::mem::take(&mut self.lane_veh[lane]);
            let mut halted = 0u32;
            for id in vs {
                let next = {
                    let v = self.veh[id as usize].as_ref().expect("vehicle on a lane");
                    self.next_edge(v)
                };
                let v = self.veh[id as usize].as_mut().expect("vehicle on a lane");
                self.vehicle_steps += 1;
                let step = v.v * dt;
                v.pos += step;
                if v.v < 0.1 {
                    halted += 1;
                }
                let counts = &mut self.bins[bin][edge as usize];
                counts.samples += 1;
                counts.speed_sum += v.v;
                if let Some(rr) = self.rerouting.as_mut() {
                    rr.speed_sum[edge as usize] += v.v;
                    rr.samples[edge as usize] += 1;
                }
                if v.pos < length {
                    keep.push(id);
                    continue;
                }
                match next {
                    None => {
                        // Arrived at the end of its last edge.
                        arrived.push(id);
                        self.bins[bin][edge as usize].left += 1;
                    }
                    Some(n) => {
                        let link = self.net.link_to(lane as u32, n);
                        match link {
                            Some(link) => {
                                let to = self.net.links[link as usize].to_lane;
                                let to_len = self.net.lanes[to as usize].length_m;
                                v.pos = (v.pos - length).min(to_len - 0.01);
                                v.lane = to;
                                v.at += 1;
                                v.stopped_at = None;
                                self.busy_until[link as usize] = t + clear;
                                self.results[id as usize].route_length_m += to_len;
                                handed.push((to, v.pos, id));
                                self.bins[bin][edge as usize].left += 1;
                                self.bins[bin][n as usize].entered += 1;
                            }
                            None => {
                                // Not on a lane that leads on: wait at the line.
                                v.pos = length - 0.01;
                                v.v = 0.0;
                                keep.push(id);
                            }
                        }
                    }
                }
            }
            self.lane_veh[lane] = keep;
            let b = &mut self.bins[bin][edge as usize];
            b.longest_queue = b.longest_queue.max(halted);
        }
        // Vehicles handed over join their new lanes at the back, farthest first.
        handed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
        for (lane, _, id) in handed {
            self.lane_veh[lane as usize].push(id);
        }
        for id in arrived {
            if let Some(v) = self.veh[id as usize].take() {
                let r = &mut self.results[id as usize];
                // A route cut short for want of a way round ends undelivered.
                r.status = if self.cut.get(id as usize).copied().unwrap_or(false) {
                    Status::Undelivered
                } else {
                    Status::Arrived
                };
                r.arrived_s = Some(t + dt);
                let _ = v;
                self.running -= 1;
                if r.status == Status::Arrived {
                    self.arrived += 1;
                } else {
                    r.arrived_s = None;
                }
            }
        }
    }

    /// Phase 6, where teleporting is on: a vehicle halted `teleport_after_s` leaves its lane
    /// and enters the first edge further along its route whose start has room (SUMO's
    /// teleporting); on its last edge it arrives. Where no edge ahead has room it stays and
    /// tries again the next step. In lane order, front first: the same for any thread count.
    fn teleports(&mut self) {
        let after = self.params.teleport_after_s;
        if after <= 0.0 {
            return;
        }
        let due: Vec<(usize, u32)> = self
            .lane_veh
            .iter()
            .enumerate()
            .flat_map(|(lane, vs)| vs.iter().map(move |&id| (lane, id)))
            .filter(|&(_, id)| {
                self.veh[id as usize]
                    .as_ref()
                    .is_some_and(|v| v.halted_s >= after)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let vt = self.params.vtype.clone();
        let bin = self.bin_index();
        let t = self.time_s + self.params.step_s;
        for (lane, id) in due {
            let Some(at) = self.veh[id as usize].as_ref().map(|v| v.at as usize) else {
                continue;
            };
            let route = &self.trips[id as usize].route;
            let last = at + 1 >= route.len();
            let mut target = None;
            for i in at + 1..route.len() {
                let (e, next) = (route[i], route.get(i + 1).copied());
                if self.closed_now.get(e as usize).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(l) = self.entry_lane(e, next) {
                    let length = self.net.lanes[l as usize].length_m;
                    if self.room(l) >= vt.length_m + vt.min_gap_m + 0.1 && length > vt.length_m + 0.2 {
                        target = Some((i, l));
                        break;
                    }
                }
            }
            if target.is_none() && !last {
                continue;
            }
            let from_edge = self.net.lanes[lane].edge;
            self.lane_veh[lane].retain(|&x| x != id);
            self.bins[bin][from_edge as usize].left += 1;
            self.results[id as usize].teleports += 1;
            match target {
                Some((i, l)) => {
                    let skipped: f64 = self.trips[id as usize].route[at + 1..=i]
                        .iter()
                        .map(|&e| self.net.lanes[self.net.lane(e, 0) as usize].length_m)
                        .sum();
                    let to_edge = self.net.lanes[l as usize].edge;
                    if let Some(v) = self.veh[id as usize].as_mut() {
                        v.at = i as u32;
                        v.lane = l;
                        v.pos = vt.length_m + 0.1;
                        v.v = 0.0;
                        v.halted_s = 0.0;
                        v.stopped_at = None;
                        v.stuck = false;
                    }
                    self.lane_veh[l as usize].push(id);
                    self.results[id as usize].route_length_m += skipped;
                    self.bins[bin][to_edge as usize].entered += 1;
                }
                None => {
                    // On its last edge: it arrives.
                    self.veh[id as usize] = None;
                    self.running -= 1;
                    let r = &mut self.results[id as usize];
                    if self.cut.get(id as usize).copied().unwrap_or(false) {
                        r.status = Status::Undelivered;
                    } else {
                        r.status = Status::Arrived;
                        r.arrived_s = Some(t);
                        self.arrived += 1;
                    }
                }
            }
        }
    }

    /// Phase 5: lane changes, in lane order: to a lane that leads on where this one does not,
    /// or to a faster neighbour that also leads on.
    fn lane_changes(&mut self) {
        let vt = self.params.vtype.clone();
        for lane in 0..self.lane_veh.len() as u32 {
            let edge = self.net.lanes[lane as usize].edge;
            let n_lanes = self.net.edge_lanes[edge as usize];
            if n_lanes < 2 {
                continue;
            }
            let index = self.net.lanes[lane as usize].index;
            let mut k = 0;
            while k < self.lane_veh[lane as usize].len() {
                let id = self.lane_veh[lane as usize][k];
                let Some(v) = self.veh[id as usize].as_ref() else {
                    k += 1;
                    continue;
                };
                let next = self.next_edge(v);
                let leads = |l: u32| next.is_none_or(|n| self.net.link_to(l, n).is_some());
                let strategic = self.strategic_target(lane, v);
                let target = if let Some(t) = strategic {
                    Some(self.net.lanes[t as usize].index)
                } else {
                    // Faster: the leader here is slower than wanted, and a neighbour that
                    // leads on offers more.
                    let desired = self.desired(v);
                    let here = self.free_speed(lane, v.pos, k, desired);
                    let mut best: Option<(u32, f64)> = None;
                    for i in [index + 1, index.wrapping_sub(1)] {
                        if i >= n_lanes {
                            continue;
                        }
                        let l = self.net.lane(edge, i);
                        if !leads(l) {
                            continue;
                        }
                        let there = self.free_speed_at(l, v.pos, desired);
                        if there > here + 1.0 && best.is_none_or(|(_, s)| there > s) {
                            best = Some((i, there));
                        }
                    }
                    best.map(|(i, _)| i)
                };
                let Some(ti) = target else {
                    k += 1;
                    continue;
                };
                let tl = self.net.lane(edge, ti);
                // Room on the target: behind its leader, ahead of its follower with a safe gap.
                let (pos, speed) = (v.pos, v.v);
                let at = self.index_behind(tl, pos);
                let vs = &self.lane_veh[tl as usize];
                // A vehicle that must change, halted, squeezes into a gap shorter than the
                // minimum where the vehicle behind has stopped to let it in (else the two wait
                // for each other for ever).
                let squeeze = |g: f64, v_behind: f64| {
                    strategic.is_some() && speed < 0.1 && v_behind < 0.1 && g + vt.min_gap_m >= 0.5
                };
                let lead_ok = at == 0
                    || self.veh[vs[at - 1] as usize].as_ref().is_some_and(|l| {
                        let g = l.pos - vt.length_m - pos - vt.min_gap_m;
                        g >= 0.0 && krauss_safe(g, l.v, vt.decel, vt.tau_s) >= speed - vt.decel
                            || squeeze(g, speed)
                    });
                let follow_ok = at >= vs.len()
                    || self.veh[vs[at] as usize].as_ref().is_some_and(|f| {
                        let g = pos - vt.length_m - f.pos - vt.min_gap_m;
                        g >= 0.0 && krauss_safe(g, speed, vt.decel, vt.tau_s) >= f.v - vt.decel
                            || squeeze(g, f.v)
                    });
                if !(lead_ok && follow_ok) {
                    // Two vehicles side by side, each needing the other's lane: they swap.
                    if strategic.is_some() {
                        let beside = vs.iter().position(|&o| {
                            self.veh[o as usize].as_ref().is_some_and(|o| {
                                (o.pos - pos).abs() < vt.length_m
                                    && self.strategic_target(tl, o) == Some(lane)
                            })
                        });
                        if let Some(j) = beside {
                            let other = self.lane_veh[tl as usize][j];
                            self.lane_veh[tl as usize][j] = id;
                            self.lane_veh[lane as usize][k] = other;
                            if let Some(v) = self.veh[id as usize].as_mut() {
                                v.lane = tl;
                                v.stopped_at = None;
                            }
                            if let Some(o) = self.veh[other as usize].as_mut() {
                                o.lane = lane;
                                o.stopped_at = None;
                            }
                            // Each keeps its place in its new lane's order by position.
                            for l in [lane, tl] {
                                let mut vs = std::mem::take(&mut self.lane_veh[l as usize]);
                                vs.sort_by(|a, b| {
                                    let pa = self.veh[*a as usize].as_ref().map_or(0.0, |v| v.pos);
                                    let pb = self.veh[*b as usize].as_ref().map_or(0.0, |v| v.pos);
                                    pb.total_cmp(&pa).then(a.cmp(b))
                                });
                                self.lane_veh[l as usize] = vs;
                            }
                        }
                    }
                    k += 1;
                    continue;
                }
                self.lane_veh[lane as usize].remove(k);
                self.lane_veh[tl as usize].insert(at, id);
                if let Some(v) = self.veh[id as usize].as_mut() {
                    v.lane = tl;
                    v.stopped_at = None;
                }
            }
        }
    }

    /// The speed a vehicle at index `k` of `lane` could hold behind its leader.
    fn free_speed(&self, lane: u32, pos: f64, k: usize, desired: f64) -> f64 {
        self.free_behind(lane, k, pos, desired)
    }

    /// The same on another lane, at position `pos`.
    fn free_speed_at(&self, lane: u32, pos: f64, desired: f64) -> f64 {
        self.free_behind(lane, self.index_behind(lane, pos), pos, desired)
    }

    /// The speed a vehicle at `pos` could hold behind vehicle `at - 1` of `lane` (none ahead
    /// when `at` is 0, nor any that is more than 100 m away).
    fn free_behind(&self, lane: u32, at: usize, pos: f64, desired: f64) -> f64 {
        let vt = &self.params.vtype;
        if at == 0 {
            return desired;
        }
        let vs = &self.lane_veh[lane as usize];
        self.veh[vs[at - 1] as usize].as_ref().map_or(desired, |l| {
            let g = l.pos - vt.length_m - pos - vt.min_gap_m;
            if g > 100.0 {
                desired
            } else {
                krauss_safe(g, l.v, vt.decel, vt.tau_s).min(desired)
            }
        })
    }

    /// The index in `lane` of the first vehicle not ahead of `pos` (its vehicles are front first).
    fn index_behind(&self, lane: u32, pos: f64) -> usize {
        self.lane_veh[lane as usize]
            .partition_point(|&o| self.veh[o as usize].as_ref().is_some_and(|o| o.pos > pos))
    }

    /// Ends the run: vehicles still on the road are stuck or running, those never on it
    /// waiting; returns how many are on the road.
    pub fn close(&mut self) -> usize {
        for (k, v) in self.veh.iter().enumerate() {
            if let Some(v) = v {
                self.results[k].status = if v.stuck { Status::Stuck } else { Status::Running };
            }
        }
        self.running
    }

    /// Vehicles halted longer than the stuck time now.
    pub fn stuck_now(&self) -> usize {
        self.veh.iter().flatten().filter(|v| v.stuck).count()
    }

    /// Turn of a link (for the viewer and outputs).
    pub fn link_turn(&self, link: u32) -> Turn {
        self.net.links[link as usize].turn
    }
}
