//! The network as the simulation drives it: lanes in one array, the links through junctions
//! lane to lane, which links conflict, who yields, and the signal programs.

use cim_engine::network::{Control, Network, Turn, Yield};

/// One lane of an edge.
#[derive(Clone, Debug)]
pub struct Lane {
    pub edge: u32,
    /// 0 is the rightmost.
    pub index: u32,
    pub length_m: f64,
    pub speed_m_s: f64,
    /// Links leaving its end, by index into [`SimNet::links`].
    pub links: Vec<u32>,
}

/// How a link's vehicles may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// No one to yield to (a road going on, a dead end).
    Free,
    /// Yields to its foes that rank higher (`rank`).
    Yield,
    /// Stops, then yields.
    Stop,
    /// Stops; first come, first served.
    AllStop,
    /// By the signal of its controller (`signal`: its index in the controller's states).
    Signal,
}

/// A movement from a lane through a junction onto a lane.
#[derive(Clone, Debug)]
pub struct Link {
    pub from_lane: u32,
    pub to_lane: u32,
    pub junction: u32,
    pub turn: Turn,
    pub rule: Rule,
    /// Higher goes first where links conflict (major road 2, minor 1; a left turn one less).
    pub rank: i32,
    /// Links that cross or merge with this one (other approaches only).
    pub foes: Vec<u32>,
    /// Its controller and its place in the controller's signal states.
    pub controller: Option<u32>,
    pub signal: u32,
}

/// A fixed-time signal program: phases of a state per link (`G` green, `g` green but yield,
/// `y` yellow, `r` red), as SUMO writes them.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub links: Vec<u32>,
    pub phases: Vec<(f64, String)>,
    pub offset_s: f64,
    /// Actuated: each green phase lasts from its minimum to its maximum (s), ended early when
    /// no vehicle on its green lanes is within `gap_s` of the stop line; yellow and red phases
    /// keep their durations. `None`: fixed time.
    pub actuated: Option<Actuated>,
}

/// How an actuated program extends its greens (SUMO's `actuated` type: minDur, maxDur,
/// max-gap).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Actuated {
    pub min_s: f64,
    pub max_s: f64,
    pub gap_s: f64,
}

impl Program {
    /// Whether phase `k` is a green phase an actuated program may extend.
    pub fn is_green(&self, k: usize) -> bool {
        self.phases[k].1.contains(['G', 'g'])
    }

    /// Makes the program actuated.
    pub fn actuate(&mut self, a: Actuated) {
        self.actuated = Some(a);
    }
}

impl Program {
    pub fn cycle_s(&self) -> f64 {
        self.phases.iter().map(|p| p.0).sum()
    }

    /// The state string at time `t`.
    pub fn state_at(&self, t: f64) -> &str {
        let c = self.cycle_s();
        if c <= 0.0 || self.phases.is_empty() {
            return "";
        }
        let mut r = (t - self.offset_s).rem_euclid(c);
        for (d, s) in &self.phases {
            if r < *d {
                return s;
            }
            r -= d;
        }
        &self.phases[self.phases.len() - 1].1
    }
}

/// The network, ready to drive.
#[derive(Clone, Debug)]
pub struct SimNet {
    pub lanes: Vec<Lane>,
    /// First lane of each edge; an edge's lanes are consecutive, rightmost first.
    pub edge_lane: Vec<u32>,
    pub edge_lanes: Vec<u32>,
    pub edge_length: Vec<f64>,
    pub edge_speed: Vec<f64>,
    pub edge_to: Vec<u32>,
    pub links: Vec<Link>,
    pub programs: Vec<Program>,
}

/// Yellow time for the fastest approach (SUMO's rule: 3 s up to 50 km/h, a second more per
/// 10 km/h to 70, then 1.8 + v / 6).
pub fn yellow_s(vmax: f64) -> f64 {
    if vmax < 71.0 / 3.6 {
        3.0 + ((vmax - 50.0 / 3.6) * 0.37).floor().max(0.0)
    } else {
        (1.8 + vmax / 6.0).floor()
    }
}

/// Unit heading at the end of an edge (into its junction) or at its start (out of it).
fn heading(shape: &[[f64; 2]], at_end: bool) -> [f64; 2] {
    let n = shape.len();
    let (a, b) = if at_end {
        (shape[n - 2], shape[n - 1])
    } else {
        (shape[0], shape[1])
    };
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let l = dx.hypot(dy).max(1e-12);
    [dx / l, dy / l]
}

/// Where a lane meets the junction, as an angle round it: incoming edges by the direction they
/// come from, outgoing by the direction they leave to; driving on the right, an arm's incoming
/// lanes lie a little anticlockwise of its outgoing ones.
fn arm_angle(net: &Network, edge: u32, incoming: bool) -> f64 {
    let e = &net.edges[edge as usize];
    let h = heading(&e.shape, incoming);
    if incoming {
        // An incoming edge lies behind its heading.
        (-h[1]).atan2(-h[0]) + 0.01
    } else {
        h[1].atan2(h[0]) - 0.01
    }
}

impl SimNet {
    /// Lanes, links, conflicts, rules and fixed-time programs (SUMO's static defaults: a 90 s
    /// cycle, opposite approaches green together, left turns permissive) of `net`.
    pub fn new(net: &Network) -> SimNet {
        let mut lanes = Vec::new();
        let mut edge_lane = Vec::with_capacity(net.edges.len());
        for (k, e) in net.edges.iter().enumerate() {
            edge_lane.push(lanes.len() as u32);
            for i in 0..e.lanes.max(1) {
                lanes.push(Lane {
                    edge: k as u32,
                    index: i,
                    length_m: e.length_m,
                    speed_m_s: e.speed_m_s,
                    links: Vec::new(),
                });
            }
        }
        let mut links = Vec::with_capacity(net.connections.len());
        for c in &net.connections {
            let from = &net.edges[c.from_edge as usize];
            let junction = from.to;
            let control = net.junctions[junction as usize].control;
            let rule = match control {
                Control::Signals => Rule::Signal,
                Control::AllWayStop => Rule::AllStop,
                Control::DeadEnd => Rule::Free,
                Control::Priority => match from.yields {
                    Yield::None => Rule::Yield,
                    Yield::GiveWay => Rule::Yield,
                    Yield::Stop => Rule::Stop,
                    Yield::AllWayStop => Rule::AllStop,
                },
            };
            let major = from.yields == Yield::None;
            let rank = if major { 2 } else { 1 } * 2 - i32::from(matches!(c.turn, Turn::Left | Turn::UTurn));
            let id = links.len() as u32;
            let from_lane = edge_lane[c.from_edge as usize] + c.from_lane.min(from.lanes.max(1) - 1);
            let to_lanes = net.edges[c.to_edge as usize].lanes.max(1);
            links.push(Link {
                from_lane,
                to_lane: edge_lane[c.to_edge as usize] + c.to_lane.min(to_lanes - 1),
                junction,
                turn: c.turn,
                rule,
                rank,
                foes: Vec::new(),
                controller: net.junctions[junction as usize].controller,
                signal: 0,
            });
            lanes[from_lane as usize].links.push(id);
        }
        // Conflicts: two links from different approaches conflict when they end on the same
        // edge, or when their chords across the junction cross (their arms interleave round it).
        let mut by_junction: Vec<Vec<u32>> = vec![Vec::new(); net.junctions.len()];
        for (k, l) in links.iter().enumerate() {
            by_junction[l.junction as usize].push(k as u32);
        }
        let edge_of = |lane: u32| lanes[lane as usize].edge;
        for ids in &by_junction {
            for (ai, &a) in ids.iter().enumerate() {
                for &b in &ids[ai + 1..] {
                    let (la, lb) = (&links[a as usize], &links[b as usize]);
                    let (fa, ta) = (edge_of(la.from_lane), edge_of(la.to_lane));
                    let (fb, tb) = (edge_of(lb.from_lane), edge_of(lb.to_lane));
                    if fa == fb {
                        continue;
                    }
                    let conflict = ta == tb || {
                        let p = [
                            arm_angle(net, fa, true),
                            arm_angle(net, ta, false),
                            arm_angle(net, fb, true),
                            arm_angle(net, tb, false),
                        ];
                        chords_cross(p[0], p[1], p[2], p[3])
                    };
                    if conflict {
                        links[a as usize].foes.push(b);
                        links[b as usize].foes.push(a);
                    }
                }
            }
        }
        // Signal programs, one per controller.
        let mut programs = Vec::with_capacity(net.controllers.len());
        for (ci, c) in net.controllers.iter().enumerate() {
            let mut mine: Vec<u32> = c
                .junctions
                .iter()
                .flat_map(|&j| by_junction[j as usize].iter().copied())
                .collect();
            mine.sort_unstable();
            for (k, &l) in mine.iter().enumerate() {
                links[l as usize].signal = k as u32;
            }
            programs.push(program(net, &lanes, &links, &mine, ci));
        }
        SimNet {
            edge_lanes: net.edges.iter().map(|e| e.lanes.max(1)).collect(),
            edge_length: net.edges.iter().map(|e| e.length_m).collect(),
            edge_speed: net.edges.iter().map(|e| e.speed_m_s).collect(),
            edge_to: net.edges.iter().map(|e| e.to).collect(),
            lanes,
            edge_lane,
            links,
            programs,
        }
    }

    /// The lane of `edge` numbered `index` from the right.
    pub fn lane(&self, edge: u32, index: u32) -> u32 {
        self.edge_lane[edge as usize] + index.min(self.edge_lanes[edge as usize] - 1)
    }

    /// The link from `lane` onto `edge`, if one.
    pub fn link_to(&self, lane: u32, edge: u32) -> Option<u32> {
        self.lanes[lane as usize]
            .links
            .iter()
            .copied()
            .find(|&l| self.lanes[self.links[l as usize].to_lane as usize].edge == edge)
    }
}

/// Whether chord a→b and chord c→d of a circle cross (angles in radians; shared ends do not).
fn chords_cross(a: f64, b: f64, c: f64, d: f64) -> bool {
    let tau = std::f64::consts::TAU;
    // Position of x going anticlockwise from a, in [0, 2π).
    let rel = |x: f64| (x - a).rem_euclid(tau);
    let (rb, rc, rd) = (rel(b), rel(c), rel(d));
    let eps = 1e-6;
    if rc < eps || rd < eps || (rc - rb).abs() < eps || (rd - rb).abs() < eps {
        return false;
    }
    (rc < rb) != (rd < rb)
}

/// The state string of a phase in which the links `green` (of the controller's links `mine`)
/// show `c` (`G`, or `y`) and the others red; a green turn that crosses foes green at the same
/// time (other than left turns) yields (`g`).
fn phase_state(links: &[Link], mine: &[u32], green: &[u32], c: char) -> String {
    let mut s = vec!['r'; mine.len()];
    for &l in green {
        let Some(i) = mine.iter().position(|&x| x == l) else {
            continue;
        };
        let yields = links[l as usize].turn != Turn::Straight
            && links[l as usize].turn != Turn::Right
            && links[l as usize]
                .foes
                .iter()
                .any(|f| green.contains(f) && links[*f as usize].turn != Turn::Left);
        s[i] = match c {
            'G' if yields => 'g',
            c => c,
        };
    }
    s.into_iter().collect()
}

/// SUMO's static program for one controller: approaches grouped by axis (those within 45° of
/// the first approach's line, and the rest); each group green in turn for its share of a 90 s
/// cycle less yellow; a left turn (or U-turn) in a green phase yields (`g`) where it has foes
/// green at the same time. A controller with one group gets 82 s green, yellow, and 5 s red
/// for pedestrians.
fn program(net: &Network, lanes: &[Lane], links: &[Link], mine: &[u32], _ci: usize) -> Program {
    let edge_of = |l: u32| lanes[links[l as usize].from_lane as usize].edge;
    let axis = |l: u32| {
        let e = &net.edges[edge_of(l) as usize];
        let h = heading(&e.shape, true);
        // Direction folded to [0, π): opposite approaches share an axis.
        h[1].atan2(h[0]).rem_euclid(std::f64::consts::PI)
    };
    let first = mine.first().map_or(0.0, |&l| axis(l));
    let near = |a: f64| {
        let d = (a - first).abs();
        d.min(std::f64::consts::PI - d) < std::f64::consts::FRAC_PI_4
    };
    let groups: [Vec<u32>; 2] = [
        mine.iter().copied().filter(|&l| near(axis(l))).collect(),
        mine.iter().copied().filter(|&l| !near(axis(l))).collect(),
    ];
    let vmax = mine
        .iter()
        .map(|&l| net.edges[edge_of(l) as usize].speed_m_s)
        .fold(0.0, f64::max);
    let yellow = yellow_s(vmax);
    let state = |green: &[u32], c: char| phase_state(links, mine, green, c);
    let cycle = 90.0;
    let phases = if groups[1].is_empty() {
        vec![
            (cycle - yellow - 5.0, state(&groups[0], 'G')),
            (yellow, state(&groups[0], 'y')),
            (5.0, "r".repeat(mine.len())),
        ]
    } else {
        let g = (cycle - 2.0 * yellow) / 2.0;
        vec![
            (g, state(&groups[0], 'G')),
            (yellow, state(&groups[0], 'y')),
            (g, state(&groups[1], 'G')),
            (yellow, state(&groups[1], 'y')),
        ]
    };
    Program {
        links: mine.to_vec(),
        phases,
        offset_s: 0.0,
        actuated: None,
    }
}

/// A signal plan from a scenario: phases each giving green to some approaches (by road code)
/// or a SUMO state string, an offset, and optionally a cycle the greens are scaled to.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub controller: u32,
    pub offset_s: f64,
    pub cycle_s: Option<f64>,
    pub phases: Vec<PlanPhase>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PlanPhase {
    /// These approaches (road codes) green, for this long; yellow follows for the links that
    /// turn red next.
    Green { roads: Vec<String>, duration_s: f64 },
    /// A SUMO state string (one letter per link of the controller), for this long.
    State { state: String, duration_s: f64 },
}

impl SimNet {
    /// Replaces the program of `plan.controller` by `plan`. A plan that does not fit its
    /// junctions is an error saying why: a road that does not enter them, an approach never
    /// green, a state of the wrong length or with unknown letters, a cycle too short.
    pub fn set_plan(&mut self, net: &Network, plan: &Plan) -> Result<(), String> {
        let c = plan.controller as usize;
        let Some(program) = self.programs.get(c) else {
            return Err(format!(
                "controller {} is not in the network (it has {}; see cim_net_signals)",
                plan.controller,
                self.programs.len()
            ));
        };
        let mine = program.links.clone();
        if mine.is_empty() {
            return Err(format!(
                "controller {} has no lane connections to signal",
                plan.controller
            ));
        }
        if plan.phases.is_empty() {
            return Err("a plan needs phases".into());
        }
        let code_of =
            |l: u32| &net.edges[self.lanes[self.links[l as usize].from_lane as usize].edge as usize].code;
        let mut approaches: Vec<&str> = mine.iter().map(|&l| code_of(l).as_str()).collect();
        approaches.sort_unstable();
        approaches.dedup();
        let vmax = mine
            .iter()
            .map(|&l| self.lanes[self.links[l as usize].from_lane as usize].speed_m_s)
            .fold(0.0, f64::max);
        let yellow = yellow_s(vmax);
        // Green sets per phase (None for a state phase).
        let mut greens: Vec<Option<Vec<u32>>> = Vec::new();
        let mut ever = vec![false; mine.len()];
        for (k, p) in plan.phases.iter().enumerate() {
            match p {
                PlanPhase::Green { roads, duration_s } => {
                    if !(duration_s.is_finite() && *duration_s > 0.0) {
                        return Err(format!(
                            "phase {}: duration_s {duration_s} must be positive",
                            k + 1
                        ));
                    }
                    for r in roads {
                        if !approaches.contains(&r.as_str()) {
                            return Err(format!(
                                "phase {}: road '{r}' does not enter controller {}'s junctions (its approaches: {})",
                                k + 1,
                                plan.controller,
                                approaches.join(", ")
                            ));
                        }
                    }
                    let g: Vec<u32> = mine
                        .iter()
                        .copied()
                        .filter(|&l| roads.iter().any(|r| r == code_of(l)))
                        .collect();
                    for (i, &l) in mine.iter().enumerate() {
                        if g.contains(&l) {
                            ever[i] = true;
                        }
                    }
                    greens.push(Some(g));
                }
                PlanPhase::State { state, duration_s } => {
                    if !(duration_s.is_finite() && *duration_s > 0.0) {
                        return Err(format!(
                            "phase {}: duration_s {duration_s} must be positive",
                            k + 1
                        ));
                    }
                    if state.chars().count() != mine.len() {
                        return Err(format!(
                            "phase {}: state '{state}' has {} signals; controller {} has {} lane connections",
                            k + 1,
                            state.chars().count(),
                            plan.controller,
                            mine.len()
                        ));
                    }
                    if let Some(bad) = state.chars().find(|c| !"GgyYrRsOo".contains(*c)) {
                        return Err(format!(
                            "phase {}: state '{state}': '{bad}' is not a signal (G, g, y, r)",
                            k + 1
                        ));
                    }
                    for (i, ch) in state.chars().enumerate() {
                        if matches!(ch, 'G' | 'g' | 'O' | 'o' | 's') {
                            ever[i] = true;
                        }
                    }
                    greens.push(None);
                }
            }
        }
        if let Some(i) = ever.iter().position(|e| !e) {
            return Err(format!(
                "road '{}' never gets green: its vehicles would wait for ever",
                code_of(mine[i])
            ));
        }
        // Phases with yellow after each green set, for the links that turn red next.
        let n = plan.phases.len();
        let mut phases: Vec<(f64, String)> = Vec::new();
        // Whether each phase is one of the plan's (scaled to the cycle) or a yellow added.
        let mut planned: Vec<bool> = Vec::new();
        let mut yellows = 0.0;
        for (k, p) in plan.phases.iter().enumerate() {
            match (p, &greens[k]) {
                (PlanPhase::Green { duration_s, .. }, Some(g)) => {
                    phases.push((*duration_s, phase_state(&self.links, &mine, g, 'G')));
                    planned.push(true);
                    let next: Vec<u32> = match &greens[(k + 1) % n] {
                        Some(ng) => ng.clone(),
                        None => Vec::new(),
                    };
                    let ending: Vec<u32> = g.iter().copied().filter(|l| !next.contains(l)).collect();
                    if !ending.is_empty() {
                        let mut s: Vec<char> = phase_state(&self.links, &mine, g, 'G').chars().collect();
                        for (i, l) in mine.iter().enumerate() {
                            if ending.contains(l) {
                                s[i] = 'y';
                            }
                        }
                        phases.push((yellow, s.into_iter().collect()));
                        planned.push(false);
                        yellows += yellow;
                    }
                }
                (PlanPhase::State { state, duration_s }, _) => {
                    let s: String = state
                        .chars()
                        .map(|c| match c {
                            'Y' => 'y',
                            'R' | 's' => 'r',
                            'O' | 'o' => 'G',
                            c => c,
                        })
                        .collect();
                    phases.push((*duration_s, s));
                    planned.push(true);
                }
                _ => {}
            }
        }
        if let Some(cycle) = plan.cycle_s {
            let green_total: f64 = plan
                .phases
                .iter()
                .map(|p| match p {
                    PlanPhase::Green { duration_s, .. } | PlanPhase::State { duration_s, .. } => *duration_s,
                })
                .sum();
            let room = cycle - yellows;
            if !(cycle.is_finite() && room >= plan.phases.len() as f64) {
                return Err(format!(
                    "cycle_s {cycle} leaves no time for the greens after {yellows:.0} s of yellow"
                ));
            }
            let f = room / green_total;
            for (p, &mine) in phases.iter_mut().zip(&planned) {
                if mine {
                    p.0 *= f;
                }
            }
        }
        if !(plan.offset_s.is_finite() && plan.offset_s >= 0.0) {
            return Err(format!("offset_s {} must be 0 or more", plan.offset_s));
        }
        self.programs[c] = Program {
            links: mine,
            phases,
            offset_s: plan.offset_s,
            actuated: None,
        };
        Ok(())
    }
}
