//! Views of the scene: the camera a saved viewpoint gives and back, one framing the whole
//! scene, one looking at a building or at a feature's envelope (plain maths, no Bevy).

use cim_engine::Viewpoint;

use crate::model::camera::{OrbitCamera, FOV_Y};
use crate::model::load::SceneData;

/// A saved viewpoint as the viewer's camera.
pub fn camera_of(v: &Viewpoint, scene: &SceneData) -> OrbitCamera {
    let mut c = OrbitCamera {
        focus: scene.origin.to_local(v.focus[0], v.focus[1], v.focus[2]),
        yaw: (v.heading_deg as f32).to_radians(),
        pitch: 0.0,
        distance: v.distance_m as f32,
    };
    // Through the setters, so the limits apply.
    c.orbit(0.0, (v.tilt_deg as f32).to_radians());
    c.zoom(1.0);
    c
}

/// The viewer's camera as a viewpoint named `name`.
pub fn viewpoint_of(name: &str, c: &OrbitCamera, scene: &SceneData) -> Viewpoint {
    Viewpoint {
        name: name.to_string(),
        focus: scene.origin.to_project(c.focus),
        heading_deg: f64::from(c.yaw.to_degrees()),
        tilt_deg: f64::from(c.pitch.to_degrees()),
        distance_m: f64::from(c.distance),
    }
}

/// A view of building `id` from heading `yaw`.
pub fn building_view(scene: &SceneData, id: u32, yaw: f32) -> Option<OrbitCamera> {
    let rec = scene.buildings.get(id as usize)?;
    let tile = scene.tiles.get(rec.tile as usize)?;
    let r = tile.range_of(id)?;
    let (lo, hi) = crate::model::scene::bounds_of(&tile.mesh.positions[r.start as usize..r.end as usize])?;
    Some(OrbitCamera::looking_at_box(lo, hi, yaw, FOV_Y))
}

/// A view of a feature with envelope `bbox` (`[min_x, min_y, max_x, max_y]`, project CRS) on
/// the ground, from heading `yaw`: for roads and parcels, which have no mesh of their own.
pub fn envelope_view(scene: &SceneData, bbox: [f64; 4], yaw: f32) -> OrbitCamera {
    let fallback = f64::from(scene.ramp.min_m);
    let t = scene.terrain.as_ref();
    let z = crate::model::scene::ground(t, 0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3]), fallback);
    let lo = scene.origin.to_local(bbox[0], bbox[3], z);
    let hi = scene.origin.to_local(bbox[2], bbox[1], z + 10.0);
    OrbitCamera::looking_at_box(lo, hi, yaw, FOV_Y)
}

/// The diagonal of the scene's extent, m.
pub fn scene_span(scene: &SceneData) -> f32 {
    let e = scene.extent;
    ((e[2] - e[0]).hypot(e[3] - e[1]) as f32).max(100.0)
}

/// A camera that shows the whole scene.
pub fn frame_scene(scene: &SceneData, aspect: f32) -> OrbitCamera {
    let e = scene.extent;
    let lo = scene.origin.to_local(e[0], e[3], f64::from(scene.ramp.min_m));
    let hi = scene.origin.to_local(e[2], e[1], f64::from(scene.ramp.max_m));
    OrbitCamera::framing(lo, hi, FOV_Y, aspect)
}
