//! # cim-viewer — the 3D viewer (Bevy/wgpu)
//!
//! The only crate that depends on bevy, wgpu or winit. It reads `cim-engine` projects and
//! scenario results and never the reverse.
//!
//! - [`load`]: what to show, read from a project (plain data, no Bevy).
//! - [`scene`]: geometry without Bevy: the local frame (no jitter at 5,000,000 m northings),
//!   terrain chunks with levels of detail, LOD1 buildings merged into tiles.
//! - [`camera`]: the orbit camera's maths (orbit, pan, zoom, and fly mode's look and move);
//!   [`fly`]: fly mode in the window.
//! - [`style`]: layers' visibility and opacity, buildings coloured by attribute with a legend,
//!   the "as of" date (plain data); [`layers`] applies it to the meshes.
//! - [`app`]: the Bevy plugins, the window (`cim view`) and offscreen rendering (`cim render`).
//! - [`water`]: the flood water's material, a WGSL shader (validated with naga in the tests).
//! - [`panels`]: the window's egui panels (feature and search, layers, playback and KPIs, the
//!   command hall's dashboard); [`ui`]: the overlays (north arrow, scale bar, help).

pub mod app;
pub mod camera;
pub mod flood;
pub mod fly;
pub mod i18n;
pub mod layers;
pub mod layout;
pub mod load;
pub mod panels;
pub mod pick;
pub mod report;
pub mod scene;
pub mod style;
pub mod ui;
pub mod views;
pub mod water;

pub use app::{find_gpu, render, view, RenderRequest, Rendered, ViewOptions};
pub use bevy::math::Vec3;
pub use camera::OrbitCamera;
pub use load::{load_scene, SceneData};
