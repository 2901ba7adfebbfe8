//! Buildings: the tiles of merged building meshes (one entity a tile, or one a side in split
//! screen), painted by the layers' [`Styling`] and the [`Selection`]: colours, opacity and the
//! "as of" date through the tiles' vertex colours and positions (a hidden building's vertices
//! collapse to a point), and the selected building highlighted. A tile whose features have a
//! coarser form has a second entity, its far level (LOD1), shown instead of the finest (LoD2)
//! while the tile is small on screen ([`tile_near`]); [`TileLevels`] says which is drawn.

use bevy::asset::RenderAssetUsages;
use bevy::mesh::VertexAttributeValues;
use bevy::prelude::*;

use crate::model::load::BUILDING_COLOR;
use crate::model::load::VEIL_M;
use crate::model::scene::{box_distance, tile_near, BuildingTile};
use crate::model::style::{building_color, HIGHLIGHT};
use crate::model::tiles::VeilRoof;
use crate::state::{
    order_sets, side_layers, to_bevy_mesh, PhotoMesh, Scene, Selection, Side, Split, Styling, TileLevels,
    TileSettings, ViewCamera, ViewHeightPx, ViewerSystems, FOV_Y,
};

/// The opacity of a building's volume over a photo mesh (selected or coloured).
pub const VEIL_ALPHA: f32 = 0.5;

/// Whether building `id` lies under photogrammetry.
fn s_under(scene: &crate::model::load::SceneData, id: u32) -> bool {
    scene.under_photo.get(id as usize).copied().unwrap_or(false)
}

/// The tops of volumes over the photo mesh fitted to it (local y), by building id, and the
/// buildings fitted since they were last painted (this plugin's own).
#[derive(Resource, Default, Debug)]
pub struct VeilTops {
    pub tops: std::collections::HashMap<u32, f32>,
    dirty: Vec<u32>,
    /// The roofs of the buildings to fit (made once).
    roofs: Option<Vec<VeilRoof>>,
}

/// Fits the volumes of buildings without a height under the photo mesh to the mesh's highest
/// point within their footprint, as photo tiles arrive (the highest seen so far, plus
/// [`VEIL_M`]).
fn fit_veils(
    scene: Res<Scene>,
    added: Query<&Mesh3d, Added<PhotoMesh>>,
    meshes: Res<Assets<Mesh>>,
    mut veils: ResMut<VeilTops>,
) {
    let s = &scene.0;
    if s.photo_fit.is_empty() || added.is_empty() {
        return;
    }
    let veils = &mut *veils;
    let roofs = veils.roofs.get_or_insert_with(|| {
        s.photo_fit
            .iter()
            .enumerate()
            .filter(|(_, fit)| **fit)
            .filter_map(|(id, _)| {
                let b = s.buildings.get(id)?;
                VeilRoof::of(s.tiles.get(b.tile as usize)?, id as u32)
            })
            .collect()
    });
    for m in &added {
        let Some(mesh) = meshes.get(&m.0) else { continue };
        let Some(VertexAttributeValues::Float32x3(points)) = mesh.attribute(Mesh::ATTRIBUTE_POSITION) else {
            continue;
        };
        let Some(bb) = crate::model::scene::bounds_of(points) else {
            continue;
        };
        for roof in roofs.iter() {
            let apart = roof.bbox[2] < bb.0[0]
                || roof.bbox[0] > bb.1[0]
                || roof.bbox[3] < bb.0[2]
                || roof.bbox[1] > bb.1[2];
            if apart {
                continue;
            }
            let Some(high) = roof.highest(points) else {
                continue;
            };
            let top = high + VEIL_M as f32;
            let was = veils.tops.get(&roof.id).copied().unwrap_or(f32::NEG_INFINITY);
            if top > was + 0.01 {
                veils.tops.insert(roof.id, top);
                veils.dirty.push(roof.id);
            }
        }
    }
}

/// A building tile's mesh entity: index into [`crate::model::load::SceneData::tiles`].
#[derive(Component, Debug)]
pub struct BuildingTileMesh(pub usize);

/// Marks the entity of a tile's far level ([`BuildingTile::far`]).
#[derive(Component, Debug)]
pub struct FarLevel;

/// The level of `tile` an entity draws.
fn level_of(tile: &BuildingTile, far: bool) -> Option<&BuildingTile> {
    if far {
        tile.far.as_deref()
    } else {
        Some(tile)
    }
}

/// The building tiles, painted.
pub struct BuildingsPlugin;

impl Plugin for BuildingsPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.init_resource::<Selection>()
            .init_resource::<TileLevels>()
            .add_systems(Startup, spawn_tiles)
            .init_resource::<VeilTops>()
            .add_systems(Update, choose_levels.in_set(ViewerSystems::Lod))
            .add_systems(Update, fit_veils.in_set(ViewerSystems::Style))
            .add_systems(PostUpdate, paint_buildings.in_set(ViewerSystems::Paint));
    }
}

/// One entity a tile (a side).
fn spawn_tiles(
    mut commands: Commands,
    scene: Res<Scene>,
    split: Option<Res<Split>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    // Absent in apps without rendering (the logic tests): tiles then draw plain.
    mut images: Option<ResMut<Assets<Image>>>,
) {
    let split = split.is_some_and(|s| s.0);
    let sides: &[usize] = if split { &[0, 1] } else { &[0] };
    let material = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: 0.9,
        reflectance: 0.2,
        ..default()
    });
    let plain = material.clone();
    for (i, tile) in scene.0.tiles.iter().enumerate() {
        // A tile with photo textures gets its own material, its atlas as the base colour.
        let atlas = tile.atlas.as_ref().and_then(|a| a.image.as_ref());
        let material = match (atlas, images.as_mut()) {
            (Some(img), Some(images)) => {
                let image = images.add(Image::new(
                    bevy::render::render_resource::Extent3d {
                        width: img.width,
                        height: img.height,
                        depth_or_array_layers: 1,
                    },
                    bevy::render::render_resource::TextureDimension::D2,
                    img.pixels.clone(),
                    bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
                    RenderAssetUsages::RENDER_WORLD,
                ));
                materials.add(StandardMaterial {
                    base_color: Color::WHITE,
                    base_color_texture: Some(image),
                    perceptual_roughness: 0.9,
                    reflectance: 0.2,
                    ..default()
                })
            }
            // Volumes over a photo mesh are translucent: a material of their own.
            _ if tile
                .buildings
                .iter()
                .any(|(id, _)| scene.0.under_photo.get(*id as usize) == Some(&true)) =>
            {
                materials.add(StandardMaterial {
                    base_color: Color::WHITE,
                    alpha_mode: AlphaMode::Blend,
                    double_sided: true,
                    cull_mode: None,
                    ..default()
                })
            }
            _ => material.clone(),
        };
        for &side in sides {
            let mut e = commands.spawn((
                Mesh3d(meshes.add(to_bevy_mesh(&tile.mesh, RenderAssetUsages::default()))),
                MeshMaterial3d(material.clone()),
                Transform::IDENTITY,
                Visibility::Inherited,
                BuildingTileMesh(i),
                Side(side),
            ));
            if split {
                e.insert(side_layers(side));
            }
            // The far level: plain (no photo textures), hidden until the tile is small.
            if let Some(far) = &tile.far {
                let mut e = commands.spawn((
                    Mesh3d(meshes.add(to_bevy_mesh(&far.mesh, RenderAssetUsages::default()))),
                    MeshMaterial3d(plain.clone()),
                    Transform::IDENTITY,
                    Visibility::Hidden,
                    BuildingTileMesh(i),
                    FarLevel,
                    Side(side),
                ));
                if split {
                    e.insert(side_layers(side));
                }
            }
        }
    }
}

/// Shows each tile's near or far level as its size on screen from each side's camera asks
/// ([`tile_near`], measured to the nearest point of the tile).
fn choose_levels(
    scene: Res<Scene>,
    cameras: Query<(&ViewCamera, Option<&Side>)>,
    windows: Query<&Window>,
    view_h: Option<Res<ViewHeightPx>>,
    mut levels: ResMut<TileLevels>,
    mut entities: Query<(&BuildingTileMesh, Has<FarLevel>, Option<&Side>, &mut Visibility)>,
) {
    let tiles = &scene.0.tiles;
    if !tiles.iter().any(|t| t.far.is_some()) {
        return;
    }
    let h = windows
        .iter()
        .next()
        .map(|w| w.height())
        .or(view_h.map(|v| v.0))
        .unwrap_or(1080.0);
    let mut eyes: [Option<[f32; 3]>; 2] = [None, None];
    for (c, side) in &cameras {
        let k = side.map_or(0, |s| s.0.min(1));
        eyes[k].get_or_insert(c.0.eye());
    }
    let mut next = TileLevels {
        far: vec![[false; 2]; tiles.len()],
    };
    for (k, t) in tiles.iter().enumerate() {
        if t.far.is_none() {
            continue;
        }
        for (side, eye) in eyes.iter().enumerate() {
            let Some(eye) = *eye else { continue };
            let d = box_distance(eye, t.bounds.0, t.bounds.1);
            let was_near = !levels.far(k, side);
            // A tile starts far (the first frame has no "was").
            let was_near = was_near && !levels.far.is_empty();
            next.far[k][side] = !tile_near(t.feature_m, d, h, FOV_Y, was_near);
        }
    }
    if next == *levels {
        return;
    }
    *levels = next;
    for (tile, far, side, mut v) in &mut entities {
        let side = side.map_or(0, |s| s.0);
        let shown = levels.far(tile.0, side) == far;
        v.set_if_neq(if shown {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        });
    }
}

/// A tile's entity as the painter sees it: which tile, its mesh and material, its side and
/// whether it is the far level.
type TileEntity = (
    &'static BuildingTileMesh,
    &'static Mesh3d,
    &'static MeshMaterial3d<StandardMaterial>,
    Option<&'static Side>,
    Has<FarLevel>,
);

/// A building's own colour in its tile (that of its first vertex).
fn plain_of(tile: &BuildingTile, r: &std::ops::Range<u32>) -> [f32; 4] {
    tile.mesh
        .colors
        .get(r.start as usize)
        .copied()
        .unwrap_or(BUILDING_COLOR)
}

/// What the tiles' meshes show now.
#[derive(Default)]
struct Painted {
    selected: Option<u32>,
    translucent: bool,
    photo_shown: bool,
}

/// Rewrites every tile when the styling changes; only the old and new selection when just the
/// selection does.
#[allow(clippy::too_many_arguments)]
fn paint_buildings(
    styling: Option<Res<Styling>>,
    selection: Res<Selection>,
    scene: Res<Scene>,
    photo: Option<Res<TileSettings>>,
    mut veils: ResMut<VeilTops>,
    tiles: Query<TileEntity>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut painted: Local<Painted>,
) {
    let Some(styling) = styling else { return };
    let fitted = std::mem::take(&mut veils.dirty);
    // Under a shown photo mesh a building is a volume over it, drawn only while selected or
    // coloured, and then translucent.
    let photo_shown = photo.is_some_and(|p| p.photo_shown(&scene.0));
    let full = styling.is_changed() || painted.photo_shown != photo_shown;
    let veiled = |id: u32| photo_shown && s_under(&scene.0, id);
    if !full && fitted.is_empty() && (!selection.is_changed() || painted.selected == selection.building) {
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
        let c = if Some(id) == selection.building {
            HIGHLIGHT
        } else {
            building_color(coloring_of(side), layers, s, id, plain)
        };
        if veiled(id) && c != plain {
            [c[0], c[1], c[2], c[3].min(VEIL_ALPHA)]
        } else {
            c
        }
    };
    // A veiled building in its plain colour is not drawn.
    let drawn = |id: u32, side: usize, plain: [f32; 4]| {
        layers.building_shown(s, id) && (!veiled(id) || colour_of(id, plain, side) != plain)
    };
    let mut paint_tile = |tile_index: usize, only: Option<&[u32]>| {
        let Some(whole) = s.tiles.get(tile_index) else {
            return;
        };
        // One entity a tile (and one for its far level), or that a side in split screen.
        for (_, mesh3d, _, side, far) in tiles.iter().filter(|(t, ..)| t.0 == tile_index) {
            let Some(tile) = level_of(whole, far) else {
                continue;
            };
            let ids: Vec<(u32, std::ops::Range<u32>)> = match only {
                Some(ids) => ids
                    .iter()
                    .filter_map(|&id| tile.range_of(id).map(|r| (id, r)))
                    .collect(),
                None => tile.buildings.clone(),
            };
            let side = side.map_or(0, |x| x.0);
            let Some(mut mesh) = meshes.get_mut(&mesh3d.0) else {
                continue;
            };
            if let Some(VertexAttributeValues::Float32x4(colors)) = mesh.attribute_mut(Mesh::ATTRIBUTE_COLOR)
            {
                for (id, r) in &ids {
                    let plain = plain_of(tile, r);
                    let c = colour_of(*id, plain, side);
                    // Unstyled, a building keeps its faces' own colours (materials, white under
                    // a photo texture).
                    let own = c == plain;
                    for k in r.start as usize..(r.end as usize).min(colors.len()) {
                        colors[k] = if own {
                            tile.mesh.colors.get(k).copied().unwrap_or(plain)
                        } else {
                            c
                        };
                    }
                }
            }
            if full
                || ids
                    .iter()
                    .any(|(id, _)| veiled(*id) || veils.tops.contains_key(id))
            {
                if let Some(VertexAttributeValues::Float32x3(positions)) =
                    mesh.attribute_mut(Mesh::ATTRIBUTE_POSITION)
                {
                    for (id, r) in &ids {
                        let shown = drawn(*id, side, plain_of(tile, r));
                        let (a, b) = (r.start as usize, (r.end as usize).min(positions.len()));
                        let Some(original) = tile.mesh.positions.get(a..b) else {
                            continue;
                        };
                        let Some(&first) = original.first() else { continue };
                        let Some(target) = positions.get_mut(a..b) else {
                            continue;
                        };
                        // A roof fitted to the photo mesh: at its height.
                        let roof = veils
                            .tops
                            .get(id)
                            .map(|t| (original.iter().map(|o| o[1]).fold(f32::MIN, f32::max), *t));
                        for (p, o) in target.iter_mut().zip(original) {
                            *p = match (shown, roof) {
                                (false, _) => first,
                                (true, Some((was, top))) if (o[1] - was).abs() < 1e-3 => [o[0], top, o[2]],
                                (true, _) => *o,
                            };
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
            for (t, _, m, ..) in &tiles {
                // Tiles with volumes over a photo mesh stay blended.
                let veils = s
                    .tiles
                    .get(t.0)
                    .is_some_and(|tile| tile.buildings.iter().any(|(id, _)| s_under(s, *id)));
                if veils {
                    continue;
                }
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
        for id in [painted.selected, selection.building]
            .into_iter()
            .flatten()
            .chain(fitted.iter().copied())
        {
            if let Some(rec) = s.buildings.get(id as usize) {
                paint_tile(rec.tile as usize, Some(&[id]));
            }
        }
    }
    painted.selected = selection.building;
    painted.photo_shown = photo_shown;
}
