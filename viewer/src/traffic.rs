//! Traffic playback in the window: on each side whose run has traffic, the vehicles at the
//! playback's time (moved along their lanes between the stored frames, coloured by their
//! speed) and the roads coloured by the speed or the congestion of the flow interval then.
//! The frames are in memory (deflated); the two around the time shown are decoded once.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;

use crate::model::scene::MeshData;
use crate::model::traffic::{road_state_mesh, vehicle_mesh, FrameCache, RoadColour};
use crate::state::{
    order_sets, side_layers, to_bevy_mesh, visibility, PlaybackState, Scene, Split, Styling, ViewerSystems,
};

/// The vehicles of one side.
#[derive(Component, Debug)]
pub struct Vehicles;

/// The roads of one side coloured by their traffic.
#[derive(Component, Debug)]
pub struct RoadTraffic;

/// What each side shows now: the decoded frames, the time the vehicles are of, and the flow
/// interval and colouring the roads are of.
#[derive(Resource, Default)]
struct Shown {
    frames: [FrameCache; 2],
    vehicles_at: [Option<f64>; 2],
    roads: [Option<(usize, RoadColour)>; 2],
}

/// The vehicles and the roads' traffic of the runs played.
pub struct TrafficPlugin;

impl Plugin for TrafficPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.init_resource::<Shown>()
            .add_systems(Startup, spawn_traffic)
            .add_systems(
                PostUpdate,
                (show_vehicles, show_road_traffic).in_set(ViewerSystems::Paint),
            );
    }
}

/// A mesh with nothing to see yet (a mesh without vertices is not drawn well everywhere).
fn placeholder() -> MeshData {
    MeshData {
        positions: vec![[0.0; 3]; 3],
        normals: vec![[0.0, 1.0, 0.0]; 3],
        colors: vec![[0.0; 4]; 3],
        indices: vec![0, 1, 2],
        uvs: None,
    }
}

fn spawn_traffic(
    mut commands: Commands,
    state: Option<Res<PlaybackState>>,
    split: Option<Res<Split>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let Some(state) = state else { return };
    let split = split.is_some_and(|s| s.0);
    for (side, run) in state.sides.iter().enumerate() {
        if run.traffic.is_none() {
            continue;
        }
        let vehicles = materials.add(StandardMaterial {
            base_color: Color::WHITE,
            perceptual_roughness: 0.6,
            ..default()
        });
        let roads = materials.add(StandardMaterial {
            base_color: Color::WHITE,
            perceptual_roughness: 1.0,
            depth_bias: 10.0,
            ..default()
        });
        for (material, is_vehicles) in [(vehicles, true), (roads, false)] {
            let mut e = commands.spawn((
                Mesh3d(meshes.add(to_bevy_mesh(&placeholder(), RenderAssetUsages::default()))),
                MeshMaterial3d(material),
                Transform::IDENTITY,
                Visibility::default(),
                crate::state::Side(side),
            ));
            if is_vehicles {
                e.insert(Vehicles);
            } else {
                e.insert(RoadTraffic);
            }
            if split {
                e.insert(side_layers(side));
            }
        }
    }
}

/// Replaces each side's vehicles when the time shown changes.
fn show_vehicles(
    state: Option<ResMut<PlaybackState>>,
    scene: Res<Scene>,
    styling: Option<Res<Styling>>,
    mut shown: ResMut<Shown>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut vehicles: Query<(&Mesh3d, &crate::state::Side, &mut Visibility), With<Vehicles>>,
) {
    let Some(mut state) = state else { return };
    let on = styling.as_ref().is_none_or(|s| s.layers.vehicles);
    let t = state.playback.time_s;
    let sd = &scene.0;
    for (mesh, side, mut v) in &mut vehicles {
        v.set_if_neq(visibility(on));
        let k = side.0.min(1);
        if !on || shown.vehicles_at[k] == Some(t) {
            continue;
        }
        let Some(run) = state.sides.get(k).and_then(|s| s.traffic.clone()) else {
            continue;
        };
        shown.vehicles_at[k] = Some(t);
        let placed = match run.vehicles_at(t, &mut shown.frames[k]) {
            Ok(p) => p,
            Err(e) => {
                let text = format!("{e:#}");
                if state.problem.as_deref() != Some(text.as_str()) {
                    warn!("{text}");
                    state.problem = Some(text);
                }
                continue;
            }
        };
        let m = vehicle_mesh(&placed, sd.terrain.as_ref(), f64::from(sd.ramp.min_m), &sd.origin);
        let m = if m.is_empty() { placeholder() } else { m };
        if let Some(mut target) = meshes.get_mut(&mesh.0) {
            *target = to_bevy_mesh(&m, RenderAssetUsages::default());
        }
    }
}

/// Replaces each side's road colours when the flow interval shown or the colouring changes.
fn show_road_traffic(
    state: Option<Res<PlaybackState>>,
    scene: Res<Scene>,
    styling: Option<Res<Styling>>,
    mut shown: ResMut<Shown>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut roads: Query<(&Mesh3d, &crate::state::Side, &mut Visibility), With<RoadTraffic>>,
) {
    let Some(state) = state else { return };
    let (on, by) = styling.as_ref().map_or((true, RoadColour::Speed), |s| {
        (s.layers.road_traffic, s.layers.road_colour)
    });
    let sd = &scene.0;
    for (mesh, side, mut v) in &mut roads {
        v.set_if_neq(visibility(on));
        let k = side.0.min(1);
        let Some(run) = state.sides.get(k).and_then(|s| s.traffic.as_ref()) else {
            continue;
        };
        let now = (run.bin_at(state.playback.time_s), by);
        if !on || shown.roads[k] == Some(now) {
            continue;
        }
        shown.roads[k] = Some(now);
        let (m, _) = road_state_mesh(
            run,
            now.0,
            by,
            sd.terrain.as_ref(),
            f64::from(sd.ramp.min_m),
            &sd.origin,
        );
        let m = if m.is_empty() { placeholder() } else { m };
        if let Some(mut target) = meshes.get_mut(&mesh.0) {
            *target = to_bevy_mesh(&m, RenderAssetUsages::default());
        }
    }
}
