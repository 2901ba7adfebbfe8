//! Saved viewpoints (stored in the project), flights between views, and the command hall's tour.
//!
//! Keys in the window: `B` saves the current view as a bookmark, `1`–`9` fly to bookmark 1–9,
//! `F` flies to the selected building, `T` starts or stops the tour. In command-hall mode the
//! tour starts by itself after a minute without input.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use cim_engine::Viewpoint;

use crate::app::{Scene, ViewCamera, FOV_Y};
use crate::camera::{OrbitCamera, Tour};
use crate::load::SceneData;
use crate::pick::Selection;

/// Seconds a flight between two views takes.
pub const FLIGHT_S: f32 = 1.5;
/// The hall's tour: seconds at each view, seconds between views, idle seconds before it starts.
pub const TOUR_DWELL_S: f32 = 12.0;
pub const TOUR_TRAVEL_S: f32 = 4.0;
pub const TOUR_IDLE_S: f32 = 60.0;

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

/// The project's saved viewpoints, in tour order.
#[derive(Resource, Default, Debug, Clone)]
pub struct Bookmarks(pub Vec<Viewpoint>);

/// A flight in progress.
#[derive(Resource, Debug, Clone)]
pub struct Flight {
    pub from: OrbitCamera,
    pub to: OrbitCamera,
    pub elapsed_s: f32,
}

/// The tour, when it runs: seconds since it started.
#[derive(Resource, Debug, Clone, Default)]
pub struct TourState {
    pub running: Option<f32>,
    pub idle_s: f32,
    /// Start by itself after [`TOUR_IDLE_S`] without input (command-hall mode).
    pub auto: bool,
}

/// Bookmarks, flights and the tour.
pub struct ViewsPlugin;

impl Plugin for ViewsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Bookmarks>()
            .init_resource::<TourState>()
            .add_systems(
                Update,
                (view_keys.run_if(crate::panels::keys_free), fly, tour)
                    .chain()
                    .before(crate::app::ApplyOrbit),
            );
    }
}

fn view_keys(
    mut commands: Commands,
    keys: Res<ButtonInput<KeyCode>>,
    scene: Res<Scene>,
    selection: Res<Selection>,
    mut bookmarks: ResMut<Bookmarks>,
    mut tour: ResMut<TourState>,
    cameras: Query<&ViewCamera>,
) {
    let Some(now) = cameras.iter().next().map(|c| c.0) else {
        return;
    };
    if keys.just_pressed(KeyCode::KeyB) {
        let name = format!("view {}", bookmarks.0.len() + 1);
        let v = viewpoint_of(&name, &now, &scene.0);
        match cim_engine::Project::open(&scene.0.project_path).and_then(|mut p| p.save_viewpoint(&v)) {
            Ok(()) => bookmarks.0.push(v),
            Err(e) => warn!("cannot save the view: {e}"),
        }
    }
    let digits = [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
        KeyCode::Digit6,
        KeyCode::Digit7,
        KeyCode::Digit8,
        KeyCode::Digit9,
    ];
    for (k, key) in digits.iter().enumerate() {
        if keys.just_pressed(*key) {
            if let Some(v) = bookmarks.0.get(k) {
                commands.insert_resource(Flight {
                    from: now,
                    to: camera_of(v, &scene.0),
                    elapsed_s: 0.0,
                });
                tour.running = None;
            }
        }
    }
    if keys.just_pressed(KeyCode::KeyF) {
        if let Some(to) = selection
            .building
            .and_then(|id| building_view(&scene.0, id, now.yaw))
        {
            commands.insert_resource(Flight {
                from: now,
                to,
                elapsed_s: 0.0,
            });
        }
    }
    if keys.just_pressed(KeyCode::KeyT) {
        tour.running = match tour.running {
            Some(_) => None,
            None => Some(0.0),
        };
    }
}

/// A view of building `id` from heading `yaw`.
pub fn building_view(scene: &SceneData, id: u32, yaw: f32) -> Option<OrbitCamera> {
    let rec = scene.buildings.get(id as usize)?;
    let tile = scene.tiles.get(rec.tile as usize)?;
    let r = tile.range_of(id)?;
    let (lo, hi) = crate::scene::bounds_of(&tile.mesh.positions[r.start as usize..r.end as usize])?;
    Some(OrbitCamera::looking_at_box(lo, hi, yaw, FOV_Y))
}

/// A view of a feature with envelope `bbox` (`[min_x, min_y, max_x, max_y]`, project CRS) on
/// the ground, from heading `yaw`: for roads and parcels, which have no mesh of their own.
pub fn envelope_view(scene: &SceneData, bbox: [f64; 4], yaw: f32) -> OrbitCamera {
    let fallback = f64::from(scene.ramp.min_m);
    let t = scene.terrain.as_ref();
    let z = crate::scene::ground(t, 0.5 * (bbox[0] + bbox[2]), 0.5 * (bbox[1] + bbox[3]), fallback);
    let lo = scene.origin.to_local(bbox[0], bbox[3], z);
    let hi = scene.origin.to_local(bbox[2], bbox[1], z + 10.0);
    OrbitCamera::looking_at_box(lo, hi, yaw, FOV_Y)
}

fn fly(
    mut commands: Commands,
    time: Res<Time>,
    flight: Option<ResMut<Flight>>,
    mut cameras: Query<&mut ViewCamera>,
) {
    let Some(mut f) = flight else { return };
    f.elapsed_s += time.delta_secs();
    let t = f.elapsed_s / FLIGHT_S;
    let c = OrbitCamera::between(&f.from, &f.to, t);
    for mut cam in &mut cameras {
        cam.0 = c;
    }
    if t >= 1.0 {
        commands.remove_resource::<Flight>();
    }
}

#[allow(clippy::too_many_arguments)]
fn tour(
    time: Res<Time>,
    scene: Res<Scene>,
    bookmarks: Res<Bookmarks>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut state: ResMut<TourState>,
    mut cameras: Query<&mut ViewCamera>,
) {
    let dt = time.delta_secs();
    let input = buttons.get_pressed().next().is_some()
        || motion.delta != Vec2::ZERO
        || scroll.delta != Vec2::ZERO
        || keys.get_just_pressed().any(|k| *k != KeyCode::KeyT);
    if input {
        state.idle_s = 0.0;
        state.running = None;
        return;
    }
    state.idle_s += dt;
    if state.auto && state.running.is_none() && state.idle_s >= TOUR_IDLE_S {
        state.running = Some(0.0);
    }
    let Some(t) = state.running.as_mut() else { return };
    *t += dt;
    let plan = Tour {
        stops: bookmarks.0.iter().map(|v| camera_of(v, &scene.0)).collect(),
        dwell_s: TOUR_DWELL_S,
        travel_s: TOUR_TRAVEL_S,
    };
    // Without bookmarks, a slow turn round the whole scene.
    let c = match plan.at(*t) {
        Some(c) => Some(c),
        None => cameras.iter().next().map(|c| {
            let mut c = c.0;
            c.orbit(dt * 0.05, 0.0);
            c
        }),
    };
    if let Some(c) = c {
        for mut cam in &mut cameras {
            cam.0 = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{ElevationRamp, LocalOrigin};

    #[test]
    fn viewpoints_and_cameras_convert_both_ways() {
        let scene = SceneData {
            project_path: "x".into(),
            extent: [500_000.0, 2_500_000.0, 501_000.0, 2_501_000.0],
            origin: LocalOrigin {
                x: 500_500.0,
                y: 2_500_500.0,
                z: 10.0,
            },
            terrain: None,
            ramp: ElevationRamp {
                min_m: 0.0,
                max_m: 1.0,
            },
            buildings: vec![],
            layers: vec![],
            tiles: vec![],
            overlays: vec![],
            notices: vec![],
        };
        let v = Viewpoint {
            name: "a".into(),
            focus: [500_100.0, 2_500_900.0, 25.0],
            heading_deg: 30.0,
            tilt_deg: 45.0,
            distance_m: 750.0,
        };
        let c = camera_of(&v, &scene);
        assert_eq!(c.focus, [-400.0, 15.0, -400.0]);
        let back = viewpoint_of("a", &c, &scene);
        assert!((back.heading_deg - 30.0).abs() < 1e-4 && (back.tilt_deg - 45.0).abs() < 1e-4);
        assert_eq!(back.focus, v.focus);
        assert_eq!(back.distance_m, 750.0);
        // Out-of-range tilts are clamped to what the camera can do.
        let steep = camera_of(&Viewpoint { tilt_deg: 90.0, ..v }, &scene);
        assert_eq!(steep.pitch, crate::camera::MAX_PITCH);
    }
}
