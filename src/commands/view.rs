//! `cim view` (the 3D viewer window) and `cim render` (the same view as an image, offscreen).

use anyhow::{bail, Context, Result};
use cim_engine::Viewpoint;
use cim_viewer::model::views::camera_of;
use cim_viewer::{load_scene, RenderRequest};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ViewArgs {
    pub project: PathBuf,
    /// Command-hall mode: fullscreen.
    #[arg(long)]
    pub hall: bool,
    /// Play back this stored run: a flood (water, closed roads, flooded buildings), a traffic
    /// run (vehicles, roads by speed or congestion), or a traffic run with the flood it drove
    /// round (both together).
    #[arg(long)]
    pub run: Option<String>,
    /// Show this run beside --run (split screen: baseline and variant, one camera, one time).
    #[arg(long, requires = "run")]
    pub compare: Option<String>,
    /// Write the window's image (PNG) once it has settled, then close (for reports and tests).
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// The window's size WIDTHxHEIGHT in pixels (default 1280x720; with --hall, the screen's).
    #[arg(long)]
    pub size: Option<String>,
    #[command(flatten)]
    pub tiles: TileArgs,
}

/// How tilesets (real-scene 3D, point clouds) stream and draw.
#[derive(Args, Clone, Debug)]
pub struct TileArgs {
    /// Tilesets: the largest screen-space error drawn, pixels (lower draws finer tiles and
    /// takes more memory).
    #[arg(long, default_value_t = cim_viewer::model::tiles::DEFAULT_MAX_SSE)]
    pub sse: f64,
    /// Tilesets: the memory decoded tiles may take, MB (what is on screen stays even over it).
    #[arg(long, default_value_t = cim_viewer::state::DEFAULT_TILE_BUDGET >> 20)]
    pub tile_budget: usize,
    /// Point clouds coloured by rgb (their own colours), class, height or intensity.
    #[arg(long, default_value = "rgb")]
    pub points: String,
}

impl TileArgs {
    pub fn settings(&self) -> Result<cim_viewer::state::TileSettings> {
        if !(self.sse.is_finite() && self.sse > 0.0) {
            bail!(
                "--sse {}: expected a number of pixels above 0 (16 by default)",
                self.sse
            );
        }
        if self.tile_budget == 0 {
            bail!("--tile-budget 0: expected megabytes above 0 (512 by default)");
        }
        let point_colors = cim_viewer::model::tiles::PointColors::parse(&self.points).with_context(|| {
            format!(
                "--points '{}': expected rgb, class, height or intensity",
                self.points
            )
        })?;
        Ok(cim_viewer::state::TileSettings {
            max_sse: self.sse,
            budget_bytes: self.tile_budget.saturating_mul(1 << 20),
            point_colors,
            ..Default::default()
        })
    }
}

#[derive(Args)]
pub struct ViewpointArgs {
    pub project: PathBuf,
    /// The viewpoint's name (none: list them).
    pub name: Option<String>,
    /// Camera: focus x,y,z in the project CRS, heading, tilt (degrees) and distance (m), as for
    /// `cim render --camera`.
    #[arg(long, allow_hyphen_values = true)]
    pub camera: Option<String>,
    /// Remove the viewpoint instead.
    #[arg(long, conflicts_with = "camera")]
    pub delete: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RenderArgs {
    pub project: PathBuf,
    /// Image size WIDTHxHEIGHT in pixels.
    #[arg(long, default_value = "1920x1080")]
    pub size: String,
    /// The PNG to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Camera: focus x,y,z in the project CRS, heading (degrees clockwise from north), tilt
    /// (degrees below the horizon) and distance (m), e.g. 500100,2500100,20,30,45,800. Default:
    /// the whole scene.
    #[arg(long, allow_hyphen_values = true, conflicts_with = "view")]
    pub camera: Option<String>,
    /// Camera: a viewpoint saved in the project (with `B` in `cim view`, or `cim viewpoint`).
    #[arg(long)]
    pub view: Option<String>,
    /// Draw this stored run: a flood's water depth over the scene and buildings coloured by
    /// class; a traffic run's vehicles and roads coloured by their traffic (with the water of
    /// the flood it drove round).
    #[arg(long)]
    pub run: Option<String>,
    /// A traffic run's roads coloured by `speed` (mean speed against the limit) or
    /// `congestion` (vehicles per km and lane).
    #[arg(long, default_value = "speed", requires = "run")]
    pub roads_by: String,
    /// Time into the run: minutes, or with a unit (90s, 30min, 1.5h). Default: its end.
    #[arg(long, requires = "run")]
    pub time: Option<String>,
    /// Show this feature (city code) selected: a building highlighted, a road or parcel
    /// outlined.
    #[arg(long)]
    pub select: Option<String>,
    /// Also time this many frames after the first and print the frame times.
    #[arg(long, default_value_t = 0)]
    pub bench: usize,
    /// Draw a title (project, run, time), a legend, a north arrow and a scale bar over the
    /// image, for reports.
    #[arg(long)]
    pub overlay: bool,
    #[command(flatten)]
    pub tiles: TileArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn view(a: ViewArgs) -> Result<()> {
    let size = a.size.as_deref().map(parse_size).transpose()?;
    let tiles = a.tiles.settings()?;
    let mut scene = load_scene(&a.project).with_context(|| format!("cannot show {}", a.project.display()))?;
    for n in &scene.notices {
        eprintln!("note: {n}");
    }
    let run = a
        .run
        .as_deref()
        .map(|r| cim_viewer::native::load_run(&a.project, r))
        .transpose()?;
    let compare = a
        .compare
        .as_deref()
        .map(|r| cim_viewer::native::load_run(&a.project, r))
        .transpose()?;
    for side in run.iter().chain(compare.iter()) {
        note_side(&mut scene, side);
    }
    // Buildings take their flood class colour in the window (a choice in its Layers panel).
    cim_viewer::view(
        scene,
        cim_viewer::ViewOptions {
            hall: a.hall,
            run,
            compare,
            screenshot: a.screenshot,
            size,
            tiles,
        },
    )
}

/// Notes what cannot be shown of a run, and where its water may not fit the scene (the window
/// shows them with the other notices).
fn note_side(scene: &mut cim_viewer::SceneData, side: &cim_viewer::model::run::SideRun) {
    if let Some(n) = &side.notice {
        eprintln!("note: {n}");
    }
    if let Some(t) = &side.traffic {
        let (a, b) = t.span();
        eprintln!(
            "run '{}': {} vehicle frames from {} to {} over {} edges{}",
            side.name,
            t.frames.len(),
            hms(a),
            hms(b),
            t.edges.len(),
            t.flood_run
                .as_ref()
                .filter(|_| side.flood.is_some())
                .map(|f| format!(", with the water of flood run '{f}'"))
                .unwrap_or_default()
        );
    }
    if let Some(frames) = &side.flood {
        note_run_terrain(scene, frames);
    }
}

fn hms(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Notes where a run's water may not fit the scene (the window shows it with the other notices).
fn note_run_terrain(scene: &mut cim_viewer::SceneData, frames: &cim_viewer::model::flood::RunFrames) {
    match cim_viewer::native::run_terrain_notice(scene, frames) {
        Ok(Some(n)) => {
            eprintln!("note: {n}");
            scene.notices.push(n);
        }
        Ok(None) => {}
        Err(e) => eprintln!("note: run '{}': {e:#}", frames.name),
    }
}

fn parse_size(text: &str) -> Result<(u32, u32)> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .with_context(|| format!("--size '{text}': expected WIDTHxHEIGHT, e.g. 1920x1080"))?;
    let (w, h): (u32, u32) = (
        w.trim()
            .parse()
            .with_context(|| format!("--size '{text}': bad width"))?,
        h.trim()
            .parse()
            .with_context(|| format!("--size '{text}': bad height"))?,
    );
    if !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        bail!("--size '{text}': width and height must be 16 to 8192 pixels");
    }
    Ok((w, h))
}

/// `--time`: minutes, or a number with s, min or h.
fn parse_minutes(text: &str) -> Result<f64> {
    let t = text.trim();
    let (num, per_min) = if let Some(n) = t.strip_suffix("min") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0 / 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("--time '{text}': expected minutes, or a number with s, min or h"))?;
    if !v.is_finite() || v < 0.0 {
        bail!("--time '{text}': must be zero or more");
    }
    Ok(v * per_min)
}

/// `--camera x,y,z,heading,tilt,distance` as a viewpoint named `name` (checked).
fn parse_viewpoint(text: &str, name: &str) -> Result<Viewpoint> {
    let v: Vec<f64> = text
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--camera '{text}': expected x,y,z,heading,tilt,distance"))?;
    let [x, y, z, heading, tilt, distance] = v.as_slice() else {
        bail!("--camera '{text}': expected six numbers x,y,z,heading,tilt,distance");
    };
    let vp = Viewpoint {
        name: name.to_string(),
        focus: [*x, *y, *z],
        heading_deg: *heading,
        tilt_deg: *tilt,
        distance_m: *distance,
    };
    vp.validate().with_context(|| format!("--camera '{text}'"))?;
    Ok(vp)
}

/// What a drawn run showed: water, traffic (with the road colouring).
#[derive(Clone, Copy, Default)]
struct Drawn {
    water: bool,
    traffic: Option<cim_viewer::model::traffic::RoadColour>,
}

/// The overlay of `cim render --overlay`: the project (and run and time) as the title; as the
/// legend, the water's depths and the buildings' flood classes, or the roads' traffic classes
/// (when a run is drawn).
fn report_overlay(
    a: &RenderArgs,
    run_frame_s: Option<f64>,
    drawn: Drawn,
) -> cim_viewer::ui::report::ReportOverlay {
    let lang = cim_viewer::native::locale_lang();
    let project = a
        .project
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut o = cim_viewer::ui::report::ReportOverlay {
        title: project,
        ..Default::default()
    };
    if let (Some(run), Some(t)) = (&a.run, run_frame_s) {
        let s = t.round() as u64;
        o.title = format!(
            "{} · {} {run} · {}:{:02}:{:02}",
            o.title,
            lang.t("run"),
            s / 3600,
            s / 60 % 60,
            s % 60
        );
        if drawn.water {
            o.legend_title = lang.t("water_depth").to_string();
            o.legend = cim_viewer::model::flood::depth_legend();
            o.legend2_title = lang.t("flood_class").to_string();
            o.legend2 = cim_viewer::model::flood::CLASSES
                .iter()
                .map(|c| (c.to_string(), cim_viewer::model::flood::class_color(c)))
                .collect();
        }
        if let Some(by) = drawn.traffic {
            use cim_viewer::model::traffic::RoadColour;
            let (title, legend) = (
                lang.t(match by {
                    RoadColour::Speed => "by_speed",
                    RoadColour::Congestion => "by_congestion",
                })
                .to_string(),
                cim_viewer::model::traffic::road_legend(by),
            );
            // The water's depths stay; the roads take the buildings' place.
            if drawn.water {
                (o.legend2_title, o.legend2) = (title, legend);
            } else {
                (o.legend_title, o.legend) = (title, legend);
            }
        }
    }
    o
}

pub fn render(a: RenderArgs) -> Result<()> {
    let (width, height) = parse_size(&a.size)?;
    let launched = std::time::Instant::now();
    let mut scene =
        load_scene(&a.project).with_context(|| format!("cannot render {}", a.project.display()))?;
    let loaded = launched.elapsed();
    for n in &scene.notices {
        eprintln!("note: {n}");
    }
    let mut camera = a
        .camera
        .as_deref()
        .map(|c| parse_viewpoint(c, "--camera").map(|v| camera_of(&v, &scene)))
        .transpose()?;
    if let Some(name) = &a.view {
        let project = super::open_project(&a.project)?;
        let saved = project.viewpoints()?;
        let Some(v) = saved.iter().find(|v| v.name == *name) else {
            let names: Vec<&str> = saved.iter().map(|v| v.name.as_str()).collect();
            bail!(
                "--view '{name}': no such viewpoint in {} (saved: {})",
                a.project.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            );
        };
        camera = Some(camera_of(v, &scene));
    }
    let select = a
        .select
        .as_deref()
        .map(|c| cim_engine::CityCode::parse(c).with_context(|| format!("--select '{c}'")))
        .transpose()?;
    let mut water = None;
    // The time of the run's frame drawn, s.
    let mut run_frame_s = None;
    let mut traffic_drawn = None;
    let mut kinds = Drawn::default();
    if let Some(run) = &a.run {
        let side = cim_viewer::native::load_run(&a.project, run)?;
        note_side(&mut scene, &side);
        let by = match a.roads_by.as_str() {
            "speed" => cim_viewer::model::traffic::RoadColour::Speed,
            "congestion" => cim_viewer::model::traffic::RoadColour::Congestion,
            other => bail!("--roads-by '{other}': expected speed or congestion"),
        };
        let t = match &a.time {
            Some(text) => parse_minutes(text)? * 60.0,
            None => f64::INFINITY,
        };
        let drawn = cim_viewer::native::run_image(&mut scene, &side, t, by)?;
        kinds = Drawn {
            water: side.flood.is_some(),
            traffic: side.traffic.is_some().then_some(by),
        };
        let (shown_s, n_closed) = (drawn.frame_s, drawn.closed_roads);
        water = drawn.water;
        run_frame_s = Some(shown_s);
        let shown_min = shown_s / 60.0;
        let asked = match &a.time {
            // Frames are stored at the run's output interval: say which one stands for the time.
            Some(_) if t / 60.0 < shown_min - 1e-6 => {
                format!(" (its first frame; none is stored as early as {} min)", t / 60.0)
            }
            Some(_) if t / 60.0 > shown_min + 1e-6 => {
                format!(" (the last frame stored at or before {} min)", t / 60.0)
            }
            Some(_) => String::new(),
            None => " (its last frame)".into(),
        };
        let mut what = Vec::new();
        if side.flood.is_some() {
            what.push(format!("{n_closed} roads closed"));
        }
        if side.traffic.is_some() {
            what.push(format!(
                "{} vehicles, {} road edges coloured by {}",
                drawn.vehicles, drawn.roads_coloured, a.roads_by
            ));
            traffic_drawn = Some((drawn.vehicles, drawn.roads_coloured));
        }
        eprintln!("run '{run}' at {shown_min} min{asked}: {}", what.join("; "));
    }
    let overlay = a.overlay.then(|| report_overlay(&a, run_frame_s, kinds));
    let (objects, tiles) = (scene.buildings.len(), scene.tiles.len());
    let buildings = scene
        .buildings
        .iter()
        .filter(|b| b.kind == cim_engine::FeatureKind::Building)
        .count();
    let others = objects - buildings;
    let per_building = scene.building_bytes_beyond_meshes() as f64 / objects.max(1) as f64;
    let shot = cim_viewer::render(
        scene,
        &RenderRequest {
            width,
            height,
            camera,
            bench_frames: a.bench,
            select,
            water,
            overlay,
            tiles: a.tiles.settings()?,
        },
    )?;
    // From the start of the command: reading the project, then the renderer's first frame.
    let since_launch = loaded + shot.first_frame;
    shot.save_png(&a.out)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut times: Vec<f64> = shot.frame_times.iter().map(|d| ms(*d)).collect();
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"out": a.out, "width": width, "height": height, "adapter": shot.adapter,
                "buildings": buildings, "other_city_objects": others, "building_tiles": tiles, "first_frame_ms": ms(since_launch), "scene_load_ms": ms(loaded),
                "bytes_per_building_beyond_meshes": per_building,
                "terrain_chunks": shot.terrain_chunks, "terrain_triangles": shot.terrain_triangles,
                "run_frame_s": run_frame_s,
                "tiles_drawn": shot.tiles.drawn, "tile_triangles": shot.tiles.triangles, "tile_points": shot.tiles.points,
                "tile_bytes_held": shot.tiles.held_bytes, "tiles_failed": shot.tiles.failed,
                "vehicles": traffic_drawn.map(|t| t.0), "roads_coloured": traffic_drawn.map(|t| t.1),
                "frames": times.len(), "median_frame_ms": median})
        );
    } else {
        println!(
            "wrote {} ({width}×{height}, {buildings} buildings{} in {tiles} tiles) on {}; first frame {:.0} ms after launch (scene read in {:.0} ms)",
            a.out.display(),
            if others > 0 {
                format!(" and {others} other city objects")
            } else {
                String::new()
            },
            shot.adapter,
            ms(since_launch),
            ms(loaded)
        );
        if shot.tiles.drawn > 0 || !shot.tiles.failed.is_empty() {
            println!(
                "tilesets: {} tiles drawn ({} triangles, {} points), {:.1} MB held",
                shot.tiles.drawn,
                shot.tiles.triangles,
                shot.tiles.points,
                shot.tiles.held_bytes as f64 / 1e6
            );
        }
        for f in &shot.tiles.failed {
            eprintln!("warning: {f}");
        }
        if let Some(m) = median {
            println!("{} frames: median {m:.1} ms ({:.1} fps)", times.len(), 1e3 / m);
            println!("memory beyond the meshes: {per_building:.0} B a building");
            println!(
                "terrain: {} chunks, {} triangles drawn",
                shot.terrain_chunks, shot.terrain_triangles
            );
        }
    }
    Ok(())
}

/// `cim viewpoint`: saves (with `--camera`), removes (`--delete`) or lists the project's
/// viewpoints.
pub fn viewpoint(a: ViewpointArgs) -> Result<()> {
    let mut project = super::open_project(&a.project)?;
    let named = || {
        a.name
            .clone()
            .with_context(|| "give the viewpoint's name (cim viewpoint PROJECT NAME ...)".to_string())
    };
    if a.delete {
        let name = named()?;
        if !project.delete_viewpoint(&name)? {
            bail!("no viewpoint '{name}' in {}", a.project.display());
        }
    } else if let Some(text) = &a.camera {
        project.save_viewpoint(&parse_viewpoint(text, &named()?)?)?;
    }
    let all = project.viewpoints()?;
    if a.json {
        let list: Vec<serde_json::Value> = all
            .iter()
            .map(|v| serde_json::json!({"name": v.name, "focus": v.focus, "heading_deg": v.heading_deg, "tilt_deg": v.tilt_deg, "distance_m": v.distance_m}))
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for (k, v) in all.iter().enumerate() {
            println!(
                "{:>2}  {:<20} {:.1},{:.1},{:.1}  heading {:.0}°  tilt {:.0}°  {:.0} m",
                k + 1,
                v.name,
                v.focus[0],
                v.focus[1],
                v.focus[2],
                v.heading_deg,
                v.tilt_deg,
                v.distance_m
            );
        }
    }
    Ok(())
}
