//! Who the pointer and the keys belong to this frame: the panels (egui) or the 3-D view. A
//! drag belongs to where it started, a click to what is under it once the panels are laid out.

use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

/// Whether the pointer is free for the 3-D view (not over a panel).
pub fn pointer_free(wants: Option<Res<EguiWantsInput>>) -> bool {
    wants.is_none_or(|w| !w.wants_any_pointer_input())
}

/// Whether keys are free for shortcuts (no text box has the focus).
pub fn keys_free(wants: Option<Res<EguiWantsInput>>) -> bool {
    wants.is_none_or(|w| !w.wants_any_keyboard_input())
}

/// Judges each frame whether a drag belongs to the view ([`ViewDrag`]).
pub struct InputPlugin;

impl Plugin for InputPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ViewDrag>()
            // Judged once the frame's panels are laid out, as clicks are (see `crate::pick`).
            .add_systems(
                PostUpdate,
                claim_drag.after(bevy_egui::EguiPostUpdateSet::ProcessOutput),
            );
    }
}

/// Whether the mouse buttons held down were pressed over the 3D view (not over a panel): a
/// drag belongs to where it started, so one begun in the view goes on over a panel and one
/// begun on a panel (a slider) never moves the camera.
#[derive(Resource, Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewDrag(pub bool);

fn claim_drag(
    buttons: Res<ButtonInput<MouseButton>>,
    wants: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut drag: ResMut<ViewDrag>,
) {
    let drag_buttons = [MouseButton::Left, MouseButton::Right, MouseButton::Middle];
    let claimed = if buttons.any_just_pressed(drag_buttons) {
        pointer_free(wants)
    } else {
        drag.0 && buttons.any_pressed(drag_buttons)
    };
    if drag.0 != claimed {
        drag.0 = claimed;
    }
}
