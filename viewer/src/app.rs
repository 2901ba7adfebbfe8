//! The Bevy side: plugins for the scene (terrain chunks with levels of detail, building tiles),
//! the camera and the light, run in a window (`cim view`) or offscreen into an image
//! (`cim render`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::camera::{ClearColorConfig, RenderTarget, Viewport};
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::light::CascadeShadowConfigBuilder;
use bevy::log::LogPlugin;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::pbr::{DistanceFog, FogFalloff};
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::RenderPlugin;
use bevy::window::{ExitCondition, WindowMode};
use bevy::winit::WinitPlugin;

use crate::camera::OrbitCamera;
use crate::load::SceneData;
use crate::scene::{
    chunk_extent, chunk_grid, chunk_mesh, lod_step_for, step_errors, ChunkKey, MeshData, STEPS,
};

/// The UI font: Noto Sans SC cut down to Latin and the 3,500 commonest Chinese characters
/// (SIL Open Font License 1.1, see assets/fonts/).
pub const UI_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-cim-subset.otf");

/// Vertical field of view of the camera, radians.
pub const FOV_Y: f32 = 0.7;

/// The terrain's mesh may stray this many pixels from the DEM on screen…
const TERRAIN_ERROR_PX: f64 = 2.0;
/// …and its vertices may be this many pixels apart (so shading and colour stay smooth).
const TERRAIN_SPACING_PX: f64 = 48.0;

/// At most this many terrain chunks are re-meshed a frame (nearest first), so moving never stalls.
const CHUNKS_PER_FRAME: usize = 48;

/// The scene being shown.
#[derive(Resource, Clone)]
pub struct Scene(pub Arc<SceneData>);

/// The camera that shows the scene, and where it is.
#[derive(Component, Clone, Copy, Debug)]
pub struct ViewCamera(pub OrbitCamera);

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

/// A flood run's water surface to draw (translucent, coloured by depth).
#[derive(Resource, Clone, Debug)]
pub struct WaterOverlay(pub MeshData);

/// The water surface entity.
#[derive(Component, Debug)]
pub struct WaterSurface;

/// Which run an entity belongs to when two are shown side by side: 0 the run (left), 1 the one
/// it is compared with (right). Cameras, water, closed roads and building tiles carry it.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side(pub usize);

/// The render layers of side `side` in split screen (layer 0 is shared by both).
pub fn side_layers(side: usize) -> RenderLayers {
    RenderLayers::layer(side + 1)
}

/// A layer of lines draped on the ground (roads, parcel boundaries).
#[derive(Component, Debug)]
pub struct OverlayLayer(pub String);

/// A building tile's mesh entity: index into [`SceneData::tiles`].
#[derive(Component, Debug)]
pub struct BuildingTileMesh(pub usize);

/// Height of the view in pixels (for the terrain's level of detail).
#[derive(Resource, Clone, Copy, Debug)]
pub struct ViewHeightPx(pub f32);

/// Terrain chunks re-meshed at most a frame (default [`CHUNKS_PER_FRAME`]; an offscreen image
/// takes them all at once).
#[derive(Resource, Clone, Copy, Debug)]
pub struct TerrainBudget(pub usize);

/// Terrain chunks still waiting for the mesh their distance needs.
#[derive(Resource, Default, Debug)]
pub struct TerrainBacklog(pub usize);

/// Where the camera's transform is set from its orbit: whatever moves the camera runs before.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApplyOrbit;

/// The scene: terrain, buildings, sun and sky, and the camera's transform following its orbit.
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ClearColor(Color::srgb(0.62, 0.75, 0.88)))
            .insert_resource(GlobalAmbientLight {
                color: Color::srgb(0.75, 0.82, 0.95),
                brightness: 350.0,
                ..default()
            })
            .init_resource::<TerrainBacklog>()
            .add_systems(Startup, spawn_scene)
            .add_systems(
                Update,
                (
                    apply_orbit.in_set(ApplyOrbit),
                    update_terrain_lod.after(ApplyOrbit),
                ),
            );
    }
}

/// Mouse navigation: left drag pans, right drag turns and tilts, the wheel (or two-finger
/// scroll) zooms. (Fly mode, [`crate::fly`], takes over while it is on.)
pub struct NavigationPlugin;

impl Plugin for NavigationPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, navigate.before(ApplyOrbit))
            .init_resource::<ViewDrag>()
            // Judged once the frame's panels are laid out, as clicks are (see `crate::pick`).
            .add_systems(
                PostUpdate,
                claim_drag.after(bevy_egui::EguiPostUpdateSet::ProcessOutput),
            );
    }
}

/// A [`MeshData`] as a Bevy mesh.
pub fn to_bevy_mesh(m: &MeshData, usage: RenderAssetUsages) -> Mesh {
    let mut mesh = Mesh::new(PrimitiveTopology::TriangleList, usage);
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, m.positions.clone());
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, m.normals.clone());
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, m.colors.clone());
    mesh.insert_indices(Indices::U32(m.indices.clone()));
    mesh
}

#[allow(clippy::too_many_arguments)]
fn spawn_scene(
    mut commands: Commands,
    scene: Res<Scene>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    cameras: Query<&ViewCamera>,
    water: Option<Res<WaterOverlay>>,
    playback: Option<Res<PlaybackState>>,
    mut water_materials: ResMut<Assets<crate::water::WaterMaterial>>,
) {
    let s = &scene.0;
    // Two runs side by side: water, closed roads and buildings once for each, on its own layer.
    let split = playback.is_some_and(|p| p.compare.is_some());
    let sides: &[usize] = if split { &[0, 1] } else { &[0] };
    if let Some(w) = water.filter(|w| !w.0.is_empty()) {
        for &side in sides {
            let mut e = commands.spawn((
                Mesh3d(meshes.add(to_bevy_mesh(&w.0, RenderAssetUsages::default()))),
                MeshMaterial3d(water_materials.add(crate::water::WaterMaterial::still())),
                Transform::IDENTITY,
                WaterSurface,
                Side(side),
            ));
            if split {
                e.insert(side_layers(side));
            }
        }
    }
    let buildings = materials.add(StandardMaterial {
        base_color: Color::WHITE,
        perceptual_roughness: 0.9,
        reflectance: 0.2,
        ..default()
    });
    for (i, tile) in s.tiles.iter().enumerate() {
        for &side in sides {
            let mut e = commands.spawn((
                Mesh3d(meshes.add(to_bevy_mesh(&tile.mesh, RenderAssetUsages::default()))),
                MeshMaterial3d(buildings.clone()),
                Transform::IDENTITY,
                BuildingTileMesh(i),
                Side(side),
            ));
            if split {
                e.insert(side_layers(side));
            }
        }
    }
    // Roads and parcel boundaries, drawn over the ground.
    for o in &s.overlays {
        let m = materials.add(StandardMaterial {
            base_color: Color::WHITE,
            perceptual_roughness: 1.0,
            reflectance: 0.05,
            depth_bias: 10.0,
            ..default()
        });
        commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&o.mesh, RenderAssetUsages::RENDER_WORLD))),
            MeshMaterial3d(m),
            Transform::IDENTITY,
            OverlayLayer(o.layer.clone()),
        ));
    }
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
    // The sun from the south-south-east, 40° up.
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

/// The camera bundle: perspective, haze towards the horizon.
pub fn camera_bundle(orbit: OrbitCamera, span_m: f32) -> impl Bundle {
    (
        Camera3d::default(),
        Projection::Perspective(PerspectiveProjection {
            fov: FOV_Y,
            near: 0.5,
            far: 1_000_000.0,
            ..default()
        }),
        orbit_transform(&orbit),
        ViewCamera(orbit),
        DistanceFog {
            color: Color::srgba(0.70, 0.78, 0.88, 1.0),
            falloff: FogFalloff::Linear {
                start: span_m * 1.5,
                end: span_m * 6.0,
            },
            ..default()
        },
    )
}

fn orbit_transform(o: &OrbitCamera) -> Transform {
    Transform::from_translation(Vec3::from_array(o.eye())).looking_at(Vec3::from_array(o.focus), Vec3::Y)
}

fn apply_orbit(mut cameras: Query<(&ViewCamera, &mut Transform), Changed<ViewCamera>>) {
    for (c, mut t) in &mut cameras {
        *t = orbit_transform(&c.0);
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
        crate::panels::pointer_free(wants)
    } else {
        drag.0 && buttons.any_pressed(drag_buttons)
    };
    if drag.0 != claimed {
        drag.0 = claimed;
    }
}

#[allow(clippy::too_many_arguments)]
fn navigate(
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    windows: Query<&Window>,
    mut cameras: Query<&mut ViewCamera>,
    fly: Option<Res<crate::fly::FlyMode>>,
    wants: Option<Res<bevy_egui::input::EguiWantsInput>>,
    drag: Res<ViewDrag>,
) {
    let free = crate::panels::pointer_free(wants);
    let drag_in_view = drag.0;
    // Fly mode moves the camera its own way.
    if fly.is_some_and(|f| f.on) {
        return;
    }
    let height = windows.iter().next().map_or(1080.0, |w| w.height());
    for mut c in &mut cameras {
        let d = motion.delta;
        if drag_in_view && buttons.pressed(MouseButton::Left) && d != Vec2::ZERO {
            c.0.pan(d.x, d.y, height, FOV_Y);
        }
        if drag_in_view
            && (buttons.pressed(MouseButton::Right) || buttons.pressed(MouseButton::Middle))
            && d != Vec2::ZERO
        {
            c.0.orbit(d.x * 0.005, d.y * 0.005);
        }
        if free && scroll.delta.y != 0.0 {
            let notches = match scroll.unit {
                MouseScrollUnit::Line => scroll.delta.y,
                MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
            };
            c.0.zoom(0.85f32.powf(notches));
        }
    }
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

/// Mesa's Vulkan drivers try Wayland while listing adapters and complain on stderr where
/// `XDG_RUNTIME_DIR` is not set (a bare server, CI): give them a private empty one.
fn quiet_wayland_probe() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join(format!("cim-runtime-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok() {
            // Before any thread of ours reads the environment.
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

/// Whether a GPU (or a software renderer such as Mesa's lavapipe) can render: the adapter's
/// name, or why not.
pub fn find_gpu() -> Result<String, String> {
    quiet_wayland_probe();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = bevy::tasks::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    match adapters.first() {
        Some(a) => {
            let info = a.get_info();
            Ok(format!(
                "{} ({:?}, {:?})",
                info.name, info.backend, info.device_type
            ))
        }
        None => Err(
            "no GPU or software renderer found: install a Vulkan driver (on Debian, \
                     `apt-get install mesa-vulkan-drivers libvulkan1` gives the lavapipe software renderer)"
                .to_string(),
        ),
    }
}

/// An image rendered offscreen, and how long its frames took.
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    /// sRGB RGBA, row-major from the top.
    pub rgba: Vec<u8>,
    /// From the start of the app to the frame the image was taken from.
    pub first_frame: Duration,
    /// Each frame after the scene had settled (terrain meshed), for frame-time figures.
    pub frame_times: Vec<Duration>,
    pub adapter: String,
    /// What was drawn of the terrain at the end: chunks and their triangles (levels of detail
    /// at work).
    pub terrain_chunks: usize,
    pub terrain_triangles: usize,
}

impl Rendered {
    /// Writes the image as PNG.
    pub fn save_png(&self, path: &Path) -> anyhow::Result<()> {
        let img = image::RgbaImage::from_raw(self.width, self.height, self.rgba.clone())
            .ok_or_else(|| anyhow::anyhow!("rendered image has the wrong size"))?;
        img.save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| anyhow::anyhow!("{}: cannot write the image: {e}", path.display()))
    }
}

/// How to render offscreen.
#[derive(Clone, Debug)]
pub struct RenderRequest {
    pub width: u32,
    pub height: u32,
    /// Where the camera is; `None` frames the whole scene.
    pub camera: Option<OrbitCamera>,
    /// Frames to time after the image (0 for none).
    pub bench_frames: usize,
    /// A building to show highlighted, by city code.
    pub select: Option<cim_engine::CityCode>,
    /// A flood's water surface to draw over the scene.
    pub water: Option<MeshData>,
    /// A title, legend, north arrow and scale bar drawn over the image (`--overlay`).
    pub overlay: Option<crate::report::ReportOverlay>,
}

/// Renders the scene offscreen (no window, no display needed).
pub fn render(scene: SceneData, req: &RenderRequest) -> anyhow::Result<Rendered> {
    quiet_wayland_probe();
    let adapter = find_gpu().map_err(|e| anyhow::anyhow!(e))?;
    let start = Instant::now();
    let scene = Arc::new(scene);
    let span = scene_span(&scene);
    let orbit = req
        .camera
        .unwrap_or_else(|| frame_scene(&scene, req.width as f32 / req.height as f32));
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .set(RenderPlugin {
                synchronous_pipeline_compilation: true,
                ..default()
            })
            .disable::<WinitPlugin>()
            .disable::<LogPlugin>(),
    )
    .insert_resource(Scene(scene.clone()))
    .insert_resource(ViewHeightPx(req.height as f32))
    .insert_resource(TerrainBudget(usize::MAX))
    .insert_resource(WaterOverlay(req.water.clone().unwrap_or_default()))
    .add_plugins((
        ScenePlugin,
        crate::water::WaterPlugin { animate: false },
        crate::pick::PickPlugin,
        crate::layers::LayersPlugin,
    ));
    if let Some(code) = &req.select {
        // A building is highlighted in its tile; anything else is outlined on the ground.
        let selection = match scene.building_by_code(code) {
            Some(building) => crate::pick::Selection {
                building: Some(building),
                hit: None,
            },
            None => match cim_engine::Project::open(&scene.project_path)?.feature(code)? {
                Some(f) => crate::panels::SearchResult::of(&f).selection(&scene),
                None => anyhow::bail!("--select {code}: no feature with this city code in the project"),
            },
        };
        app.insert_resource(selection);
    }
    let target = Image::new_target_texture(req.width, req.height, TextureFormat::Rgba8UnormSrgb, None);
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(target);
    let camera = app
        .world_mut()
        .spawn((
            camera_bundle(orbit, span),
            RenderTarget::Image(target.clone().into()),
        ))
        .id();
    if let Some(overlay) = &req.overlay {
        let font = app
            .world_mut()
            .resource_mut::<Assets<Font>>()
            .add(Font::from_bytes(UI_FONT.to_vec()));
        crate::report::spawn_report_overlay(app.world_mut(), camera, overlay, &orbit, req.height, font);
    }
    app.finish();
    app.cleanup();

    let shot: Arc<Mutex<Option<Image>>> = Arc::default();
    let mut requested = false;
    let mut first_frame = None;
    let mut frame_times = Vec::new();
    for frame in 0..600 {
        let t = Instant::now();
        app.update();
        let dt = t.elapsed();
        if first_frame.is_some() {
            frame_times.push(dt);
            if frame_times.len() >= req.bench_frames {
                break;
            }
            continue;
        }
        // The render world runs a frame behind and the first frames draw nothing yet: take the
        // image from the third update on, once every terrain chunk has its mesh.
        let settled = app.world().resource::<TerrainBacklog>().0 == 0 && frame >= 2;
        if settled && !requested {
            let slot = shot.clone();
            app.world_mut().spawn(Screenshot::image(target.clone())).observe(
                move |captured: On<ScreenshotCaptured>| {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(captured.image.clone());
                    }
                },
            );
            requested = true;
        }
        if shot.lock().map(|s| s.is_some()).unwrap_or(false) {
            first_frame = Some(start.elapsed());
            if req.bench_frames == 0 {
                break;
            }
        }
    }
    let image = shot
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| anyhow::anyhow!("the renderer gave no image after 600 frames ({adapter})"))?;
    let (terrain_chunks, terrain_triangles) = {
        // The meshes live in the render world only: each chunk counts its own triangles.
        let world = app.world_mut();
        let mut chunks = world.query::<&TerrainChunk>();
        chunks
            .iter(world)
            .fold((0, 0), |(n, t), c| (n + 1, t + c.triangles))
    };
    let rgba = image
        .try_into_dynamic()
        .map_err(|e| anyhow::anyhow!("cannot read the rendered image: {e}"))?
        .to_rgba8()
        .into_raw();
    Ok(Rendered {
        width: req.width,
        height: req.height,
        rgba,
        first_frame: first_frame.unwrap_or_else(|| start.elapsed()),
        frame_times,
        adapter,
        terrain_chunks,
        terrain_triangles,
    })
}

/// What the window shows besides the scene.
#[derive(Clone, Debug, Default)]
pub struct ViewOptions {
    /// Command-hall mode: fullscreen, the UI at double size, the dashboard, the tour.
    pub hall: bool,
    /// A flood run to play back.
    pub run: Option<crate::flood::RunFrames>,
    /// A second run to show beside it (split screen: baseline and variant).
    pub compare: Option<crate::flood::RunFrames>,
    /// Write the window's image here once it has settled, then close.
    pub screenshot: Option<std::path::PathBuf>,
    /// The window's size in pixels (default 1280×720; the hall takes the screen's).
    pub size: Option<(u32, u32)>,
}

/// Opens the viewer window (fullscreen for the command hall); returns when it is closed.
pub fn view(scene: SceneData, options: ViewOptions) -> anyhow::Result<()> {
    let ViewOptions {
        hall,
        run,
        compare,
        screenshot,
        size,
    } = options;
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        anyhow::bail!(
            "no display (DISPLAY is not set): `cim render` writes an image of the view without one"
        );
    }
    find_gpu().map_err(|e| anyhow::anyhow!(e))?;
    let scene = Arc::new(scene);
    let span = scene_span(&scene);
    let title = format!("cim — {}", scene.project_path.display());
    let bookmarks = cim_engine::Project::open(&scene.project_path)
        .and_then(|p| p.viewpoints())
        .unwrap_or_default();
    let orbit = frame_scene(&scene, 16.0 / 9.0);
    let lang = crate::i18n::Lang::from_env();
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title,
                    mode: if hall && size.is_none() {
                        WindowMode::BorderlessFullscreen(MonitorSelection::Primary)
                    } else {
                        WindowMode::Windowed
                    },
                    resolution: size.map_or_else(default, |(w, h)| bevy::window::WindowResolution::new(w, h)),
                    ..default()
                }),
                ..default()
            })
            .disable::<LogPlugin>(),
    )
    .insert_resource(Scene(scene.clone()))
    .insert_resource(crate::pick::Picker(load_picker(&scene)))
    .insert_resource(UiScale(if hall { 2.0 } else { 1.0 }))
    .insert_resource(crate::panels::HallMode(hall))
    .insert_resource(crate::ui::UiLang(lang))
    .insert_resource(crate::views::Bookmarks(bookmarks))
    .insert_resource(crate::views::TourState {
        auto: hall,
        ..default()
    })
    .add_plugins((
        ScenePlugin,
        crate::water::WaterPlugin { animate: true },
        NavigationPlugin,
        crate::fly::FlyPlugin,
        crate::pick::PickPlugin,
        crate::layers::LayersPlugin,
        crate::ui::UiPlugin,
        crate::panels::PanelsPlugin,
        crate::views::ViewsPlugin,
        PlaybackPlugin,
    ));
    if hall && size.is_none() {
        app.add_systems(Update, fill_the_screen);
    }
    if let Some(path) = screenshot {
        app.insert_resource(ShotThenExit {
            path,
            frames_left: 20,
        })
        .add_systems(Update, shot_then_exit);
    }
    if let Some(frames) = run {
        // Buildings coloured by how deep they flooded in each run.
        let mut styling = crate::layers::Styling::new(&scene);
        styling.color_by = crate::style::ColorBy::FloodClass;
        // As at the playback's first frame (what it shows at the start); it follows the frames
        // shown from then on.
        styling.run_time_s = frames.frames.first().map(|f| f.0);
        let names = [
            Some(frames.name.clone()),
            compare.as_ref().map(|c| c.name.clone()),
        ];
        crate::layers::recolor(&scene, &mut styling, &names, lang);
        app.insert_resource(styling);
        let mut kpis = Vec::new();
        for name in names.iter().flatten() {
            match crate::flood::run_kpis(&scene.project_path, name) {
                Ok(k) => kpis.push((name.clone(), k)),
                Err(e) => eprintln!("warning: run '{name}': no KPIs: {e}"),
            }
        }
        app.insert_resource(crate::panels::RunKpis(kpis));
        // An empty surface now, filled by the playback with the first frame.
        app.insert_resource(WaterOverlay(MeshData {
            positions: vec![[0.0; 3]; 3],
            normals: vec![[0.0, 1.0, 0.0]; 3],
            colors: vec![[0.0; 4]; 3],
            indices: vec![0, 1, 2],
        }))
        .insert_resource(PlaybackState {
            playback: crate::flood::Playback::new(frames),
            shown: [None; 2],
            compare: compare.clone(),
            problem: None,
        });
    }
    let font = app
        .world_mut()
        .resource_mut::<Assets<Font>>()
        .add(Font::from_bytes(UI_FONT.to_vec()));
    app.insert_resource(crate::ui::UiFont(font));
    if compare.is_some() {
        // A camera for the panels over the whole window, spawned first so egui takes it; then
        // one camera a half, moved together.
        app.world_mut().spawn((
            Camera2d,
            Camera {
                order: 2,
                clear_color: ClearColorConfig::None,
                ..default()
            },
            RenderLayers::none(),
            IsDefaultUiCamera,
        ));
        for side in 0..2 {
            app.world_mut().spawn((
                camera_bundle(orbit, span),
                Camera {
                    order: side as isize,
                    ..default()
                },
                Side(side),
                RenderLayers::from_layers(&[0, side + 1]),
            ));
        }
        app.add_systems(PreUpdate, layout_split);
    } else {
        app.world_mut().spawn((camera_bundle(orbit, span), Side(0)));
    }
    app.run();
    Ok(())
}

/// The spatial indexes for picking (buildings, and features on the ground), or `None` with a
/// warning.
fn load_picker(scene: &SceneData) -> Option<crate::pick::PickIndex> {
    match crate::pick::PickIndex::load(&scene.project_path) {
        Ok(i) => Some(i),
        Err(e) => {
            eprintln!("warning: picking is off: {e}");
            None
        }
    }
}

/// The diagonal of the scene's extent, m.
fn scene_span(scene: &SceneData) -> f32 {
    let e = scene.extent;
    ((e[2] - e[0]).hypot(e[3] - e[1]) as f32).max(100.0)
}

/// A camera that shows the whole scene.
pub fn frame_scene(scene: &SceneData, aspect: f32) -> OrbitCamera {
    let e = scene.extent;
    let lo = scene.origin.to_local(e[0], e[3], f64::from(scene.ramp.min_m));
    let hi = scene.origin.to_local(e[2], e[1], f64::from(scene.ramp.max_m));
    OrbitCamera::framing(lo, hi, FOV_Y, aspect)
}

/// The run being played back in the window, and the frame its water shows now.
#[derive(Resource, Debug)]
pub struct PlaybackState {
    pub playback: crate::flood::Playback,
    /// The frame shown of each side (the run, the one compared).
    pub shown: [Option<usize>; 2],
    /// A run shown beside it (split screen), at the same time.
    pub compare: Option<crate::flood::RunFrames>,
    /// The last frame that could not be shown, and why (in the playback panel).
    pub problem: Option<String>,
}

/// Flood playback in the window: `Space` plays and pauses, arrows step, `+`/`-` set the speed.
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (
                playback_keys.run_if(crate::panels::keys_free),
                show_frame,
                follow_frame_classes,
            )
                .chain(),
        );
    }
}

fn playback_keys(keys: Res<ButtonInput<KeyCode>>, time: Res<Time>, state: Option<ResMut<PlaybackState>>) {
    let Some(mut s) = state else { return };
    let p = &mut s.playback;
    if keys.just_pressed(KeyCode::Space) {
        p.toggle();
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        p.step(1);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        p.step(-1);
    }
    if keys.just_pressed(KeyCode::Equal) || keys.just_pressed(KeyCode::NumpadAdd) {
        p.change_speed(true);
    }
    if keys.just_pressed(KeyCode::Minus) || keys.just_pressed(KeyCode::NumpadSubtract) {
        p.change_speed(false);
    }
    p.tick(f64::from(time.delta_secs()));
}

/// Colours the buildings by their flood class at the run's frame shown (of the run, the left
/// side), when buildings are coloured by flood class.
fn follow_frame_classes(
    scene: Res<Scene>,
    state: Option<Res<PlaybackState>>,
    styling: Option<ResMut<crate::layers::Styling>>,
    lang: Option<Res<crate::ui::UiLang>>,
) {
    let Some(s) = state else { return };
    let k0 = s.playback.frames.index_at(s.playback.time_s);
    if let (Some(mut styling), Some(&(t0, _))) = (styling, s.playback.frames.frames.get(k0)) {
        if styling.run_time_s != Some(t0) {
            if styling.color_by != crate::style::ColorBy::FloodClass {
                // Kept for when flood classes are chosen; nothing to repaint now.
                styling.bypass_change_detection().run_time_s = Some(t0);
            } else {
                styling.run_time_s = Some(t0);
                let runs = [
                    Some(s.playback.frames.name.clone()),
                    s.compare.as_ref().map(|c| c.name.clone()),
                ];
                let l = lang.map_or(crate::i18n::Lang::En, |l| l.0);
                crate::layers::recolor(&scene.0, &mut styling, &runs, l);
            }
        }
    }
}

/// The roads a played-back run has closed at the time shown.
#[derive(Component, Debug)]
pub struct ClosedRoads;

/// Replaces the water surface and the closed roads of each side when its frame to show changes.
fn show_frame(
    mut commands: Commands,
    scene: Res<Scene>,
    state: Option<ResMut<PlaybackState>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    water: Query<(&Mesh3d, &Side), With<WaterSurface>>,
    closed: Query<(Entity, &Side), With<ClosedRoads>>,
) {
    let Some(mut s) = state else { return };
    let split = s.compare.is_some();
    let t_s = s.playback.time_s;
    let sd = &scene.0;
    for side in 0..if split { 2 } else { 1 } {
        let frames = if side == 0 {
            &s.playback.frames
        } else {
            match &s.compare {
                Some(f) => f,
                None => continue,
            }
        };
        let k = frames.index_at(t_s);
        if s.shown[side] == Some(k) {
            continue;
        }
        let mesh = match frames.depth(k) {
            Ok(d) => crate::flood::water_mesh(&d, sd.terrain.as_ref(), &sd.origin, f64::from(sd.ramp.min_m)),
            Err(e) => {
                warn!("{e}");
                s.problem = Some(format!("{e:#}"));
                s.shown[side] = Some(k);
                continue;
            }
        };
        for (m, _) in water.iter().filter(|(_, w)| w.0 == side) {
            if let Some(mut target) = meshes.get_mut(&m.0) {
                *target = to_bevy_mesh(&mesh, RenderAssetUsages::default());
            }
        }
        for (e, _) in closed.iter().filter(|(_, c)| c.0 == side) {
            commands.entity(e).despawn();
        }
        let t = frames.frames[k].0;
        match crate::flood::closed_roads_mesh(sd, &frames.name, t) {
            Ok((roads, n)) if n > 0 => {
                let mut e = commands.spawn((
                    Mesh3d(meshes.add(to_bevy_mesh(&roads, RenderAssetUsages::RENDER_WORLD))),
                    MeshMaterial3d(materials.add(StandardMaterial {
                        base_color: Color::WHITE,
                        perceptual_roughness: 1.0,
                        depth_bias: 15.0,
                        ..default()
                    })),
                    Transform::IDENTITY,
                    ClosedRoads,
                    Side(side),
                ));
                if split {
                    e.insert(side_layers(side));
                }
            }
            Ok(_) => {}
            Err(e) => warn!("{e}"),
        }
        s.shown[side] = Some(k);
    }
}

/// Split screen: the run on the left half of the window, the one compared on the right.
fn layout_split(windows: Query<&Window>, mut cameras: Query<(&mut Camera, &Side), With<ViewCamera>>) {
    let Some(w) = windows.iter().next() else { return };
    let (width, height) = (w.physical_width().max(2), w.physical_height().max(1));
    let half = width / 2;
    for (mut c, side) in &mut cameras {
        let (x, wd) = if side.0 == 0 {
            (0, half)
        } else {
            (half, width - half)
        };
        let want = Viewport {
            physical_position: UVec2::new(x, 0),
            physical_size: UVec2::new(wd, height),
            ..default()
        };
        let same = c.viewport.as_ref().is_some_and(|v| {
            v.physical_position == want.physical_position && v.physical_size == want.physical_size
        });
        if !same {
            c.viewport = Some(want);
        }
    }
}

/// The hall's window takes its monitor's whole size, also where no window manager applies the
/// borderless fullscreen mode (an X server without one, such as Xvfb).
fn fill_the_screen(
    monitors: Query<&bevy::window::Monitor, With<bevy::window::PrimaryMonitor>>,
    mut windows: Query<&mut Window, With<bevy::window::PrimaryWindow>>,
) {
    let (Some(m), Ok(mut w)) = (monitors.iter().next(), windows.single_mut()) else {
        return;
    };
    let (mw, mh) = (m.physical_width, m.physical_height);
    if mw > 0 && mh > 0 && (w.resolution.physical_width() != mw || w.resolution.physical_height() != mh) {
        w.resolution.set_physical_resolution(mw, mh);
        w.position = bevy::window::WindowPosition::At(IVec2::ZERO);
    }
}

/// `cim view --screenshot`: the window's image after it has settled, then exit.
#[derive(Resource, Debug)]
struct ShotThenExit {
    path: std::path::PathBuf,
    frames_left: u32,
}

fn shot_then_exit(mut commands: Commands, mut shot: ResMut<ShotThenExit>, backlog: Res<TerrainBacklog>) {
    if shot.frames_left == 0 {
        return;
    }
    if backlog.0 == 0 {
        shot.frames_left -= 1;
    }
    if shot.frames_left > 0 {
        return;
    }
    let path = shot.path.clone();
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
            let saved = captured
                .image
                .clone()
                .try_into_dynamic()
                .map_err(|e| e.to_string())
                .and_then(|img| img.to_rgb8().save(&path).map_err(|e| e.to_string()));
            match saved {
                Ok(()) => {
                    exit.write(AppExit::Success);
                }
                Err(e) => {
                    error!("cannot write {}: {e}", path.display());
                    exit.write(AppExit::error());
                }
            }
        },
    );
}
