//! The network builder on small made-up road sets whose answer is known by hand.

use super::roads::{Oneway, RoadIn};
use super::*;

fn road(code: &str, class: &str, line: &[[f64; 2]], nodes: Option<&[i64]>) -> RoadIn {
    RoadIn {
        code: code.into(),
        source_key: match nodes {
            Some(_) => format!("osm:way/{}", code.trim_start_matches('w')),
            None => format!("fid:{code}"),
        },
        layer: "roads".into(),
        line: line.to_vec(),
        class: class.into(),
        lanes: None,
        lanes_forward: None,
        lanes_backward: None,
        speed: None,
        oneway: Oneway::Both,
        level: 0,
        nodes: nodes.map(<[i64]>::to_vec),
        controls: vec![],
        restrictions: vec![],
        turn_lanes_forward: None,
        turn_lanes_backward: None,
    }
}

/// A secondary road west–east through node 5 at (0,0), a residential one south–north.
fn cross() -> Vec<RoadIn> {
    vec![
        road(
            "w1",
            "secondary",
            &[[-100.0, 0.0], [0.0, 0.0], [100.0, 0.0]],
            Some(&[1, 5, 2]),
        ),
        road(
            "w2",
            "residential",
            &[[0.0, -100.0], [0.0, 0.0], [0.0, 100.0]],
            Some(&[3, 5, 4]),
        ),
    ]
}

fn edge(net: &Network, code: &str, backward: bool, to_centre: bool) -> u32 {
    net.edges
        .iter()
        .position(|e| {
            e.code == code
                && e.backward == backward
                && (net.junctions[e.to as usize].osm_node == Some(5)) == to_centre
        })
        .unwrap() as u32
}

#[test]
fn a_crossing_of_two_classes_gives_way_on_the_minor_road() {
    let net = build(cross(), &NetworkOptions::default());
    assert_eq!((net.junctions.len(), net.edges.len()), (5, 8));
    let centre = net.junctions.iter().position(|j| j.osm_node == Some(5)).unwrap();
    assert_eq!(net.junctions[centre].control, Control::Priority);
    assert_eq!(
        net.junctions
            .iter()
            .filter(|j| j.control == Control::DeadEnd)
            .count(),
        4
    );
    for e in &net.edges {
        let into_centre = e.to as usize == centre;
        let want = if into_centre && e.class == "residential" {
            Yield::GiveWay
        } else {
            Yield::None
        };
        assert_eq!(e.yields, want, "{} {}", e.code, e.backward);
        // From the class: secondary 27.78 m/s, residential 13.89, one lane each way.
        assert_eq!((e.lanes, e.lanes_default, e.speed_default), (1, true, true));
        assert_eq!(e.speed_m_s, if e.class == "secondary" { 27.78 } else { 13.89 });
        assert!((e.length_m - 100.0).abs() < 1e-9);
    }
    // Into the centre: right, straight, left and back (four arms); at each end: back only.
    assert_eq!(net.connections.len(), 4 * 4 + 4);
    let east = edge(&net, "w1", false, true);
    let turns: Vec<(Turn, u32)> = net
        .connections_from(east)
        .iter()
        .map(|c| (c.turn, c.to_edge))
        .collect();
    let north = edge(&net, "w2", false, false);
    let south = edge(&net, "w2", true, false);
    assert!(
        turns.contains(&(Turn::Left, north)) && turns.contains(&(Turn::Right, south)),
        "{turns:?}"
    );
    assert_eq!(net.stats.components, 1);
    assert_eq!((net.stats.lanes_defaulted, net.stats.speed_defaulted), (8, 8));
}

#[test]
fn roads_of_one_class_meeting_stop_all_ways() {
    let mut roads = cross();
    roads[0].class = "residential".into();
    let net = build(roads, &NetworkOptions::default());
    let centre = net.junctions.iter().find(|j| j.osm_node == Some(5)).unwrap();
    assert_eq!(centre.control, Control::AllWayStop);
    assert!(centre
        .incoming
        .iter()
        .all(|&e| net.edges[e as usize].yields == Yield::AllWayStop));
}

#[test]
fn signal_nodes_signal_the_junction_near_them_and_close_junctions_share_a_controller() {
    // A signal 10 m west of the centre on w1 (node 6), one 60 m along w3 far from any junction.
    let mut roads = cross();
    roads[0] = road(
        "w1",
        "secondary",
        &[[-100.0, 0.0], [-10.0, 0.0], [0.0, 0.0], [100.0, 0.0]],
        Some(&[1, 6, 5, 2]),
    );
    roads[0].controls = vec![("signals".into(), 6, 0)];
    // A second crossing road 15 m east, signalled at its junction (node 7 on w1).
    roads[0].line.insert(3, [15.0, 0.0]);
    roads[0].nodes.as_mut().unwrap().insert(3, 7);
    roads[0].controls.push(("signals".into(), 7, 0));
    roads.push(road(
        "w3",
        "residential",
        &[[15.0, 0.0], [15.0, 100.0]],
        Some(&[7, 8]),
    ));
    roads.push(road(
        "w4",
        "residential",
        &[[100.0, 0.0], [160.0, 0.0], [300.0, 0.0]],
        Some(&[2, 9, 10]),
    ));
    roads[3].controls = vec![("signals".into(), 9, 0)];
    let net = build(roads, &NetworkOptions::default());
    let by_node = |n: i64| net.junctions.iter().find(|j| j.osm_node == Some(n));
    // Node 6 is no junction: it signalled node 5.
    assert!(by_node(6).is_none());
    assert_eq!(by_node(5).unwrap().control, Control::Signals);
    assert_eq!(by_node(7).unwrap().control, Control::Signals);
    // 5 and 7 are 15 m apart: one controller; node 9, alone, is a junction with its own.
    assert_eq!(by_node(5).unwrap().controller, by_node(7).unwrap().controller);
    assert_eq!(by_node(9).unwrap().control, Control::Signals);
    assert_ne!(by_node(9).unwrap().controller, by_node(5).unwrap().controller);
    assert_eq!(net.controllers.len(), 2);
    assert_eq!(net.controllers[0].junctions.len(), 2);
    assert!((net.controllers[0].x - 7.5).abs() < 1e-9);
}

#[test]
fn line_ends_snap_within_the_tolerance_on_one_level_only() {
    let a = road("a", "", &[[0.0, 0.0], [100.0, 0.0]], None);
    let b = road("b", "", &[[100.3, 0.0], [200.0, 0.0]], None);
    let mut c = road("c", "", &[[100.2, 0.1], [100.0, 100.0]], None);
    let d = road("d", "", &[[200.8, 0.0], [300.0, 0.0]], None);
    let net = build(
        vec![a.clone(), b.clone(), c.clone(), d.clone()],
        &NetworkOptions::default(),
    );
    // a, b and c meet; d starts 0.8 m from b's end: a dead end each.
    assert_eq!(net.junctions.len(), 6, "{:?}", net.junctions);
    assert_eq!(net.junctions[1].incoming.len(), 3);
    assert_eq!(net.stats.components, 2);
    // A bridge (layer 1) over the same point does not meet them.
    c.level = 1;
    let net = build(vec![a, b, c, d], &NetworkOptions::default());
    assert_eq!(net.junctions.len(), 7);
    assert_eq!(net.stats.components, 3);
}

#[test]
fn lanes_follow_the_tags_and_one_way_roads_run_one_way() {
    let mut r = road("w1", "primary", &[[0.0, 0.0], [100.0, 0.0]], Some(&[1, 2]));
    r.lanes = Some(3);
    let mut s = road("w2", "primary", &[[0.0, 10.0], [100.0, 10.0]], Some(&[3, 4]));
    s.lanes = Some(4);
    s.lanes_backward = Some(1);
    s.speed = Some(50.0 / 3.6);
    let mut t = road("w3", "primary", &[[0.0, 20.0], [100.0, 20.0]], Some(&[5, 6]));
    t.oneway = Oneway::Backward;
    t.lanes = Some(2);
    let net = build(vec![r, s, t], &NetworkOptions::default());
    let lanes: Vec<(&str, bool, u32)> = net
        .edges
        .iter()
        .map(|e| (e.code.as_str(), e.backward, e.lanes))
        .collect();
    assert_eq!(
        lanes,
        [
            ("w1", false, 2),
            ("w1", true, 1),
            ("w2", false, 3),
            ("w2", true, 1),
            ("w3", true, 2)
        ]
    );
    assert_eq!(net.edges[2].speed_m_s, 50.0 / 3.6);
    assert_eq!(net.edges[4].shape, [[100.0, 20.0], [0.0, 20.0]]);
    assert_eq!((net.stats.lanes_defaulted, net.stats.speed_defaulted), (0, 3));
}

#[test]
fn turn_restrictions_and_turn_lanes_shape_the_connections() {
    let mut roads = cross();
    // No left turn from w1 (eastbound) into w2 at node 5.
    roads[0].restrictions = vec![("no_left_turn".into(), 5, 2)];
    let net = build(roads.clone(), &NetworkOptions::default());
    let east = edge(&net, "w1", false, true);
    assert!(!net.connections_from(east).iter().any(|c| c.turn == Turn::Left));
    assert_eq!(net.stats.restrictions_applied, 1);
    // Only straight on.
    roads[0].restrictions = vec![("only_straight_on".into(), 5, 1)];
    let net = build(roads.clone(), &NetworkOptions::default());
    let east = edge(&net, "w1", false, true);
    let turns: Vec<Turn> = net.connections_from(east).iter().map(|c| c.turn).collect();
    assert_eq!(turns, [Turn::Straight]);
    // A restriction naming a way that is not there is counted, with a note.
    roads[0].restrictions = vec![("no_left_turn".into(), 5, 99)];
    let net = build(roads.clone(), &NetworkOptions::default());
    assert_eq!(net.stats.restrictions_unmatched, 1);
    assert!(net.notes[0].contains("to way 99"), "{:?}", net.notes);
    // Two lanes eastbound: the left one turns left, the right one goes on or turns right.
    roads[0].restrictions.clear();
    roads[0].lanes_forward = Some(2);
    roads[0].turn_lanes_forward = Some("left|through;right".into());
    let net = build(roads, &NetworkOptions::default());
    let east = edge(&net, "w1", false, true);
    let lanes: Vec<(u32, Turn)> = net
        .connections_from(east)
        .iter()
        .filter(|c| c.turn != Turn::UTurn)
        .map(|c| (c.from_lane, c.turn))
        .collect();
    assert_eq!(lanes.len(), 3, "{lanes:?}");
    assert!(lanes.contains(&(1, Turn::Left)));
    assert!(lanes.contains(&(0, Turn::Straight)) && lanes.contains(&(0, Turn::Right)));
    // The westbound lanes (not tagged) are one, from the class.
    let west = edge(&net, "w1", true, true);
    assert_eq!(net.edges[west as usize].lanes, 1);
}
