//! # Urban flood model: local inertial 2D shallow water on the project terrain
//!
//! Entry types: [`FloodGrid`] (bed, buildings, roughness), [`Forcing`] (rain, inflows,
//! drainage, edges), [`FloodParams`], [`Simulation`] (the state and the time step) and
//! [`VolumeBalance`].
//!
//! ## Glossary
//! - **local inertial**: the shallow-water equations without the convective acceleration term,
//!   solved on a staggered grid with fluxes on cell faces (Bates et al. 2010); stable for
//!   Δt ≤ α·Δx/√(g·h) ([`kernel`](face_flux)).
//! - **θ-weighting**: a face's old flux blended with its two parallel neighbours, which damps
//!   the checkerboard oscillations of the plain scheme (de Almeida et al. 2012).
//! - **wet/dry threshold**: a face whose flow depth is below it carries no water.
//! - **supply share**: the fraction of a cell's computed outflow that its water can supply in a
//!   step; below 1 only where a cell runs dry, so depths never go negative and no water is made
//!   or lost.
//! - **hyetograph**: rain intensity over time (mm/h); **hydrograph**: discharge over time (m³/s).

pub mod config;
pub mod design_storm;
mod forcing;
mod grid;
mod kernel;
mod lanes;
mod prepare;
mod run;
mod series;
mod sim;
mod store;

pub use forcing::{Boundaries, Forcing, Inflow, Inlet, Rain, RoofSewer};
pub use grid::{FloodGrid, Manning};
pub use kernel::{face_flux, Boundary, FaceConsts, G};
pub use prepare::{prepare, PreparedFlood, WatchedBuilding, WatchedRoad, BYTES_PER_CELL};
pub use run::{
    run_flood, wall_depth, BuildingResult, FloodClass, FloodRun, RoadResult, RunOutput, RunResult,
    RunSummary, Snapshot, VolumeBalanceSummary, MODERATE_MAX_M, ROAD_CLOSED_M, SHALLOW_MAX_M, WATCH_EVERY_S,
    WET_AT_BUILDING_M,
};
pub use series::{Interp, TimeSeries};
pub use sim::{FloodParams, Simulation, StepInfo, VolumeBalance};
pub use store::{available_memory, SpoolFrames, StoredRun};
