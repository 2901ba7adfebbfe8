//! # cim-viewer — the 3D viewer (Bevy/wgpu)
//!
//! The only crate that depends on bevy, wgpu or winit. It reads `cim-engine` projects and
//! scenario results and never the reverse.
//!
//! ## Shape
//! - [`model`]: what the viewer knows without Bevy (the scene, terrain chunks, building tiles,
//!   camera maths, styles, flood frames and KPIs, panel layout, words), and
//!   [`model::source::DataSource`], the one interface every read of project data goes through.
//! - [`state`]: what several plugins read (scene, camera, selection, styling, language, hall,
//!   playback, sides), the messages panels send, and the order of the frame's work. It imports
//!   no plugin.
//! - [`data`]: the data source as a Bevy resource, and answers picked up off the frame loop.
//! - [`input`]: who the pointer and keys belong to (the panels or the view).
//! - One plugin a module, each owning its components, resources and systems: [`camera`],
//!   [`fly`], [`views`], [`terrain`], [`buildings`], [`layers`], [`pick`], [`playback`] (water),
//!   [`traffic`] (vehicles, roads by traffic), [`tilesets`] (real-scene meshes and point clouds
//!   streamed by screen-space error within a memory budget),
//!   [`ui`] (overlays, [`ui::panels`], the [`ui::report`] overlay of images). A plugin imports
//!   `state`, `data`, `input` and `model`, and nothing of another plugin.
//! - [`app`]: the plugin group; [`native`]: the desktop only (GPU probe, window, offscreen PNG,
//!   locale).
//!
//! ## Glossary
//! - **tile**: buildings merged into one mesh per 256 m square, each keeping its vertex range
//!   (for picking, highlighting, colouring and hiding one building).
//! - **chunk**: a 64×64-cell piece of terrain, meshed at a **step** (every 1st … 32nd cell)
//!   chosen by its distance.
//! - **side**: one half of a split screen (0 the run, 1 the run compared).
//! - **hall**: the command-hall mode (fullscreen, larger UI, the dashboard, the tour).

pub mod app;
pub mod buildings;
pub mod camera;
pub mod data;
pub mod fly;
pub mod input;
pub mod layers;
pub mod model;
pub mod native;
pub mod pick;
pub mod playback;
pub mod state;
pub mod terrain;
pub mod tilesets;
pub mod traffic;
pub mod ui;
pub mod views;

pub use app::ViewerPlugins;
pub use bevy::math::Vec3;
pub use model::camera::OrbitCamera;
pub use model::load::{load_scene, SceneData};
pub use native::{find_gpu, render, view, RenderRequest, Rendered, ViewOptions};
