//! Fly mode (`G` in the window): the camera moves like a drone instead of orbiting. `W`/`S`
//! fly ahead and back along the view, `A`/`D` sideways, `Q`/`E` down and up, `Shift` four
//! times faster; a drag (any button) looks round from where the camera is; the wheel sets the
//! speed. The speed follows the height above the ground (slow in a street, fast over the
//! city), and the eye never goes below the ground.

use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

use crate::model::camera::OrbitCamera;
use crate::model::load::SceneData;
use crate::model::scene::ground;
use crate::state::{order_sets, FlyMode, Scene, ViewCamera, ViewerSystems};

/// The eye stays at least this far above the ground, m.
pub const MIN_EYE_HEIGHT_M: f32 = 1.7;

/// The keys held this frame, as directions: each −1, 0 or 1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlyKeys {
    pub ahead: f32,
    pub right: f32,
    pub up: f32,
    pub fast: bool,
}

/// Flying speed, m/s, at `height_m` above the ground: that height a second (at least 5 m/s,
/// at most 5 km/s), times `factor`, four times that with `fast`.
pub fn fly_speed_m_per_s(height_m: f32, factor: f32, fast: bool) -> f32 {
    let base = height_m.clamp(5.0, 5000.0) * factor;
    if fast {
        4.0 * base
    } else {
        base
    }
}

/// The eye's height above the ground, m (the ground off the terrain is the lowest level).
pub fn eye_height_m(scene: &SceneData, c: &OrbitCamera) -> f32 {
    let eye = c.eye();
    let p = scene.origin.to_project(eye);
    let g = ground(scene.terrain.as_ref(), p[0], p[1], f64::from(scene.ramp.min_m));
    eye[1] - scene.origin.to_local(p[0], p[1], g)[1]
}

/// One frame of flight: `keys` held for `dt_s` seconds, then the eye lifted back above the
/// ground where the move took it under.
pub fn fly_step(scene: &SceneData, c: &mut OrbitCamera, keys: FlyKeys, factor: f32, dt_s: f32) {
    let speed = fly_speed_m_per_s(eye_height_m(scene, c), factor, keys.fast);
    let d = speed * dt_s;
    if keys != FlyKeys::default() {
        c.fly(keys.ahead * d, keys.right * d, keys.up * d);
    }
    let below = MIN_EYE_HEIGHT_M - eye_height_m(scene, c);
    if below > 0.0 {
        c.focus[1] += below;
    }
}

/// `G` toggles fly mode; in it, keys and drags move the camera (see the module).
pub struct FlyPlugin;

impl Plugin for FlyPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.init_resource::<FlyMode>().add_systems(
            Update,
            (toggle.run_if(crate::input::keys_free), fly)
                .chain()
                .in_set(ViewerSystems::Input),
        );
    }
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut mode: ResMut<FlyMode>, mut cameras: Query<&mut ViewCamera>) {
    if !keys.just_pressed(KeyCode::KeyG) {
        return;
    }
    mode.on = !mode.on;
    if !mode.on {
        for mut c in &mut cameras {
            c.0.level_for_orbit();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fly(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    time: Res<Time>,
    wants: Option<Res<EguiWantsInput>>,
    scene: Res<Scene>,
    mut mode: ResMut<FlyMode>,
    mut cameras: Query<&mut ViewCamera>,
) {
    if !mode.on {
        return;
    }
    let keys_free = wants.as_ref().is_none_or(|w| !w.wants_any_keyboard_input());
    let pointer_free = wants.as_ref().is_none_or(|w| !w.wants_any_pointer_input());
    let axis = |plus: KeyCode, minus: KeyCode| {
        if !keys_free {
            return 0.0;
        }
        f32::from(u8::from(keys.pressed(plus))) - f32::from(u8::from(keys.pressed(minus)))
    };
    let held = FlyKeys {
        ahead: axis(KeyCode::KeyW, KeyCode::KeyS),
        right: axis(KeyCode::KeyD, KeyCode::KeyA),
        up: axis(KeyCode::KeyE, KeyCode::KeyQ),
        fast: keys_free && (keys.pressed(KeyCode::ShiftLeft) || keys.pressed(KeyCode::ShiftRight)),
    };
    if pointer_free && scroll.delta.y != 0.0 {
        let notches = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        mode.speed_factor = (mode.speed_factor * 1.25f32.powf(notches)).clamp(0.05, 50.0);
    }
    let dragging = [MouseButton::Left, MouseButton::Right, MouseButton::Middle]
        .iter()
        .any(|b| buttons.pressed(*b));
    let look = if pointer_free && dragging {
        motion.delta
    } else {
        Vec2::ZERO
    };
    let dt = time.delta_secs();
    for mut c in &mut cameras {
        let mut cam = c.0;
        if look != Vec2::ZERO {
            cam.look(look.x * 0.004, look.y * 0.004);
        }
        fly_step(&scene.0, &mut cam, held, mode.speed_factor, dt);
        // Only a real change marks the camera changed (terrain LOD and the compass follow it).
        if cam != c.0 {
            c.0 = cam;
        }
    }
}
