//! # cim-scenarios — what-if simulations over a cim project
//!
//! This crate will hold the flood model (local inertial 2D shallow water on the project terrain),
//! traffic, sunlight and planning checks. It depends on `cim-engine` only, never on the viewer,
//! and hands results to the viewer as render-neutral data.
//!
//! Nothing is implemented here yet: the flood issue builds it on the foundation.
