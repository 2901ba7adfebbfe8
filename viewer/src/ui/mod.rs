//! What is drawn over the view: the on-screen overlays (bevy_ui: a north arrow, a scale bar, a
//! help line and notices, in English or Chinese, `L` switches), the egui [`panels`], and the
//! [`report`] overlay of offscreen images. The words come from plain functions
//! ([`crate::model::text`]) tested without a window.

pub mod panels;
pub mod report;

use bevy::prelude::*;

use crate::model::camera::{north_arrow_angle, scale_bar_for};
use crate::model::i18n::Lang;
use crate::state::{FlyMode, Scene, UiLang, ViewCamera};

/// The font for every UI text: a subset of Noto Sans SC (Latin and common Chinese), from assets/.
#[derive(Resource, Clone)]
pub struct UiFont(pub Handle<Font>);

#[derive(Component)]
struct HelpText;
#[derive(Component)]
struct NorthArrow;
#[derive(Component)]
struct ScaleBarLine;
#[derive(Component)]
struct ScaleBarText;
#[derive(Component)]
struct NoticeText;

/// The overlays; needs a window.
pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        if !app.world().contains_resource::<UiLang>() {
            app.insert_resource(UiLang(Lang::En));
        }
        app.add_systems(Startup, spawn_ui).add_systems(
            Update,
            (switch_language.run_if(crate::input::keys_free), update_compass),
        );
    }
}

fn spawn_ui(mut commands: Commands, font: Option<Res<UiFont>>, lang: Res<UiLang>, scene: Res<Scene>) {
    // Sizes in logical pixels; the command hall scales the whole UI with `UiScale`.
    let k = 1.0;
    let font = font.map(|f| f.0.clone()).unwrap_or_default();
    let text_font = |size: f32| TextFont {
        font: font.clone().into(),
        font_size: (size * k).into(),
        ..default()
    };
    // Help line, bottom left; notices above it.
    commands.spawn((
        Text::new(lang.0.t("help")),
        text_font(13.0),
        TextColor(Color::srgba(1.0, 1.0, 1.0, 0.9)),
        Node {
            position_type: PositionType::Absolute,
            bottom: Val::Px(8.0 * k),
            left: Val::Px(12.0 * k),
            ..default()
        },
        HelpText,
    ));
    if !scene.0.notices.is_empty() {
        commands.spawn((
            Text::new(scene.0.notices.join("\n")),
            text_font(13.0),
            TextColor(Color::srgb(1.0, 0.85, 0.4)),
            Node {
                position_type: PositionType::Absolute,
                bottom: Val::Px(30.0 * k),
                left: Val::Px(12.0 * k),
                ..default()
            },
            NoticeText,
        ));
    }
    // North arrow, top left: an "N" over a bar that turns with the view.
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            top: Val::Px(12.0 * k),
            left: Val::Px(12.0 * k),
            width: Val::Px(44.0 * k),
            height: Val::Px(44.0 * k),
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            ..default()
        })
        .with_children(|p| {
            p.spawn((
                Node {
                    width: Val::Px(6.0 * k),
                    height: Val::Px(40.0 * k),
                    ..default()
                },
                BackgroundColor(Color::srgb(0.85, 0.15, 0.1)),
                NorthArrow,
            ))
            .with_children(|a| {
                a.spawn((
                    Text::new(lang.0.t("north")),
                    text_font(14.0),
                    TextColor(Color::WHITE),
                ));
            });
        });
    // Scale bar, bottom right.
    commands
        .spawn((Node {
            position_type: PositionType::Absolute,
            bottom: Val::Px(10.0 * k),
            right: Val::Px(14.0 * k),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::FlexEnd,
            ..default()
        },))
        .with_children(|p| {
            p.spawn((
                Text::new(""),
                text_font(13.0),
                TextColor(Color::WHITE),
                ScaleBarText,
            ));
            p.spawn((
                Node {
                    width: Val::Px(100.0),
                    height: Val::Px(4.0 * k),
                    ..default()
                },
                BackgroundColor(Color::WHITE),
                ScaleBarLine,
            ));
        });
}

fn switch_language(
    keys: Res<ButtonInput<KeyCode>>,
    mut lang: ResMut<UiLang>,
    fly: Option<Res<FlyMode>>,
    mut help: Query<&mut Text, With<HelpText>>,
) {
    if keys.just_pressed(KeyCode::KeyL) {
        lang.0 = lang.0.toggled();
    }
    let flying = fly.as_ref().is_some_and(|f| f.on);
    if lang.is_changed() || fly.as_ref().is_some_and(|f| f.is_changed()) {
        // The help line says the keys of the mode the camera is in.
        let text = lang.0.t(if flying { "help_fly" } else { "help" });
        for mut t in &mut help {
            if t.0 != text {
                t.0 = text.to_string();
            }
        }
    }
}

fn update_compass(
    cameras: Query<&ViewCamera>,
    windows: Query<&Window>,
    mut arrow: Query<&mut UiTransform, With<NorthArrow>>,
    mut bar: Query<&mut Node, With<ScaleBarLine>>,
    mut label: Query<&mut Text, With<ScaleBarText>>,
) {
    let Some(c) = cameras.iter().next() else { return };
    let h = windows.iter().next().map_or(1080.0, |w| w.height());
    for mut t in &mut arrow {
        t.rotation = Rot2::radians(north_arrow_angle(c.0.yaw));
    }
    let (text, px) = scale_bar_for(c.0.distance, h, 150.0);
    for mut n in &mut bar {
        n.width = Val::Px(px);
    }
    for mut t in &mut label {
        if t.0 != text {
            t.0 = text.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::text::{feature_lines, panel_text, playback_line};
    use cim_engine::{AttrValue, CityCode, Classification, Date, FeatureKind, HeightSource, Lod1, Validity};
    use cim_engine::{Feature, StoredFeature};

    fn stored() -> StoredFeature {
        let mut attributes = cim_engine::Attributes::new();
        attributes.insert("名称".into(), AttrValue::Text("天河城".into()));
        attributes.insert("floors".into(), AttrValue::Int(7));
        StoredFeature {
            layer: "buildings".into(),
            fid: 3,
            feature: Feature {
                code: CityCode::derive("440106", FeatureKind::Building, "buildings", "fid:3"),
                kind: FeatureKind::Building,
                geometry: geo::Geometry::Point(geo::Point::new(0.0, 0.0)),
                lod1: Some(Lod1 {
                    base_m: 10.0,
                    height_m: 21.0,
                    height_source: HeightSource::Floors {
                        name: "floors".into(),
                        storey_m: 3.0,
                    },
                }),
                attributes,
                validity: Validity {
                    from: Some(Date::parse("2015-01-01").unwrap()),
                    to: None,
                },
                classification: Classification::Public,
                source_key: "fid:3".into(),
            },
        }
    }

    #[test]
    fn the_panel_lists_code_kind_height_and_attributes_in_either_language() {
        let f = stored();
        let en = feature_lines(&f, Lang::En);
        assert_eq!(en[0], ("City code".to_string(), f.feature.code.to_string()));
        assert_eq!(en[2], ("Kind".to_string(), "building".to_string()));
        assert!(en.contains(&("Height".to_string(), "21.0 m".to_string())));
        assert!(en
            .iter()
            .any(|(k, v)| k == "Valid" && v.starts_with("2015-01-01")));
        assert!(en.contains(&("名称".to_string(), "天河城".to_string())));
        let zh = feature_lines(&f, Lang::Zh);
        assert_eq!(zh.len(), en.len());
        assert_eq!(zh[0].0, "城市编码");
        assert_eq!(zh[2].1, "建筑");
        let text = panel_text(&zh);
        assert!(
            text.contains("高度: 21.0 m") && text.contains("floors: 7"),
            "{text}"
        );
    }

    #[test]
    fn the_playback_line_gives_run_time_state_and_speed() {
        let p = crate::model::run::Playback::new("storm", vec![300.0, 3600.0]);
        assert_eq!(
            playback_line(&p, Lang::En),
            "Run storm · 0:05:00 / 1:00:00 · paused ×60"
        );
        assert_eq!(
            playback_line(&p, Lang::Zh),
            "模拟 storm · 0:05:00 / 1:00:00 · 暂停 ×60"
        );
    }

    #[test]
    fn every_character_the_ui_writes_is_in_the_font() {
        // The words table and the demo's text must render: each character has a glyph.
        let font = crate::state::UI_FONT;
        let face = ttf_parser_face(font);
        for lang in [Lang::En, Lang::Zh] {
            for key in crate::model::i18n::keys() {
                for ch in lang.t(key).chars() {
                    assert!(face(ch), "'{ch}' of {key} ({lang:?}) is not in the UI font");
                }
            }
        }
        for c in cim_engine::mesh::SurfaceClass::ALL {
            for ch in crate::model::text::surface_name(c, Lang::Zh).chars() {
                assert!(face(ch), "'{ch}' of the surface {c:?} is not in the UI font");
            }
        }
        // Latin-1 and common Chinese. (Noto Sans CJK has no Latin Extended-A: Czech letters
        // such as č fall outside it.)
        for (label, _) in crate::model::traffic::road_legend(crate::model::traffic::RoadColour::Speed)
            .into_iter()
            .chain(crate::model::traffic::road_legend(
                crate::model::traffic::RoadColour::Congestion,
            ))
        {
            for ch in label.chars() {
                assert!(
                    face(ch),
                    "'{ch}' of the road legend '{label}' is not in the UI font"
                );
            }
        }
        for ch in "Dejvice Praha Zürich 天河城 广州市 ·–…×²°".chars() {
            assert!(face(ch), "'{ch}' is not in the UI font");
        }
    }

    /// Whether the font's cmap maps a character (a minimal reader of the OpenType `cmap`
    /// format 4 and 12 subtables, enough for a test).
    fn ttf_parser_face(data: &'static [u8]) -> impl Fn(char) -> bool {
        let u16_at = move |o: usize| u16::from_be_bytes([data[o], data[o + 1]]);
        let u32_at = move |o: usize| u32::from_be_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
        let tables = u16_at(4) as usize;
        let cmap = (0..tables)
            .map(|k| 12 + 16 * k)
            .find(|&r| &data[r..r + 4] == b"cmap")
            .map(|r| u32_at(r + 8) as usize)
            .unwrap();
        let subtables: Vec<usize> = (0..u16_at(cmap + 2) as usize)
            .map(|k| cmap + u32_at(cmap + 4 + 8 * k + 4) as usize)
            .collect();
        move |ch: char| {
            let c = ch as u32;
            subtables.iter().any(|&st| match u16_at(st) {
                12 => (0..u32_at(st + 12) as usize).any(|g| {
                    let o = st + 16 + 12 * g;
                    (u32_at(o)..=u32_at(o + 4)).contains(&c)
                }),
                4 if c <= 0xFFFF => {
                    let segs = u16_at(st + 6) as usize / 2;
                    (0..segs).any(|s| {
                        let end = u32::from(u16_at(st + 14 + 2 * s));
                        let start = u32::from(u16_at(st + 16 + 2 * segs + 2 * s));
                        (start..=end).contains(&c) && c != 0xFFFF
                    })
                }
                _ => false,
            })
        }
    }
}
