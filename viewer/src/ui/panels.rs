//! The window's panels (egui through bevy_egui): the feature panel with a search box, the layers
//! panel (visibility, opacity, colour by attribute with its legend, "as of" date), the flood
//! playback (play, pause, speed, a time slider, KPIs with a chart) and, in command-hall mode, a
//! large dashboard of KPIs and alerts. Text comes from [`crate::model::i18n`]; Chinese renders with the
//! bundled Noto Sans SC subset.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::{egui, EguiContexts, EguiPrimaryContextPass};
use cim_engine::{CityCode, FeatureKind, LayerInfo, PickHit, StoredFeature};
use geo::BoundingRect;

use crate::data::{Data, Pending};
use crate::model::flood::{kpi_at, Kpi};
use crate::model::i18n::Lang;
use crate::model::style::{Classing, ColorBy, StoreyFilter};
use crate::model::text::{feature_lines, playback_line};
use crate::model::tiles::PointColors;
use crate::model::traffic::{RoadColour, TrafficKpi};
use crate::model::views::{building_view, envelope_view};
use crate::state::{
    FlyTo, HallMode, PlaybackState, Restyle, RunKpis, Scene, Select, Selection, SetPlayback, SetTiles,
    Styling, TileSettings, UiLang, ViewCamera,
};

/// At most this many search results are listed.
pub const MAX_RESULTS: usize = 50;

/// The search box and what it found.
#[derive(Resource, Default, Debug)]
pub struct SearchState {
    pub text: String,
    pub results: Vec<SearchResult>,
    /// The text the results are for (`None`: no search yet).
    pub searched: Option<String>,
    pub error: Option<String>,
}

/// A feature the search found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    pub code: CityCode,
    pub layer: String,
    pub kind: FeatureKind,
    /// A name for the list: its name-like attribute, else its code.
    pub label: String,
    /// Envelope, project CRS.
    pub bbox: [f64; 4],
}

impl SearchResult {
    /// The result for a stored feature.
    pub fn of(s: &StoredFeature) -> SearchResult {
        let f = &s.feature;
        let label = ["name", "名称", "NAME", "Name", "title", "addr"]
            .iter()
            .find_map(|k| f.attributes.get(*k).map(|v| v.to_string()))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| f.code.to_string());
        let bbox = f
            .geometry
            .bounding_rect()
            .map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        SearchResult {
            code: f.code.clone(),
            layer: s.layer.clone(),
            kind: f.kind,
            label,
            bbox,
        }
    }

    /// The selection this result makes: the building drawn for it, if any, and a hit at its
    /// centre.
    pub fn selection(&self, scene: &crate::model::load::SceneData) -> Selection {
        let (x, y) = (
            0.5 * (self.bbox[0] + self.bbox[2]),
            0.5 * (self.bbox[1] + self.bbox[3]),
        );
        let z = crate::model::scene::ground(scene.terrain.as_ref(), x, y, f64::from(scene.ramp.min_m));
        Selection {
            building: scene.building_by_code(&self.code),
            hit: Some(PickHit {
                code: self.code.clone(),
                layer: self.layer.clone(),
                kind: self.kind,
                distance_m: 0.0,
                point: [x, y, z],
                normal: [0.0, 0.0, 1.0],
                surface: None,
            }),
            tile_feature: None,
        }
    }
}

/// Searches `source`.
pub async fn run_search(
    source: &dyn crate::model::source::DataSource,
    text: String,
) -> anyhow::Result<Vec<SearchResult>> {
    let found = source.search(text, MAX_RESULTS).await?;
    Ok(found.iter().map(SearchResult::of).collect())
}

/// The egui panels; needs a window.
pub struct PanelsPlugin;

impl Plugin for PanelsPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(bevy_egui::EguiPlugin::default())
            .init_resource::<SearchState>()
            .init_resource::<RunKpis>()
            .init_resource::<HallMode>()
            .add_message::<Select>()
            .add_message::<FlyTo>()
            .add_message::<Restyle>()
            .add_message::<SetPlayback>()
            .add_message::<SetTiles>()
            .add_systems(
                EguiPrimaryContextPass,
                (
                    setup_egui,
                    follow_screen,
                    layers_panel,
                    feature_panel,
                    playback_panel,
                    split_labels,
                    hall_dashboard,
                )
                    .chain(),
            );
    }
}

/// The egui fonts: egui's own first (Latin, Latin Extended, symbols), then Noto Sans SC for
/// Chinese.
pub fn fonts() -> egui::FontDefinitions {
    let mut f = egui::FontDefinitions::default();
    f.font_data.insert(
        "noto_sans_sc".to_owned(),
        Arc::new(egui::FontData::from_static(crate::state::UI_FONT)),
    );
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        f.families
            .entry(family)
            .or_default()
            .push("noto_sans_sc".to_owned());
    }
    f
}

fn setup_egui(mut contexts: EguiContexts, mut done: Local<bool>) {
    if *done {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    ctx.set_fonts(fonts());
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|s| s.visuals.window_fill = egui::Color32::from_rgba_unmultiplied(16, 20, 28, 225));
    *done = true;
}

/// In the hall, the UI zoom (egui's and bevy_ui's) follows the screen's size
/// ([`crate::model::layout::hall_zoom`]), so a wall of 8K reads like a 1080p screen.
fn follow_screen(mut contexts: EguiContexts, hall: Res<HallMode>, ui_scale: Option<ResMut<UiScale>>) {
    if !hall.0 {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let r = ctx.content_rect();
    // Logical pixels: points times the zoom (pixels per point over the OS scale).
    let zoom_now = ctx.zoom_factor();
    let zoom = crate::model::layout::hall_zoom(r.width() * zoom_now, r.height() * zoom_now);
    if (zoom - zoom_now).abs() > 0.01 {
        ctx.set_zoom_factor(zoom);
    }
    if let Some(mut s) = ui_scale {
        if (s.0 - zoom).abs() > 0.01 {
            s.0 = zoom;
        }
    }
}

/// This frame's panel regions (see [`crate::model::layout`]).
fn regions(ctx: &egui::Context, hall: bool, playback: bool) -> crate::model::layout::PanelLayout {
    let r = ctx.content_rect();
    crate::model::layout::layout(r.width(), r.height(), hall, playback)
}

/// A window placed in its region: there, at most that large (its content scrolls beyond).
fn placed<'a>(w: egui::Window<'a>, r: crate::model::layout::Region) -> egui::Window<'a> {
    w.fixed_pos(egui::pos2(r.x, r.y))
        .default_width(r.w)
        .min_width(r.w.min(200.0))
        .max_width(r.w)
        .max_height(r.h)
        .resizable(false)
}

/// The height a window's scrolling content may take in a region (less its title bar).
fn content_height(r: crate::model::layout::Region) -> f32 {
    (r.h - 36.0).max(40.0)
}

fn swatch(ui: &mut egui::Ui, c: [f32; 4]) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
    let rgba = egui::Rgba::from_rgba_premultiplied(c[0], c[1], c[2], 1.0);
    ui.painter().rect_filled(rect, 2.0, egui::Color32::from(rgba));
}

fn date_text(days: i32) -> String {
    cim_engine::Date::from_days_since_epoch(days).to_string()
}

/// The attributes buildings may be coloured by, once read (and the read on its way).
#[derive(Default)]
struct Attributes(Option<Vec<String>>, Pending<Vec<LayerInfo>>);

#[allow(clippy::too_many_arguments)]
fn layers_panel(
    mut contexts: EguiContexts,
    hall: Res<HallMode>,
    scene: Res<Scene>,
    mut lang: ResMut<UiLang>,
    styling: Res<Styling>,
    playback: Option<Res<PlaybackState>>,
    data: Option<Res<Data>>,
    mut restyle: MessageWriter<Restyle>,
    mut attributes: Local<Attributes>,
    (tile_settings, mut set_tiles): (Option<Res<TileSettings>>, MessageWriter<SetTiles>),
) {
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let mut tiles = tile_settings.as_deref().copied();
    let s = &scene.0;
    let l = lang.0;
    // The attributes buildings may be coloured by: their layers' fields, read once.
    if attributes.0.is_none() && !attributes.1.waiting() {
        if let Some(d) = &data {
            let source = d.0.clone();
            attributes.1.ask(async move { source.layers().await });
        }
    }
    if let Some(answer) = attributes.1.take() {
        attributes.0 = Some(crate::model::style::building_attributes(
            answer.unwrap_or_default(),
            s,
        ));
    }
    let attrs = attributes.0.clone().unwrap_or_default();
    let sides = playback.as_ref().map(|p| &p.sides[..]).unwrap_or_default();
    let water = sides.iter().any(|x| x.flood.is_some());
    let traffic = sides.iter().any(|x| x.traffic.is_some());
    let mut layers = styling.layers.clone();
    let mut color_by = styling.color_by.clone();
    let mut classing = styling.classing;
    let mut switch_lang = false;
    let region = regions(ctx, hall.0, playback.is_some()).layers;
    placed(
        egui::Window::new(l.t("layers")).id(egui::Id::new("layers")),
        region,
    )
    .show(ctx, |ui| {
        egui::ScrollArea::vertical()
            .max_height(content_height(region))
            .show(ui, |ui| {
                if ui.button(l.t("language")).clicked() {
                    switch_lang = true;
                }
                ui.separator();
                let row = |ui: &mut egui::Ui, name: &str, v: &mut (bool, f32)| {
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut v.0, name);
                        ui.add_enabled(v.0, egui::Slider::new(&mut v.1, 0.0..=1.0).show_value(false))
                            .on_hover_text(l.t("opacity"));
                    });
                };
                if s.terrain.is_some() {
                    row(ui, l.t("terrain"), &mut layers.terrain);
                }
                if let Some(t) = tiles.as_mut().filter(|_| !s.tilesets.is_empty()) {
                    ui.checkbox(&mut t.shown, l.t("tilesets"));
                    // Each tileset on and off by itself (the first 64).
                    if s.tilesets.len() > 1 {
                        for (k, set) in s.tilesets.iter().enumerate().take(64) {
                            let mut on = t.hidden & (1u64 << k) == 0;
                            ui.horizontal(|ui| {
                                ui.add_space(16.0);
                                ui.add_enabled(t.shown, egui::Checkbox::new(&mut on, &set.set.name));
                            });
                            if on {
                                t.hidden &= !(1u64 << k);
                            } else {
                                t.hidden |= 1u64 << k;
                            }
                        }
                    }
                    ui.add_enabled(
                        t.shown,
                        egui::Slider::new(&mut t.max_sse, 1.0..=64.0).logarithmic(true),
                    )
                    .on_hover_text(l.t("tile_detail"));
                    let points = s
                        .tilesets
                        .iter()
                        .any(|x| x.set.kind == cim_engine::TilesetKind::Points);
                    if points {
                        let word = |c: PointColors| {
                            l.t(match c {
                                PointColors::Rgb => "points_rgb",
                                PointColors::Class => "points_class",
                                PointColors::Height => "points_height",
                                PointColors::Intensity => "points_intensity",
                            })
                        };
                        ui.horizontal(|ui| {
                            ui.label(l.t("points_by"));
                            egui::ComboBox::from_id_salt("point_colors")
                                .selected_text(word(t.point_colors))
                                .show_ui(ui, |ui| {
                                    for c in PointColors::ALL {
                                        ui.selectable_value(&mut t.point_colors, c, word(c));
                                    }
                                });
                        });
                    }
                }
                for (name, v) in s.layers.iter().zip(layers.buildings.iter_mut()) {
                    row(ui, name, v);
                }
                for (o, v) in s.overlays.iter().zip(layers.overlays.iter_mut()) {
                    row(ui, &o.layer, v);
                }
                if water {
                    row(ui, l.t("water_layer"), &mut layers.water);
                    ui.checkbox(&mut layers.closed_roads, l.t("closed_roads"));
                }
                if traffic {
                    ui.checkbox(&mut layers.vehicles, l.t("vehicles"));
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut layers.road_traffic, l.t("road_traffic"));
                        let by = |c: RoadColour| {
                            l.t(match c {
                                RoadColour::Speed => "by_speed",
                                RoadColour::Congestion => "by_congestion",
                            })
                        };
                        egui::ComboBox::from_id_salt("road_colour")
                            .selected_text(by(layers.road_colour))
                            .show_ui(ui, |ui| {
                                for c in [RoadColour::Speed, RoadColour::Congestion] {
                                    ui.selectable_value(&mut layers.road_colour, c, by(c));
                                }
                            });
                    });
                }
                // "As of": buildings standing on a day.
                if let Some((lo, hi)) = s.validity_span() {
                    ui.separator();
                    let mut on = layers.as_of.is_some();
                    ui.checkbox(&mut on, l.t("as_of"));
                    let mut day = layers.as_of.unwrap_or(hi);
                    ui.add_enabled(
                        on,
                        egui::Slider::new(&mut day, (lo - 365)..=(hi + 365))
                            .custom_formatter(|d, _| date_text(d as i32))
                            .custom_parser(|t| {
                                cim_engine::Date::parse(t)
                                    .ok()
                                    .map(|d| f64::from(d.days_since_epoch()))
                            }),
                    );
                    layers.as_of = on.then_some(day);
                }
                // BIM models: elements by IFC class and storey, and the cut-away.
                if !s.bim.classes.is_empty() {
                    ui.separator();
                    ui.label(egui::RichText::new(l.t("bim")).strong());
                    let storey_name = |f: StoreyFilter| match f {
                        StoreyFilter::All => l.t("all_storeys").to_string(),
                        StoreyFilter::Only(k) | StoreyFilter::UpTo(k) => s
                            .bim
                            .storeys
                            .get(usize::from(k))
                            .map_or(String::new(), |(n, _)| n.clone()),
                    };
                    let mut storey = layers.bim.storey;
                    egui::ComboBox::from_id_salt("bim_storey")
                        .selected_text(storey_name(storey))
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut storey, StoreyFilter::All, l.t("all_storeys"));
                            for (k, (name, elev)) in s.bim.storeys.iter().enumerate() {
                                let k = k as u16;
                                let keep_cut = matches!(storey, StoreyFilter::UpTo(_));
                                let value = if keep_cut {
                                    StoreyFilter::UpTo(k)
                                } else {
                                    StoreyFilter::Only(k)
                                };
                                let label = if elev.is_finite() {
                                    format!("{name} ({elev:.2} m)")
                                } else {
                                    name.clone()
                                };
                                ui.selectable_value(&mut storey, value, label);
                            }
                        });
                    if storey != StoreyFilter::All {
                        let mut cut = matches!(storey, StoreyFilter::UpTo(_));
                        ui.horizontal(|ui| {
                            ui.radio_value(&mut cut, false, l.t("only_storey"));
                            ui.radio_value(&mut cut, true, l.t("cut_above"));
                        });
                        storey = match (storey, cut) {
                            (StoreyFilter::Only(k) | StoreyFilter::UpTo(k), true) => StoreyFilter::UpTo(k),
                            (StoreyFilter::Only(k) | StoreyFilter::UpTo(k), false) => StoreyFilter::Only(k),
                            (other, _) => other,
                        };
                    }
                    layers.bim.storey = storey;
                    egui::CollapsingHeader::new(l.t("classes"))
                        .id_salt("bim_classes")
                        .show(ui, |ui| {
                            for ((class, n), on) in s.bim.classes.iter().zip(layers.bim.classes.iter_mut()) {
                                ui.checkbox(on, format!("{class} ({n})"));
                            }
                        });
                }
                ui.separator();
                ui.label(l.t("color_by"));
                let name_of = |c: &ColorBy| match c {
                    ColorBy::Plain => l.t("plain").to_string(),
                    ColorBy::Height => l.t("height").to_string(),
                    ColorBy::Layer => l.t("layer").to_string(),
                    ColorBy::FloodClass => l.t("flood_class").to_string(),
                    ColorBy::Attribute(a) => a.clone(),
                };
                egui::ComboBox::from_id_salt("color_by")
                    .selected_text(name_of(&color_by))
                    .show_ui(ui, |ui| {
                        let mut options = vec![ColorBy::Plain, ColorBy::Height, ColorBy::Layer];
                        if water {
                            options.push(ColorBy::FloodClass);
                        }
                        options.extend(attrs.iter().map(|a| ColorBy::Attribute(a.clone())));
                        for o in options {
                            let label = name_of(&o);
                            ui.selectable_value(&mut color_by, o, label);
                        }
                    });
                if matches!(color_by, ColorBy::Attribute(_)) {
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut classing, Classing::Categorised, l.t("categorised"));
                        ui.radio_value(&mut classing, Classing::Graduated, l.t("graduated"));
                    });
                }
                if let Some(c) = &styling.coloring {
                    ui.label(egui::RichText::new(&c.legend.title).strong());
                    for (label, col) in &c.legend.rows {
                        ui.horizontal(|ui| {
                            swatch(ui, *col);
                            ui.label(label);
                        });
                    }
                }
                if let Some(m) = &styling.message {
                    ui.colored_label(egui::Color32::from_rgb(255, 200, 90), m);
                }
            });
    });
    if switch_lang {
        lang.0 = lang.0.toggled();
    }
    if layers != styling.layers {
        restyle.write(Restyle::Layers(layers));
    }
    if let Some(t) = tiles.filter(|t| Some(t) != tile_settings.as_deref()) {
        set_tiles.write(SetTiles(t));
    }
    if color_by != styling.color_by || classing != styling.classing {
        restyle.write(Restyle::ColorBy(color_by, classing));
    }
}

/// What the feature panel shows for the selection, read once per selection and language.
#[derive(Default)]
struct FeatureRows {
    code: Option<CityCode>,
    lang: Option<Lang>,
    rows: Vec<(String, String)>,
}

/// Answers the feature panel waits for.
#[derive(Default)]
struct FeatureAsks {
    feature: Pending<Option<StoredFeature>>,
    search: Pending<Vec<SearchResult>>,
    /// Fly to the feature once it is read.
    fly: Pending<Option<StoredFeature>>,
}

#[allow(clippy::too_many_arguments)]
fn feature_panel(
    mut contexts: EguiContexts,
    scene: Res<Scene>,
    lang: Res<UiLang>,
    selection: Res<Selection>,
    mut search: ResMut<SearchState>,
    cameras: Query<&ViewCamera>,
    mut shown: Local<FeatureRows>,
    mut asks: Local<FeatureAsks>,
    (data, hall, playback): (Option<Res<Data>>, Res<HallMode>, Option<Res<PlaybackState>>),
    (mut select, mut fly_to): (MessageWriter<Select>, MessageWriter<FlyTo>),
) {
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let s = &scene.0;
    let l = lang.0;
    let source = data.as_ref().map(|d| d.0.clone());
    let code = selection.hit.as_ref().map(|h| h.code.clone());
    if shown.code != code || shown.lang != Some(l) {
        shown.rows = Vec::new();
        shown.code = code.clone();
        shown.lang = Some(l);
        asks.feature = Pending::default();
        if let (Some(c), Some(source)) = (code, source.clone()) {
            asks.feature.ask(async move { source.feature(c).await });
        }
    }
    if let Some(answer) = asks.feature.take() {
        let c = shown.code.clone();
        shown.rows = match (answer, c) {
            (Ok(Some(f)), _) => feature_lines(&f, l),
            (Ok(None), Some(c)) => vec![(l.t("city_code").to_string(), c.to_string())],
            (Err(e), Some(c)) => vec![(c.to_string(), format!("{e:#}"))],
            (_, None) => Vec::new(),
        };
    }
    let mut picked: Option<SearchResult> = None;
    let mut fly = false;
    let mut find = false;
    let region = regions(ctx, hall.0, playback.is_some()).feature;
    placed(
        egui::Window::new(l.t("feature")).id(egui::Id::new("feature")),
        region,
    )
    .show(ctx, |ui| {
        egui::ScrollArea::vertical()
            .max_height(content_height(region))
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    let r = ui.add(
                        egui::TextEdit::singleline(&mut search.text)
                            .hint_text(l.t("search_hint"))
                            .desired_width((region.w - 110.0).max(120.0)),
                    );
                    let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if ui.button(l.t("find")).clicked() || enter {
                        find = true;
                    }
                });
                if let Some(e) = &search.error {
                    ui.colored_label(egui::Color32::from_rgb(255, 120, 100), e);
                } else if search.searched.is_some() {
                    if search.results.is_empty() {
                        ui.label(l.t("no_results"));
                    } else {
                        ui.label(format!("{} {}", search.results.len(), l.t("results")));
                        egui::ScrollArea::vertical().max_height(160.0).show(ui, |ui| {
                            for r in &search.results {
                                let on = shown.code.as_ref() == Some(&r.code);
                                let text = format!("{} · {} · {}", r.label, l.t(r.kind.name()), r.layer);
                                if ui.selectable_label(on, text).clicked() {
                                    picked = Some(r.clone());
                                }
                            }
                        });
                    }
                }
                ui.separator();
                // A tileset's own feature clicked (a 3D Tiles building and its properties).
                if let Some(f) = &selection.tile_feature {
                    ui.label(
                        egui::RichText::new(format!(
                            "{} · {} · {} {} · #{}",
                            l.t("tileset_feature"),
                            f.tileset,
                            l.t("tile"),
                            f.tile,
                            f.id
                        ))
                        .strong(),
                    );
                    if f.properties.is_empty() {
                        ui.label(l.t("no_properties"));
                    }
                    egui::Grid::new("tile_feature")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            for (k, v) in &f.properties {
                                ui.label(egui::RichText::new(k).strong());
                                ui.label(v);
                                ui.end_row();
                            }
                        });
                    ui.separator();
                }
                if shown.rows.is_empty() {
                    if selection.tile_feature.is_none() {
                        ui.label(l.t("nothing_selected"));
                    }
                } else {
                    egui::Grid::new("attributes")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            // The surface clicked, where a building was clicked in the view.
                            let surface = selection.hit.as_ref().and_then(|h| h.surface.as_ref());
                            if let Some(s) = surface.filter(|_| selection.building.is_some()) {
                                ui.label(egui::RichText::new(l.t("surface")).strong());
                                ui.label(crate::model::text::surface_name(s.class, l));
                                ui.end_row();
                            }
                            for (k, v) in &shown.rows {
                                ui.label(egui::RichText::new(k).strong());
                                ui.label(v);
                                ui.end_row();
                            }
                        });
                    if ui.button(l.t("fly_to")).clicked() {
                        fly = true;
                    }
                }
            });
    });
    if find {
        let text = search.text.trim().to_string();
        search.searched = None;
        search.error = None;
        match source.clone() {
            Some(source) => {
                let t = text.clone();
                asks.search
                    .ask(async move { run_search(source.as_ref(), t).await });
            }
            None => search.error = Some("no project to search".to_string()),
        }
        search.text = text;
    }
    if let Some(answer) = asks.search.take() {
        match answer {
            Ok(r) => {
                search.results = r;
                search.error = None;
            }
            Err(e) => search.error = Some(format!("{e:#}")),
        }
        search.searched = Some(search.text.clone());
        // A single hit is selected straight away.
        if search.results.len() == 1 {
            picked = search.results.first().cloned();
        }
    }
    let Some(now) = cameras.iter().next().map(|c| c.0) else {
        return;
    };
    let mut target = None;
    if let Some(r) = picked {
        select.write(Select(r.selection(s)));
        target = Some(r);
    } else if fly {
        if let (Some(hit), Some(source)) = (&selection.hit, source) {
            let code = hit.code.clone();
            asks.fly.ask(async move { source.feature(code).await });
        }
    }
    if let Some(Ok(Some(f))) = asks.fly.take() {
        target = Some(SearchResult::of(&f));
    }
    if let Some(r) = target {
        let to = s
            .building_by_code(&r.code)
            .and_then(|id| building_view(s, id, now.yaw))
            .unwrap_or_else(|| envelope_view(s, r.bbox, now.yaw));
        fly_to.write(FlyTo(to));
    }
}

fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Speeds the playback offers, model seconds a real second.
pub const SPEEDS: [f64; 7] = [15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];

/// A small line chart of flooded buildings and closed road length over the run, with the time
/// shown marked.
/// A step of about a fifth of `span` that reads well: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64) -> f64 {
    let raw = (span / 5.0).max(1e-9);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// One line of a chart: its legend, colour, axis (left or right), values at the chart's times
/// and the decimals its axis is labelled with.
struct Series {
    label: String,
    colour: egui::Color32,
    left: bool,
    values: Vec<f64>,
    decimals: usize,
    /// The axis runs at least to this.
    min_top: f64,
}

/// A line chart over `times` (bottom axis, h:mm) of one or two `series`, each on its axis
/// with a legend, and the time shown as a line.
fn chart(ui: &mut egui::Ui, times: &[f64], series: &[Series], t_s: f64, width: f32, height: f32, l: Lang) {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return;
    };
    ui.horizontal_wrapped(|ui| {
        for s in series {
            let (r, _) = ui.allocate_exact_size(egui::vec2(14.0, 3.0), egui::Sense::hover());
            ui.painter().rect_filled(r, 0.0, s.colour);
            let axis = l.t(if s.left { "left_axis" } else { "right_axis" });
            ui.label(egui::RichText::new(format!("{} ({axis})", s.label)).small());
        }
    });
    let (outer, _) = ui.allocate_exact_size(egui::vec2(width, height + 16.0), egui::Sense::hover());
    let p = ui.painter_at(outer);
    let font = egui::FontId::proportional(10.0);
    let grey = egui::Color32::from_gray(190);
    let rect = egui::Rect::from_min_max(
        egui::pos2(outer.left() + 34.0, outer.top() + 2.0),
        egui::pos2(outer.right() - 38.0, outer.bottom() - 14.0),
    );
    p.rect_filled(rect, 3.0, egui::Color32::from_rgba_unmultiplied(0, 0, 0, 90));
    let span = (last - first).max(1.0);
    let x_of = |t: f64| rect.left() + ((t - first) / span) as f32 * rect.width();
    // Time ticks in minutes, labelled h:mm.
    let step_min = nice_step(span / 60.0).max(1.0);
    let mut m = (first / 60.0 / step_min).ceil() * step_min;
    while m * 60.0 <= last + 1e-6 {
        let x = x_of(m * 60.0);
        p.line_segment(
            [egui::pos2(x, rect.bottom()), egui::pos2(x, rect.bottom() + 3.0)],
            (1.0, grey),
        );
        let label = format!("{}:{:02}", (m / 60.0).floor(), (m % 60.0).round());
        p.text(
            egui::pos2(x, rect.bottom() + 3.0),
            egui::Align2::CENTER_TOP,
            label,
            font.clone(),
            grey,
        );
        m += step_min;
    }
    for s in series {
        let peak = s.values.iter().copied().fold(0.0, f64::max);
        // The axis runs to a round number at or above the peak.
        let step = nice_step(peak.max(s.min_top));
        let top = (peak / step).ceil().max(1.0) * step;
        let y_of = |v: f64| rect.bottom() - (v / top) as f32 * rect.height();
        let (x, align) = if s.left {
            (rect.left() - 3.0, egui::Align2::RIGHT_CENTER)
        } else {
            (rect.right() + 3.0, egui::Align2::LEFT_CENTER)
        };
        for v in [0.0, top / 2.0, top] {
            let text = format!("{v:.*}", s.decimals);
            p.text(egui::pos2(x, y_of(v)), align, text, font.clone(), s.colour);
        }
        let points: Vec<egui::Pos2> = times
            .iter()
            .zip(&s.values)
            .map(|(&t, &v)| egui::pos2(x_of(t), y_of(v)))
            .collect();
        p.add(egui::Shape::line(points, egui::Stroke::new(2.0, s.colour)));
    }
    let x = x_of(t_s.clamp(first, last));
    p.line_segment(
        [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
        egui::Stroke::new(1.5, egui::Color32::WHITE),
    );
}

/// The flood KPIs over the run: flooded buildings (left axis, count) and closed road length
/// (right axis, km).
fn kpi_chart(ui: &mut egui::Ui, kpis: &[Kpi], t_s: f64, width: f32, height: f32, l: Lang) {
    let times: Vec<f64> = kpis.iter().map(|k| k.time_s).collect();
    let series = [
        Series {
            label: l.t("flooded_buildings").to_string(),
            colour: egui::Color32::from_rgb(255, 140, 40),
            left: true,
            values: kpis.iter().map(|k| k.flooded_buildings as f64).collect(),
            decimals: 0,
            min_top: 5.0,
        },
        Series {
            label: format!("{}, km", l.t("closed_road_length")),
            colour: egui::Color32::from_rgb(230, 60, 60),
            left: false,
            values: kpis.iter().map(|k| k.closed_road_m / 1000.0).collect(),
            decimals: 1,
            min_top: 0.5,
        },
    ];
    chart(ui, &times, &series, t_s, width, height, l);
}

/// The traffic KPIs over the run: vehicles on the roads (left axis) and their mean speed
/// (right axis, km/h).
fn traffic_chart(ui: &mut egui::Ui, kpis: &[TrafficKpi], t_s: f64, width: f32, height: f32, l: Lang) {
    let times: Vec<f64> = kpis.iter().map(|k| k.time_s).collect();
    let series = [
        Series {
            label: l.t("running").to_string(),
            colour: egui::Color32::from_rgb(90, 200, 255),
            left: true,
            values: kpis.iter().map(|k| k.running as f64).collect(),
            decimals: 0,
            min_top: 5.0,
        },
        Series {
            label: format!("{}, km/h", l.t("mean_speed")),
            colour: egui::Color32::from_rgb(120, 230, 120),
            left: false,
            values: kpis.iter().map(|k| k.mean_speed_m_s * 3.6).collect(),
            decimals: 0,
            min_top: 10.0,
        },
    ];
    chart(ui, &times, &series, t_s, width, height, l);
}

/// The traffic KPIs at one time, as a grid.
fn traffic_grid(ui: &mut egui::Ui, k: &TrafficKpi, l: Lang, big: bool, salt: usize) {
    let cells = [
        ("running", k.running.to_string()),
        ("arrived", k.arrived.to_string()),
        ("mean_speed", format!("{:.0} km/h", k.mean_speed_m_s * 3.6)),
        ("stuck", k.stuck.to_string()),
        ("undelivered", k.undelivered.to_string()),
    ];
    grid(ui, ("traffic", big, salt), &cells, l, big);
}

fn kpi_grid(ui: &mut egui::Ui, k: &Kpi, l: Lang, big: bool, salt: usize) {
    let cells = [
        ("flooded_buildings", k.flooded_buildings.to_string()),
        (
            "closed_road_length",
            format!("{:.1} km", k.closed_road_m / 1000.0),
        ),
        ("max_depth", format!("{:.2} m", k.max_depth_m)),
        ("rain_so_far", format!("{:.0} mm", k.rain_mm)),
    ];
    grid(ui, ("kpis", big, salt), &cells, l, big);
}

/// KPIs as a grid of (word, value): four (or three) across where they fit (the playback), two
/// by two in a narrow column (the hall's dashboard), so the panel never grows past its region.
fn grid(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    cells: &[(&'static str, String)],
    l: Lang,
    big: bool,
) {
    let value = |v: String| {
        let t = egui::RichText::new(v).strong();
        if big {
            t.size(26.0)
        } else {
            t
        }
    };
    let across = if ui.available_width() >= if big { 560.0 } else { 440.0 } {
        if cells.len().is_multiple_of(4) {
            4
        } else {
            3
        }
    } else {
        2
    };
    egui::Grid::new(id)
        .num_columns(across)
        .spacing([18.0, 2.0])
        .show(ui, |ui| {
            for row in cells.chunks(across) {
                for (key, _) in row {
                    ui.label(l.t(key));
                }
                ui.end_row();
                for (_, v) in row {
                    ui.label(value(v.clone()));
                }
                ui.end_row();
            }
        });
}

fn playback_panel(
    mut contexts: EguiContexts,
    hall: Res<HallMode>,
    lang: Res<UiLang>,
    state: Option<Res<PlaybackState>>,
    kpis: Res<RunKpis>,
    styling: Option<Res<Styling>>,
    mut set: MessageWriter<SetPlayback>,
) {
    let Some(state) = state else { return };
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let l = lang.0;
    let road_colour = styling.map_or(RoadColour::Speed, |s| s.layers.road_colour);
    let mut p = state.playback.clone();
    let (start, end) = (p.start_s(), p.end_s());
    let region = regions(ctx, hall.0, true)
        .playback
        .unwrap_or(crate::model::layout::Region {
            x: 0.0,
            y: 0.0,
            w: 560.0,
            h: 300.0,
        });
    let chart_w = (region.w - 24.0).clamp(200.0, 640.0);
    placed(
        egui::Window::new(l.t("run")).id(egui::Id::new("playback")),
        region,
    )
    .title_bar(false)
    .show(ctx, |ui| {
        egui::ScrollArea::vertical()
            .max_height(region.h - 16.0)
            .show(ui, |ui| {
                ui.label(egui::RichText::new(playback_line(&p, l)).strong());
                if let Some(problem) = &state.problem {
                    ui.colored_label(egui::Color32::from_rgb(255, 200, 90), problem);
                }
                ui.horizontal(|ui| {
                    if ui.button(l.t(if p.playing { "pause" } else { "play" })).clicked() {
                        p.toggle();
                    }
                    if ui.button("◀").clicked() {
                        p.step(-1);
                    }
                    if ui.button("▶").clicked() {
                        p.step(1);
                    }
                    ui.label(l.t("speed"));
                    egui::ComboBox::from_id_salt("speed")
                        .selected_text(format!("×{}", p.speed))
                        .show_ui(ui, |ui| {
                            for v in SPEEDS {
                                ui.selectable_value(&mut p.speed, v, format!("×{v}"));
                            }
                        });
                });
                let mut t = p.time_s;
                let r = ui.add(
                    egui::Slider::new(&mut t, start..=end.max(start + 1.0))
                        .custom_formatter(|v, _| hms(v))
                        .text(l.t("time")),
                );
                if r.changed() {
                    p.time_s = t;
                    p.playing = false;
                }
                let two = state.sides.len() > 1;
                let chart_h = if two { 50.0 } else { 80.0 };
                for (k, side) in state.sides.iter().enumerate() {
                    if two {
                        ui.label(egui::RichText::new(format!("{} {}", l.t("run"), side.name)).strong());
                    }
                    let flood = side
                        .flood_name()
                        .and_then(|f| kpis.0.iter().find(|(n, _)| n == f))
                        .map(|(_, series)| series);
                    if let Some(now) = flood.and_then(|series| kpi_at(series, p.time_s)) {
                        kpi_grid(ui, now, l, false, k);
                        ui.label(format!(
                            "{} / {} — {}",
                            l.t("flooded_buildings"),
                            l.t("closed_road_length"),
                            l.t("over_time")
                        ));
                        kpi_chart(
                            ui,
                            flood.map_or(&[][..], |f| &f[..]),
                            p.time_s,
                            chart_w,
                            chart_h,
                            l,
                        );
                    }
                    if let Some(t) = &side.traffic {
                        let now = t.kpi_at(p.time_s);
                        ui.label(egui::RichText::new(l.t("traffic")).strong());
                        traffic_grid(ui, &now, l, false, k);
                        traffic_chart(ui, &t.kpis, p.time_s, chart_w, chart_h, l);
                    }
                }
                if state.sides.iter().any(|x| x.flood.is_some()) {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(l.t("water_depth"));
                        for (label, c) in crate::model::flood::depth_legend() {
                            swatch(ui, c);
                            ui.label(label);
                        }
                    });
                }
                if state.sides.iter().any(|x| x.traffic.is_some()) {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(l.t(match road_colour {
                            RoadColour::Speed => "by_speed",
                            RoadColour::Congestion => "by_congestion",
                        }));
                        for (label, c) in crate::model::traffic::road_legend(road_colour) {
                            swatch(ui, c);
                            ui.label(label);
                        }
                    });
                }
            });
    });
    if p != state.playback {
        set.write(SetPlayback(p));
    }
}

/// In split screen, the name of the run over each half.
fn split_labels(
    mut contexts: EguiContexts,
    state: Option<Res<PlaybackState>>,
    lang: Res<UiLang>,
    hall: Res<HallMode>,
) {
    let Some(state) = state else { return };
    if state.sides.len() < 2 {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let width = ctx.content_rect().width();
    // Over each half, kept in the middle region so that no panel covers them.
    let city = regions(ctx, hall.0, true).city;
    let l = lang.0;
    for (k, name) in state.sides.iter().take(2).map(|x| &x.name).enumerate() {
        let x = (width * (0.25 + 0.5 * k as f32) - 80.0).clamp(city.x, (city.right() - 180.0).max(city.x));
        egui::Area::new(egui::Id::new(("side", k)))
            .fixed_pos(egui::pos2(x, city.y))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.label(
                        egui::RichText::new(format!("{} {name}", l.t("run")))
                            .strong()
                            .size(16.0),
                    );
                });
            });
    }
    // The seam between the halves.
    ctx.layer_painter(egui::LayerId::background()).line_segment(
        [
            egui::pos2(width * 0.5, 0.0),
            egui::pos2(width * 0.5, ctx.content_rect().height()),
        ],
        egui::Stroke::new(2.0, egui::Color32::WHITE),
    );
}

fn hall_dashboard(
    mut contexts: EguiContexts,
    hall: Res<HallMode>,
    lang: Res<UiLang>,
    state: Option<Res<PlaybackState>>,
    kpis: Res<RunKpis>,
) {
    if !hall.0 {
        return;
    }
    let Ok(ctx) = contexts.ctx_mut() else { return };
    let l = lang.0;
    let t = state.as_ref().map_or(0.0, |s| s.playback.time_s);
    let Some(region) = regions(ctx, true, state.is_some()).dashboard else {
        return;
    };
    placed(
        egui::Window::new(l.t("dashboard")).id(egui::Id::new("dashboard")),
        region,
    )
    .collapsible(false)
    .show(ctx, |ui| {
        egui::ScrollArea::vertical()
            .max_height(content_height(region))
            .show(ui, |ui| {
                ui.label(format!("{} {}", l.t("time"), hms(t)));
                let sides = state.as_ref().map(|s| &s.sides[..]).unwrap_or_default();
                let mut any = false;
                for (i, side) in sides.iter().enumerate() {
                    let flood = side
                        .flood_name()
                        .and_then(|f| kpis.0.iter().find(|(n, _)| n == f))
                        .and_then(|(_, series)| kpi_at(series, t));
                    let traffic = side.traffic.as_ref().map(|tr| tr.kpi_at(t));
                    if flood.is_none() && traffic.is_none() {
                        continue;
                    }
                    any = true;
                    ui.separator();
                    ui.label(
                        egui::RichText::new(format!("{} {}", l.t("run"), side.name))
                            .strong()
                            .size(18.0),
                    );
                    let mut alerts = Vec::new();
                    if let Some(k) = flood {
                        kpi_grid(ui, k, l, true, i);
                        alerts.extend(crate::model::flood::alerts(k, l));
                    }
                    if let Some(k) = &traffic {
                        ui.label(egui::RichText::new(l.t("traffic")).strong().size(18.0));
                        traffic_grid(ui, k, l, true, i);
                        alerts.extend(crate::model::traffic::traffic_alerts(k, l));
                    }
                    ui.label(egui::RichText::new(l.t("alerts")).strong());
                    if alerts.is_empty() {
                        ui.label(l.t("no_alerts"));
                    }
                    for a in alerts {
                        ui.colored_label(egui::Color32::from_rgb(255, 90, 70), format!("⚠ {a}"));
                    }
                }
                if !any {
                    ui.label(l.t("no_alerts"));
                }
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_minutes_seconds() {
        assert_eq!(hms(0.0), "0:00:00");
        assert_eq!(hms(3725.4), "1:02:05");
        assert_eq!(date_text(0), "1970-01-01");
    }

    #[test]
    fn the_fonts_keep_egui_first_and_add_chinese() {
        let f = fonts();
        let prop = &f.families[&egui::FontFamily::Proportional];
        assert_eq!(prop.last().map(String::as_str), Some("noto_sans_sc"));
        assert!(prop.len() > 1);
        assert!(f.font_data.contains_key("noto_sans_sc"));
    }
}
