//! Tilesets streamed while the camera moves: real-scene meshes (oblique photography, 3D Tiles)
//! with their photo textures, and point clouds drawn as dots whose size follows the distance.
//! Each frame the tiles are chosen by screen-space error ([`select_in`]), the missing ones fetched
//! and decoded on the async compute pool (never in the frame), a few decoded tiles a frame made
//! into meshes, and the least recently used evicted to stay within the memory budget
//! ([`TileSettings`]). What it draws is in [`TileStats`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use bevy::asset::{uuid_handle, RenderAssetUsages};
use bevy::mesh::{Indices, PrimitiveTopology, VertexAttributeValues};
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::{Shader, ShaderRef};
use cim_engine::{Tile, Tileset};
use cim_importers::tiles3d::Placer;

use crate::data::{Data, Pending};
use crate::model::scene::LocalOrigin;
use crate::model::tiles::{
    children_of, decode, placer, prepare, select_in, Frustum, PointsData, PreparedTile, TileCache, TileImage,
    View,
};
use crate::state::{
    order_sets, to_bevy_mesh, PhotoFeatures, PhotoMesh, Scene, SetTiles, Side, TileSettings, TileStats,
    ViewCamera, ViewHeightPx, ViewerSystems, FOV_Y,
};

/// The points shader's source.
pub const POINTS_WGSL: &str = include_str!("points.wgsl");

/// Where the shader is kept among Bevy's shaders.
pub const POINTS_SHADER: Handle<Shader> = uuid_handle!("9d2e7a41-3c6b-4f58-8e1d-2b7c5a9f0e63");

/// Tiles decoded at once at most (the compute pool has a thread a core).
const IN_FLIGHT: usize = 4;

/// The points shader's uniform (`PointParams` in the WGSL: four f32, 16 bytes).
#[derive(ShaderType, Clone, Copy, Debug, PartialEq)]
pub struct PointParams {
    pub size_m: f32,
    pub min_px: f32,
    pub max_px: f32,
    pub opacity: f32,
}

/// A point tile's material: dots of its point spacing, 1.5–6 pixels across.
#[derive(Asset, TypePath, AsBindGroup, Clone, Debug)]
pub struct PointsMaterial {
    #[uniform(0)]
    pub params: PointParams,
}

impl PointsMaterial {
    pub fn spaced(size_m: f32) -> PointsMaterial {
        PointsMaterial {
            params: PointParams {
                size_m,
                min_px: 1.5,
                max_px: 6.0,
                opacity: 1.0,
            },
        }
    }
}

impl Material for PointsMaterial {
    fn vertex_shader() -> ShaderRef {
        ShaderRef::Handle(POINTS_SHADER)
    }

    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(POINTS_SHADER)
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }
}

/// An entity drawing part of a tile: the tileset (index into the scene's) and the tile.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePart {
    pub set: usize,
    pub tile: u32,
}

/// A point tile's values that colour it (its positions left out), for recolouring.
#[derive(Component, Debug)]
pub struct TilePoints(pub PointsData);

/// One tileset's streaming.
struct Stream {
    set: Arc<Tileset>,
    tiles: Arc<Vec<Tile>>,
    /// Each tile's children ([`children_of`]).
    children: Vec<Vec<u32>>,
    placer: Option<Arc<Placer>>,
    cache: TileCache,
    /// Each tile's entities, for the tiles made into meshes.
    parts: HashMap<u32, Vec<Entity>>,
    decoding: Vec<(u32, Pending<PreparedTile>)>,
    ready: VecDeque<(u32, PreparedTile)>,
    failed: HashSet<u32>,
}

/// Every tileset's streaming (this plugin's own).
#[derive(Resource, Default)]
pub struct Streams(Vec<Stream>);

/// Tilesets, streamed.
pub struct TilesetsPlugin;

impl Plugin for TilesetsPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        // The material's pipeline exists only where there is a renderer (not in logic tests).
        if app.is_plugin_added::<bevy::render::RenderPlugin>() {
            app.add_plugins(MaterialPlugin::<PointsMaterial>::default());
        } else {
            app.init_asset::<PointsMaterial>();
        }
        if let Some(mut shaders) = app.world_mut().get_resource_mut::<Assets<Shader>>() {
            if let Err(e) = shaders.insert(
                &POINTS_SHADER,
                Shader::from_wgsl(POINTS_WGSL, "cim-viewer/tilesets/points.wgsl"),
            ) {
                warn!("points shader: {e}");
            }
        }
        app.init_resource::<TileSettings>()
            .init_resource::<TileStats>()
            .init_resource::<Streams>()
            .add_message::<SetTiles>()
            .add_systems(Startup, start_streams)
            .add_systems(
                Update,
                (
                    apply_settings.in_set(ViewerSystems::Input),
                    stream_tiles.in_set(ViewerSystems::Lod),
                ),
            )
            .add_systems(PostUpdate, recolour_points.in_set(ViewerSystems::Paint));
    }
}

/// The settings a panel asked for.
fn apply_settings(mut asks: MessageReader<SetTiles>, mut settings: ResMut<TileSettings>) {
    if let Some(last) = asks.read().last() {
        settings.set_if_neq(last.0);
    }
}

/// A stream a tileset of the scene, each with its placer (a tileset that cannot be placed is
/// reported and not drawn).
fn start_streams(
    scene: Res<Scene>,
    settings: Res<TileSettings>,
    mut streams: ResMut<Streams>,
    mut stats: ResMut<TileStats>,
) {
    streams.0 = scene
        .0
        .tilesets
        .iter()
        .map(|t| {
            let placer = match placer(&t.set, &t.project_crs) {
                Ok(p) => Some(Arc::new(p)),
                Err(e) => {
                    stats
                        .failed
                        .push(format!("tileset '{}' not drawn: {e:#}", t.set.name));
                    None
                }
            };
            Stream {
                set: Arc::new(t.set.clone()),
                tiles: Arc::new(t.tiles.clone()),
                children: children_of(&t.tiles),
                placer,
                cache: TileCache::new(settings.budget_bytes),
                parts: HashMap::new(),
                decoding: Vec::new(),
                ready: VecDeque::new(),
                failed: HashSet::new(),
            }
        })
        .collect();
}

/// What the frame's streaming needs of the world besides the streams.
type Assets3<'w> = (
    ResMut<'w, Assets<Mesh>>,
    ResMut<'w, Assets<StandardMaterial>>,
    ResMut<'w, Assets<PointsMaterial>>,
);

/// Chooses each tileset's tiles from the camera, picks up decoded tiles and makes a few into
/// meshes, evicts to stay within the budget, shows what is chosen and asks for what is missing.
#[allow(clippy::too_many_arguments)]
fn stream_tiles(
    mut commands: Commands,
    scene: Res<Scene>,
    data: Option<Res<Data>>,
    settings: Res<TileSettings>,
    mut stats: ResMut<TileStats>,
    mut streams: ResMut<Streams>,
    cameras: Query<(&ViewCamera, Option<&Side>)>,
    windows: Query<&Window>,
    view_h: Option<Res<ViewHeightPx>>,
    (mut meshes, mut materials, mut point_materials): Assets3,
    mut images: Option<ResMut<Assets<Image>>>,
    mut visibility: Query<&mut Visibility, With<TilePart>>,
    mut frame: Local<u64>,
    mut settling: Local<usize>,
) {
    if streams.0.is_empty() {
        return;
    }
    *frame += 1;
    let frame = *frame;
    let s = &scene.0;
    let Some(camera) = cameras
        .iter()
        .find(|(_, side)| side.is_none_or(|s| s.0 == 0))
        .map(|c| c.0 .0)
    else {
        return;
    };
    let (h, aspect) = match windows.iter().next() {
        Some(w) => (w.height(), w.width() / w.height().max(1.0)),
        // Offscreen: the image's height; cull as wide as any image is.
        None => (view_h.map_or(1080.0, |v| v.0), 2.5),
    };
    let eye = s.origin.to_project(camera.eye());
    let forward = LocalOrigin::dir_to_project(camera.forward());
    let mut view = View::new(eye, f64::from(h), f64::from(FOV_Y));
    view.max_sse = settings.max_sse;
    let frustum = Frustum::new(eye, forward, f64::from(FOV_Y) * 1.05, f64::from(aspect) * 1.05);
    let mut next = TileStats {
        failed: std::mem::take(&mut stats.failed),
        peak_bytes: stats.peak_bytes,
        decoded: stats.decoded,
        decoded_bytes: stats.decoded_bytes,
        evicted: stats.evicted,
        ..TileStats::default()
    };
    let mut made = 0usize;
    for (k, st) in streams.0.iter_mut().enumerate() {
        st.cache.budget = settings.budget_bytes;
        // Decodes that have finished.
        let mut still = Vec::new();
        for (id, mut p) in st.decoding.drain(..) {
            match p.take() {
                None => still.push((id, p)),
                Some(Ok(tile)) => {
                    next.decoded += 1;
                    next.decoded_bytes += tile.weight();
                    for n in &tile.notices {
                        say(
                            &mut next.failed,
                            format!("tileset '{}' tile {id}: {n}", st.set.name),
                        );
                    }
                    st.ready.push_back((id, tile));
                }
                Some(Err(e)) => {
                    st.failed.insert(id);
                    let line = format!("{e:#}");
                    warn!("{line}");
                    say(&mut next.failed, line);
                }
            }
        }
        st.decoding = still;
        let on = settings.set_shown(k);
        let choose = |st: &Stream| {
            if !on {
                return Default::default();
            }
            let (cache, failed) = (&st.cache, &st.failed);
            select_in(&st.tiles, &st.children, &view, &|b| frustum.sees(b), &|id| {
                cache.contains(id) || failed.contains(&id)
            })
        };
        let mut pick = choose(st);
        // What is chosen stays in the cache while new tiles come in.
        st.cache.touch(&pick.draw, frame);
        st.cache.touch(&pick.hold, frame);
        // Decoded tiles into meshes, a few a frame.
        let mut fresh: HashSet<u32> = HashSet::new();
        while made < settings.per_frame {
            let Some((id, tile)) = st.ready.pop_front() else {
                break;
            };
            made += 1;
            for gone in st.cache.insert(id, tile.weight(), frame) {
                next.evicted += 1;
                fresh.remove(&gone);
                for e in st.parts.remove(&gone).unwrap_or_default() {
                    commands.entity(e).despawn();
                }
            }
            let z = (st.set.bounds[2], st.set.bounds[5]);
            let entities = spawn_tile(
                &mut commands,
                &st.set.name,
                TilePart { set: k, tile: id },
                tile,
                z,
                &settings,
                (&mut meshes, &mut materials, &mut point_materials),
                images.as_deref_mut(),
            );
            for e in st.parts.insert(id, entities).unwrap_or_default() {
                commands.entity(e).despawn();
            }
            fresh.insert(id);
        }
        if !fresh.is_empty() {
            // Chosen again with the new tiles (children complete replace their parent now).
            pick = choose(st);
            st.cache.touch(&pick.draw, frame);
            st.cache.touch(&pick.hold, frame);
        }
        // Shown: what is chosen and made.
        let drawn: HashSet<u32> = pick
            .draw
            .iter()
            .copied()
            .filter(|id| st.parts.contains_key(id))
            .collect();
        for (id, entities) in &st.parts {
            let on = drawn.contains(id);
            for e in entities {
                if fresh.contains(id) {
                    // Spawned this frame: in the world once the commands run.
                    if on {
                        commands.entity(*e).insert(Visibility::Inherited);
                    }
                } else if let Ok(mut v) = visibility.get_mut(*e) {
                    v.set_if_neq(if on {
                        Visibility::Inherited
                    } else {
                        Visibility::Hidden
                    });
                }
            }
        }
        // Asked for: what is missing, most needed first, a few at a time.
        let busy: HashSet<u32> = st
            .decoding
            .iter()
            .map(|(id, _)| *id)
            .chain(st.ready.iter().map(|(id, _)| *id))
            .collect();
        let wanted: Vec<u32> = pick
            .fetch
            .iter()
            .copied()
            .filter(|id| !busy.contains(id) && !st.parts.contains_key(id))
            .collect();
        if let (Some(data), Some(placer)) = (data.as_ref(), st.placer.as_ref()) {
            for &id in wanted.iter().take(IN_FLIGHT.saturating_sub(st.decoding.len())) {
                let (source, set, tiles, placer) =
                    (data.0.clone(), st.set.clone(), st.tiles.clone(), placer.clone());
                let origin = s.origin;
                let mut p = Pending::default();
                p.ask(async move {
                    let tile = &tiles[id as usize];
                    let bytes = source
                        .tile_bytes(set.name.clone(), id)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("tileset '{}' tile {id}: no content", set.name))?;
                    let content = decode(&set, tile, &bytes, &placer)?;
                    Ok(prepare(&content, &origin))
                });
                st.decoding.push((id, p));
            }
        } else if !wanted.is_empty() && st.placer.is_none() {
            // Not placed: nothing of it is drawn (said once at the start).
            st.failed.extend(wanted.iter().copied());
        }
        next.waiting += wanted.len() + st.decoding.len() + st.ready.len();
        next.drawn += drawn.len();
        for id in &drawn {
            let t = &st.tiles[*id as usize];
            next.triangles += t.triangles;
            next.points += t.points;
        }
        next.held += st.parts.len();
        next.held_bytes += st.cache.used();
    }
    // Meshes and images made this frame reach the GPU a few frames later (a material waits
    // for its texture): still coming, for whoever waits for a complete picture.
    *settling = if made > 0 { 4 } else { settling.saturating_sub(1) };
    next.waiting += *settling;
    next.peak_bytes = next.peak_bytes.max(next.held_bytes);
    stats.set_if_neq(next);
}

/// Problems kept for the panels and reports: each once (a tile read again after eviction says
/// nothing new), at most [`MAX_PROBLEMS`].
fn say(problems: &mut Vec<String>, line: String) {
    if problems.len() < MAX_PROBLEMS && !problems.contains(&line) {
        problems.push(line);
    }
}

/// Problems kept at most.
const MAX_PROBLEMS: usize = 100;

/// A decoded tile's entities (hidden until the next frame shows them): a mesh a material with
/// its photo texture (unlit: the photos carry their light), and its points as dots.
#[allow(clippy::too_many_arguments)]
fn spawn_tile(
    commands: &mut Commands,
    set_name: &str,
    part: TilePart,
    tile: PreparedTile,
    z: (f64, f64),
    settings: &TileSettings,
    (meshes, materials, point_materials): (
        &mut Assets<Mesh>,
        &mut Assets<StandardMaterial>,
        &mut Assets<PointsMaterial>,
    ),
    mut images: Option<&mut Assets<Image>>,
) -> Vec<Entity> {
    let mut out = Vec::new();
    let textures: Vec<Option<Handle<Image>>> = tile
        .images
        .into_iter()
        .map(|img| Some(images.as_deref_mut()?.add(image_of(img?))))
        .collect();
    let looks: Vec<Handle<StandardMaterial>> = tile
        .materials
        .iter()
        .map(|(color, image)| {
            let texture = image.and_then(|i| textures.get(i).cloned().flatten());
            materials.add(StandardMaterial {
                base_color: Color::linear_rgba(color[0], color[1], color[2], color[3]),
                unlit: texture.is_some(),
                base_color_texture: texture,
                // Photogrammetry winds its faces either way.
                double_sided: true,
                cull_mode: None,
                perceptual_roughness: 0.9,
                reflectance: 0.1,
                alpha_mode: if color[3] < 1.0 {
                    AlphaMode::Blend
                } else {
                    AlphaMode::Opaque
                },
                ..default()
            })
        })
        .collect();
    let plain = || StandardMaterial {
        base_color: Color::srgb(0.75, 0.74, 0.72),
        double_sided: true,
        cull_mode: None,
        perceptual_roughness: 0.9,
        ..default()
    };
    let mut plain_handle: Option<Handle<StandardMaterial>> = None;
    let properties = Arc::new(tile.features);
    for m in tile.meshes {
        let look = match m.material.and_then(|i| looks.get(i)) {
            Some(h) => h.clone(),
            None => plain_handle.get_or_insert_with(|| materials.add(plain())).clone(),
        };
        let mut e = commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&m.mesh, RenderAssetUsages::default()))),
            MeshMaterial3d(look),
            Transform::IDENTITY,
            Visibility::Hidden,
            part,
            PhotoMesh,
        ));
        if let Some(ids) = m.feature_ids {
            e.insert(PhotoFeatures {
                tileset: set_name.to_string(),
                tile: part.tile,
                ids,
                properties: properties.clone(),
            });
        }
        out.push(e.id());
    }
    if let Some(mut p) = tile.points {
        let colors = p.colors(settings.point_colors, z.0, z.1);
        let mesh = points_mesh(&p.positions, &colors);
        p.positions = Vec::new();
        out.push(
            commands
                .spawn((
                    Mesh3d(meshes.add(mesh)),
                    MeshMaterial3d(point_materials.add(PointsMaterial::spaced(p.spacing_m))),
                    Transform::IDENTITY,
                    Visibility::Hidden,
                    part,
                    TilePoints(p),
                ))
                .id(),
        );
    }
    out
}

/// An image and its mipmaps as Bevy's (sRGB), sampled linearly between texels and levels.
fn image_of(img: TileImage) -> Image {
    let mut image = Image::new_uninit(
        bevy::render::render_resource::Extent3d {
            width: img.width,
            height: img.height,
            depth_or_array_layers: 1,
        },
        bevy::render::render_resource::TextureDimension::D2,
        bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    image.texture_descriptor.mip_level_count = img.levels;
    image.data = Some(img.data);
    image.sampler = bevy::image::ImageSampler::linear();
    image
}

/// The quads of the points: four vertices a point at its centre, their corners in UV.
pub fn points_mesh(positions: &[[f32; 3]], colors: &[[f32; 4]]) -> Mesh {
    let n = positions.len();
    let mut p = Vec::with_capacity(n * 4);
    let mut c = Vec::with_capacity(n * 4);
    let mut uv = Vec::with_capacity(n * 4);
    let mut idx = Vec::with_capacity(n * 6);
    for (k, (pos, col)) in positions.iter().zip(colors).enumerate() {
        let b = (k * 4) as u32;
        for corner in [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]] {
            p.push(*pos);
            c.push(*col);
            uv.push(corner);
        }
        idx.extend_from_slice(&[b, b + 1, b + 2, b, b + 2, b + 3]);
    }
    let mut mesh = Mesh::new(PrimitiveTopology::TriangleList, RenderAssetUsages::default());
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, p);
    mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uv);
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, c);
    mesh.insert_indices(Indices::U32(idx));
    mesh
}

/// Recolours the point tiles when the colouring changes.
fn recolour_points(
    settings: Res<TileSettings>,
    streams: Res<Streams>,
    points: Query<(&TilePart, &TilePoints, &Mesh3d)>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut was: Local<Option<crate::model::tiles::PointColors>>,
) {
    let mode = settings.point_colors;
    if *was == Some(mode) {
        return;
    }
    if was.is_none() {
        // The tiles were made with the colouring of the moment.
        *was = Some(mode);
        return;
    }
    *was = Some(mode);
    for (part, p, mesh) in &points {
        let Some(st) = streams.0.get(part.set) else {
            continue;
        };
        let colors = p.0.colors(mode, st.set.bounds[2], st.set.bounds[5]);
        if let Some(mut m) = meshes.get_mut(&mesh.0) {
            if let Some(VertexAttributeValues::Float32x4(c)) = m.attribute_mut(Mesh::ATTRIBUTE_COLOR) {
                for (k, col) in colors.iter().enumerate() {
                    for v in c.iter_mut().skip(k * 4).take(4) {
                        *v = *col;
                    }
                }
            }
        }
    }
}
