//! The camera: mouse navigation (left drag pans, right drag turns and tilts, the wheel or a
//! two-finger scroll zooms; fly mode, [`crate::fly`], takes over while it is on), its transform
//! following its orbit, and the two halves of a split screen.

use bevy::camera::Viewport;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::pbr::{DistanceFog, FogFalloff};
use bevy::prelude::*;

use crate::input::{pointer_free, ViewDrag};
use crate::model::camera::OrbitCamera;
use crate::state::{order_sets, FlyMode, Side, Split, ViewCamera, ViewerSystems, FOV_Y};

/// Navigation with the mouse, and the camera's transform following its orbit.
pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.add_systems(Update, navigate.in_set(ViewerSystems::Input))
            .add_systems(Update, apply_orbit.in_set(ViewerSystems::Camera))
            .add_systems(
                PreUpdate,
                layout_split.run_if(|s: Option<Res<Split>>| s.is_some_and(|s| s.0)),
            );
    }
}

/// The camera bundle: perspective, haze towards the horizon.
pub fn camera_bundle(orbit: OrbitCamera, span_m: f32) -> impl Bundle {
    (
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: FOV_Y,
            near: 0.5,
            far: 1_000_000.0,
            ..default()
        }),
        orbit_transform(&orbit),
        ViewCamera(orbit),
        DistanceFog {
            color: Color::srgba(0.70, 0.78, 0.88, 1.0),
            falloff: FogFalloff::Linear {
                start: span_m * 1.5,
                end: span_m * 6.0,
            },
            ..default()
        },
    )
}

fn orbit_transform(o: &OrbitCamera) -> Transform {
    Transform::from_translation(Vec3::from_array(o.eye())).looking_at(Vec3::from_array(o.focus), Vec3::Y)
}

fn apply_orbit(mut cameras: Query<(&ViewCamera, &mut Transform), Changed<ViewCamera>>) {
    for (c, mut t) in &mut cameras {
        *t = orbit_transform(&c.0);
    }
}

#[allow(clippy::too_many_arguments)]
fn navigate(
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    windows: Query<&Window>,
    mut cameras: Query<&mut ViewCamera>,
    fly: Option<Res<FlyMode>>,
    wants: Option<Res<bevy_egui::input::EguiWantsInput>>,
    drag: Res<ViewDrag>,
) {
    let free = pointer_free(wants);
    let drag_in_view = drag.0;
    // Fly mode moves the camera its own way.
    if fly.is_some_and(|f| f.on) {
        return;
    }
    let height = windows.iter().next().map_or(1080.0, |w| w.height());
    for mut c in &mut cameras {
        let d = motion.delta;
        if drag_in_view && buttons.pressed(MouseButton::Left) && d != Vec2::ZERO {
            c.0.pan(d.x, d.y, height, FOV_Y);
        }
        if drag_in_view
            && (buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle))
            && d != Vec2::ZERO
        {
            c.0.orbit(d.x * 0.005, d.y * 0.005);
        }
        if free && scroll.delta.y != 0.0 {
            let notches = match scroll.unit {
                MouseScrollUnit::Line => scroll.delta.y,
                MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
            };
            c.0.zoom(0.85f32.powf(notches));
        }
    }
}

/// Split screen: the run on the left half of the window, the one compared on the right.
fn layout_split(windows: Query<&Window>, mut cameras: Query<(&mut Camera, &Side), With<ViewCamera>>) {
    let Some(w) = windows.iter().next() else { return };
    let (width, height) = (w.physical_width().max(2), w.physical_height().max(1));
    let half = width / 2;
    for (mut c, side) in &mut cameras {
        let (x, wd) = if side.0 == 0 {
            (0, half)
        } else {
            (half, width - half)
        };
        let want = Viewport {
            physical_position: UVec2::new(x, 0),
            physical_size: UVec2::new(wd, height),
            ..default()
        };
        let same = c.viewport.as_ref().is_some_and(|v| {
            v.physical_position == want.physical_position && v.physical_size == want.physical_size
        });
        if !same {
            c.viewport = Some(want);
        }
    }
}
