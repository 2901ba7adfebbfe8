//! # cim-scenarios — what-if simulations over a cim project
//!
//! Entry points: [`run`] (one lifecycle for every model: load a scenario, run it with progress
//! and Ctrl-C, store it) and [`flood`] (a 2D urban flood model on the project terrain: local
//! inertial shallow water with buildings, rain, inflows, drainage). Traffic, sunlight and planning
//! checks follow. The crate depends on `cim-engine` only, never on the viewer, and hands results
//! over as plain arrays and tables.

pub mod flood;
pub mod run;
pub mod traffic;

mod error;

pub use error::ScenarioError;
