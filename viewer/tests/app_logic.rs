//! The viewer's systems run headless (no window, no GPU): `App::update()` with its plugins,
//! checking what they decide.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bevy::prelude::*;
use cim_engine::Raster;
use cim_viewer::buildings::{BuildingTileMesh, BuildingsPlugin, FarLevel};
use cim_viewer::camera::camera_bundle;
use cim_viewer::data::{wait, Data, ProjectSource};
use cim_viewer::model::load::{BuildingRecord, SceneData, BUILDING_COLOR};
use cim_viewer::model::scene::{build_tiles, BuildingInput, ElevationRamp, LocalOrigin, MAX_STEP};
use cim_viewer::playback::{PlaybackPlugin, WaterOverlay, WaterSurface};
use cim_viewer::state::ViewHeightPx;
use cim_viewer::state::{PlaybackState, Scene, ViewCamera};
use cim_viewer::terrain::{TerrainBacklog, TerrainChunk, TerrainPlugin};
use cim_viewer::OrbitCamera;
use geo::{polygon, MultiPolygon};

/// 640 × 640 cells of 1 m (10 × 10 chunks) of gentle slope, and two buildings.
fn scene() -> SceneData {
    scene_with(false)
}

/// Building 0's LoD2: walls from 11 m to the eaves at 24 m and a hipped roof up to 30 m (its
/// LOD1 prism, 11–30 m, drawn far).
fn hipped(x: f64) -> cim_engine::mesh::Mesh3 {
    use cim_engine::mesh::{MeshBuilder, SurfaceClass};
    let (y0, y1) = (3_000_100.0, 3_000_130.0);
    let c = [[x, y0], [x + 20.0, y0], [x + 20.0, y1], [x, y1]];
    let mut b = MeshBuilder::new([x, y0, 0.0]);
    for k in 0..4 {
        let (a, d) = (c[k], c[(k + 1) % 4]);
        let wall = vec![
            [a[0], a[1], 11.0],
            [d[0], d[1], 11.0],
            [d[0], d[1], 24.0],
            [a[0], a[1], 24.0],
        ];
        b.add_polygon(&[wall], SurfaceClass::Wall, None, None).unwrap();
        let apex = [x + 10.0, 0.5 * (y0 + y1), 30.0];
        let roof = vec![[a[0], a[1], 24.0], [d[0], d[1], 24.0], apex];
        b.add_polygon(&[roof], SurfaceClass::Roof, None, None).unwrap();
    }
    b.finish()
}

/// [`scene`], where `lod2` gives building 0 a LoD2 mesh and its LOD1 prism as the far form.
fn scene_with(lod2: bool) -> SceneData {
    let n = 641;
    let mut r = Raster::empty(n, n, 400_000.0, 3_000_640.0, 1.0, 1.0);
    for row in 0..n {
        for col in 0..n {
            // Rolling ground with metre-scale bumps, so that coarse meshes miss detail.
            let (x, y) = (col as f32, row as f32);
            r.data[row * n + col] = 10.0 + 0.01 * x + 1.5 * (x * 0.9).sin() * (y * 0.7).cos();
        }
    }
    let extent = r.extent();
    let origin = LocalOrigin::centre_of(extent, 10.0);
    let inputs: Vec<BuildingInput> = [(0u32, 400_100.0), (1, 400_500.0)]
        .iter()
        .map(|&(id, x)| BuildingInput {
            id,
            footprint: MultiPolygon(vec![polygon![(x: x, y: 3_000_100.0), (x: x + 20.0, y: 3_000_100.0), (x: x + 20.0, y: 3_000_130.0), (x: x, y: 3_000_130.0)]]),
            base_m: 11.0,
            top_m: 30.0,
            color: BUILDING_COLOR,
            mesh: (lod2 && id == 0).then(|| hipped(x)),
            paints: vec![],
            far: None,
        })
        .map(|mut b| {
            if b.mesh.is_some() {
                b.far = Some(cim_engine::mesh::extrude(&b.footprint, b.base_m, b.top_m));
            }
            b
        })
        .collect();
    SceneData {
        project_path: "synthetic".into(),
        extent,
        origin,
        tiles: build_tiles(&inputs, &origin, 256.0, &Default::default()),
        terrain: Some(r),
        ramp: ElevationRamp {
            min_m: 10.0,
            max_m: 16.4,
        },
        // Building 1 is in a second layer and stands from 2020 on.
        buildings: (0..2)
            .map(|i| BuildingRecord {
                code: cim_engine::CityCode::derive(
                    "000000",
                    cim_engine::FeatureKind::Building,
                    "b",
                    &i.to_string(),
                ),
                layer: i,
                // One tile each (they are 400 m apart).
                tile: u32::from(i),
                lod: None,
                kind: cim_engine::FeatureKind::Building,
                bim: None,
                valid_days: [if i == 1 { 18262 } else { i32::MIN }, i32::MAX],
            })
            .collect(),
        layers: vec!["buildings".into(), "planned".into()],
        overlays: vec![],
        notices: vec![],
        bim: Default::default(),
        tilesets: vec![],
        covered_chunks: vec![],
        under_photo: vec![],
        photo_fit: vec![],
    }
}

fn app(orbit: OrbitCamera) -> App {
    app_with(scene(), orbit)
}

fn app_with(scene: SceneData, orbit: OrbitCamera) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default(), TransformPlugin))
        .init_asset::<Mesh>()
        .init_asset::<StandardMaterial>()
        .init_asset::<cim_viewer::playback::water::WaterMaterial>()
        .insert_resource(Scene(Arc::new(scene)))
        // A small view, so that within this 640 m square distance already coarsens the terrain
        // (at 1080 px, 1 m cells stay at full detail out to 1.6 km).
        .insert_resource(ViewHeightPx(200.0))
        .add_plugins((TerrainPlugin, BuildingsPlugin));
    app.world_mut().spawn(camera_bundle(orbit, 900.0));
    app
}

fn steps(app: &mut App) -> Vec<((usize, usize), usize)> {
    let mut q = app.world_mut().query::<&TerrainChunk>();
    let mut v: Vec<_> = q
        .iter(app.world())
        .map(|c| ((c.key.cx, c.key.cy), c.step))
        .collect();
    v.sort();
    v
}

#[test]
fn near_chunks_get_fine_meshes_and_far_ones_coarse() {
    // Low over the south-west corner, looking north-east.
    let orbit = OrbitCamera {
        focus: [-300.0, 0.0, 300.0],
        yaw: 0.8,
        pitch: 0.3,
        distance: 60.0,
    };
    let mut app = app(orbit);
    for _ in 0..6 {
        app.update();
    }
    assert_eq!(app.world().resource::<TerrainBacklog>().0, 0);
    let s = steps(&mut app);
    assert_eq!(s.len(), 100);
    assert!(s.iter().all(|&(_, step)| (1..=MAX_STEP).contains(&step)));
    let step_at = |cx, cy| s.iter().find(|x| x.0 == (cx, cy)).unwrap().1;
    // South-west corner (row 9, column 0) is under the camera; the north-east is 900 m away.
    assert_eq!(step_at(0, 9), 1);
    assert!(step_at(9, 0) > step_at(0, 9), "{s:?}");
    // Every chunk has its mesh, and both building tiles are there.
    let mut meshes = app
        .world_mut()
        .query_filtered::<(), (With<TerrainChunk>, With<Mesh3d>)>();
    assert_eq!(meshes.iter(app.world()).count(), 100);
    let mut tiles = app.world_mut().query::<&BuildingTileMesh>();
    assert_eq!(tiles.iter(app.world()).count(), 2);

    // Far away, everything becomes coarse.
    let mut cams = app.world_mut().query::<&mut ViewCamera>();
    for mut c in cams.iter_mut(app.world_mut()) {
        c.0.zoom(1000.0);
    }
    for _ in 0..6 {
        app.update();
    }
    let s = steps(&mut app);
    assert!(s.iter().all(|&(_, step)| step >= 8), "{s:?}");
}

#[test]
fn playback_keys_step_through_the_frames_and_swap_the_water() {
    // Two depth frames over the middle of the scene: 1 wet cell, then 4.
    let dir = tempfile::tempdir().unwrap();
    let crs = cim_engine::Crs::parse("EPSG:32650").unwrap();
    let mut paths = Vec::new();
    for (k, wet) in [1usize, 4].iter().enumerate() {
        let mut r = Raster::empty(4, 4, 400_300.0, 3_000_340.0, 10.0, 10.0);
        r.data = (0..16).map(|c| if c < *wet { 0.5 } else { 0.0 }).collect();
        let path = dir.path().join(format!("depth_t{:06}.tif", 300 * (k + 1)));
        cim_importers::export::write_geotiff(&path, &r, &crs).unwrap();
        // As a run stored before its rasters moved inside the project left them.
        let t = 300.0 * (k + 1) as f64;
        let raster = cim_engine::RunRaster {
            quantity: "depth".into(),
            time_s: Some(t),
            at: cim_engine::RunRasterAt::GeoTiff(path),
        };
        paths.push((t, raster));
    }
    let frames = cim_viewer::model::flood::RunFrames {
        name: "r".into(),
        frames: paths,
    };
    let mut app = app(OrbitCamera {
        focus: [0.0; 3],
        yaw: 0.0,
        pitch: 0.8,
        distance: 500.0,
    });
    app.init_resource::<ButtonInput<KeyCode>>()
        // The frames are read through the data source (GeoTIFFs here need no project file).
        .insert_resource(Data(ProjectSource::shared(&dir.path().join("absent.cim.gpkg"))))
        .insert_resource(WaterOverlay(cim_viewer::model::scene::MeshData {
            positions: vec![[0.0; 3]; 3],
            normals: vec![[0.0, 1.0, 0.0]; 3],
            colors: vec![[0.0; 4]; 3],
            indices: vec![0, 1, 2],
            uvs: None,
        }))
        .insert_resource(PlaybackState::new(vec![cim_viewer::model::run::SideRun {
            name: "r".into(),
            flood: Some(frames),
            traffic: None,
            notice: None,
        }]))
        .add_plugins(PlaybackPlugin);
    let water_quads = |app: &mut App| {
        let mut q = app.world_mut().query_filtered::<&Mesh3d, With<WaterSurface>>();
        let handle = q.single(app.world()).unwrap().0.clone();
        let meshes = app.world().resource::<Assets<Mesh>>();
        meshes.get(&handle).unwrap().count_vertices() / 4
    };
    // A key is pressed for one frame; frames are read off the frame loop and shown when read.
    let press = |app: &mut App, key: Option<KeyCode>| {
        let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        keys.release_all();
        keys.clear();
        if let Some(k) = key {
            keys.press(k);
        }
        app.update();
        app.world_mut().resource_mut::<ButtonInput<KeyCode>>().clear();
    };
    let settle = |app: &mut App, want: &dyn Fn(&mut App) -> bool| {
        for _ in 0..500 {
            if want(app) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            app.update();
        }
        false
    };
    press(&mut app, None);
    assert!(settle(&mut app, &|a| water_quads(a) == 1));
    press(&mut app, Some(KeyCode::ArrowRight));
    assert_eq!(app.world().resource::<PlaybackState>().playback.time_s, 600.0);
    assert!(settle(&mut app, &|a| water_quads(a) == 4));
    press(&mut app, Some(KeyCode::ArrowLeft));
    assert!(settle(&mut app, &|a| water_quads(a) == 1));
    assert_eq!(app.world().resource::<PlaybackState>().problem, None);

    // A frame whose file has gone: the panel is told why, and the water stays as it was.
    std::fs::remove_file(dir.path().join("depth_t000600.tif")).unwrap();
    press(&mut app, Some(KeyCode::ArrowRight));
    assert!(settle(&mut app, &|a| a
        .world()
        .resource::<PlaybackState>()
        .problem
        .is_some()));
    let problem = app.world().resource::<PlaybackState>().problem.clone();
    assert!(
        problem.as_deref().is_some_and(|p| p.starts_with("run 'r'")),
        "{problem:?}"
    );
    assert_eq!(water_quads(&mut app), 1);
}

/// Building `id`'s vertex colours and positions as the GPU gets them.
fn building_vertices(app: &mut App, id: u32) -> (Vec<[f32; 4]>, Vec<[f32; 3]>) {
    building_vertices_at(app, id, false)
}

/// [`building_vertices`] in its tile's near level, or with `far` its far one.
fn building_vertices_at(app: &mut App, id: u32, far: bool) -> (Vec<[f32; 4]>, Vec<[f32; 3]>) {
    let scene = app.world().resource::<Scene>().0.clone();
    let tile = scene.buildings[id as usize].tile as usize;
    let level = if far {
        scene.tiles[tile].far.as_deref().unwrap()
    } else {
        &scene.tiles[tile]
    };
    let range = level.range_of(id).unwrap();
    let mut q = app
        .world_mut()
        .query::<(&BuildingTileMesh, &Mesh3d, Has<FarLevel>)>();
    let handle = q
        .iter(app.world())
        .find(|(t, _, f)| t.0 == tile && *f == far)
        .map(|(_, m, _)| m.0.clone())
        .unwrap();
    let meshes = app.world().resource::<Assets<Mesh>>();
    let mesh = meshes.get(&handle).unwrap();
    let r = range.start as usize..range.end as usize;
    let colors = match mesh.attribute(Mesh::ATTRIBUTE_COLOR) {
        Some(bevy::mesh::VertexAttributeValues::Float32x4(c)) => c[r.clone()].to_vec(),
        _ => panic!("no colours"),
    };
    let positions = match mesh.attribute(Mesh::ATTRIBUTE_POSITION) {
        Some(bevy::mesh::VertexAttributeValues::Float32x3(p)) => p[r].to_vec(),
        _ => panic!("no positions"),
    };
    (colors, positions)
}

fn collapsed(p: &[[f32; 3]]) -> bool {
    p.iter().all(|x| *x == p[0])
}

#[test]
fn layer_toggles_opacity_colours_as_of_and_selection_reach_the_meshes() {
    use cim_viewer::layers::LayersPlugin;
    use cim_viewer::model::style::{color_buildings, Classing, ColorBy, LegendWords, HIGHLIGHT};
    use cim_viewer::state::{Selection, Styling};
    let mut app = app(OrbitCamera {
        focus: [0.0; 3],
        yaw: 0.0,
        pitch: 0.8,
        distance: 500.0,
    });
    app.add_plugins(LayersPlugin);
    app.update();
    app.update();
    let (c0, p0) = building_vertices(&mut app, 0);
    let (_, p1) = building_vertices(&mut app, 1);
    assert!(c0.iter().all(|c| *c == BUILDING_COLOR));
    assert!(!collapsed(&p0) && !collapsed(&p1));

    // Hide the second layer: its building collapses, the other stays.
    app.world_mut().resource_mut::<Styling>().layers.buildings[1].0 = false;
    app.update();
    assert!(collapsed(&building_vertices(&mut app, 1).1));
    assert_eq!(building_vertices(&mut app, 0).1, p0);
    // Shown again, but as of 2019 it was not built yet; as of 2021 it stands.
    {
        let mut s = app.world_mut().resource_mut::<Styling>();
        s.layers.buildings[1].0 = true;
        s.layers.as_of = Some(cim_engine::Date::parse("2019-06-01").unwrap().days_since_epoch());
    }
    app.update();
    assert!(collapsed(&building_vertices(&mut app, 1).1));
    app.world_mut().resource_mut::<Styling>().layers.as_of =
        Some(cim_engine::Date::parse("2021-06-01").unwrap().days_since_epoch());
    app.update();
    assert_eq!(building_vertices(&mut app, 1).1, p1);

    // Half opacity for the first layer: its alpha, blended.
    app.world_mut().resource_mut::<Styling>().layers.buildings[0].1 = 0.5;
    app.update();
    assert!(building_vertices(&mut app, 0).0.iter().all(|c| c[3] == 0.5));
    assert!(building_vertices(&mut app, 1).0.iter().all(|c| c[3] == 1.0));
    let mut mats = app
        .world_mut()
        .query_filtered::<&MeshMaterial3d<StandardMaterial>, With<BuildingTileMesh>>();
    let handle = mats.iter(app.world()).next().unwrap().0.clone();
    let blended = app
        .world()
        .resource::<Assets<StandardMaterial>>()
        .get(&handle)
        .unwrap()
        .alpha_mode;
    assert_eq!(blended, AlphaMode::Blend);

    // Coloured by layer: two colours, as the legend says.
    let scene = app.world().resource::<Scene>().0.clone();
    let words = LegendWords {
        height: "height",
        layer: "layer",
        flood_class: "flood class",
        flood_class_worst: "flood class (worst)",
        other: "other",
        none: "none",
    };
    // By layer, nothing is read from the project.
    let source = ProjectSource::new(std::path::Path::new("synthetic"));
    let coloring = wait(color_buildings(
        &source,
        &scene,
        &ColorBy::Layer,
        Classing::Categorised,
        None,
        None,
        words,
    ))
    .unwrap()
    .unwrap();
    let legend = coloring.legend.rows.clone();
    {
        let mut s = app.world_mut().resource_mut::<Styling>();
        s.layers.buildings[0].1 = 1.0;
        s.coloring = Some(coloring);
        s.color_by = ColorBy::Layer;
    }
    app.update();
    let (a, b) = (
        building_vertices(&mut app, 0).0[0],
        building_vertices(&mut app, 1).0[0],
    );
    assert_ne!(a, b);
    assert_eq!(legend.len(), 2);
    assert!(legend.iter().any(|(l, c)| l == "buildings (1)" && *c == a));
    assert!(legend.iter().any(|(l, c)| l == "planned (1)" && *c == b));

    // Selecting building 1 highlights it; deselecting gives its layer colour back.
    app.insert_resource(Selection {
        building: Some(1),
        hit: None,
        ..Default::default()
    });
    app.update();
    assert!(building_vertices(&mut app, 1).0.iter().all(|c| *c == HIGHLIGHT));
    assert_eq!(building_vertices(&mut app, 0).0[0], a);
    app.insert_resource(Selection::default());
    app.update();
    assert!(building_vertices(&mut app, 1).0.iter().all(|c| *c == b));

    // The terrain layer off: every chunk hidden.
    app.world_mut().resource_mut::<Styling>().layers.terrain.0 = false;
    app.update();
    let mut vis = app
        .world_mut()
        .query_filtered::<&Visibility, With<TerrainChunk>>();
    assert!(vis.iter(app.world()).all(|v| *v == Visibility::Hidden));
}

#[test]
fn lod2_tiles_draw_lod1_when_small_on_screen_and_both_levels_are_painted() {
    use cim_viewer::layers::LayersPlugin;
    use cim_viewer::model::style::HIGHLIGHT;
    use cim_viewer::state::{Selection, Styling, TileLevels};
    let scene = scene_with(true);
    assert!(scene.tiles[0].far.is_some() && scene.tiles[1].far.is_none());
    // The far level has building 0's prism: 4 walls and a flat roof, 11–30 m.
    let far = scene.tiles[0].far.as_deref().unwrap();
    let near = &scene.tiles[0];
    assert_eq!(far.mesh.vertex_count(), 4 * 4 + 4);
    assert_eq!(far.bounds.1[1] - far.bounds.0[1], 19.0);
    assert!(
        near.mesh.triangle_count() == 4 * 2 + 4,
        "{}",
        near.mesh.triangle_count()
    );
    assert_eq!(scene.tiles[0].feature_m, 30.0);
    let focus = scene.origin.to_local(400_110.0, 3_000_115.0, 20.0);
    let mut app = app_with(
        scene,
        OrbitCamera {
            focus,
            yaw: 0.3,
            pitch: 0.6,
            distance: 80.0,
        },
    );
    app.add_plugins(LayersPlugin);
    app.update();
    app.update();
    let shown = |app: &mut App| {
        let mut q = app
            .world_mut()
            .query::<(&BuildingTileMesh, Has<FarLevel>, &Visibility)>();
        let mut v: Vec<(usize, bool)> = q
            .iter(app.world())
            .filter(|(_, _, v)| **v != Visibility::Hidden)
            .map(|(t, f, _)| (t.0, f))
            .collect();
        v.sort();
        v
    };
    // 80 m away in a 200 px view, the 30 m building spans 30 × 200 / (2 tan 0.35) / 80 ≈ 205 px:
    // near.
    assert_eq!(app.world().resource::<TileLevels>().far[0], [false, false]);
    assert_eq!(shown(&mut app), [(0, false), (1, false)]);
    // Selected, it is highlighted in both levels.
    app.insert_resource(Selection {
        building: Some(0),
        hit: None,
        ..Default::default()
    });
    app.update();
    assert!(building_vertices_at(&mut app, 0, false)
        .0
        .iter()
        .all(|c| *c == HIGHLIGHT));
    assert!(building_vertices_at(&mut app, 0, true)
        .0
        .iter()
        .all(|c| *c == HIGHLIGHT));
    // 5 km away it spans about 3 px: the far level is drawn instead.
    let mut cams = app.world_mut().query::<&mut ViewCamera>();
    for mut c in cams.iter_mut(app.world_mut()) {
        c.0.distance = 5_000.0;
    }
    app.update();
    assert!(app.world().resource::<TileLevels>().far(0, 0));
    assert_eq!(shown(&mut app), [(0, true), (1, false)]);
    // Its layer hidden, it collapses in the far level too.
    app.world_mut().resource_mut::<Styling>().layers.buildings[0].0 = false;
    app.update();
    assert!(collapsed(&building_vertices_at(&mut app, 0, true).1));
    assert!(collapsed(&building_vertices_at(&mut app, 0, false).1));
    // Back near (within the band where a near tile stays near).
    let mut cams = app.world_mut().query::<&mut ViewCamera>();
    for mut c in cams.iter_mut(app.world_mut()) {
        c.0.distance = 120.0;
    }
    app.update();
    assert_eq!(shown(&mut app), [(0, false), (1, false)]);
}

#[test]
fn tile_levels_switch_by_screen_size_with_a_band_against_flicker() {
    use cim_viewer::model::scene::{box_distance, tile_near, NEAR_PX};
    let fov = cim_viewer::state::FOV_Y;
    // A 10 m feature in a 1000 px view: 1000 / (2 tan 0.35) = 2740 px a metre at 1 m.
    let px = |d: f32| 10.0 * 1000.0 / (2.0 * (0.5 * fov).tan()) / d;
    let d_switch = 10.0 * 1000.0 / (2.0 * (0.5 * fov).tan()) / NEAR_PX;
    assert!((px(d_switch) - NEAR_PX).abs() < 1e-3);
    assert!(tile_near(10.0, 0.99 * d_switch, 1000.0, fov, false));
    assert!(!tile_near(10.0, 1.01 * d_switch, 1000.0, fov, false));
    // Once near, it stays so until 80 % of the size.
    assert!(tile_near(10.0, 1.2 * d_switch, 1000.0, fov, true));
    assert!(!tile_near(10.0, 1.3 * d_switch, 1000.0, fov, true));
    // Inside its box the distance is 0 (always near); beside it, to the nearest face.
    assert_eq!(box_distance([1.0, 1.0, 1.0], [0.0; 3], [2.0; 3]), 0.0);
    assert_eq!(box_distance([5.0, 1.0, 6.0], [0.0; 3], [2.0; 3]), 5.0);
    assert!(tile_near(10.0, 0.0, 1000.0, fov, false));
}

#[test]
fn a_drag_pans_while_held_and_only_then() {
    use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .init_resource::<ButtonInput<MouseButton>>()
        .init_resource::<AccumulatedMouseMotion>()
        .init_resource::<AccumulatedMouseScroll>()
        .add_plugins((cim_viewer::input::InputPlugin, cim_viewer::camera::CameraPlugin));
    let orbit = OrbitCamera {
        focus: [0.0, 0.0, 0.0],
        yaw: 0.0,
        pitch: 0.6,
        distance: 500.0,
    };
    let cam = app.world_mut().spawn(ViewCamera(orbit)).id();
    let focus = |app: &App| app.world().get::<ViewCamera>(cam).unwrap().0.focus;
    let moved = |app: &mut App, dx: f32| {
        app.world_mut().resource_mut::<AccumulatedMouseMotion>().delta = Vec2::new(dx, 0.0);
        app.update();
    };
    // Motion with no button down moves nothing.
    moved(&mut app, 30.0);
    assert_eq!(focus(&app), [0.0, 0.0, 0.0]);
    let claimed = |app: &App| app.world().resource::<cim_viewer::input::ViewDrag>().0;
    // Pressed in the view (no panel under it): the drag is claimed for the view once the frame's
    // panels are known; dragged, the focus moves, frame after frame.
    app.world_mut()
        .resource_mut::<ButtonInput<MouseButton>>()
        .press(MouseButton::Left);
    moved(&mut app, 0.0);
    assert!(claimed(&app));
    app.world_mut().resource_mut::<ButtonInput<MouseButton>>().clear();
    moved(&mut app, 30.0);
    let first = focus(&app);
    assert!(first != [0.0, 0.0, 0.0], "{first:?}");
    moved(&mut app, 30.0);
    let second = focus(&app);
    assert!(
        (second[0] - first[0]).abs() + (second[2] - first[2]).abs() > 1.0,
        "{first:?} {second:?}"
    );
    // Released: the drag is over.
    app.world_mut()
        .resource_mut::<ButtonInput<MouseButton>>()
        .release(MouseButton::Left);
    moved(&mut app, 0.0);
    assert!(!claimed(&app));
    moved(&mut app, 30.0);
    assert_eq!(focus(&app), second);
}

#[test]
fn plugins_import_only_shared_state_and_no_other_plugin() {
    // The viewer's shape (ARCHITECTURE.md): a plugin module may use `state`, `data`, `input`
    // and `model`, and nothing of another plugin; `model` uses no Bevy; `state` no plugin.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let shared = ["state", "data", "input", "model"];
    let plugins = [
        "camera",
        "fly",
        "views",
        "terrain",
        "tilesets",
        "buildings",
        "layers",
        "pick",
        "playback",
        "ui",
    ];
    let uses = |file: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(file).unwrap();
        let mut found = Vec::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        }
        found
    };
    let files_of = |m: &str| -> Vec<std::path::PathBuf> {
        let dir = src.join(m);
        if dir.is_dir() {
            std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect()
        } else {
            vec![src.join(format!("{m}.rs"))]
        }
    };
    for m in plugins {
        for f in files_of(m) {
            for u in uses(&f) {
                assert!(
                    u == m || shared.contains(&u.as_str()),
                    "{}: uses crate::{u}, another plugin",
                    f.display()
                );
            }
        }
    }
    for m in ["state", "data", "input"] {
        for f in files_of(m) {
            for u in uses(&f) {
                assert!(shared.contains(&u.as_str()), "{}: uses crate::{u}", f.display());
            }
        }
    }
    let mut model = vec![src.join("model")];
    while let Some(d) = model.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                model.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                assert!(!text.contains("bevy"), "{}: model code uses Bevy", p.display());
                for u in uses(&p) {
                    assert_eq!(u, "model", "{}: model code uses crate::{u}", p.display());
                }
            }
        }
    }
}

#[test]
fn traffic_playback_draws_the_vehicles_of_the_time_shown_and_the_roads_by_their_flow() {
    use cim_engine::network::frames::VehiclePos;
    use cim_viewer::model::traffic::{test_tables, TrafficRun};
    use cim_viewer::traffic::{RoadTraffic, TrafficPlugin, Vehicles};
    let (x, y) = (400_100.0, 3_000_300.0);
    let edges = [
        ("a", false, 1, 200.0, 10.0, vec![[x, y], [x + 200.0, y]]),
        (
            "b",
            false,
            1,
            200.0,
            10.0,
            vec![[x + 200.0, y], [x + 200.0, y + 200.0]],
        ),
    ];
    let car = |trip, edge, pos_m| VehiclePos {
        trip,
        edge,
        lane: 0,
        pos_m,
        speed_m_s: 10.0,
    };
    let frames = [
        (0.0, vec![car(1, 0, 50.0), car(2, 0, 150.0)]),
        (10.0, vec![car(1, 0, 150.0), car(2, 1, 50.0), car(3, 0, 5.0)]),
        (20.0, vec![car(2, 1, 150.0)]),
    ];
    let flows = [vec![(0, Some(9.5), 8.0), (1, Some(2.0), 40.0)]];
    let (r, e, v, f) = test_tables(&edges, &frames, &flows, 300.0);
    let run = TrafficRun::from_tables(&r, &e, &v, Some(&f)).unwrap();
    let mut app = app(OrbitCamera {
        focus: [0.0; 3],
        yaw: 0.0,
        pitch: 0.8,
        distance: 500.0,
    });
    app.insert_resource(PlaybackState::new(vec![cim_viewer::model::run::SideRun {
        name: "rush".into(),
        flood: None,
        traffic: Some(Arc::new(run)),
        notice: None,
    }]))
    .add_plugins(TrafficPlugin);
    let vertices = |app: &mut App, vehicles: bool| {
        let handle = if vehicles {
            let mut q = app.world_mut().query_filtered::<&Mesh3d, With<Vehicles>>();
            q.single(app.world()).unwrap().0.clone()
        } else {
            let mut q = app.world_mut().query_filtered::<&Mesh3d, With<RoadTraffic>>();
            q.single(app.world()).unwrap().0.clone()
        };
        let meshes = app.world().resource::<Assets<Mesh>>();
        meshes.get(&handle).unwrap().count_vertices()
    };
    let at = |app: &mut App, t: f64| {
        app.world_mut().resource_mut::<PlaybackState>().playback.time_s = t;
        app.update();
    };
    // The playback steps from the first frame to the last (no KPI times within them).
    assert_eq!(
        app.world().resource::<PlaybackState>().playback.stops,
        vec![0.0, 10.0, 20.0]
    );
    app.update();
    // Two vehicles of 20 vertices; both roads coloured (a ribbon each).
    assert_eq!(vertices(&mut app, true), 40);
    let roads = vertices(&mut app, false);
    assert!(roads > 3, "{roads}");
    // Halfway to the next frame, the third vehicle has departed; at the end, one is left.
    at(&mut app, 5.0);
    assert_eq!(vertices(&mut app, true), 60);
    at(&mut app, 20.0);
    assert_eq!(vertices(&mut app, true), 20);
    assert_eq!(app.world().resource::<PlaybackState>().problem, None);
    // Vehicle 2 turned the corner: at 20 s it is 150 m up road b, facing north.
    let mut q = app.world_mut().query_filtered::<&Mesh3d, With<Vehicles>>();
    let handle = q.single(app.world()).unwrap().0.clone();
    let mesh = app.world().resource::<Assets<Mesh>>().get(&handle).unwrap();
    let Some(bevy::mesh::VertexAttributeValues::Float32x3(p)) = mesh.attribute(Mesh::ATTRIBUTE_POSITION)
    else {
        panic!("no positions");
    };
    let origin = app.world().resource::<Scene>().0.origin;
    let north: Vec<f64> = p.iter().map(|v| origin.to_project(*v)[1]).collect();
    let (lo, hi) = north
        .iter()
        .fold((f64::MAX, f64::MIN), |a, n| (a.0.min(*n), a.1.max(*n)));
    assert!(
        (hi - (y + 150.0)).abs() < 1e-3 && (lo - (y + 145.5)).abs() < 1e-3,
        "{lo} {hi}"
    );
}

/// A 10 km square of points as a quadtree five levels deep (1,365 tiles, 200 points each, the
/// leaves 312.5 m across), in a project file; its path.
fn points_quadtree(dir: &std::path::Path) -> std::path::PathBuf {
    use cim_engine::{points::TilePoints, ContentFrame, Refine, Tile, TileContent, TilesetHead, TilesetKind};
    let path = dir.join("cloud.cim.gpkg");
    let crs = cim_engine::Crs::from_epsg(4547).unwrap();
    let mut project = cim_engine::Project::create(&path, &crs, "440000").unwrap();
    let (x0, y0, side) = (400_000.0, 2_500_000.0, 10_000.0);
    let mut tiles = Vec::new();
    let mut level: Vec<(u32, f64, f64, f64)> = vec![(0, x0, y0, side)];
    let mut depth = 0;
    let push = |tiles: &mut Vec<Tile>, id: u32, parent: Option<u32>, x: f64, y: f64, s: f64, depth: u32| {
        // 200 points on a grid over the tile, 10 to 12 m high.
        let n = 14usize;
        let mut pts = TilePoints {
            origin: [x, y, 10.0],
            ..Default::default()
        };
        for k in 0..200 {
            let (i, j) = (k % n, k / n);
            pts.xyz.push([
                (s * (i as f64 + 0.5) / n as f64) as f32,
                (s * (j as f64 + 0.5) / 15.0) as f32,
                (k % 3) as f32,
            ]);
            pts.class.push(2);
            pts.intensity.push(100);
        }
        tiles.push(Tile {
            id,
            parent,
            bounds: [x, y, 10.0, x + s, y + s, 12.0],
            geometric_error: if depth == 5 {
                0.0
            } else {
                512.0 / f64::from(1u32 << depth)
            },
            refine: Refine::Replace,
            content: TileContent::Packed {
                format: cim_engine::points::POINTS_FORMAT.into(),
                bytes: pts.encode(),
            },
            transform: None,
            triangles: 0,
            points: 200,
        });
    };
    push(&mut tiles, 0, None, x0, y0, side, 0);
    while depth < 5 {
        depth += 1;
        let mut next = Vec::new();
        for (parent, x, y, s) in level {
            for c in 0..4u32 {
                let (cx, cy, cs) = (
                    x + f64::from(c % 2) * s / 2.0,
                    y + f64::from(c / 2) * s / 2.0,
                    s / 2.0,
                );
                let id = tiles.len() as u32;
                push(&mut tiles, id, Some(parent), cx, cy, cs, depth);
                next.push((id, cx, cy, cs));
            }
        }
        level = next;
    }
    assert_eq!(tiles.len(), 1365);
    let mut tx = project.import().unwrap();
    tx.put_tileset(
        &TilesetHead {
            name: "cloud".into(),
            kind: TilesetKind::Points,
            source: "synthetic".into(),
            placement: "the project CRS".into(),
            root: None,
            frame: ContentFrame::Project,
        },
        &tiles,
    )
    .unwrap();
    tx.commit().unwrap();
    path
}

/// The streaming app: the tilesets plugin over a project's scene, from `source`.
fn streaming_app(path: &std::path::Path, source: cim_viewer::model::source::Source, budget: usize) -> App {
    use cim_viewer::state::TileSettings;
    let scene = cim_viewer::load_scene(path).unwrap();
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default(), TransformPlugin))
        .init_asset::<Mesh>()
        .init_asset::<StandardMaterial>()
        .init_asset::<Image>()
        .insert_resource(Scene(Arc::new(scene)))
        .insert_resource(Data(source))
        .insert_resource(ViewHeightPx(600.0))
        .insert_resource(TileSettings {
            budget_bytes: budget,
            ..Default::default()
        })
        .add_plugins(cim_viewer::tilesets::TilesetsPlugin);
    app
}

/// Looking almost straight down from 300 m over local point (x, z).
fn over(x: f32, z: f32) -> OrbitCamera {
    OrbitCamera {
        focus: [x, 0.0, z],
        yaw: 0.0,
        pitch: 1.5,
        distance: 300.0,
    }
}

/// Updates until nothing is waiting (decodes run on the pool), at most `frames`.
fn settle(app: &mut App, frames: usize) -> cim_viewer::state::TileStats {
    for _ in 0..frames {
        app.update();
        let s = app.world().resource::<cim_viewer::state::TileStats>().clone();
        if s.waiting == 0 && s.drawn > 0 {
            return s;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    app.world().resource::<cim_viewer::state::TileStats>().clone()
}

#[test]
fn flying_over_a_tileset_100_times_the_budget_stays_within_it() {
    use cim_viewer::model::tiles::PreparedTile;
    let dir = tempfile::tempdir().unwrap();
    let path = points_quadtree(dir.path());
    // A tile's weight once decoded; the budget holds 14 of the 1,365.
    let one = {
        let scene = cim_viewer::load_scene(&path).unwrap();
        let set = &scene.tilesets[0];
        let placer = cim_viewer::model::tiles::placer(&set.set, &set.project_crs).unwrap();
        let source = ProjectSource::shared(&path);
        let bytes = wait(source.tile_bytes("cloud".into(), 1364)).unwrap().unwrap();
        let c = cim_viewer::model::tiles::decode(&set.set, &set.tiles[1364], &bytes, &placer).unwrap();
        PreparedTile::weight(&cim_viewer::model::tiles::prepare(&c, &scene.origin))
    };
    let budget = one * 14;
    assert!(one * 1365 > 90 * budget);
    let mut app = streaming_app(&path, ProjectSource::shared(&path), budget);
    app.world_mut()
        .spawn(camera_bundle(over(-4800.0, 4800.0), 10_000.0));
    // Along the south edge, then up the east: 150 stops, each settled.
    let mut peak = 0;
    let mut drawn_leaves = 0;
    for k in 0..150 {
        let t = k as f32 / 149.0;
        let (x, z) = if t < 0.5 {
            (-4800.0 + t * 2.0 * 9600.0, 4800.0)
        } else {
            (4800.0, 4800.0 - (t - 0.5) * 2.0 * 9600.0)
        };
        let mut q = app.world_mut().query::<&mut ViewCamera>();
        for mut c in q.iter_mut(app.world_mut()) {
            c.0 = over(x, z);
        }
        let s = settle(&mut app, 400);
        assert!(s.failed.is_empty(), "{:?}", s.failed);
        assert!(s.drawn > 0 && s.waiting == 0, "stop {k}: {s:?}");
        peak = peak.max(s.held_bytes);
        // From 300 m the finest tile under the camera is drawn (the leaves are tiles 341 on).
        let (scene, focus) = (app.world().resource::<Scene>().0.clone(), over(x, z).focus);
        let p = scene.origin.to_project(focus);
        let mut q = app
            .world_mut()
            .query::<(&cim_viewer::tilesets::TilePart, &Visibility)>();
        let under = q.iter(app.world()).any(|(t, v)| {
            let b = scene.tilesets[0].tiles[t.tile as usize].bounds;
            *v != Visibility::Hidden
                && t.tile >= 341
                && (b[0]..=b[3]).contains(&p[0])
                && (b[1]..=b[4]).contains(&p[1])
        });
        if !under && std::env::var_os("CIM_DEBUG_FLIGHT").is_some() {
            let drawn: Vec<(u32, [f64; 6])> = q
                .iter(app.world())
                .filter(|(_, v)| **v != Visibility::Hidden)
                .map(|(t, _)| (t.tile, scene.tilesets[0].tiles[t.tile as usize].bounds))
                .collect();
            eprintln!("stop {k} focus {p:?}: {s:?} drawn {drawn:?}");
        }
        drawn_leaves += usize::from(under);
    }
    let s = app.world().resource::<cim_viewer::state::TileStats>().clone();
    assert!(peak <= budget, "held {peak} B, budget {budget} B");
    assert_eq!(s.peak_bytes, peak);
    // It decoded far more than it could hold, evicting as it went.
    assert!(s.decoded_bytes > 10 * budget && s.evicted > 100, "{s:?}");
    assert_eq!(drawn_leaves, 150);
    // The tileset turned off by itself: nothing of it is drawn.
    app.world_mut()
        .resource_mut::<cim_viewer::state::TileSettings>()
        .hidden = 1;
    app.update();
    let mut q = app
        .world_mut()
        .query::<(&cim_viewer::tilesets::TilePart, &Visibility)>();
    assert!(q.iter(app.world()).all(|(_, v)| *v == Visibility::Hidden));
    assert_eq!(app.world().resource::<cim_viewer::state::TileStats>().drawn, 0);
}

/// A data source whose tile reads wait at a gate (a slow disk or network), the rest as the
/// project's.
struct Gated {
    inner: cim_viewer::model::source::Source,
    open: Arc<std::sync::atomic::AtomicBool>,
}

/// A future ready once the gate opens.
struct Gate(Arc<std::sync::atomic::AtomicBool>);

impl std::future::Future for Gate {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            std::task::Poll::Ready(())
        } else {
            // Asked again soon (a test's gate, not a real waker).
            cx.waker().wake_by_ref();
            std::thread::sleep(std::time::Duration::from_millis(1));
            std::task::Poll::Pending
        }
    }
}

macro_rules! forward {
    ($($name:ident($($a:ident: $t:ty),*) -> $r:ty;)*) => {
        $(fn $name(&self, $($a: $t),*) -> cim_viewer::model::source::Fetch<$r> { self.inner.$name($($a),*) })*
    };
}

impl cim_viewer::model::source::DataSource for Gated {
    fn label(&self) -> String {
        self.inner.label()
    }
    forward! {
        scene() -> cim_viewer::SceneData;
        layers() -> Vec<cim_engine::LayerInfo>;
        terrains() -> Vec<cim_engine::TerrainInfo>;
        feature(code: cim_engine::CityCode) -> Option<cim_engine::StoredFeature>;
        features_by_code(codes: Vec<cim_engine::CityCode>) -> Vec<cim_engine::StoredFeature>;
        features(filter: cim_engine::FeatureFilter) -> Vec<cim_engine::StoredFeature>;
        search(text: String, limit: usize) -> Vec<cim_engine::StoredFeature>;
        ground_index() -> cim_engine::CityIndex;
        viewpoints() -> Vec<cim_engine::Viewpoint>;
        save_viewpoint(v: cim_engine::Viewpoint) -> ();
        runs() -> Vec<cim_engine::RunRecord>;
        run_rasters(name: String) -> Vec<cim_engine::RunRaster>;
        run_raster(raster: cim_engine::RunRaster) -> cim_engine::Raster;
        run_buildings(name: String) -> Vec<cim_engine::RunBuilding>;
        run_roads(name: String) -> Vec<cim_engine::RunRoad>;
        run_table(name: String, table: String) -> Option<cim_engine::ResultTable>;
        tilesets() -> Vec<cim_engine::Tileset>;
        tiles(name: String) -> Vec<cim_engine::Tile>;
    }
    fn tile_bytes(&self, name: String, tile: u32) -> cim_viewer::model::source::Fetch<Option<Vec<u8>>> {
        let (inner, gate) = (self.inner.clone(), Gate(self.open.clone()));
        Box::pin(async move {
            gate.await;
            inner.tile_bytes(name, tile).await
        })
    }
}

#[test]
fn frames_go_on_while_tiles_are_read_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let path = points_quadtree(dir.path());
    let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let source = Arc::new(Gated {
        inner: ProjectSource::shared(&path),
        open: open.clone(),
    });
    let mut app = streaming_app(&path, source, 64 << 20);
    app.world_mut().spawn(camera_bundle(over(0.0, 0.0), 10_000.0));
    // The reads wait; the frames do not: each update returns with nothing drawn yet and the
    // root asked for.
    for _ in 0..30 {
        app.update();
    }
    let s = app.world().resource::<cim_viewer::state::TileStats>().clone();
    assert_eq!((s.drawn, s.held), (0, 0), "{s:?}");
    assert!(s.waiting > 0, "{s:?}");
    open.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = settle(&mut app, 400);
    assert!(s.drawn > 0 && s.waiting == 0, "{s:?}");
    // Refined under the camera: REPLACE drew the finest tiles there, not the root.
    assert!(s.points >= 800, "{s:?}");
}

/// A photo mesh tileset in the scene (its tiles are not needed by the painting).
fn with_photo(scene: &mut SceneData) {
    scene.tilesets.push(cim_viewer::model::load::SceneTileset {
        set: cim_engine::Tileset {
            name: "photo".into(),
            kind: cim_engine::TilesetKind::Mesh,
            source: String::new(),
            placement: String::new(),
            root: None,
            frame: cim_engine::ContentFrame::Project,
            tiles: 0,
            triangles: 0,
            points: 0,
            bounds: [0.0; 6],
        },
        tiles: Vec::new(),
        project_crs: cim_engine::Crs::from_epsg(32633).unwrap(),
    });
}

/// 单体化: a building under a shown photo mesh is not drawn until it is selected or coloured,
/// then as a translucent volume; with the photo mesh hidden it is drawn as any other.
#[test]
fn buildings_under_a_photo_mesh_show_only_selected_or_coloured_and_translucent() {
    use cim_viewer::buildings::VEIL_ALPHA;
    use cim_viewer::layers::LayersPlugin;
    use cim_viewer::model::style::{Coloring, HIGHLIGHT};
    use cim_viewer::state::{Selection, Styling, TileSettings};
    let mut scene = scene();
    // Building 0 lies under photogrammetry, building 1 does not.
    scene.under_photo = vec![true, false];
    with_photo(&mut scene);
    let mut app = app_with(
        scene,
        OrbitCamera {
            focus: [0.0; 3],
            yaw: 0.0,
            pitch: 0.8,
            distance: 500.0,
        },
    );
    app.insert_resource(TileSettings::default())
        .add_plugins(LayersPlugin);
    app.update();
    app.update();
    assert!(collapsed(&building_vertices(&mut app, 0).1));
    let (c1, p1) = building_vertices(&mut app, 1);
    assert!(!collapsed(&p1) && c1.iter().all(|c| *c == BUILDING_COLOR));
    // Selected (a click on the photo mesh, or a search): its volume in the highlight colour,
    // half transparent.
    app.insert_resource(Selection {
        building: Some(0),
        hit: None,
        ..Default::default()
    });
    app.update();
    let (c0, p0) = building_vertices(&mut app, 0);
    assert!(!collapsed(&p0));
    assert!(
        c0.iter().all(|c| c[..3] == HIGHLIGHT[..3] && c[3] == VEIL_ALPHA),
        "{:?}",
        c0[0]
    );
    app.insert_resource(Selection::default());
    app.update();
    assert!(collapsed(&building_vertices(&mut app, 0).1));
    // Coloured (a flood class): shown in its colour, translucent; the other opaque.
    let red = [0.9, 0.1, 0.1, 1.0];
    {
        let mut s = app.world_mut().resource_mut::<Styling>();
        s.coloring = Some(Coloring {
            colors: vec![red, red],
            legend: Default::default(),
        });
    }
    app.update();
    let (c0, p0) = building_vertices(&mut app, 0);
    assert!(
        !collapsed(&p0) && c0.iter().all(|c| *c == [0.9, 0.1, 0.1, VEIL_ALPHA]),
        "{:?}",
        c0[0]
    );
    assert!(building_vertices(&mut app, 1).0.iter().all(|c| *c == red));
    // The photo tileset hidden by itself: the building is drawn as any other.
    {
        let mut s = app.world_mut().resource_mut::<Styling>();
        s.coloring = None;
    }
    app.world_mut().resource_mut::<TileSettings>().hidden = 1;
    app.update();
    let (c0, p0) = building_vertices(&mut app, 0);
    assert!(!collapsed(&p0) && c0.iter().all(|c| *c == BUILDING_COLOR));
}

/// A footprint without a height under the photo mesh: its volume's top follows the highest
/// point of the photo mesh within the footprint as photo tiles arrive (plus a margin).
#[test]
fn a_footprint_volume_is_fitted_to_the_photo_mesh_as_it_arrives() {
    use cim_viewer::model::load::VEIL_M;
    use cim_viewer::model::tiles::VeilRoof;
    use cim_viewer::state::{PhotoMesh, Selection, TileSettings};
    let mut scene = scene();
    scene.under_photo = vec![true, false];
    scene.photo_fit = vec![true, false];
    with_photo(&mut scene);
    let roof = VeilRoof::of(&scene.tiles[scene.buildings[0].tile as usize], 0).unwrap();
    let (cx, cz) = (
        0.5 * (roof.bbox[0] + roof.bbox[2]),
        0.5 * (roof.bbox[1] + roof.bbox[3]),
    );
    let mut app = app_with(
        scene,
        OrbitCamera {
            focus: [0.0; 3],
            yaw: 0.0,
            pitch: 0.8,
            distance: 500.0,
        },
    );
    app.insert_resource(TileSettings::default())
        .add_plugins(cim_viewer::layers::LayersPlugin)
        .insert_resource(Selection {
            building: Some(0),
            hit: None,
            ..Default::default()
        });
    app.update();
    let top = |app: &mut App| {
        building_vertices(app, 0)
            .1
            .iter()
            .map(|p| p[1])
            .fold(f32::MIN, f32::max)
    };
    assert_eq!(top(&mut app), roof.top);
    // A photo tile: a roof 6 m under the estimate inside the footprint, and a tower beside it.
    let photo = |y: f32, outside: f32| {
        let mut m = Mesh::new(
            bevy::mesh::PrimitiveTopology::TriangleList,
            bevy::asset::RenderAssetUsages::default(),
        );
        m.insert_attribute(
            Mesh::ATTRIBUTE_POSITION,
            vec![
                [cx, y, cz],
                [cx + 0.5, y, cz],
                [cx, y, cz + 0.5],
                [roof.bbox[2] + 30.0, outside, cz],
            ],
        );
        m
    };
    let h = app
        .world_mut()
        .resource_mut::<Assets<Mesh>>()
        .add(photo(roof.top - 6.0, roof.top + 40.0));
    app.world_mut().spawn((Mesh3d(h), PhotoMesh));
    app.update();
    app.update();
    let fitted = top(&mut app);
    assert!(
        (fitted - (roof.top - 6.0 + VEIL_M as f32)).abs() < 1e-4,
        "{fitted} vs {}",
        roof.top
    );
    // A finer tile with a higher point there raises it; a lower one does not lower it.
    let h = app
        .world_mut()
        .resource_mut::<Assets<Mesh>>()
        .add(photo(roof.top - 2.0, 0.0));
    app.world_mut().spawn((Mesh3d(h), PhotoMesh));
    let h = app
        .world_mut()
        .resource_mut::<Assets<Mesh>>()
        .add(photo(roof.top - 9.0, 0.0));
    app.world_mut().spawn((Mesh3d(h), PhotoMesh));
    app.update();
    app.update();
    assert!((top(&mut app) - (roof.top - 2.0 + VEIL_M as f32)).abs() < 1e-4);
}
