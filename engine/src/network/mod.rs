//! # The road network: what traffic drives on, built from the project's road layers
//!
//! [`build`] turns road features into a directed graph a traffic model can drive:
//! - **junctions**: OSM nodes that roads share (and every road end); for other layers, line
//!   ends within [`NetworkOptions::snap_m`] of each other on the same `layer` (so a bridge does
//!   not meet the road under it);
//! - **edges**: each piece of road between two junctions, once per direction it may be driven
//!   (`oneway`, `-1`, roundabouts), with lanes (`lanes:forward`/`backward`, else `lanes`
//!   shared, else the class's) and speed (`maxspeed`, else the class's), the defaults counted;
//! - **connections**: which lane of an edge leads to which lane of the next, per turn (by
//!   `turn:lanes` where mapped: right turns from the right lanes, left from the left,
//!   straight on from all), less what turn restrictions forbid; no U-turn but at a dead end;
//! - **control** of each junction: traffic signals (a signal node on a road within
//!   [`NetworkOptions::signal_join_m`] of a junction signals that junction, farther away it is a
//!   junction of its own, a pedestrian light; signalled junctions within
//!   [`NetworkOptions::tls_join_m`] of each other share one controller, as SUMO's `--tls.join`);
//!   else priority by road class (roads of lower class, and those with stop or give-way signs,
//!   yield); an all-way stop where all approaches are of one class or signed so.
//!
//! Roads are read in layer and feature order, so a network is the same for the same project.
//!
//! ## Glossary
//! - **edge**: one direction of a road piece between two junctions; `backward` when it runs
//!   against the stored line.
//! - **lane index**: 0 is the rightmost lane (driving on the right), as in SUMO.
//! - **controller**: the signal program of one or more junctions close together.

mod build;
mod edits;
pub mod frames;
mod roads;

pub(crate) use build::build;
pub(crate) use edits::{ban_turns, change_roads, new_roads};
pub use edits::{NetworkEdits, NewRoad, RoadChange, TurnBan, ADD_SNAP_M};
pub(crate) use roads::RoadIn;

use serde::Serialize;

/// How a network is built.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkOptions {
    /// Only these road layers (default: every layer of kind road).
    pub layers: Option<Vec<String>>,
    /// Line ends of non-OSM layers this close are one junction, m.
    pub snap_m: f64,
    /// A signal node this close (along its road) to a junction signals that junction, m.
    pub signal_join_m: f64,
    /// Signalled junctions this close share one controller, m (SUMO's `--tls.join-dist`).
    pub tls_join_m: f64,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            layers: None,
            snap_m: 0.5,
            signal_join_m: 20.0,
            tls_join_m: 20.0,
        }
    }
}

/// How traffic through a junction is controlled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Major roads go first; the others yield.
    Priority,
    Signals,
    AllWayStop,
    /// One road ends here: vehicles may turn back.
    DeadEnd,
}

impl Control {
    pub fn name(self) -> &'static str {
        match self {
            Control::Priority => "priority",
            Control::Signals => "traffic_signals",
            Control::AllWayStop => "allway_stop",
            Control::DeadEnd => "dead_end",
        }
    }
}

/// What an edge's vehicles must do at its end (where no signal rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Yield {
    /// On the major road.
    None,
    GiveWay,
    Stop,
    AllWayStop,
}

impl Yield {
    pub fn name(self) -> &'static str {
        match self {
            Yield::None => "none",
            Yield::GiveWay => "give_way",
            Yield::Stop => "stop",
            Yield::AllWayStop => "allway_stop",
        }
    }
}

/// Which way a connection turns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Turn {
    Straight,
    Right,
    Left,
    UTurn,
}

impl Turn {
    /// SUMO's `dir` letter.
    pub fn letter(self) -> &'static str {
        match self {
            Turn::Straight => "s",
            Turn::Right => "r",
            Turn::Left => "l",
            Turn::UTurn => "t",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Junction {
    pub x: f64,
    pub y: f64,
    pub control: Control,
    /// Its signal controller (index into [`Network::controllers`]).
    pub controller: Option<u32>,
    /// The OSM node it stands on.
    pub osm_node: Option<i64>,
    /// Edges ending and starting here, by index.
    pub incoming: Vec<u32>,
    pub outgoing: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// The road's city code.
    pub code: String,
    /// The road's key in its source (`osm:way/123`).
    pub source_key: String,
    /// The road's layer.
    pub layer: String,
    /// Runs against the road's stored line.
    pub backward: bool,
    pub from: u32,
    pub to: u32,
    pub lanes: u32,
    pub speed_m_s: f64,
    pub length_m: f64,
    /// Road class (`highway`).
    pub class: String,
    /// Its class's rank: higher goes first.
    pub priority: i32,
    pub yields: Yield,
    /// In the project CRS, from `from` to `to`.
    pub shape: Vec<[f64; 2]>,
    /// The road piece it is one direction of (both directions share it, and so do two one-way
    /// roads drawn between the same junctions in opposite directions).
    pub piece: u32,
    /// Which piece of its road it is, from the road's start (0 for a road not split).
    pub part: u32,
    /// Lanes, and speed, from the class because the road did not say.
    pub lanes_default: bool,
    pub speed_default: bool,
    /// `turn:lanes` of this direction, left to right, where given and matching the lanes.
    pub turn_lanes: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    pub from_edge: u32,
    pub from_lane: u32,
    pub to_edge: u32,
    pub to_lane: u32,
    pub turn: Turn,
}

/// One signal program's junctions.
#[derive(Clone, Debug, PartialEq)]
pub struct Controller {
    pub junctions: Vec<u32>,
    /// Their mean position.
    pub x: f64,
    pub y: f64,
}

/// What building found and assumed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    /// Road features read, and those left out: not for cars (footways, `access=no`…) or
    /// without a line.
    pub roads: u64,
    pub roads_not_drivable: u64,
    pub roads_without_line: u64,
    pub junctions: u64,
    pub edges: u64,
    pub lanes: u64,
    pub connections: u64,
    pub controllers: u64,
    /// Edges whose lanes, or speed, came from their class.
    pub lanes_defaulted: u64,
    pub speed_defaulted: u64,
    pub restrictions_applied: u64,
    pub restrictions_unmatched: u64,
    /// Parts not connected to each other (ignoring direction); trips between them cannot be made.
    pub components: u64,
    /// Total length of the edges, km.
    pub length_km: f64,
}

/// A road network, built.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Network {
    pub junctions: Vec<Junction>,
    pub edges: Vec<Edge>,
    /// Sorted by (from edge, from lane, to edge, to lane).
    pub connections: Vec<Connection>,
    pub controllers: Vec<Controller>,
    pub stats: NetworkStats,
    /// What was assumed or left out, each naming the road or relation.
    pub notes: Vec<String>,
}

impl Edge {
    /// Its id in SUMO files: a SUMO network's own edge id; else `[-]CODE#PART` (`-` against
    /// the road's line), as netconvert names OSM ways' pieces.
    pub fn sumo_id(&self) -> String {
        // Imported SUMO keys are qualified by their file (`grid.net.xml:roads#sumo:edge/A0A1`).
        match self.source_key.split_once("sumo:edge/") {
            Some((_, id)) => id.to_string(),
            None => format!(
                "{}{}#{}",
                if self.backward { "-" } else { "" },
                self.code,
                self.part
            ),
        }
    }
}

impl Network {
    /// The connections leaving `edge` (a slice of [`Network::connections`]).
    pub fn connections_from(&self, edge: u32) -> &[Connection] {
        let lo = self.connections.partition_point(|c| c.from_edge < edge);
        let hi = self.connections.partition_point(|c| c.from_edge <= edge);
        &self.connections[lo..hi]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
