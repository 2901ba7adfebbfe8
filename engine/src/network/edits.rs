//! What-if changes to a network: roads added, roads' lanes or speed changed, turns banned.
//! Roads are changed before the network is built (so lanes, connections and signals follow
//! them); an added road ends at the junctions nearest its ends; turns are banned after.

use super::roads::{Oneway, RoadIn};
use super::Network;
use crate::{EngineError, Result};

/// A road that is not there yet.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRoad {
    /// Its code in the network and the results.
    pub code: String,
    /// In the project CRS; its ends are moved onto the junctions nearest them.
    pub line: Vec<[f64; 2]>,
    /// Lanes per direction.
    pub lanes: u32,
    pub speed_m_s: f64,
    /// Driven only along the line.
    pub oneway: bool,
    /// Road class (`highway`), for priority at junctions.
    pub class: String,
}

/// A road's lanes (per direction) or speed limit changed.
#[derive(Clone, Debug, PartialEq)]
pub struct RoadChange {
    pub code: String,
    pub lanes: Option<u32>,
    pub speed_m_s: Option<f64>,
}

/// No turn from one road onto another where they meet.
#[derive(Clone, Debug, PartialEq)]
pub struct TurnBan {
    pub from: String,
    pub to: String,
}

/// A scenario's changes to the network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkEdits {
    pub add: Vec<NewRoad>,
    pub change: Vec<RoadChange>,
    pub ban: Vec<TurnBan>,
}

/// How far an added road's end may lie from the junction it is to meet, m.
pub const ADD_SNAP_M: f64 = 15.0;

impl NetworkEdits {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.change.is_empty() && self.ban.is_empty()
    }
}

fn err(reason: String) -> EngineError {
    EngineError::Network { reason }
}

/// Applies lane and speed changes to the roads read; every code must be one of them.
pub(crate) fn change_roads(roads: &mut [RoadIn], edits: &NetworkEdits) -> Result<()> {
    for c in &edits.change {
        let mut found = false;
        for r in roads.iter_mut().filter(|r| r.code == c.code) {
            found = true;
            if let Some(n) = c.lanes {
                r.lanes = Some(if r.oneway == Oneway::Both { 2 * n } else { n });
                r.lanes_forward = Some(n);
                r.lanes_backward = Some(n);
                r.turn_lanes_forward = None;
                r.turn_lanes_backward = None;
            }
            if let Some(v) = c.speed_m_s {
                r.speed = Some(v);
            }
        }
        if !found {
            return Err(err(format!(
                "change: road '{}' is not a road cars may use in the project",
                c.code
            )));
        }
    }
    Ok(())
}

/// The added roads as roads read, their ends on the junctions of `base` nearest them (joined
/// by node id where the junction stands on one, else by position).
pub(crate) fn new_roads(base: &Network, edits: &NetworkEdits, layer_of_new: &str) -> Result<Vec<RoadIn>> {
    // Node ids for vertices of added roads that no real node has.
    let mut fresh = i64::MIN / 2;
    let mut out = Vec::new();
    for (k, a) in edits.add.iter().enumerate() {
        if a.line.len() < 2 {
            return Err(err(format!(
                "add road '{}': needs a line of two points or more",
                a.code
            )));
        }
        if base.edges.iter().any(|e| e.code == a.code) {
            return Err(err(format!(
                "add road '{}': the network has a road with that code already",
                a.code
            )));
        }
        let mut line = a.line.clone();
        let mut nodes = Vec::with_capacity(line.len());
        let n = line.len();
        for (i, p) in line.iter_mut().enumerate() {
            if i != 0 && i + 1 != n {
                fresh += 1;
                nodes.push(fresh);
                continue;
            }
            let near = base
                .junctions
                .iter()
                .map(|j| (j, (j.x - p[0]).hypot(j.y - p[1])))
                .min_by(|x, y| x.1.total_cmp(&y.1));
            match near {
                Some((j, d)) if d <= ADD_SNAP_M => {
                    *p = [j.x, j.y];
                    nodes.push(j.osm_node.unwrap_or_else(|| {
                        fresh += 1;
                        fresh
                    }));
                }
                Some((_, d)) => {
                    return Err(err(format!(
                        "add road '{}': its {} ({:.1}, {:.1}) is {d:.0} m from the nearest junction; \
                         start and end it within {ADD_SNAP_M} m of junctions (cim_net_junctions)",
                        a.code,
                        if i == 0 { "start" } else { "end" },
                        p[0],
                        p[1]
                    )))
                }
                None => {
                    return Err(err(format!(
                        "add road '{}': the network has no junctions",
                        a.code
                    )))
                }
            }
        }
        if !(a.lanes >= 1 && a.lanes <= 20 && a.speed_m_s > 0.0 && a.speed_m_s < 100.0) {
            return Err(err(format!(
                "add road '{}': lanes {} must be 1 to 20 and speed {:.1} m/s between 0 and 100",
                a.code, a.lanes, a.speed_m_s
            )));
        }
        out.push(RoadIn {
            code: a.code.clone(),
            source_key: format!("what-if:add/{k}"),
            layer: layer_of_new.to_string(),
            line,
            class: a.class.clone(),
            lanes: Some(if a.oneway { a.lanes } else { 2 * a.lanes }),
            lanes_forward: Some(a.lanes),
            lanes_backward: Some(a.lanes),
            speed: Some(a.speed_m_s),
            oneway: if a.oneway { Oneway::Forward } else { Oneway::Both },
            level: 0,
            nodes: Some(nodes),
            controls: Vec::new(),
            restrictions: Vec::new(),
            turn_lanes_forward: None,
            turn_lanes_backward: None,
        });
    }
    Ok(out)
}

/// Removes the connections banned; each ban must remove at least one.
pub(crate) fn ban_turns(net: &mut Network, edits: &NetworkEdits) -> Result<()> {
    for b in &edits.ban {
        for code in [&b.from, &b.to] {
            if !net.edges.iter().any(|e| &e.code == code) {
                return Err(err(format!(
                    "ban turn {} → {}: road '{code}' is not in the network",
                    b.from, b.to
                )));
            }
        }
        let before = net.connections.len();
        let edges = &net.edges;
        net.connections.retain(|c| {
            !(edges[c.from_edge as usize].code == b.from && edges[c.to_edge as usize].code == b.to)
        });
        if net.connections.len() == before {
            return Err(err(format!(
                "ban turn {} → {}: no lane leads from the one onto the other (they do not meet at a junction, or the turn is not allowed already)",
                b.from, b.to
            )));
        }
        net.notes.push(format!(
            "what-if: turn from {} onto {} banned ({} lane connection(s))",
            b.from,
            b.to,
            before - net.connections.len()
        ));
    }
    net.stats.connections = net.connections.len() as u64;
    Ok(())
}
