//! The ground: terrain chunks meshed at the level of detail their distance needs (nearest
//! first, a few a frame), or a flat plane where the project has no terrain; and the sun and
//! sky over it. The terrain's visibility and opacity follow the layers' [`Styling`].

use std::collections::HashMap;

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::light::CascadeShadowConfigBuilder;
use bevy::prelude::*;

use crate::model::scene::{chunk_extent, chunk_grid, chunk_mesh, lod_step_for, step_errors, ChunkKey, STEPS};
use crate::state::{
    order_sets, set_alpha, to_bevy_mesh, visibility, Scene, Styling, TileSettings, ViewCamera, ViewHeightPx,
    ViewerSystems, FOV_Y,
};

/// The terrain's mesh may stray this many pixels from the DEM on screen…
const TERRAIN_ERROR_PX: f64 = 2.0;
/// …and its vertices may be this many pixels apart (so shading and colour stay smooth).
const TERRAIN_SPACING_PX: f64 = 48.0;

/// At most this many terrain chunks are re-meshed a frame (nearest first), so moving never stalls.
const CHUNKS_PER_FRAME: usize = 48;

/// A terrain chunk and the step its mesh has now (0: none yet).
#[derive(Component, Debug)]
pub struct TerrainChunk {
    pub key: ChunkKey,
    pub step: usize,
    /// Centre and radius of the chunk in the local frame.
    pub centre: Vec3,
    pub radius: f32,
    /// How far the mesh at each step strays from the DEM, m ([`step_errors`]).
    pub errors: [f32; 6],
    /// Triangles of the mesh it has now (skirts included).
    pub triangles: usize,
}

/// Terrain chunks re-meshed at most a frame (default [`CHUNKS_PER_FRAME`]; an offscreen image
/// takes them all at once).
#[derive(Resource, Clone, Copy, Debug)]
pub struct TerrainBudget(pub usize);

/// Terrain chunks still waiting for the mesh their distance needs.
#[derive(Resource, Default, Debug)]
pub struct TerrainBacklog(pub usize);

/// The ground, the sun and the sky.
pub struct TerrainPlugin;

impl Plugin for TerrainPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.insert_resource(ClearColor(Color::srgb(0.62, 0.75, 0.88)))
            .insert_resource(GlobalAmbientLight {
                color: Color::srgb(0.75, 0.82, 0.95),
                brightness: 350.0,
                ..default()
            })
            .init_resource::<TerrainBacklog>()
            .add_systems(Startup, (spawn_ground, spawn_sun))
            .add_systems(Update, update_terrain_lod.in_set(ViewerSystems::Lod))
            .add_systems(PostUpdate, show_terrain.in_set(ViewerSystems::Paint));
    }
}

/// Terrain chunks (meshed by [`update_terrain_lod`]), or a flat ground under the buildings.
fn spawn_ground(
    mut commands: Commands,
    scene: Res<Scene>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let s = &scene.0;
    let ground = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: 1.0,
        reflectance: 0.05,
        ..default()
    });
    match &s.terrain {
        Some(r) => {
            let (nx, ny) = chunk_grid(r);
            let mid = 0.5 * (s.ramp.min_m + s.ramp.max_m);
            for cy in 0..ny {
                for cx in 0..nx {
                    let key = ChunkKey { cx, cy };
                    let e = chunk_extent(r, key);
                    let c = s
                        .origin
                        .to_local(0.5 * (e[0] + e[2]), 0.5 * (e[1] + e[3]), f64::from(mid));
                    let half = [
                        0.5 * (e[2] - e[0]),
                        0.5 * (e[3] - e[1]),
                        0.5 * f64::from(s.ramp.max_m - s.ramp.min_m),
                    ];
                    let radius = (half[0] * half[0] + half[1] * half[1] + half[2] * half[2]).sqrt() as f32;
                    commands.spawn((
                        TerrainChunk {
                            key,
                            step: 0,
                            centre: Vec3::from_array(c),
                            radius,
                            errors: step_errors(r, key),
                            triangles: 0,
                        },
                        MeshMaterial3d(ground.clone()),
                        Transform::IDENTITY,
                        Visibility::default(),
                    ));
                }
            }
        }
        None => {
            // A flat ground under the buildings.
            let e = s.extent;
            let size = Vec2::new(
                (e[2] - e[0]) as f32 * 1.2 + 100.0,
                (e[3] - e[1]) as f32 * 1.2 + 100.0,
            );
            commands.spawn((
                Mesh3d(meshes.add(Plane3d::default().mesh().size(size.x, size.y))),
                MeshMaterial3d(materials.add(StandardMaterial {
                    base_color: Color::srgb(0.35, 0.42, 0.30),
                    perceptual_roughness: 1.0,
                    ..default()
                })),
                Transform::IDENTITY,
            ));
        }
    }
}

/// The sun from the south-south-east, 40° up, its shadows reaching as far as the camera sees.
fn spawn_sun(mut commands: Commands, scene: Res<Scene>, cameras: Query<&ViewCamera>) {
    let s = &scene.0;
    let (az, el) = (150f32.to_radians(), 40f32.to_radians());
    let to_sun = Vec3::new(az.sin() * el.cos(), el.sin(), -az.cos() * el.cos());
    let span = ((s.extent[2] - s.extent[0]).hypot(s.extent[3] - s.extent[1]) as f32).max(100.0);
    let reach = cameras
        .iter()
        .next()
        .map_or(span, |c| c.0.distance * 2.0)
        .max(span);
    commands.spawn((
        DirectionalLight {
            illuminance: 5_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::IDENTITY.looking_to(-to_sun, Vec3::Y),
        // Lights both sides of a split screen.
        RenderLayers::from_layers(&[0, 1, 2]),
        CascadeShadowConfigBuilder {
            num_cascades: 3,
            first_cascade_far_bound: reach * 0.15,
            maximum_distance: reach * 1.5,
            ..default()
        }
        .build(),
    ));
}

/// A chunk's mesh at one step, and its triangle count.
type ChunkMesh = (Handle<Mesh>, usize);

/// Gives each terrain chunk the mesh its distance from the camera needs, nearest first, a few a
/// frame.
#[allow(clippy::too_many_arguments)]
fn update_terrain_lod(
    mut commands: Commands,
    scene: Res<Scene>,
    view_h: Option<Res<ViewHeightPx>>,
    budget: Option<Res<TerrainBudget>>,
    cameras: Query<&ViewCamera>,
    mut chunks: Query<(Entity, &mut TerrainChunk)>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut backlog: ResMut<TerrainBacklog>,
    mut cache: Local<HashMap<(ChunkKey, usize), ChunkMesh>>,
) {
    let Some(raster) = &scene.0.terrain else { return };
    // From the orbit itself, so the first frame already has the right eye.
    let Some(eye) = cameras.iter().next().map(|c| Vec3::from_array(c.0.eye())) else {
        return;
    };
    let per_frame = budget.map_or(CHUNKS_PER_FRAME, |b| b.0);
    let height = view_h.map_or(1080.0, |v| f64::from(v.0));
    let cell = raster.cell_w.min(raster.cell_h);
    let mut wanted: Vec<(f32, Entity, usize)> = chunks
        .iter()
        .filter_map(|(e, c)| {
            let d = (c.centre.distance(eye) - c.radius).max(1.0);
            let step = lod_step_for(
                &c.errors,
                f64::from(d),
                cell,
                height,
                f64::from(FOV_Y),
                TERRAIN_ERROR_PX,
                TERRAIN_SPACING_PX,
            );
            (step != c.step).then_some((d, e, step))
        })
        .collect();
    wanted.sort_by(|a, b| a.0.total_cmp(&b.0));
    backlog.0 = wanted.len().saturating_sub(per_frame);
    let s = &scene.0;
    for &(_, e, step) in wanted.iter().take(per_frame) {
        let Ok((_, mut c)) = chunks.get_mut(e) else {
            continue;
        };
        let key = c.key;
        // A gap to a neighbour at another step is at most both meshes' errors: the skirt hangs
        // that far (the neighbour is at most one step finer or coarser in practice, so twice
        // this chunk's own error and half a metre).
        let level = STEPS.iter().position(|&x| x == step).unwrap_or(0);
        let skirt = 2.0 * c.errors[level] + 0.5;
        let (handle, triangles) = cache
            .entry((key, step))
            .or_insert_with(|| {
                let m = chunk_mesh(raster, &s.origin, key, step, &s.ramp, skirt);
                let n = m.triangle_count();
                (meshes.add(to_bevy_mesh(&m, RenderAssetUsages::RENDER_WORLD)), n)
            })
            .clone();
        // Only the meshes in use stay cached.
        if c.step != 0 {
            cache.remove(&(key, c.step));
        }
        c.step = step;
        c.triangles = triangles;
        commands.entity(e).insert(Mesh3d(handle));
    }
}

/// The terrain shown or hidden and faded by the styling, when it changes or chunks appear;
/// chunks under photogrammetry hidden while tilesets are shown.
fn show_terrain(
    styling: Option<Res<Styling>>,
    scene: Res<Scene>,
    tiles: Option<Res<TileSettings>>,
    added: Query<(), Added<TerrainChunk>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut terrain: Query<(&TerrainChunk, &mut Visibility, &MeshMaterial3d<StandardMaterial>)>,
) {
    let Some(styling) = styling else { return };
    let tiles_changed = tiles.as_ref().is_some_and(|t| t.is_changed());
    if !styling.is_changed() && added.is_empty() && !tiles_changed {
        return;
    }
    let (on, opacity) = styling.layers.terrain;
    let photo_shown = tiles.is_some_and(|t| t.photo_shown(&scene.0));
    let covered = &scene.0.covered_chunks;
    let nx = scene.0.terrain.as_ref().map_or(0, |r| chunk_grid(r).0);
    // Chunks share one material: set it once.
    let mut done: Vec<AssetId<StandardMaterial>> = Vec::new();
    for (c, mut v, m) in &mut terrain {
        let under_photo = photo_shown && covered.get(c.key.cy * nx + c.key.cx).copied().unwrap_or(false);
        v.set_if_neq(visibility(on && !under_photo));
        if !done.contains(&m.0.id()) {
            set_alpha(&mut materials, &m.0, opacity);
            done.push(m.0.id());
        }
    }
}
