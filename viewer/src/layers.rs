//! Applies the layer state and styling ([`crate::style`]) to what is drawn: building colours,
//! opacity and the "as of" date through the tiles' vertex colours and positions (a hidden
//! building's vertices collapse to a point), the highlight of the selection, and the visibility
//! and opacity of the terrain, the draped lines and the water.

use bevy::mesh::VertexAttributeValues;
use bevy::prelude::*;

use crate::app::{BuildingTileMesh, ClosedRoads, OverlayLayer, Scene, Side, TerrainChunk, WaterSurface};
use crate::load::BUILDING_COLOR;
use crate::pick::{Selection, HIGHLIGHT};
use crate::style::{building_color, Classing, ColorBy, Coloring, LayerState};

/// How the layers are shown now, and the colouring of buildings.
#[derive(Resource, Clone, Debug)]
pub struct Styling {
    pub layers: LayerState,
    pub color_by: ColorBy,
    pub classing: Classing,
    /// The colours [`Styling::color_by`] gave (`None`: plain).
    pub coloring: Option<Coloring>,
    /// In split screen, the flood class colours of the run compared (the right side).
    pub compare_coloring: Option<Coloring>,
    /// Why the last colouring failed, for the UI.
    pub message: Option<String>,
    /// The playback time flood classes are shown at, s (`None`: the worst of the run).
    pub run_time_s: Option<f64>,
}

impl Styling {
    /// Everything shown in plain colours.
    pub fn new(scene: &crate::load::SceneData) -> Styling {
        Styling {
            layers: LayerState::all_shown(scene),
            color_by: ColorBy::Plain,
            classing: Classing::Categorised,
            coloring: None,
            compare_coloring: None,
            message: None,
            run_time_s: None,
        }
    }
}

/// Colours the buildings by `styling.color_by` (and, by flood class, for the run compared, the
/// second of `runs`); a failure leaves them plain with the reason in `styling.message`.
pub fn recolor(
    scene: &crate::load::SceneData,
    styling: &mut Styling,
    runs: &[Option<String>; 2],
    lang: crate::i18n::Lang,
) {
    let words = crate::style::LegendWords::of(lang);
    let by = styling.color_by.clone();
    let at = styling.run_time_s;
    let result = crate::style::color_buildings(scene, &by, styling.classing, runs[0].as_deref(), at, words)
        .and_then(|main| {
            let compare = match (&by, &runs[1]) {
                (ColorBy::FloodClass, Some(r)) => {
                    crate::style::color_buildings(scene, &by, styling.classing, Some(r), at, words)?
                }
                _ => None,
            };
            Ok((main, compare))
        });
    match result {
        Ok((main, compare)) => {
            styling.coloring = main;
            styling.compare_coloring = compare;
            styling.message = None;
        }
        Err(e) => {
            styling.coloring = None;
            styling.compare_coloring = None;
            styling.message = Some(e.to_string());
        }
    }
}

/// Buildings painted by the styling and the selection; layers shown, hidden and faded.
pub struct LayersPlugin;

impl Plugin for LayersPlugin {
    fn build(&self, app: &mut App) {
        if !app.world().contains_resource::<Styling>() {
            let styling = app.world().get_resource::<Scene>().map(|s| Styling::new(&s.0));
            if let Some(s) = styling {
                app.insert_resource(s);
            }
        }
        app.init_resource::<Selection>()
            .add_systems(PostUpdate, (paint_buildings, show_layers));
    }
}

/// What the tiles' meshes show now.
#[derive(Default)]
struct Painted {
    selected: Option<u32>,
    translucent: bool,
}

/// Rewrites every tile when the styling changes; only the old and new selection when just the
/// selection does.
fn paint_buildings(
    styling: Option<Res<Styling>>,
    selection: Res<Selection>,
    scene: Res<Scene>,
    tiles: Query<(
        &BuildingTileMesh,
        &Mesh3d,
        &MeshMaterial3d<StandardMaterial>,
        Option<&Side>,
    )>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut painted: Local<Painted>,
) {
    let Some(styling) = styling else { return };
    let full = styling.is_changed();
    if !full && (!selection.is_changed() || painted.selected == selection.building) {
        return;
    }
    let s = &scene.0;
    let layers = &styling.layers;
    let coloring_of = |side: usize| {
        if side == 1 && styling.compare_coloring.is_some() {
            styling.compare_coloring.as_ref()
        } else {
            styling.coloring.as_ref()
        }
    };
    let colour_of = |id: u32, plain: [f32; 4], side: usize| {
        if Some(id) == selection.building {
            HIGHLIGHT
        } else {
            building_color(coloring_of(side), layers, s, id, plain)
        }
    };
    let mut paint_tile = |tile_index: usize, only: Option<&[u32]>| {
        let Some(tile) = s.tiles.get(tile_index) else {
            return;
        };
        let ids: Vec<(u32, std::ops::Range<u32>)> = match only {
            Some(ids) => ids
                .iter()
                .filter_map(|&id| tile.range_of(id).map(|r| (id, r)))
                .collect(),
            None => tile.buildings.clone(),
        };
        // One entity a tile, or one a side in split screen.
        for (_, mesh3d, _, side) in tiles.iter().filter(|(t, ..)| t.0 == tile_index) {
            let side = side.map_or(0, |x| x.0);
            let Some(mut mesh) = meshes.get_mut(&mesh3d.0) else {
                continue;
            };
            if let Some(VertexAttributeValues::Float32x4(colors)) = mesh.attribute_mut(Mesh::ATTRIBUTE_COLOR)
            {
                for (id, r) in &ids {
                    let plain = tile
                        .mesh
                        .colors
                        .get(r.start as usize)
                        .copied()
                        .unwrap_or(BUILDING_COLOR);
                    let c = colour_of(*id, plain, side);
                    for k in r.start as usize..(r.end as usize).min(colors.len()) {
                        colors[k] = c;
                    }
                }
            }
            if full {
                if let Some(VertexAttributeValues::Float32x3(positions)) =
                    mesh.attribute_mut(Mesh::ATTRIBUTE_POSITION)
                {
                    for (id, r) in &ids {
                        let shown = layers.building_shown(s, *id);
                        let (a, b) = (r.start as usize, (r.end as usize).min(positions.len()));
                        let Some(original) = tile.mesh.positions.get(a..b) else {
                            continue;
                        };
                        let Some(&first) = original.first() else { continue };
                        let Some(target) = positions.get_mut(a..b) else {
                            continue;
                        };
                        for (p, o) in target.iter_mut().zip(original) {
                            *p = if shown { *o } else { first };
                        }
                    }
                }
            }
        }
    };
    if full {
        for t in 0..s.tiles.len() {
            paint_tile(t, None);
        }
        let translucent = layers.buildings_translucent();
        if translucent != painted.translucent {
            for (_, _, m, _) in &tiles {
                if let Some(mut mat) = materials.get_mut(&m.0) {
                    mat.alpha_mode = if translucent {
                        AlphaMode::Blend
                    } else {
                        AlphaMode::Opaque
                    };
                }
            }
            painted.translucent = translucent;
        }
    } else {
        for id in [painted.selected, selection.building].into_iter().flatten() {
            if let Some(rec) = s.buildings.get(id as usize) {
                paint_tile(rec.tile as usize, Some(&[id]));
            }
        }
    }
    painted.selected = selection.building;
}

/// Sets a material's opacity (blended below 1), touching it only when it changes (a touched
/// material is sent to the GPU again).
fn set_alpha(materials: &mut Assets<StandardMaterial>, handle: &Handle<StandardMaterial>, opacity: f32) {
    let a = opacity.clamp(0.0, 1.0);
    let mode = if a < 1.0 {
        AlphaMode::Blend
    } else {
        AlphaMode::Opaque
    };
    let same = materials
        .get(handle)
        .is_none_or(|m| (m.base_color.alpha() - a).abs() <= f32::EPSILON && m.alpha_mode == mode);
    if same {
        return;
    }
    if let Some(mut m) = materials.get_mut(handle) {
        m.base_color.set_alpha(a);
        m.alpha_mode = mode;
    }
}

/// Terrain, draped lines and water shown or hidden, and faded by their opacity: when the
/// styling changes or such an entity appears (the playback replaces the closed roads).
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn show_layers(
    styling: Option<Res<Styling>>,
    added: Query<
        (),
        Or<(
            Added<TerrainChunk>,
            Added<OverlayLayer>,
            Added<WaterSurface>,
            Added<ClosedRoads>,
        )>,
    >,
    scene: Res<Scene>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut terrain: Query<(&mut Visibility, &MeshMaterial3d<StandardMaterial>), With<TerrainChunk>>,
    mut overlays: Query<
        (&OverlayLayer, &mut Visibility, &MeshMaterial3d<StandardMaterial>),
        Without<TerrainChunk>,
    >,
    mut water_materials: ResMut<Assets<crate::water::WaterMaterial>>,
    mut water: Query<
        (&mut Visibility, &MeshMaterial3d<crate::water::WaterMaterial>),
        (With<WaterSurface>, Without<TerrainChunk>, Without<OverlayLayer>),
    >,
    mut closed: Query<
        &mut Visibility,
        (
            With<ClosedRoads>,
            Without<TerrainChunk>,
            Without<OverlayLayer>,
            Without<WaterSurface>,
        ),
    >,
) {
    let Some(styling) = styling else { return };
    if !styling.is_changed() && added.is_empty() {
        return;
    }
    let l = &styling.layers;
    let vis = |on: bool| {
        if on {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        }
    };
    // Materials are shared between chunks: each once.
    let mut done: Vec<AssetId<StandardMaterial>> = Vec::new();
    for (mut v, m) in &mut terrain {
        v.set_if_neq(vis(l.terrain.0));
        if !done.contains(&m.0.id()) {
            set_alpha(&mut materials, &m.0, l.terrain.1);
            done.push(m.0.id());
        }
    }
    for (o, mut v, m) in &mut overlays {
        let k = scene.0.overlays.iter().position(|x| x.layer == o.0);
        let (on, opacity) = k.and_then(|k| l.overlays.get(k)).copied().unwrap_or((true, 1.0));
        v.set_if_neq(vis(on));
        set_alpha(&mut materials, &m.0, opacity);
    }
    for (mut v, m) in &mut water {
        v.set_if_neq(vis(l.water.0));
        // Water is always blended (its colours carry their own alpha); its shader fades it.
        let opacity = l.water.1.clamp(0.0, 1.0);
        if water_materials
            .get(&m.0)
            .is_some_and(|w| w.params.opacity != opacity)
        {
            if let Some(mut w) = water_materials.get_mut(&m.0) {
                w.params.opacity = opacity;
            }
        }
    }
    for mut v in &mut closed {
        v.set_if_neq(vis(l.closed_roads));
    }
}
