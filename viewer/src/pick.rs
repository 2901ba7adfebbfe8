//! Picking: a click casts a ray from the camera through the cursor into the spatial index
//! (exact against each building's prism); the building hit is highlighted.

use bevy::prelude::*;
use cim_engine::{CityIndex, PickHit};

use crate::app::{Scene, ViewCamera};
use crate::scene::LocalOrigin;

/// Highlight colour of the selected building (linear RGBA): a strong orange.
pub const HIGHLIGHT: [f32; 4] = [1.0, 0.42, 0.05, 1.0];

/// A click moves the cursor at most this far between press and release, pixels (more is a drag).
const CLICK_SLOP_PX: f32 = 4.0;

/// The index picks are made against (`None` where it could not be loaded).
#[derive(Resource)]
pub struct Picker(pub Option<CityIndex>);

/// What is selected now.
#[derive(Resource, Default, Debug, Clone)]
pub struct Selection {
    /// The building's id in the scene, where the hit is a building that is drawn.
    pub building: Option<u32>,
    pub hit: Option<PickHit>,
}

/// Click to pick (the highlight is drawn by [`crate::layers::LayersPlugin`]).
pub struct PickPlugin;

impl Plugin for PickPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Selection>()
            .add_systems(Update, click_to_pick.run_if(crate::panels::pointer_free));
    }
}

/// The first feature hit by a ray from `origin` along `dir` (viewer frame), and the building
/// it is in the scene if it is one.
pub fn pick_ray(
    scene: &crate::load::SceneData,
    index: &CityIndex,
    origin: Vec3,
    dir: Vec3,
) -> Option<(PickHit, Option<u32>)> {
    let o = scene.origin.to_project(origin.to_array());
    let d = LocalOrigin::dir_to_project(dir.to_array());
    let hit = index.pick(o, d)?;
    let building = scene.building_by_code(&hit.code);
    Some((hit, building))
}

fn click_to_pick(
    buttons: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window>,
    cameras: Query<(&Camera, &GlobalTransform), With<ViewCamera>>,
    picker: Option<Res<Picker>>,
    scene: Res<Scene>,
    mut selection: ResMut<Selection>,
    mut pressed_at: Local<Option<Vec2>>,
) {
    let Some(cursor) = windows.iter().next().and_then(|w| w.cursor_position()) else {
        return;
    };
    if buttons.just_pressed(MouseButton::Left) {
        *pressed_at = Some(cursor);
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let Some(start) = pressed_at.take() else { return };
    if start.distance(cursor) > CLICK_SLOP_PX {
        return;
    }
    let Some(index) = picker.as_ref().and_then(|p| p.0.as_ref()) else {
        return;
    };
    let Some((camera, transform)) = cameras.iter().next() else {
        return;
    };
    let Ok(ray) = camera.viewport_to_world(transform, cursor) else {
        return;
    };
    *selection = match pick_ray(&scene.0, index, ray.origin, *ray.direction) {
        Some((hit, building)) => Selection {
            building,
            hit: Some(hit),
        },
        None => Selection::default(),
    };
}
