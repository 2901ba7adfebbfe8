//! What the viewer knows without Bevy: plain data and maths, tested without a GPU.
//!
//! - [`load`]: the scene to show, read from a project.
//! - [`scene`]: the local frame (no jitter at 5,000,000 m northings), terrain chunks with levels
//!   of detail, LOD1 buildings merged into tiles, lines draped on the ground.
//! - [`camera`]: the orbit camera's maths (orbit, pan, zoom, fly mode's look and move, tours).
//! - [`style`]: layers' visibility and opacity, buildings coloured by attribute with a legend.
//! - [`flood`]: a flood run's frames, water surface, building classes, KPIs.
//! - [`traffic`]: a traffic run's vehicles on their lanes, roads by speed or congestion, KPIs.
//! - [`run`]: what a side plays (water, vehicles, or both) and the playback clock.
//! - [`views`]: the camera of a viewpoint, of the whole scene, of a building.
//! - [`text`]: the panels' words for a feature and a playback.
//! - [`layout`]: where the panels go on any screen.
//! - [`i18n`]: English and Chinese words.
//! - [`source`]: the one interface every read of project data goes through.
//! - [`tiles`]: streaming tilesets: tiles chosen by screen-space error, a decoded-tile cache
//!   within a memory budget, decoding off the frame loop.

pub mod camera;
pub mod flood;
pub mod i18n;
pub mod layout;
pub mod load;
pub mod run;
pub mod scene;
pub mod source;
pub mod style;
pub mod text;
pub mod tiles;
pub mod traffic;
pub mod views;
