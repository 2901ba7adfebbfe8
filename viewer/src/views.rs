//! Saved viewpoints (stored in the project), flights between views, and the command hall's tour.
//!
//! Keys in the window: `B` saves the current view as a bookmark, `1`–`9` fly to bookmark 1–9,
//! `F` flies to the selected building, `T` starts or stops the tour. In command-hall mode the
//! tour starts by itself after a minute without input.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;
use cim_engine::Viewpoint;

use crate::data::{Data, Pending};
use crate::model::camera::{OrbitCamera, Tour};
use crate::model::views::{building_view, camera_of, viewpoint_of};
use crate::state::{order_sets, FlyTo, Scene, Selection, ViewCamera, ViewerSystems};

/// Seconds a flight between two views takes.
pub const FLIGHT_S: f32 = 1.5;
/// The hall's tour: seconds at each view, seconds between views, idle seconds before it starts.
pub const TOUR_DWELL_S: f32 = 12.0;
pub const TOUR_TRAVEL_S: f32 = 4.0;
pub const TOUR_IDLE_S: f32 = 60.0;

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
        order_sets(app);
        app.init_resource::<Bookmarks>()
            .init_resource::<TourState>()
            .init_resource::<Saving>()
            .add_message::<FlyTo>()
            .add_systems(
                Update,
                (
                    view_keys.run_if(crate::input::keys_free),
                    saved,
                    fly_to,
                    fly,
                    tour,
                )
                    .chain()
                    .in_set(ViewerSystems::Input),
            );
    }
}

/// A viewpoint being saved.
#[derive(Resource, Default)]
struct Saving(Pending<Viewpoint>);

#[allow(clippy::too_many_arguments)]
fn view_keys(
    mut commands: Commands,
    keys: Res<ButtonInput<KeyCode>>,
    scene: Res<Scene>,
    data: Option<Res<Data>>,
    selection: Res<Selection>,
    bookmarks: Res<Bookmarks>,
    mut saving: ResMut<Saving>,
    mut tour: ResMut<TourState>,
    cameras: Query<&ViewCamera>,
) {
    let Some(now) = cameras.iter().next().map(|c| c.0) else {
        return;
    };
    if keys.just_pressed(KeyCode::KeyB) {
        let name = format!("view {}", bookmarks.0.len() + 1);
        let v = viewpoint_of(&name, &now, &scene.0);
        match &data {
            Some(d) => {
                let source = d.0.clone();
                saving.0.ask(async move {
                    source.save_viewpoint(v.clone()).await?;
                    Ok(v)
                });
            }
            None => warn!("cannot save the view: no project to save it in"),
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

/// A saved viewpoint joins the bookmarks once it is stored.
fn saved(mut saving: ResMut<Saving>, mut bookmarks: ResMut<Bookmarks>) {
    match saving.0.take() {
        Some(Ok(v)) => bookmarks.0.push(v),
        Some(Err(e)) => warn!("cannot save the view: {e:#}"),
        None => {}
    }
}

/// Flights asked for by the panels.
fn fly_to(mut commands: Commands, mut asks: MessageReader<FlyTo>, cameras: Query<&ViewCamera>) {
    let Some(to) = asks.read().last() else { return };
    if let Some(from) = cameras.iter().next().map(|c| c.0) {
        commands.insert_resource(Flight {
            from,
            to: to.0,
            elapsed_s: 0.0,
        });
    }
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
    use crate::model::load::SceneData;
    use crate::model::scene::{ElevationRamp, LocalOrigin};

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
            bim: Default::default(),
            tilesets: vec![],
            covered_chunks: vec![],
            under_photo: vec![],
            photo_fit: vec![],
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
        assert_eq!(steep.pitch, crate::model::camera::MAX_PITCH);
    }
}
