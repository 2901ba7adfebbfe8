//! The model against theory: capacity of a single lane (Krauss and IDM), a ring road's
//! fundamental diagram, determinism.

use super::*;
use cim_engine::network::{Connection, Control, Edge, Junction, Network, Turn, Yield};

fn junction(x: f64, y: f64, control: Control) -> Junction {
    Junction {
        x,
        y,
        control,
        controller: None,
        osm_node: None,
        incoming: vec![],
        outgoing: vec![],
    }
}

fn edge(from: u32, to: u32, shape: Vec<[f64; 2]>, length: f64, speed: f64, lanes: u32) -> Edge {
    Edge {
        code: format!("e{from}{to}"),
        source_key: String::new(),
        layer: "roads".into(),
        backward: false,
        from,
        to,
        lanes,
        speed_m_s: speed,
        length_m: length,
        class: "primary".into(),
        priority: 12,
        yields: Yield::None,
        shape,
        piece: 0,
        part: 0,
        lanes_default: false,
        speed_default: false,
        turn_lanes: None,
    }
}

/// A straight single-lane road `length` m long.
fn straight(length: f64, speed: f64) -> Network {
    Network {
        junctions: vec![
            junction(0.0, 0.0, Control::DeadEnd),
            junction(length, 0.0, Control::DeadEnd),
        ],
        edges: vec![edge(0, 1, vec![[0.0, 0.0], [length, 0.0]], length, speed, 1)],
        ..Network::default()
    }
}

/// A ring of two single-lane edges of `half` m each.
fn ring(half: f64, speed: f64) -> Network {
    let mut n = Network {
        junctions: vec![
            junction(0.0, 0.0, Control::Priority),
            junction(half, 0.0, Control::Priority),
        ],
        ..Network::default()
    };
    n.edges = vec![
        edge(0, 1, vec![[0.0, 0.0], [half, 0.0]], half, speed, 1),
        edge(
            1,
            0,
            vec![[half, 0.0], [half, 1.0], [0.0, 1.0], [0.0, 0.0]],
            half,
            speed,
            1,
        ),
    ];
    n.edges[1].piece = 1;
    n.connections = vec![
        Connection {
            from_edge: 0,
            from_lane: 0,
            to_edge: 1,
            to_lane: 0,
            turn: Turn::Straight,
        },
        Connection {
            from_edge: 1,
            from_lane: 0,
            to_edge: 0,
            to_lane: 0,
            turn: Turn::Straight,
        },
    ];
    n
}

fn exact(follow: Follow) -> SimParams {
    SimParams {
        follow,
        vtype: VehicleType {
            sigma: 0.0,
            speed_dev: 0.0,
            ..VehicleType::default()
        },
        ..SimParams::default()
    }
}

/// 4,000 trips along edge 0, one every half second: more than a lane carries.
fn more_than_capacity() -> Vec<Trip> {
    (0..4000)
        .map(|k| Trip {
            id: k.to_string(),
            depart_s: f64::from(k) * 0.5,
            route: vec![0],
        })
        .collect()
}

/// Vehicles passing `x` on edge 0 between `from` and `to` s, per hour.
fn flow_at(sim: &mut Sim, x: f64, from: f64, to: f64) -> f64 {
    let mut passed = 0u32;
    let mut before: std::collections::HashMap<u32, f64> = std::collections::HashMap::new();
    while sim.time_s < to {
        sim.step();
        let mut now = std::collections::HashMap::new();
        for (trip, lane, pos, _) in sim.vehicles() {
            if sim.net.lanes[lane as usize].edge == 0 {
                now.insert(trip, pos);
                if sim.time_s > from && pos >= x && before.get(&trip).is_some_and(|&p| p < x) {
                    passed += 1;
                }
            }
        }
        before = now;
    }
    f64::from(passed) * 3600.0 / (to - from)
}

/// Krauss with σ = 0: q = 3600 / ((l + minGap) / v + τ) = 2,482 veh/h at 16.66 m/s.
#[test]
fn krauss_single_lane_capacity_is_the_theorys() {
    let net = SimNet::new(&straight(3000.0, 16.66));
    let trips = more_than_capacity();
    let mut sim = Sim::new(net, exact(Follow::Krauss), trips, 300.0);
    let q = flow_at(&mut sim, 2000.0, 600.0, 1800.0);
    let theory = 3600.0 / (7.5 / 16.66 + 1.0);
    assert!(
        (q - theory).abs() / theory < 0.02,
        "q {q:.0} veh/h, theory {theory:.0}"
    );
}

/// IDM: the most a lane carries, max over v of v / (s*(v) + l), with
/// s*(v) = (s0 + vT) / √(1 − (v/v0)⁴): 1,841 veh/h for v0 13.89 m/s, T 1 s, s0 2.5 m, l 5 m.
#[test]
fn idm_single_lane_capacity_is_the_theorys() {
    let net = SimNet::new(&straight(3000.0, 13.89));
    let trips = more_than_capacity();
    let mut sim = Sim::new(net, exact(Follow::Idm), trips, 300.0);
    let q = flow_at(&mut sim, 2000.0, 900.0, 2100.0);
    let theory = (1..13890)
        .map(|k| {
            let v = f64::from(k) / 1000.0;
            v / ((2.5 + v) / (1.0 - (v / 13.89).powi(4)).sqrt() + 5.0) * 3600.0
        })
        .fold(0.0, f64::max);
    assert!((theory - 1841.0).abs() < 5.0, "{theory}");
    assert!(
        (q - theory).abs() / theory < 0.02,
        "q {q:.0} veh/h, theory {theory:.0}"
    );
}

/// A ring road with σ = 0 follows the triangular fundamental diagram: q = ρv free, and
/// q = (1 − ρ(l + minGap)) / τ congested; at 133.3 veh/km (jam density) nothing moves.
#[test]
fn a_ring_road_follows_the_fundamental_diagram() {
    let (half, v) = (500.0, 16.66);
    for n in [20u32, 60, 100, 133] {
        let net = SimNet::new(&ring(half, v));
        let laps: Vec<u32> = (0..400).map(|k| k % 2).collect();
        // Placed evenly round the ring, halted.
        let spacing = 2.0 * half / f64::from(n);
        let trips: Vec<Trip> = (0..n)
            .map(|k| {
                let x = f64::from(k) * spacing + 5.0;
                let mut route = laps.clone();
                if x >= half {
                    route.remove(0);
                }
                Trip {
                    id: k.to_string(),
                    depart_s: 0.0,
                    route,
                }
            })
            .collect();
        let mut sim = Sim::new(net, exact(Follow::Krauss), trips, 300.0);
        for k in 0..n {
            let x = f64::from(k) * spacing + 5.0;
            assert!(sim.place(k, if x >= half { x - half } else { x }, 0.0));
        }
        while sim.time_s < 900.0 {
            sim.step();
        }
        assert_eq!(sim.running as u32, n, "all {n} on the ring");
        let q = flow_at(&mut sim, 250.0, 900.0, 2100.0);
        let rho = f64::from(n) / (2.0 * half);
        let free = rho * v * 3600.0;
        let congested = (1.0 - rho * 7.5) / 1.0 * 3600.0;
        let theory = free.min(congested).max(0.0);
        assert!(
            // Within 3 % of the lane's capacity (2,482 veh/h).
            (q - theory).abs() <= 0.03 * 2482.0,
            "{n} vehicles: q {q:.0} veh/h, theory {theory:.0}"
        );
    }
}

#[test]
fn a_run_is_the_same_for_any_number_of_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let net = SimNet::new(&ring(300.0, 13.89));
            let laps: Vec<u32> = (0..40).map(|k| k % 2).collect();
            let trips = (0..50)
                .map(|k| Trip {
                    id: k.to_string(),
                    depart_s: f64::from(k),
                    route: laps.clone(),
                })
                .collect();
            let mut sim = Sim::new(net, SimParams::default(), trips, 300.0);
            while sim.time_s < 600.0 {
                sim.step();
            }
            sim.vehicles()
                .map(|(t, l, p, v)| (t, l, p.to_bits(), v.to_bits()))
                .collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert!(!one.is_empty());
    assert_eq!(one, run(2));
}

/// The half-second step gives the same capacity (the equilibrium gap is v·τ whatever the step).
#[test]
fn krauss_capacity_holds_at_a_half_second_step() {
    let net = SimNet::new(&straight(3000.0, 16.66));
    let trips = more_than_capacity();
    let params = SimParams {
        step_s: 0.5,
        ..exact(Follow::Krauss)
    };
    let mut sim = Sim::new(net, params, trips, 300.0);
    let q = flow_at(&mut sim, 2000.0, 600.0, 1800.0);
    let theory = 3600.0 / (7.5 / 16.66 + 1.0);
    assert!(
        (q - theory).abs() / theory < 0.02,
        "q {q:.0} veh/h, theory {theory:.0}"
    );
}

/// Two 200 m edges end to end with no connection between them: a route over both halts at the
/// end of the first for ever, and those behind it queue.
fn broken() -> (Network, Vec<Trip>) {
    let mut n = straight(200.0, 13.89);
    n.junctions.push(junction(400.0, 0.0, Control::DeadEnd));
    n.edges
        .push(edge(1, 2, vec![[200.0, 0.0], [400.0, 0.0]], 200.0, 13.89, 1));
    let trips = (0..5)
        .map(|k| Trip {
            id: k.to_string(),
            depart_s: f64::from(k) * 2.0,
            route: vec![0, 1],
        })
        .collect();
    (n, trips)
}

#[test]
fn teleporting_is_off_by_default_and_jumps_a_halted_vehicle_ahead_when_on() {
    let (net, trips) = broken();
    // Off: the five stay, and count stuck after stuck_after_s.
    let mut sim = Sim::new(SimNet::new(&net), SimParams::default(), trips.clone(), 300.0);
    while sim.time_s < 900.0 {
        sim.step();
    }
    assert_eq!((sim.running, sim.stuck_now(), sim.arrived), (5, 5, 0));
    assert!(sim.results.iter().all(|r| r.teleports == 0));
    // On at 60 s: each in turn halts at the line, jumps onto the next edge after a minute, and
    // drives on to its end.
    let params = SimParams {
        teleport_after_s: 60.0,
        ..SimParams::default()
    };
    let mut sim = Sim::new(SimNet::new(&net), params, trips, 300.0);
    let mut jumped_at = None;
    while sim.time_s < 900.0 && !sim.finished() {
        sim.step();
        if jumped_at.is_none() && sim.results[0].teleports == 1 {
            jumped_at = Some(sim.time_s);
            // At the start of the second edge, halted.
            let (_, lane, pos, v) = sim.vehicles().find(|x| x.0 == 0).unwrap();
            assert_eq!(sim.net.lanes[lane as usize].edge, 1);
            assert!((pos - 5.1).abs() < 1e-9 && v == 0.0, "{pos} {v}");
        }
    }
    assert!(sim.finished(), "not all arrived by {} s", sim.time_s);
    assert_eq!(sim.arrived, 5);
    for r in &sim.results {
        assert_eq!((r.status, r.teleports), (Status::Arrived, 1));
        // Both edges counted in its route (the first from where it went on the road).
        assert!(r.route_length_m > 380.0, "{}", r.route_length_m);
        assert!(r.waiting_s >= 60.0);
    }
    // The first reached the line in about 15 s and waited 60 s there.
    let t = jumped_at.unwrap();
    assert!((70.0..=90.0).contains(&t), "jumped at {t} s");
}

/// An `n` × `n` grid of junctions 100 m apart, two-way single-lane streets whose speeds vary
/// street by street, every turn allowed but U-turns.
fn grid(n: u32) -> Network {
    let mut net = Network::default();
    for y in 0..n {
        for x in 0..n {
            net.junctions.push(junction(
                f64::from(x) * 100.0,
                f64::from(y) * 100.0,
                Control::Priority,
            ));
        }
    }
    let id = |x: u32, y: u32| y * n + x;
    for y in 0..n {
        for x in 0..n {
            for (dx, dy) in [(1u32, 0u32), (0, 1)] {
                let (x2, y2) = (x + dx, y + dy);
                if x2 >= n || y2 >= n {
                    continue;
                }
                // 8 to 17 m/s, by street.
                let speed = 8.0 + f64::from((x * 7 + y * 13 + dx * 3) % 10);
                for (a, b) in [(id(x, y), id(x2, y2)), (id(x2, y2), id(x, y))] {
                    let (pa, pb) = (&net.junctions[a as usize], &net.junctions[b as usize]);
                    let shape = vec![[pa.x, pa.y], [pb.x, pb.y]];
                    net.edges.push(edge(a, b, shape, 100.0, speed, 1));
                }
            }
        }
    }
    for (i, e) in net.edges.iter().enumerate() {
        for (j, o) in net.edges.iter().enumerate() {
            if o.from == e.to && o.to != e.from {
                net.connections.push(Connection {
                    from_edge: i as u32,
                    from_lane: 0,
                    to_edge: j as u32,
                    to_lane: 0,
                    turn: Turn::Straight,
                });
            }
        }
    }
    net
}

#[test]
fn contraction_hierarchies_route_as_fast_as_dijkstra_and_keep_out_of_closed_edges() {
    let net = grid(24);
    assert!(net.edges.len() >= route::CH_MIN_EDGES, "{}", net.edges.len());
    let ch = Router::new(&net).with_hierarchies(Hierarchies::Always);
    let plain = Router::new(&net).with_hierarchies(Hierarchies::Never);
    assert!(ch.hierarchies() && !plain.hierarchies());
    let m = net.edges.len() as u64;
    // Pairs spread by a fixed hash.
    let pairs: Vec<(u32, u32)> = (0..400u64)
        .map(|k| {
            let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ((h % m) as u32, ((h >> 32) % m) as u32)
        })
        .collect();
    let valid = |r: &[u32], a: u32, b: u32| {
        r.first() == Some(&a)
            && r.last() == Some(&b)
            && r.windows(2).all(|w| ch.successors(w[0]).contains(&w[1]))
    };
    for &(a, b) in &pairs {
        let (x, y) = (ch.route(a, b, None), plain.route(a, b, None));
        assert_eq!(x.is_some(), y.is_some(), "{a} -> {b}");
        let (Some(x), Some(y)) = (x, y) else { continue };
        assert!(valid(&x, a, b), "{a} -> {b}: {x:?}");
        // As fast, to the millisecond an edge the hierarchies round costs to.
        let (cx, cy) = (ch.cost_of(&x), plain.cost_of(&y));
        assert!(
            cx <= cy + 0.001 * x.len() as f64,
            "{a} -> {b}: {cx} s against {cy} s"
        );
    }
    // Close every edge of a fastest route (but its ends): the way round avoids them and is as
    // fast as Dijkstra's with the same mask.
    let close = |r: &[u32]| {
        let mut c = vec![false; net.edges.len()];
        for &e in &r[1..r.len() - 1] {
            c[e as usize] = true;
        }
        c
    };
    let (a, b, first, closed) = pairs
        .iter()
        .filter_map(|&(a, b)| {
            let r = ch.route(a, b, None).filter(|r| r.len() > 3)?;
            let c = close(&r);
            plain.route(a, b, Some(&c))?;
            Some((a, b, r, c))
        })
        .next()
        .unwrap();
    let round = ch.route(a, b, Some(&closed)).unwrap();
    assert!(valid(&round, a, b));
    assert!(round[1..].iter().all(|&e| !closed[e as usize]), "{round:?}");
    let other = plain.route(a, b, Some(&closed)).unwrap();
    let (cr, co) = (ch.cost_of(&round), plain.cost_of(&other));
    assert!(
        (cr - co).abs() <= 0.001 * round.len().max(other.len()) as f64,
        "{cr} s against {co} s"
    );
    // New costs (periodic rerouting): prepared again; the routes follow them.
    let mut slow = ch.clone();
    let mut cost: Vec<f64> = (0..net.edges.len())
        .map(|e| slow.cost_of(&[0, e as u32]))
        .collect();
    for &e in &first[1..] {
        cost[e as usize] *= 20.0;
    }
    slow.set_costs(cost.clone());
    let mut plain_slow = plain.clone();
    plain_slow.set_costs(cost);
    assert!(slow.hierarchies());
    let now = slow.route(a, b, None).unwrap();
    assert_ne!(now, first);
    let (cn, cp) = (
        slow.cost_of(&now),
        plain_slow.cost_of(&plain_slow.route(a, b, None).unwrap()),
    );
    assert!(cn <= cp + 0.001 * now.len() as f64, "{cn} s against {cp} s");
}
