//! # Traffic: microscopic simulation on the project's road network
//!
//! Entry types: [`SimNet`] (the network as the simulation drives it: lanes, links through
//! junctions, conflicts, signal programs), [`Router`] (fastest routes over the edge graph),
//! [`Sim`] (vehicles stepped together: Krauss or IDM car following, junction rules, lane
//! changes) with its [`SimParams`] and [`VehicleType`].
//!
//! ## Glossary
//! - **link**: a movement through a junction from one lane onto another (SUMO's connection).
//! - **foe**: a link whose path crosses or merges with another's; the lower-ranked yields.
//! - **approach**: the first vehicle of a lane, heading for its next link.
//! - **vehicle-step**: one vehicle advanced one step (SUMO's "vehicle update").
//! - **Krauss**: a car-following model where each driver keeps a speed from which they can
//!   stop behind their leader after a reaction time τ, minus a random dawdle σ.

pub mod config;
pub mod demand;
pub mod net;
pub mod od;
pub mod route;
pub mod run;
pub mod sim;
pub mod sumo_out;

pub use config::TrafficConfig;
pub use demand::{random_trips, read_sumo_routes, RandomTrips, SumoDemand, TripSpec};
pub use net::{Link, Program, Rule, SimNet};
pub use od::{od_trips, read_od_table, OdDemand, OdRow};
pub use route::{Hierarchies, Router};
pub use run::{prepare, PreparedTraffic, TrafficResult, TrafficRun, TrafficStep};
pub use sim::{EdgeBin, Follow, Sim, SimParams, Status, Trip, TripResult, VehicleType};
pub use sumo_out::{export_sumo, SumoExport};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
