//! What only the desktop has: the GPU probe, the display check, the locale from the
//! environment, the window (`cim view`), offscreen images written as PNG (`cim render`) and
//! screenshots. A browser build leaves this module out.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bevy::camera::visibility::RenderLayers;
use bevy::camera::{ClearColorConfig, RenderTarget};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::render::RenderPlugin;
use bevy::window::{ExitCondition, WindowMode};
use bevy::winit::WinitPlugin;

use crate::app::ViewerPlugins;
use crate::camera::camera_bundle;
use crate::data::{wait, Data, ProjectSource};
use crate::model::camera::OrbitCamera;
use crate::model::i18n::Lang;
use crate::model::load::SceneData;
use crate::model::scene::MeshData;
use crate::model::views::{frame_scene, scene_span};
use crate::playback::WaterOverlay;
use crate::state::ViewHeightPx;
use crate::state::{
    HallMode, PlaybackState, RunKpis, Scene, Selection, Side, Split, Styling, TileSettings, TileStats,
    UiLang, UI_FONT,
};
use crate::terrain::{TerrainBacklog, TerrainBudget, TerrainChunk};

/// The system's language: the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set.
pub fn locale_lang() -> Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .map_or(Lang::En, |v| Lang::from_locale(&v))
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
    /// What the tilesets drew and held at the end.
    pub tiles: TileStats,
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
    pub overlay: Option<crate::ui::report::ReportOverlay>,
    /// How tilesets stream (the image waits until every tile it needs is drawn).
    pub tiles: TileSettings,
}

/// Renders the scene offscreen (no window, no display needed).
pub fn render(scene: SceneData, req: &RenderRequest) -> anyhow::Result<Rendered> {
    quiet_wayland_probe();
    let adapter = find_gpu().map_err(|e| anyhow::anyhow!(e))?;
    let start = Instant::now();
    let source = ProjectSource::shared(&scene.project_path);
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
    .insert_resource(Data(source.clone()))
    .insert_resource(ViewHeightPx(req.height as f32))
    .insert_resource(TerrainBudget(usize::MAX))
    .insert_resource(TileSettings {
        per_frame: usize::MAX,
        ..req.tiles
    })
    .insert_resource(WaterOverlay(req.water.clone().unwrap_or_default()))
    .add_plugins(ViewerPlugins::offscreen());
    if let Some(code) = &req.select {
        // A building is highlighted in its tile; anything else is outlined on the ground.
        let selection = match scene.building_by_code(code) {
            Some(building) => Selection {
                building: Some(building),
                hit: None,
                ..Default::default()
            },
            None => match wait(source.feature(code.clone()))? {
                Some(f) => crate::ui::panels::SearchResult::of(&f).selection(&scene),
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
        crate::ui::report::spawn_report_overlay(app.world_mut(), camera, overlay, &orbit, req.height, font);
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
        let settled = app.world().resource::<TerrainBacklog>().0 == 0
            && app
                .world()
                .get_resource::<TileStats>()
                .is_none_or(|t| t.waiting == 0)
            && crate::data::in_flight() == 0
            && frame >= 2;
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
        tiles: app
            .world()
            .get_resource::<TileStats>()
            .cloned()
            .unwrap_or_default(),
    })
}

/// What the window shows besides the scene.
#[derive(Clone, Debug, Default)]
pub struct ViewOptions {
    /// Command-hall mode: fullscreen, the UI at double size, the dashboard, the tour.
    pub hall: bool,
    /// A run to play back (a flood, a traffic run, or both).
    pub run: Option<crate::model::run::SideRun>,
    /// A second run to show beside it (split screen: baseline and variant).
    pub compare: Option<crate::model::run::SideRun>,
    /// Write the window's image here once it has settled, then close.
    pub screenshot: Option<std::path::PathBuf>,
    /// The window's size in pixels (default 1280×720; the hall takes the screen's).
    pub size: Option<(u32, u32)>,
    /// How tilesets stream.
    pub tiles: TileSettings,
}

/// Opens the viewer window (fullscreen for the command hall); returns when it is closed.
pub fn view(scene: SceneData, options: ViewOptions) -> anyhow::Result<()> {
    let ViewOptions {
        hall,
        run,
        compare,
        screenshot,
        size,
        tiles,
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
    let source = ProjectSource::shared(&scene.project_path);
    let scene = Arc::new(scene);
    let span = scene_span(&scene);
    let title = format!("cim — {}", source.label());
    let bookmarks = wait(source.viewpoints()).unwrap_or_default();
    let picker = match wait(crate::pick::PickIndex::load(source.as_ref())) {
        Ok(i) => Some(i),
        Err(e) => {
            eprintln!("warning: picking is off: {e:#}");
            None
        }
    };
    let orbit = frame_scene(&scene, 16.0 / 9.0);
    let lang = locale_lang();
    let split = compare.is_some();
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
    .insert_resource(Data(source.clone()))
    .insert_resource(Split(split))
    .insert_resource(tiles)
    .insert_resource(crate::pick::Picker(picker))
    .insert_resource(UiScale(if hall { 2.0 } else { 1.0 }))
    .insert_resource(HallMode(hall))
    .insert_resource(UiLang(lang))
    .insert_resource(crate::views::Bookmarks(bookmarks))
    .insert_resource(crate::views::TourState {
        auto: hall,
        ..default()
    });
    let sides: Vec<crate::model::run::SideRun> = run.into_iter().chain(compare).collect();
    if !sides.is_empty() {
        let state = PlaybackState::new(sides);
        let sides = &state.sides;
        let mut styling = Styling::new(&scene);
        styling.runs = [0, 1].map(|k| sides.get(k).and_then(|s| s.flood_name()).map(str::to_string));
        let mut kpis = Vec::new();
        if styling.runs.iter().any(Option::is_some) {
            // Buildings coloured by how deep they flooded in each run's water, as at the
            // playback's first frame (what it shows at the start); they follow the frames shown
            // from then on.
            styling.color_by = crate::model::style::ColorBy::FloodClass;
            styling.run_time_s = sides
                .iter()
                .find_map(|s| s.flood.as_ref())
                .and_then(|f| f.frames.get(f.index_at(state.playback.time_s)))
                .map(|f| f.0);
            let coloured = wait(crate::layers::colorings(
                source.as_ref(),
                &scene,
                &styling.color_by,
                styling.classing,
                &styling.runs,
                styling.run_time_s,
                lang,
            ));
            crate::layers::apply_colorings(&mut styling, coloured);
            for name in styling.runs.iter().flatten() {
                match wait(crate::model::flood::run_kpis(source.as_ref(), name)) {
                    Ok(k) => kpis.push((name.clone(), k)),
                    Err(e) => eprintln!("warning: run '{name}': no KPIs: {e:#}"),
                }
            }
            // An empty surface now, filled by the playback with the first frame.
            app.insert_resource(WaterOverlay(MeshData {
                positions: vec![[0.0; 3]; 3],
                normals: vec![[0.0, 1.0, 0.0]; 3],
                colors: vec![[0.0; 4]; 3],
                indices: vec![0, 1, 2],
                uvs: None,
            }));
        }
        app.insert_resource(styling)
            .insert_resource(RunKpis(kpis))
            .insert_resource(state);
    }
    // The panels' egui context goes on the camera chosen below, not on whichever camera a
    // query meets first (two would each take one in split screen).
    app.insert_resource(bevy_egui::EguiGlobalSettings {
        auto_create_primary_context: false,
        ..default()
    })
    .add_plugins(ViewerPlugins::window());
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
    let font = app
        .world_mut()
        .resource_mut::<Assets<Font>>()
        .add(Font::from_bytes(UI_FONT.to_vec()));
    app.insert_resource(crate::ui::UiFont(font));
    if split {
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
            bevy_egui::PrimaryEguiContext,
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
    } else {
        app.world_mut()
            .spawn((camera_bundle(orbit, span), Side(0), bevy_egui::PrimaryEguiContext));
    }
    app.run();
    Ok(())
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
    if backlog.0 == 0 && crate::data::in_flight() == 0 {
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

/// Run `name` of the project at `project`: what it plays (a clear error naming the runs there
/// are when it is missing).
pub fn load_run(project: &Path, name: &str) -> anyhow::Result<crate::model::run::SideRun> {
    wait(crate::model::run::SideRun::load(
        &ProjectSource::new(project),
        name,
    ))
}

/// Why a run's water may not fit the scene now, if it may not
/// ([`crate::model::flood::terrain_notice`]).
pub fn run_terrain_notice(
    scene: &SceneData,
    frames: &crate::model::flood::RunFrames,
) -> anyhow::Result<Option<String>> {
    wait(crate::model::flood::terrain_notice(
        &ProjectSource::new(&scene.project_path),
        scene,
        frames,
    ))
}

/// A run drawn in an image at one time.
#[derive(Debug, Default)]
pub struct RunImage {
    /// The time drawn, s: the water's frame (at or before the time asked), else the time asked
    /// within the traffic run.
    pub frame_s: f64,
    /// The water surface, where the run has water.
    pub water: Option<MeshData>,
    /// Roads closed then (added to the scene as a layer of red ribbons).
    pub closed_roads: usize,
    /// Vehicles drawn, and road edges coloured by their traffic (traffic runs).
    pub vehicles: usize,
    pub roads_coloured: usize,
}

/// Draws `run` at `t_s` into `scene`: its water's frame at or before it (buildings in their
/// flood class then, closed roads as a layer) and its traffic (roads coloured `by`, vehicles,
/// each a layer); returns what was drawn, with the water surface to draw over it.
pub fn run_image(
    scene: &mut SceneData,
    run: &crate::model::run::SideRun,
    t_s: f64,
    by: crate::model::traffic::RoadColour,
) -> anyhow::Result<RunImage> {
    let source = ProjectSource::new(&scene.project_path);
    let mut out = RunImage::default();
    let t_s = match &run.traffic {
        Some(t) => t_s.clamp(t.span().0, t.span().1),
        None => t_s,
    };
    out.frame_s = t_s;
    if let Some(frames) = &run.flood {
        let k = frames.index_at(t_s);
        let frame_s = frames.frames[k].0;
        if run.traffic.is_none() {
            out.frame_s = frame_s;
        }
        let depth = wait(frames.depth(&source, k))?;
        wait(crate::model::flood::color_buildings_by_class(
            &source,
            scene,
            &frames.name,
            Some(frame_s),
        ))?;
        out.water = Some(crate::model::flood::water_mesh(
            &depth,
            scene.terrain.as_ref(),
            &scene.origin,
            f64::from(scene.ramp.min_m),
        ));
        let (closed, n) = wait(crate::model::flood::closed_roads(
            &source,
            scene,
            &frames.name,
            run.closures_time(frame_s),
        ))?;
        out.closed_roads = n;
        if n > 0 {
            scene.overlays.push(crate::model::load::Overlay {
                layer: "closed roads".into(),
                kind: cim_engine::FeatureKind::Road,
                mesh: closed,
            });
        }
    }
    if let Some(t) = &run.traffic {
        let (z, terrain) = (f64::from(scene.ramp.min_m), scene.terrain.as_ref());
        let (roads, n) =
            crate::model::traffic::road_state_mesh(t, t.bin_at(t_s), by, terrain, z, &scene.origin);
        let vehicles = t.vehicles_at(t_s, &mut crate::model::traffic::FrameCache::default())?;
        let cars = crate::model::traffic::vehicle_mesh(&vehicles, terrain, z, &scene.origin);
        (out.roads_coloured, out.vehicles) = (n, vehicles.len());
        for (layer, mesh) in [("road traffic", roads), ("vehicles", cars)] {
            if !mesh.is_empty() {
                scene.overlays.push(crate::model::load::Overlay {
                    layer: layer.into(),
                    kind: cim_engine::FeatureKind::Road,
                    mesh,
                });
            }
        }
    }
    Ok(out)
}
