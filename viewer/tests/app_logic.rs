//! The viewer's systems run headless (no window, no GPU): `App::update()` with the scene plugin,
//! checking what they decide.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bevy::prelude::*;
use cim_engine::Raster;
use cim_viewer::app::{
    camera_bundle, BuildingTileMesh, Scene, ScenePlugin, TerrainBacklog, TerrainChunk, ViewCamera,
    ViewHeightPx,
};
use cim_viewer::app::{PlaybackPlugin, PlaybackState, WaterOverlay, WaterSurface};
use cim_viewer::load::{BuildingRecord, SceneData, BUILDING_COLOR};
use cim_viewer::scene::{build_tiles, BuildingInput, ElevationRamp, LocalOrigin, MAX_STEP};
use cim_viewer::OrbitCamera;
use geo::{polygon, MultiPolygon};

/// 640 × 640 cells of 1 m (10 × 10 chunks) of gentle slope, and two buildings.
fn scene() -> SceneData {
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
        })
        .collect();
    SceneData {
        project_path: "synthetic".into(),
        extent,
        origin,
        tiles: build_tiles(&inputs, &origin, 256.0),
        terrain: Some(r),
        ramp: ElevationRamp {
            min_m: 10.0,
            max_m: 16.4,
        },
        buildings: (0..2)
            .map(|_| BuildingRecord {
                code: cim_engine::CityCode::derive("000000", cim_engine::FeatureKind::Building, "b", "x"),
                layer: 0,
                tile: 0,
            })
            .collect(),
        layers: vec!["buildings".into()],
        overlays: vec![],
        notices: vec![],
    }
}

fn app(orbit: OrbitCamera) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default(), TransformPlugin))
        .init_asset::<Mesh>()
        .init_asset::<StandardMaterial>()
        .insert_resource(Scene(Arc::new(scene())))
        // A small view, so that within this 640 m square distance already coarsens the terrain
        // (at 1080 px, 1 m cells stay at full detail out to 1.6 km).
        .insert_resource(ViewHeightPx(200.0))
        .add_plugins(ScenePlugin);
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
        paths.push((300.0 * (k + 1) as f64, path));
    }
    let frames = cim_viewer::flood::RunFrames {
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
        .insert_resource(WaterOverlay(cim_viewer::scene::MeshData {
            positions: vec![[0.0; 3]; 3],
            normals: vec![[0.0, 1.0, 0.0]; 3],
            colors: vec![[0.0; 4]; 3],
            indices: vec![0, 1, 2],
        }))
        .insert_resource(PlaybackState {
            playback: cim_viewer::flood::Playback::new(frames),
            shown: None,
        })
        .add_plugins(PlaybackPlugin);
    let water_quads = |app: &mut App| {
        let mut q = app.world_mut().query_filtered::<&Mesh3d, With<WaterSurface>>();
        let handle = q.single(app.world()).unwrap().0.clone();
        let meshes = app.world().resource::<Assets<Mesh>>();
        meshes.get(&handle).unwrap().count_vertices() / 4
    };
    app.update();
    assert_eq!(water_quads(&mut app), 1);
    app.world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .press(KeyCode::ArrowRight);
    app.update();
    assert_eq!(app.world().resource::<PlaybackState>().playback.time_s, 600.0);
    assert_eq!(water_quads(&mut app), 4);
    let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
    keys.release(KeyCode::ArrowRight);
    keys.clear();
    keys.press(KeyCode::ArrowLeft);
    app.update();
    assert_eq!(water_quads(&mut app), 1);
}
