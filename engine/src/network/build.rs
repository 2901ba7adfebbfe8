//! Building the network from roads read: junctions, pieces, edges, controls, connections.

use std::collections::HashMap;

use super::roads::{class_defaults, Oneway, RoadIn};
use super::{Connection, Control, Controller, Edge, Junction, Network, NetworkOptions, Turn, Yield};

/// Union–find over junction candidates.
struct Sets(Vec<u32>);

impl Sets {
    fn add(&mut self) -> u32 {
        self.0.push(self.0.len() as u32);
        self.0.len() as u32 - 1
    }
    fn root(&mut self, mut a: u32) -> u32 {
        while self.0[a as usize] != a {
            let up = self.0[self.0[a as usize] as usize];
            self.0[a as usize] = up;
            a = up;
        }
        a
    }
    fn join(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        // The smaller index stays the root, so results do not depend on the order of joins.
        if a < b {
            self.0[b as usize] = a;
        } else if b < a {
            self.0[a as usize] = b;
        }
    }
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Distances along a line from its start to each vertex.
fn along(line: &[[f64; 2]]) -> Vec<f64> {
    let mut d = Vec::with_capacity(line.len());
    let mut s = 0.0;
    for (i, p) in line.iter().enumerate() {
        if i > 0 {
            s += dist(line[i - 1], *p);
        }
        d.push(s);
    }
    d
}

/// Builds the network of `roads` (drivable ones, read in a fixed order). `notes` collects
/// what was assumed or left out.
pub(crate) fn build(roads: Vec<RoadIn>, opts: &NetworkOptions) -> Network {
    let mut net = Network::default();
    let mut notes: Vec<String> = Vec::new();

    // --- Junction candidates: OSM nodes shared by roads or ending one; every road end. ---
    let mut uses: HashMap<i64, u32> = HashMap::new();
    for r in &roads {
        if let Some(nodes) = &r.nodes {
            for (i, n) in nodes.iter().enumerate() {
                // An end counts twice: it is always a junction.
                *uses.entry(*n).or_default() += if i == 0 || i + 1 == nodes.len() { 2 } else { 1 };
            }
        }
    }
    let along_of: Vec<Vec<f64>> = roads.iter().map(|r| along(&r.line)).collect();
    // Which vertices of each road are junctions.
    let mut is_junction: Vec<Vec<bool>> = roads
        .iter()
        .map(|r| {
            let n = r.line.len();
            (0..n)
                .map(|i| {
                    i == 0
                        || i + 1 == n
                        || r.nodes
                            .as_ref()
                            .is_some_and(|ns| uses.get(&ns[i]).copied().unwrap_or(0) >= 2)
                })
                .collect()
        })
        .collect();
    // Signal nodes: at a junction, or within signal_join_m of one along their road, they signal
    // it; farther away they are junctions of their own (a pedestrian light).
    // (road, vertex) of each junction that a signal marks.
    let mut signalled: Vec<(usize, usize)> = Vec::new();
    // (road, junction vertex, runs forward into it, kind) of signs.
    let mut signs: Vec<(usize, usize, bool, Yield)> = Vec::new();
    for (ri, r) in roads.iter().enumerate() {
        let Some(nodes) = &r.nodes else { continue };
        for (kind, node, facing) in &r.controls {
            let Some(i) = nodes.iter().position(|n| n == node) else {
                continue;
            };
            let d = &along_of[ri];
            let prev = (0..=i).rev().find(|&k| is_junction[ri][k]);
            let next = (i..nodes.len()).find(|&k| is_junction[ri][k]);
            let near = |k: Option<usize>| k.filter(|&k| (d[k] - d[i]).abs() <= opts.signal_join_m);
            if kind == "signals" {
                let target = match (near(prev), near(next)) {
                    (Some(p), Some(q)) => Some(if d[i] - d[p] <= d[q] - d[i] { p } else { q }),
                    (p, q) => p.or(q),
                };
                match target {
                    Some(k) => signalled.push((ri, k)),
                    None => {
                        is_junction[ri][i] = true;
                        signalled.push((ri, i));
                    }
                }
                continue;
            }
            let y = match kind.as_str() {
                "stop" => Yield::Stop,
                "all_stop" => Yield::AllWayStop,
                "give_way" => Yield::GiveWay,
                _ => continue,
            };
            // Facing forward: the junction ahead; backward: the one behind; untagged: at a
            // junction, both ways in; else the nearer.
            if is_junction[ri][i] {
                if *facing >= 0 && i > 0 {
                    signs.push((ri, i, true, y));
                }
                if *facing <= 0 && i + 1 < nodes.len() {
                    signs.push((ri, i, false, y));
                }
                continue;
            }
            let target = match facing {
                1 => near(next).map(|k| (k, true)),
                -1 => near(prev).map(|k| (k, false)),
                _ => match (near(prev), near(next)) {
                    (Some(p), Some(q)) if d[i] - d[p] < d[q] - d[i] => Some((p, false)),
                    (_, Some(q)) => Some((q, true)),
                    (Some(p), None) => Some((p, false)),
                    (None, None) => None,
                },
            };
            match target {
                Some((k, fwd)) => signs.push((ri, k, fwd, y)),
                None => notes.push(format!(
                    "road {} ({}): its {kind} sign at node {node} is more than {} m from a junction; not applied",
                    r.code, r.source_key, opts.signal_join_m
                )),
            }
        }
    }

    // --- Junctions: OSM node ids joined; other ends snapped on their level. ---
    let mut sets = Sets(Vec::new());
    let mut by_node: HashMap<i64, u32> = HashMap::new();
    // Candidate of each junction vertex.
    let mut cand: Vec<Vec<Option<u32>>> = roads.iter().map(|r| vec![None; r.line.len()]).collect();
    // (candidate, point, level, from OSM) of road ends, for snapping.
    let mut ends: Vec<(u32, [f64; 2], i64, bool)> = Vec::new();
    for (ri, r) in roads.iter().enumerate() {
        for i in 0..r.line.len() {
            if !is_junction[ri][i] {
                continue;
            }
            let c = match &r.nodes {
                Some(ns) => *by_node.entry(ns[i]).or_insert_with(|| sets.add()),
                None => sets.add(),
            };
            cand[ri][i] = Some(c);
            if i == 0 || i + 1 == r.line.len() {
                ends.push((c, r.line[i], r.level, r.nodes.is_some()));
            }
        }
    }
    if opts.snap_m > 0.0 {
        let cell = opts.snap_m;
        let key = |p: [f64; 2]| ((p[0] / cell).floor() as i64, (p[1] / cell).floor() as i64);
        let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (k, e) in ends.iter().enumerate() {
            grid.entry(key(e.1)).or_default().push(k);
        }
        for (k, e) in ends.iter().enumerate() {
            let (gx, gy) = key(e.1);
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let Some(list) = grid.get(&(gx + dx, gy + dy)) else {
                        continue;
                    };
                    for &o in list {
                        let f = &ends[o];
                        // OSM ends meet through shared nodes, not by distance.
                        if o > k && e.2 == f.2 && !(e.3 && f.3) && dist(e.1, f.1) <= opts.snap_m {
                            sets.join(e.0, f.0);
                        }
                    }
                }
            }
        }
    }
    // Junction index by root, in order of first appearance; positions: the OSM node's, or the
    // mean of the snapped ends.
    let mut index: HashMap<u32, u32> = HashMap::new();
    let mut sums: Vec<([f64; 2], f64)> = Vec::new();
    let mut jv: Vec<Vec<Option<u32>>> = Vec::with_capacity(roads.len());
    for (ri, r) in roads.iter().enumerate() {
        let mut row = vec![None; r.line.len()];
        for i in 0..r.line.len() {
            let Some(c) = cand[ri][i] else { continue };
            let root = sets.root(c);
            let j = *index.entry(root).or_insert_with(|| {
                net.junctions.push(Junction {
                    x: 0.0,
                    y: 0.0,
                    control: Control::Priority,
                    controller: None,
                    osm_node: r.nodes.as_ref().map(|n| n[i]),
                    incoming: Vec::new(),
                    outgoing: Vec::new(),
                });
                sums.push(([0.0, 0.0], 0.0));
                net.junctions.len() as u32 - 1
            });
            let s = &mut sums[j as usize];
            s.0[0] += r.line[i][0];
            s.0[1] += r.line[i][1];
            s.1 += 1.0;
            row[i] = Some(j);
        }
        jv.push(row);
    }
    for (j, (s, n)) in net.junctions.iter_mut().zip(&sums) {
        j.x = s[0] / n;
        j.y = s[1] / n;
    }
    // An OSM junction stands exactly on its node.
    for (ri, r) in roads.iter().enumerate() {
        if r.nodes.is_none() {
            continue;
        }
        for (p, j) in r.line.iter().zip(&jv[ri]) {
            if let Some(j) = j {
                let jn = &mut net.junctions[*j as usize];
                if jn.osm_node.is_some() {
                    (jn.x, jn.y) = (p[0], p[1]);
                }
            }
        }
    }

    // --- Pieces and edges. ---
    // (road, end vertex, forward) -> edge, for signs; way id -> edges, for restrictions.
    let mut edge_at: HashMap<(usize, usize, bool), u32> = HashMap::new();
    let mut piece = 0u32;
    for (ri, r) in roads.iter().enumerate() {
        let (dl, dv, prio) = class_defaults(&r.class).unwrap_or((1, 13.89, 4));
        let lanes_of = |fwd: bool| -> (u32, bool) {
            let (mine, other) = if fwd {
                (r.lanes_forward, r.lanes_backward)
            } else {
                (r.lanes_backward, r.lanes_forward)
            };
            let oneway = r.oneway != Oneway::Both;
            match (mine, r.lanes, oneway) {
                (Some(n), _, _) if n > 0 => (n, false),
                (_, Some(n), true) => (n, false),
                (_, Some(n), false) => match other {
                    Some(o) if n > o => (n - o, false),
                    Some(_) => (1, false),
                    // Shared, the forward direction taking the odd lane (as SUMO).
                    None if fwd => (n.div_ceil(2).max(1), false),
                    None => ((n / 2).max(1), false),
                },
                _ => (dl, true),
            }
        };
        let turn_lanes = |fwd: bool, lanes: u32, notes: &mut Vec<String>| {
            let tl = if fwd {
                &r.turn_lanes_forward
            } else {
                &r.turn_lanes_backward
            };
            let tl = tl.as_ref()?;
            let v: Vec<String> = tl.split('|').map(|s| s.trim().to_string()).collect();
            if v.len() as u32 != lanes {
                notes.push(format!(
                    "road {} ({}): turn:lanes '{tl}' names {} lanes, the road has {lanes}; not used",
                    r.code,
                    r.source_key,
                    v.len()
                ));
                return None;
            }
            Some(v)
        };
        let mut start = 0;
        let mut part = 0u32;
        for i in 1..r.line.len() {
            let Some(b) = jv[ri][i] else { continue };
            let a = jv[ri][start].unwrap_or(b);
            let shape: Vec<[f64; 2]> = r.line[start..=i].to_vec();
            let length = along_of[ri][i] - along_of[ri][start];
            let s = start;
            start = i;
            if length < 1e-3 {
                continue;
            }
            for fwd in [true, false] {
                let allowed = match r.oneway {
                    Oneway::Both => true,
                    Oneway::Forward => fwd,
                    Oneway::Backward => !fwd,
                };
                if !allowed {
                    continue;
                }
                let (lanes, lanes_default) = lanes_of(fwd);
                let (from, to, shape, end) = if fwd {
                    (a, b, shape.clone(), i)
                } else {
                    (b, a, shape.iter().rev().copied().collect(), s)
                };
                let id = net.edges.len() as u32;
                edge_at.insert((ri, end, fwd), id);
                net.edges.push(Edge {
                    code: r.code.clone(),
                    source_key: r.source_key.clone(),
                    layer: r.layer.clone(),
                    backward: !fwd,
                    from,
                    to,
                    lanes,
                    speed_m_s: r.speed.unwrap_or(dv),
                    length_m: length,
                    class: r.class.clone(),
                    priority: prio,
                    yields: Yield::None,
                    shape,
                    piece,
                    part,
                    lanes_default,
                    speed_default: r.speed.is_none(),
                    turn_lanes: turn_lanes(fwd, lanes, &mut notes),
                });
                net.junctions[from as usize].outgoing.push(id);
                net.junctions[to as usize].incoming.push(id);
            }
            piece += 1;
            part += 1;
        }
    }
    // Twin one-way roads (a dual carriageway drawn as two lines, a SUMO network's edges): one
    // each way between the same two junctions make one piece, for U-turns and arms.
    let mut by_pair: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    for (k, e) in net.edges.iter().enumerate() {
        by_pair
            .entry((e.from.min(e.to), e.from.max(e.to)))
            .or_default()
            .push(k as u32);
    }
    let mut pairs: Vec<&Vec<u32>> = by_pair.values().filter(|v| v.len() == 2).collect();
    pairs.sort_unstable();
    for v in pairs {
        let (a, b) = (v[0] as usize, v[1] as usize);
        if net.edges[a].from == net.edges[b].to && net.edges[a].from != net.edges[a].to {
            net.edges[b].piece = net.edges[a].piece;
        }
    }
    for (ri, k, fwd, y) in signs {
        if let Some(&e) = edge_at.get(&(ri, k, fwd)) {
            net.edges[e as usize].yields = y;
        }
    }
    let mut signal_junctions: Vec<u32> = signalled.iter().filter_map(|&(ri, k)| jv[ri][k]).collect();
    signal_junctions.sort_unstable();
    signal_junctions.dedup();
    for &j in &signal_junctions {
        net.junctions[j as usize].control = Control::Signals;
    }

    // --- Control of the other junctions. ---
    let mut arms_of = vec![0usize; net.junctions.len()];
    #[allow(clippy::needless_range_loop)] // edges and junctions are both changed within
    for j in 0..net.junctions.len() {
        let jn = &net.junctions[j];
        let mut pieces: Vec<u32> = jn
            .incoming
            .iter()
            .chain(&jn.outgoing)
            .map(|&e| net.edges[e as usize].piece)
            .collect();
        pieces.sort_unstable();
        let loops = jn
            .incoming
            .iter()
            .filter(|&&e| net.edges[e as usize].from as usize == j)
            .count();
        pieces.dedup();
        let arms = pieces.len() + loops;
        arms_of[j] = arms;
        if jn.control == Control::Signals {
            continue;
        }
        let incoming = jn.incoming.clone();
        let control = if arms <= 1 {
            Control::DeadEnd
        } else if incoming
            .iter()
            .any(|&e| net.edges[e as usize].yields == Yield::AllWayStop)
        {
            Control::AllWayStop
        } else if arms == 2
            || incoming.len() <= 1
            || incoming
                .iter()
                .any(|&e| net.edges[e as usize].yields != Yield::None)
        {
            // A road going on, one way in, or signed: the signs (or nothing) rule.
            Control::Priority
        } else {
            let top = incoming
                .iter()
                .map(|&e| net.edges[e as usize].priority)
                .max()
                .unwrap_or(0);
            if incoming.iter().all(|&e| net.edges[e as usize].priority == top) {
                Control::AllWayStop
            } else {
                for &e in &incoming {
                    if net.edges[e as usize].priority < top {
                        net.edges[e as usize].yields = Yield::GiveWay;
                    }
                }
                Control::Priority
            }
        };
        if control == Control::AllWayStop {
            for &e in &incoming {
                net.edges[e as usize].yields = Yield::AllWayStop;
            }
        }
        net.junctions[j].control = control;
    }

    // --- Controllers: signalled junctions close together share one. ---
    let mut tls = Sets(Vec::new());
    for _ in &signal_junctions {
        tls.add();
    }
    let cell = opts.tls_join_m.max(1e-3);
    let at = |j: u32| {
        let jn = &net.junctions[j as usize];
        [jn.x, jn.y]
    };
    let key = |p: [f64; 2]| ((p[0] / cell).floor() as i64, (p[1] / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (k, &j) in signal_junctions.iter().enumerate() {
        grid.entry(key(at(j))).or_default().push(k);
    }
    for (a, &ja) in signal_junctions.iter().enumerate() {
        let (gx, gy) = key(at(ja));
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(list) = grid.get(&(gx + dx, gy + dy)) else {
                    continue;
                };
                for &b in list {
                    if b > a && dist(at(ja), at(signal_junctions[b])) <= opts.tls_join_m {
                        tls.join(a as u32, b as u32);
                    }
                }
            }
        }
    }
    let mut ctl_of: HashMap<u32, u32> = HashMap::new();
    for (k, &j) in signal_junctions.iter().enumerate() {
        let root = tls.root(k as u32);
        let c = *ctl_of.entry(root).or_insert_with(|| {
            net.controllers.push(Controller {
                junctions: Vec::new(),
                x: 0.0,
                y: 0.0,
            });
            net.controllers.len() as u32 - 1
        });
        net.controllers[c as usize].junctions.push(j);
        net.junctions[j as usize].controller = Some(c);
    }
    for c in &mut net.controllers {
        let n = c.junctions.len() as f64;
        c.x = c
            .junctions
            .iter()
            .map(|&j| net.junctions[j as usize].x)
            .sum::<f64>()
            / n;
        c.y = c
            .junctions
            .iter()
            .map(|&j| net.junctions[j as usize].y)
            .sum::<f64>()
            / n;
    }

    // --- Turn restrictions, then connections. ---
    let mut edges_of_way: HashMap<i64, Vec<u32>> = HashMap::new();
    for (k, e) in net.edges.iter().enumerate() {
        if let Some(id) = e.source_key.strip_prefix("osm:way/").and_then(|s| s.parse().ok()) {
            edges_of_way.entry(id).or_default().push(k as u32);
        }
    }
    // (from edge, to edge) forbidden; from edge -> the only edges allowed.
    let mut banned: std::collections::HashSet<(u32, u32)> = std::collections::HashSet::new();
    let mut only: HashMap<u32, Vec<u32>> = HashMap::new();
    for r in &roads {
        let Some(way) = r.way_id() else { continue };
        for (kind, via, to) in &r.restrictions {
            let at = |e: &u32, end: bool| {
                let e = &net.edges[*e as usize];
                let j = if end { e.to } else { e.from };
                net.junctions[j as usize].osm_node == Some(*via)
            };
            let froms: Vec<u32> = edges_of_way
                .get(&way)
                .map(|v| v.iter().copied().filter(|e| at(e, true)).collect())
                .unwrap_or_default();
            let tos: Vec<u32> = edges_of_way
                .get(to)
                .map(|v| v.iter().copied().filter(|e| at(e, false)).collect())
                .unwrap_or_default();
            if froms.is_empty() || tos.is_empty() {
                net.stats.restrictions_unmatched += 1;
                notes.push(format!(
                    "road {} ({}): turn restriction {kind} via node {via} to way {to} matches no drivable turn; not applied",
                    r.code, r.source_key
                ));
                continue;
            }
            net.stats.restrictions_applied += 1;
            for &f in &froms {
                // Onto the same way: back for a U-turn restriction, else on.
                let piece = net.edges[f as usize].piece;
                let tos = tos.iter().copied().filter(|&t| {
                    way != *to || kind.ends_with("u_turn") == (net.edges[t as usize].piece == piece)
                });
                if kind.starts_with("only_") {
                    only.entry(f).or_default().extend(tos);
                } else {
                    for t in tos {
                        banned.insert((f, t));
                    }
                }
            }
        }
    }
    let mut connections = Vec::new();
    for (ei, e) in net.edges.iter().enumerate() {
        let ei = ei as u32;
        let jn = &net.junctions[e.to as usize];
        // Turning back where three or more roads meet, or at a dead end (as SUMO: not where
        // a road merely continues).
        let uturn = jn.control == Control::DeadEnd || arms_of[e.to as usize] >= 3;
        let targets: Vec<(u32, f64)> = jn
            .outgoing
            .iter()
            .copied()
            .filter(|&o| uturn || net.edges[o as usize].piece != e.piece)
            .filter(|&o| !banned.contains(&(ei, o)))
            .filter(|o| only.get(&ei).is_none_or(|v| v.contains(o)))
            .map(|o| (o, turn_angle(e, &net.edges[o as usize])))
            .collect();
        lanes_for(ei, e, &targets, &net.edges, &mut connections);
    }
    connections.sort_unstable_by_key(|c: &Connection| (c.from_edge, c.from_lane, c.to_edge, c.to_lane));
    connections.dedup();
    net.connections = connections;

    // --- Counts. ---
    let mut parts = Sets(Vec::new());
    for _ in &net.junctions {
        parts.add();
    }
    for e in &net.edges {
        parts.join(e.from, e.to);
    }
    let mut roots: Vec<u32> = (0..net.junctions.len() as u32).map(|j| parts.root(j)).collect();
    roots.sort_unstable();
    roots.dedup();
    let s = &mut net.stats;
    s.junctions = net.junctions.len() as u64;
    s.edges = net.edges.len() as u64;
    s.lanes = net.edges.iter().map(|e| u64::from(e.lanes)).sum();
    s.connections = net.connections.len() as u64;
    s.controllers = net.controllers.len() as u64;
    s.lanes_defaulted = net.edges.iter().filter(|e| e.lanes_default).count() as u64;
    s.speed_defaulted = net.edges.iter().filter(|e| e.speed_default).count() as u64;
    s.components = roots.len() as u64;
    s.length_km = net.edges.iter().map(|e| e.length_m).sum::<f64>() / 1000.0;
    net.notes = notes;
    net
}

/// The heading change from `e`'s end into `o`'s start, degrees, left positive.
fn turn_angle(e: &Edge, o: &Edge) -> f64 {
    let n = e.shape.len();
    let (a, b) = (e.shape[n - 2], e.shape[n - 1]);
    let (c, d) = (o.shape[0], o.shape[1]);
    let h1 = (b[1] - a[1]).atan2(b[0] - a[0]);
    let h2 = (d[1] - c[1]).atan2(d[0] - c[0]);
    let mut t = (h2 - h1).to_degrees();
    while t > 180.0 {
        t -= 360.0;
    }
    while t <= -180.0 {
        t += 360.0;
    }
    t
}

fn turn_of(angle: f64, uturn: bool) -> Turn {
    if uturn {
        Turn::UTurn
    } else if angle > 30.0 {
        Turn::Left
    } else if angle < -30.0 {
        Turn::Right
    } else {
        Turn::Straight
    }
}

/// Whether a `turn:lanes` entry lets a lane take `turn`.
fn lane_allows(entry: &str, turn: Turn) -> bool {
    entry.split(';').any(|t| {
        let t = t.trim();
        match turn {
            Turn::Straight => matches!(t, "through" | "none" | "" | "merge_to_left" | "merge_to_right"),
            Turn::Left => matches!(t, "left" | "slight_left" | "sharp_left"),
            Turn::Right => matches!(t, "right" | "slight_right" | "sharp_right"),
            Turn::UTurn => matches!(t, "reverse"),
        }
    })
}

/// The lane-to-lane connections from edge `ei` to `targets` (edge, turn angle): by its
/// `turn:lanes` where they give each turn a lane; else right turns from the rightmost lane,
/// left turns from the leftmost, straight on from every lane. Target lanes: a right turn into
/// the rightmost, a left into the leftmost, straight on lane for lane from the right.
fn lanes_for(ei: u32, e: &Edge, targets: &[(u32, f64)], edges: &[Edge], all: &mut Vec<Connection>) {
    let n = e.lanes.max(1);
    let mut out: Vec<Connection> = Vec::new();
    for &(o, angle) in targets {
        let uturn = edges[o as usize].piece == e.piece;
        let turn = turn_of(angle, uturn);
        let m = edges[o as usize].lanes.max(1);
        // Lane indices count from the right; turn:lanes lists from the left.
        let tagged: Vec<u32> = e
            .turn_lanes
            .as_ref()
            .map(|tl| {
                (0..n)
                    .filter(|&i| lane_allows(&tl[(n - 1 - i) as usize], turn))
                    .collect()
            })
            .unwrap_or_default();
        let from: Vec<u32> = if !tagged.is_empty() {
            tagged
        } else {
            match turn {
                Turn::Straight => (0..n).collect(),
                Turn::Right => vec![0],
                Turn::Left | Turn::UTurn => vec![n - 1],
            }
        };
        let k = from.len() as u32;
        for (idx, &fl) in from.iter().enumerate() {
            let idx = idx as u32;
            let to_lane = match turn {
                Turn::Right => idx.min(m - 1),
                Turn::Left | Turn::UTurn => (m - k.min(m) + idx).min(m - 1),
                Turn::Straight => idx.min(m - 1),
            };
            out.push(Connection {
                from_edge: ei,
                from_lane: fl,
                to_edge: o,
                to_lane,
                turn,
            });
        }
    }
    // Every lane leads somewhere (without turn:lanes): a lane left without a movement (a
    // corner, a T's side road) takes those of its nearest neighbour, lane beside lane.
    if e.turn_lanes.is_none() && !out.is_empty() {
        for i in 0..n {
            if out.iter().any(|c| c.from_lane == i) {
                continue;
            }
            let j = (0..n)
                .filter(|&j| out.iter().any(|c| c.from_lane == j && c.turn != Turn::UTurn))
                .min_by_key(|&j| (j as i64 - i as i64).abs());
            let Some(j) = j else { continue };
            let copies: Vec<Connection> = out
                .iter()
                .filter(|c| c.from_lane == j && c.turn != Turn::UTurn)
                .map(|c| {
                    let m = edges[c.to_edge as usize].lanes.max(1) as i64;
                    Connection {
                        from_lane: i,
                        to_lane: (i64::from(c.to_lane) + i64::from(i) - i64::from(j)).clamp(0, m - 1) as u32,
                        ..*c
                    }
                })
                .collect();
            out.extend(copies);
        }
    }
    all.extend(out);
}
