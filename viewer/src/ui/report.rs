//! `cim render --overlay`: what an image needs to go straight into a report, drawn over the
//! offscreen view with bevy_ui: a title (with the run's time), a legend, a north arrow and a
//! scale bar.

use bevy::prelude::*;
use bevy::ui::UiTargetCamera;

use crate::model::camera::{north_arrow_angle, scale_bar_for, OrbitCamera};

/// What the overlay says: the title line, and the legend's title and rows (label, linear
/// RGBA).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportOverlay {
    pub title: String,
    pub legend_title: String,
    pub legend: Vec<(String, [f32; 4])>,
    /// A second legend (the buildings' classes beside the water's depths).
    pub legend2_title: String,
    pub legend2: Vec<(String, [f32; 4])>,
}

/// The scale bar for an image `height_px` tall seen by `camera`: (label, pixels).
pub fn report_scale(camera: &OrbitCamera, height_px: f32) -> (String, f32) {
    scale_bar_for(camera.distance, height_px, (height_px * 0.14).max(80.0))
}

fn text(font: &Handle<Font>, s: impl Into<String>, size: f32, colour: Color) -> impl Bundle {
    (
        Text::new(s.into()),
        TextFont {
            font: font.clone().into(),
            font_size: size.into(),
            ..default()
        },
        TextColor(colour),
    )
}

fn panel() -> impl Bundle {
    BackgroundColor(Color::srgba(0.06, 0.08, 0.11, 0.82))
}

fn legend_block(
    parent: &mut ChildSpawnerCommands,
    font: &Handle<Font>,
    k: f32,
    title: &str,
    rows: &[(String, [f32; 4])],
) {
    parent.spawn(text(font, title, 15.0 * k, Color::WHITE));
    for (label, c) in rows {
        parent
            .spawn(Node {
                flex_direction: FlexDirection::Row,
                align_items: AlignItems::Center,
                column_gap: Val::Px(6.0 * k),
                ..default()
            })
            .with_children(|row| {
                row.spawn((
                    Node {
                        width: Val::Px(14.0 * k),
                        height: Val::Px(14.0 * k),
                        ..default()
                    },
                    BackgroundColor(Color::LinearRgba(LinearRgba::new(c[0], c[1], c[2], 1.0))),
                ));
                row.spawn(text(font, label.clone(), 13.0 * k, Color::srgb(0.9, 0.9, 0.9)));
            });
    }
}

/// Spawns the overlay for `camera` (rendering an image `width` × `height` px seen from
/// `orbit`).
pub fn spawn_report_overlay(
    world: &mut World,
    camera: Entity,
    overlay: &ReportOverlay,
    orbit: &OrbitCamera,
    height: u32,
    font: Handle<Font>,
) {
    // Text sized to the image: 1 at 1080 rows.
    let k = (height as f32 / 1080.0).max(0.5);
    let (label, px) = report_scale(orbit, height as f32);
    let mut commands = world.commands();
    let root = commands
        .spawn((
            Node {
                width: Val::Percent(100.0),
                height: Val::Percent(100.0),
                position_type: PositionType::Absolute,
                ..default()
            },
            UiTargetCamera(camera),
        ))
        .id();
    commands.entity(root).with_children(|root| {
        // Title, top left.
        root.spawn((
            Node {
                position_type: PositionType::Absolute,
                top: Val::Px(16.0 * k),
                left: Val::Px(16.0 * k),
                padding: UiRect::all(Val::Px(8.0 * k)),
                ..default()
            },
            panel(),
        ))
        .with_children(|p| {
            p.spawn(text(&font, overlay.title.clone(), 22.0 * k, Color::WHITE));
        });
        // Legend, bottom left.
        if !overlay.legend.is_empty() || !overlay.legend2.is_empty() {
            root.spawn((
                Node {
                    position_type: PositionType::Absolute,
                    bottom: Val::Px(16.0 * k),
                    left: Val::Px(16.0 * k),
                    padding: UiRect::all(Val::Px(8.0 * k)),
                    flex_direction: FlexDirection::Column,
                    row_gap: Val::Px(3.0 * k),
                    ..default()
                },
                panel(),
            ))
            .with_children(|p| {
                if !overlay.legend.is_empty() {
                    legend_block(p, &font, k, &overlay.legend_title, &overlay.legend);
                }
                if !overlay.legend2.is_empty() {
                    legend_block(p, &font, k, &overlay.legend2_title, &overlay.legend2);
                }
            });
        }
        // North arrow, top right: an "N" over a bar turned with the view.
        root.spawn((
            Node {
                position_type: PositionType::Absolute,
                top: Val::Px(16.0 * k),
                right: Val::Px(24.0 * k),
                width: Val::Px(48.0 * k),
                height: Val::Px(48.0 * k),
                justify_content: JustifyContent::Center,
                align_items: AlignItems::Center,
                ..default()
            },
            panel(),
        ))
        .with_children(|p| {
            p.spawn((
                Node {
                    width: Val::Px(6.0 * k),
                    height: Val::Px(40.0 * k),
                    justify_content: JustifyContent::Center,
                    ..default()
                },
                BackgroundColor(Color::srgb(0.85, 0.15, 0.1)),
                UiTransform {
                    rotation: Rot2::radians(north_arrow_angle(orbit.yaw)),
                    ..default()
                },
            ))
            .with_children(|a| {
                a.spawn(text(&font, "N", 15.0 * k, Color::WHITE));
            });
        });
        // Scale bar, bottom right.
        root.spawn((
            Node {
                position_type: PositionType::Absolute,
                bottom: Val::Px(16.0 * k),
                right: Val::Px(24.0 * k),
                padding: UiRect::all(Val::Px(8.0 * k)),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::FlexEnd,
                ..default()
            },
            panel(),
        ))
        .with_children(|p| {
            p.spawn(text(&font, label, 14.0 * k, Color::WHITE));
            p.spawn((
                Node {
                    width: Val::Px(px),
                    height: Val::Px(4.0 * k),
                    ..default()
                },
                BackgroundColor(Color::WHITE),
            ));
        });
    });
    world.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_bar_is_a_round_length() {
        let orbit = OrbitCamera {
            focus: [0.0; 3],
            yaw: 0.0,
            pitch: 0.8,
            distance: 400.0,
        };
        let (label, px) = report_scale(&orbit, 1080.0);
        assert!(
            ["10 m", "20 m", "50 m", "100 m", "200 m", "500 m"].contains(&label.as_str()),
            "{label}"
        );
        assert!(px > 20.0 && px <= 160.0, "{px}");
    }
}
