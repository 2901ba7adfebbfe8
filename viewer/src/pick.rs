//! Picking: a click casts a ray from the camera through the cursor. Buildings are hit exactly
//! against their drawn meshes (tile boxes first, nearest first), so hidden ones are clicked
//! through; where the ray reaches the terrain first, the feature on the ground there is found in
//! the spatial index (`CityIndex::at_ground`: a road within a few pixels, else the parcel under
//! the point). A picked building is highlighted in its tile's mesh; a picked road
//! or parcel gets an outline draped over it.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use cim_engine::{CityIndex, Feature, FeatureKind, PickHit, PickSurface, StoredFeature};

use crate::data::{Data, Pending};
use crate::model::load::{lines_of, road_width_m, SceneData};
use crate::model::scene::{drape_ribbon, ground, LocalOrigin, MeshData};
use crate::state::{
    order_sets, to_bevy_mesh, PhotoFeatures, PhotoMesh, Scene, Select, Selection, Side, Styling, TileFeature,
    TileLevels, TileSettings, ViewCamera, ViewerSystems, FOV_Y,
};

/// A click moves the cursor at most this far between press and release, pixels (more is a drag).
const CLICK_SLOP_PX: f32 = 4.0;

/// A road is picked by a click at most this many pixels beside its drawn edge.
const ROAD_SLOP_PX: f64 = 6.0;

/// Width of the outline drawn round a selected parcel (or other polygon), m.
const OUTLINE_M: f64 = 1.6;

/// What clicks on the ground are picked against: the features other than buildings (parcels,
/// roads, water, ...). Buildings are picked against their drawn meshes
/// ([`crate::model::scene::BuildingTile::ray_hit`]), which costs no memory beyond the tiles.
pub struct PickIndex {
    pub ground: CityIndex,
}

impl PickIndex {
    /// The index of `source`'s features on the ground.
    pub async fn load(source: &dyn crate::model::source::DataSource) -> anyhow::Result<PickIndex> {
        Ok(PickIndex {
            ground: source.ground_index().await?,
        })
    }
}

/// The index picks are made against (`None` where it could not be loaded).
#[derive(Resource)]
pub struct Picker(pub Option<PickIndex>);

/// The outline drawn over a selected feature that is not a building.
#[derive(Component, Debug)]
pub struct SelectionOutline;

/// Click to pick; outlines for selected roads and parcels (the building highlight is drawn by
/// [`crate::buildings::BuildingsPlugin`]).
pub struct PickPlugin;

impl Plugin for PickPlugin {
    fn build(&self, app: &mut App) {
        // The click is judged after the frame's panels are laid out (egui's pass runs in
        // PostUpdate), so whether the pointer is over a panel is known for this frame's pointer
        // position: a tap or a quick click that lands on a panel in the same frame as the pointer
        // moved there (touch screens in the hall, scripted clicks) is the panel's, not a pick.
        order_sets(app);
        app.init_resource::<Selection>()
            .add_message::<Select>()
            .init_resource::<Outlining>()
            .add_systems(
                PostUpdate,
                click_to_pick.after(bevy_egui::EguiPostUpdateSet::ProcessOutput),
            )
            .add_systems(
                Update,
                (select, outline_selection).chain().in_set(ViewerSystems::Input),
            );
    }
}

/// How far along the ray `origin + t * dir` (project CRS, `dir` of unit length) it first
/// reaches the ground: the terrain, or the lowest ground level off it. `None` when it never
/// does (looking up, or level above everything).
pub fn ray_ground(scene: &SceneData, origin: [f64; 3], dir: [f64; 3]) -> Option<f64> {
    let (lo, hi) = (f64::from(scene.ramp.min_m), f64::from(scene.ramp.max_m));
    let at = |t: f64| {
        [
            origin[0] + t * dir[0],
            origin[1] + t * dir[1],
            origin[2] + t * dir[2],
        ]
    };
    let above = |t: f64| {
        let p = at(t);
        p[2] - ground(scene.terrain.as_ref(), p[0], p[1], lo)
    };
    if !origin.iter().chain(dir.iter()).all(|v| v.is_finite()) {
        return None;
    }
    if above(0.0) <= 0.0 {
        return Some(0.0);
    }
    // Only the stretch of the ray between the highest and the lowest ground can meet it.
    let start = if origin[2] > hi {
        if dir[2] >= 0.0 {
            return None;
        }
        (origin[2] - hi) / -dir[2]
    } else {
        0.0
    };
    let end = if dir[2] < 0.0 {
        (origin[2] - lo) / -dir[2]
    } else {
        // Level or rising from below the highest ground: as far as the scene reaches.
        let e = scene.extent;
        start + 2.0 * (e[2] - e[0]).hypot(e[3] - e[1])
    };
    let cell = scene.terrain.as_ref().map_or(1.0, |t| t.cell_w.min(t.cell_h));
    let steps = ((end - start) / (0.5 * cell)).ceil().clamp(1.0, 200_000.0);
    let step = (end - start) / steps;
    let mut prev = start;
    for k in 1..=steps as usize {
        let t = start + k as f64 * step;
        if above(t) <= 0.0 {
            // Bisect between the last point above and the first below.
            let (mut a, mut b) = (prev, t);
            for _ in 0..40 {
                let m = 0.5 * (a + b);
                if above(m) <= 0.0 {
                    b = m;
                } else {
                    a = m;
                }
            }
            return Some(b);
        }
        prev = t;
    }
    None
}

/// The first shown building whose mesh the ray `origin + t·dir` (viewer frame, `dir` of unit
/// length) meets before `max_t`: (building, t, the triangle's normal facing the ray, the
/// surface tag of the triangle hit). Tiles are tried nearest first, each at the level drawn
/// (`far(tile)`: its far level, where it has one).
pub fn ray_building(
    scene: &SceneData,
    origin: [f32; 3],
    dir: [f32; 3],
    max_t: f32,
    shown: &dyn Fn(u32) -> bool,
    far: &dyn Fn(usize) -> bool,
) -> Option<(u32, f32, [f32; 3], Option<u32>)> {
    let level = |k: usize| {
        let t = &scene.tiles[k];
        match (far(k), &t.far) {
            (true, Some(f)) => f.as_ref(),
            _ => t,
        }
    };
    let mut tiles: Vec<(f32, usize)> = (0..scene.tiles.len())
        .filter_map(|k| {
            let t = level(k);
            crate::model::scene::ray_box(origin, dir, t.bounds.0, t.bounds.1).map(|e| (e, k))
        })
        .filter(|(e, _)| *e < max_t)
        .collect();
    tiles.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut best: Option<(u32, f32, [f32; 3], Option<u32>)> = None;
    for (enter, k) in tiles {
        let limit = best.map_or(max_t, |b| b.1);
        if enter >= limit {
            break;
        }
        if let Some(hit) = level(k).ray_hit_surface(origin, dir, limit, shown) {
            best = Some(hit);
        }
    }
    best
}

/// The first feature hit by a ray from `origin` along `dir` (viewer frame), and the building
/// it is in the scene if it is one: a shown building whose mesh the ray meets before the
/// ground, else the feature on the ground where it lands (a road within `road_slop_m` of its
/// drawn edge, else the smallest parcel or other polygon there).
#[allow(clippy::too_many_arguments)]
pub fn pick_ray(
    scene: &SceneData,
    index: &PickIndex,
    origin: Vec3,
    dir: Vec3,
    road_slop_m: f64,
    shown: &dyn Fn(u32) -> bool,
    far: &dyn Fn(usize) -> bool,
    photo_t: Option<f32>,
) -> Option<(PickHit, Option<u32>)> {
    let dir = dir.normalize_or_zero();
    let o = scene.origin.to_project(origin.to_array());
    let d = LocalOrigin::dir_to_project(dir.to_array());
    let landing = ray_ground(scene, o, d);
    // Half a metre past the ground for rounding: a building behind a hill is not picked.
    let mut max_t = landing.map_or(f32::INFINITY, |t| t as f32 + 0.5);
    // A photo mesh met first: what lies behind it is not picked.
    let photo_t = photo_t.filter(|t| *t < max_t);
    if let Some(t) = photo_t {
        max_t = t;
    }
    if let Some((id, t, n, tag)) = ray_building(scene, origin.to_array(), dir.to_array(), max_t, shown, far) {
        let b = &scene.buildings[id as usize];
        // The surface clicked: its class and face in the 3-D geometry drawn (a prism's roof or
        // wall where the building has none, or where its LOD1 form is drawn far).
        let far_drawn =
            far(b.tile as usize) && scene.tiles.get(b.tile as usize).is_some_and(|t| t.far.is_some());
        let lod = if far_drawn {
            "1"
        } else {
            b.lod.as_deref().unwrap_or("1")
        };
        let surface = tag.map(|t| PickSurface::from_tag(t, lod));
        let t = f64::from(t);
        let point = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
        let hit = building_hit(scene, id, t, point, LocalOrigin::dir_to_project(n), surface);
        return Some((hit, Some(id)));
    }
    if let Some(t) = photo_t {
        // 单体化: the building whose footprint holds the point of the photo mesh clicked.
        let t = f64::from(t);
        let p = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
        if let Some(id) = building_under(scene, p) {
            let hit = building_hit(scene, id, t, p, [-d[0], -d[1], -d[2]], None);
            return Some((hit, Some(id)));
        }
        // Else what lies on the ground there (a road, a parcel).
        let radius = 0.5 * crate::model::load::ROAD_WIDTH_M + road_slop_m;
        let mut hit = index.ground.at_ground([p[0], p[1]], p[2], radius)?;
        hit.distance_m = t;
        hit.point = p;
        return Some((hit, None));
    }
    let t = landing?;
    let p = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
    // Roads are drawn their width wide; the index knows their centre lines.
    let radius = 0.5 * crate::model::load::ROAD_WIDTH_M + road_slop_m;
    let mut hit = index.ground.at_ground([p[0], p[1]], p[2], radius)?;
    hit.distance_m = t;
    Some((hit, None))
}

/// A hit on building `id` of the scene at `distance_m` along the ray, at `point` (project CRS).
fn building_hit(
    scene: &SceneData,
    id: u32,
    distance_m: f64,
    point: [f64; 3],
    normal: [f64; 3],
    surface: Option<PickSurface>,
) -> PickHit {
    let b = &scene.buildings[id as usize];
    PickHit {
        code: b.code.clone(),
        layer: scene
            .layers
            .get(usize::from(b.layer))
            .cloned()
            .unwrap_or_default(),
        kind: b.kind,
        distance_m,
        point,
        normal,
        surface,
    }
}

/// The building under photogrammetry whose footprint holds point `p` (project CRS): the
/// volume a ray straight down over it meets first.
pub fn building_under(scene: &SceneData, p: [f64; 3]) -> Option<u32> {
    if scene.under_photo.is_empty() {
        return None;
    }
    let top = f64::from(scene.ramp.max_m).max(p[2]) + 1_000.0;
    let from = scene.origin.to_local(p[0], p[1], top);
    let under = |id: u32| scene.under_photo.get(id as usize).copied().unwrap_or(false);
    ray_building(scene, from, [0.0, -1.0, 0.0], f32::INFINITY, &under, &|_| false).map(|h| h.0)
}

/// How far along the ray (viewer frame, `dir` of unit length) it first meets one of `meshes`.
pub fn ray_meshes<'a>(
    meshes: impl Iterator<Item = &'a Mesh>,
    origin: [f32; 3],
    dir: [f32; 3],
) -> Option<f32> {
    ray_meshes_at(meshes, origin, dir).map(|h| h.0)
}

/// [`ray_meshes`], with which mesh (in the order given) and the first vertex of the triangle
/// met.
pub fn ray_meshes_at<'a>(
    meshes: impl Iterator<Item = &'a Mesh>,
    origin: [f32; 3],
    dir: [f32; 3],
) -> Option<(f32, usize, u32)> {
    use bevy::mesh::{Indices, VertexAttributeValues};
    let mut best: Option<(f32, usize, u32)> = None;
    for (which, m) in meshes.enumerate() {
        let Some(VertexAttributeValues::Float32x3(p)) = m.attribute(Mesh::ATTRIBUTE_POSITION) else {
            continue;
        };
        let Some(Indices::U32(idx)) = m.indices() else {
            continue;
        };
        for tri in idx.chunks_exact(3) {
            let (Some(a), Some(b), Some(c)) = (
                p.get(tri[0] as usize),
                p.get(tri[1] as usize),
                p.get(tri[2] as usize),
            ) else {
                continue;
            };
            if let Some(t) = crate::model::scene::ray_triangle(origin, dir, *a, *b, *c) {
                if best.is_none_or(|b| t < b.0) {
                    best = Some((t, which, tri[0]));
                }
            }
        }
    }
    best
}

/// What a click is cast against besides buildings and the ground: the photo meshes drawn.
type PhotoMeshes<'w, 's> = (
    Option<Res<'w, TileSettings>>,
    Query<
        'w,
        's,
        (
            &'static Mesh3d,
            &'static Visibility,
            Option<&'static PhotoFeatures>,
        ),
        With<PhotoMesh>,
    >,
    Res<'w, Assets<Mesh>>,
);

#[allow(clippy::too_many_arguments)]
fn click_to_pick(
    buttons: Res<ButtonInput<MouseButton>>,
    windows: Query<&Window>,
    cameras: Query<(&Camera, &GlobalTransform, &ViewCamera, Option<&Side>)>,
    picker: Option<Res<Picker>>,
    scene: Res<Scene>,
    styling: Option<Res<Styling>>,
    levels: Option<Res<TileLevels>>,
    mut select: MessageWriter<Select>,
    wants: Option<Res<bevy_egui::input::EguiWantsInput>>,
    mut pressed_at: Local<Option<Vec2>>,
    (photo, photo_meshes, meshes): PhotoMeshes,
) {
    // A press or release over a panel is the panel's.
    let free = crate::input::pointer_free(wants);
    let Some(window) = windows.iter().next() else {
        return;
    };
    let Some(cursor) = window.cursor_position() else {
        return;
    };
    if buttons.just_pressed(MouseButton::Left) {
        *pressed_at = free.then_some(cursor);
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let Some(start) = pressed_at.take() else { return };
    if !free {
        return;
    }
    if start.distance(cursor) > CLICK_SLOP_PX {
        return;
    }
    let Some(index) = picker.as_ref().and_then(|p| p.0.as_ref()) else {
        return;
    };
    // The camera of the half clicked in a split window, else the only one.
    let Some((camera, transform, orbit, side)) = cameras
        .iter()
        .find(|(c, ..)| c.logical_viewport_rect().is_none_or(|r| r.contains(cursor)))
    else {
        return;
    };
    let Ok(ray) = camera.viewport_to_world(transform, cursor) else {
        return;
    };
    // Metres a pixel at the focus: how far beside a road a click still picks it.
    let m_per_px = 2.0 * orbit.0.distance * (0.5 * FOV_Y).tan() / window.height().max(1.0);
    let slop = f64::from(m_per_px) * ROAD_SLOP_PX;
    // Buildings hidden by their layer or the "as of" date are clicked through; those under a
    // shown photo mesh are picked through it.
    let photo_shown = photo.as_ref().is_some_and(|p| p.photo_shown(&scene.0));
    let shown = |id: u32| {
        let veiled = photo_shown && scene.0.under_photo.get(id as usize).copied().unwrap_or(false);
        !veiled
            && styling
                .as_ref()
                .is_none_or(|s| s.layers.building_shown(&scene.0, id))
    };
    let drawn: Vec<(&Mesh, Option<&PhotoFeatures>)> = if photo_shown {
        photo_meshes
            .iter()
            .filter(|(_, v, _)| **v != Visibility::Hidden)
            .filter_map(|(m, _, f)| Some((meshes.get(&m.0)?, f)))
            .collect()
    } else {
        Vec::new()
    };
    let photo = ray_meshes_at(
        drawn.iter().map(|(m, _)| *m),
        ray.origin.to_array(),
        ray.direction.to_array(),
    );
    let photo_t = photo.map(|h| h.0);
    // The tileset's own feature there (a 3D Tiles building with its properties).
    let tile_feature = photo.and_then(|(_, which, v)| {
        let f = drawn.get(which)?.1?;
        let id = *f.ids.get(v as usize)?;
        Some(TileFeature {
            tileset: f.tileset.clone(),
            tile: f.tile,
            id,
            properties: f.properties.get(&id).cloned().unwrap_or_default(),
        })
    });
    // Each tile at the level drawn on that side.
    let side = side.map_or(0, |s| s.0);
    let far = |tile: usize| levels.as_ref().is_some_and(|l| l.far(tile, side));
    select.write(Select(
        match pick_ray(
            &scene.0,
            index,
            ray.origin,
            *ray.direction,
            slop,
            &shown,
            &far,
            photo_t,
        ) {
            // A building of the project there (its footprint holds the point): the building.
            Some((hit, Some(building))) => Selection {
                building: Some(building),
                hit: Some(hit),
                tile_feature: None,
            },
            Some((hit, None)) => Selection {
                building: None,
                hit: Some(hit),
                tile_feature,
            },
            None => Selection {
                tile_feature,
                ..Default::default()
            },
        },
    ));
}

/// The outline of a selected feature that is not a building drawn: its lines (a road a little
/// wider than drawn, a polygon's rings) draped on the terrain in the highlight colour.
pub fn outline_mesh(scene: &SceneData, f: &Feature) -> MeshData {
    let terrain = scene.terrain.as_ref();
    let step = terrain.map_or(5.0, |t| t.cell_w.min(t.cell_h).max(0.25));
    let width = match f.kind {
        FeatureKind::Road => road_width_m(&f.attributes) + 1.5,
        _ => OUTLINE_M,
    };
    let mut mesh = MeshData::default();
    for l in lines_of(&f.geometry) {
        drape_ribbon(
            l,
            width,
            step,
            terrain,
            f64::from(scene.ramp.min_m),
            crate::model::style::HIGHLIGHT,
            &scene.origin,
            &mut mesh,
        );
    }
    mesh
}

/// The selection the frame's [`Select`]s leave.
fn select(mut asks: MessageReader<Select>, mut selection: ResMut<Selection>) {
    if let Some(last) = asks.read().last() {
        if *selection != last.0 {
            *selection = last.0.clone();
        }
    }
}

/// The selected feature, read for its outline.
#[derive(Resource, Default)]
struct Outlining(Pending<Option<StoredFeature>>);

/// Replaces the outline when the selection changes: none for a building (its tile is
/// recoloured) or for nothing; the draped outline for anything else, once its feature is read.
#[allow(clippy::too_many_arguments)]
fn outline_selection(
    mut commands: Commands,
    selection: Res<Selection>,
    scene: Res<Scene>,
    data: Option<Res<Data>>,
    outlines: Query<Entity, With<SelectionOutline>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut pending: ResMut<Outlining>,
) {
    if selection.is_changed() {
        for e in &outlines {
            commands.entity(e).despawn();
        }
        pending.0 = Pending::default();
        if let (Some(hit), Some(data)) = (
            selection.hit.as_ref().filter(|_| selection.building.is_none()),
            &data,
        ) {
            let (source, code) = (data.0.clone(), hit.code.clone());
            pending.0.ask(async move { source.feature(code).await });
        }
    }
    let Some(Ok(Some(found))) = pending.0.take() else {
        return;
    };
    let mesh = outline_mesh(&scene.0, &found.feature);
    if mesh.is_empty() {
        return;
    }
    commands.spawn((
        Mesh3d(meshes.add(to_bevy_mesh(&mesh, RenderAssetUsages::RENDER_WORLD))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::WHITE,
            unlit: true,
            // Over the road or parcel line it outlines, which lies at the same height.
            depth_bias: 30.0,
            ..default()
        })),
        Transform::IDENTITY,
        SelectionOutline,
    ));
}
