//! Playback in the window (a flood's water and closed roads; [`crate::traffic`] draws a
//! traffic run's vehicles): `Space` plays and pauses, arrows step, `+`/`-` set the speed.
//! The water surface and the roads closed at the time shown are replaced when the frame to show
//! changes; the frame is read and meshed off the frame loop, and the buildings follow the
//! frame's flood classes (through the layers' [`Restyle`]). Two runs show side by side, each on
//! its half of the window.

pub mod water;

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;

use crate::data::{Data, Pending};
use crate::model::flood::{closed_roads, water_mesh};
use crate::model::scene::MeshData;
use crate::state::{
    order_sets, side_layers, to_bevy_mesh, visibility, PlaybackState, Restyle, Scene, SetPlayback, Side,
    Split, Styling, ViewerSystems,
};

/// A flood run's water surface to draw at the start (translucent, coloured by depth).
#[derive(Resource, Clone, Debug)]
pub struct WaterOverlay(pub MeshData);

/// The water surface entity (one a side).
#[derive(Component, Debug)]
pub struct WaterSurface;

/// The roads a played-back run has closed at the time shown.
#[derive(Component, Debug)]
pub struct ClosedRoads;

/// The water and closed roads of a frame, read and meshed off the frame loop.
struct FrameMeshes {
    frame: usize,
    water: MeshData,
    closed: anyhow::Result<(MeshData, usize)>,
}

/// The frame on its way for each side.
#[derive(Resource, Default)]
struct Loading([Pending<FrameMeshes>; 2], [Option<usize>; 2]);

/// The water surface (from [`WaterOverlay`]); with a [`PlaybackState`], playback.
pub struct PlaybackPlugin;

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        app.add_message::<SetPlayback>()
            .add_message::<Restyle>()
            .init_resource::<Loading>()
            .add_systems(Startup, spawn_water)
            .add_systems(
                Update,
                (
                    playback_keys.run_if(crate::input::keys_free),
                    set_playback,
                    show_frame,
                    follow_frame_classes,
                )
                    .chain()
                    .in_set(ViewerSystems::Style),
            )
            .add_systems(PostUpdate, show_water.in_set(ViewerSystems::Paint));
    }
}

fn spawn_water(
    mut commands: Commands,
    water: Option<Res<WaterOverlay>>,
    split: Option<Res<Split>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut water_materials: ResMut<Assets<water::WaterMaterial>>,
) {
    let split = split.is_some_and(|s| s.0);
    let Some(w) = water.filter(|w| !w.0.is_empty()) else {
        return;
    };
    for &side in if split { &[0usize, 1][..] } else { &[0usize][..] } {
        let mut e = commands.spawn((
            Mesh3d(meshes.add(to_bevy_mesh(&w.0, RenderAssetUsages::default()))),
            MeshMaterial3d(water_materials.add(water::WaterMaterial::still())),
            Transform::IDENTITY,
            WaterSurface,
            Side(side),
        ));
        if split {
            e.insert(side_layers(side));
        }
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

/// The playback as a panel left it.
fn set_playback(mut asks: MessageReader<SetPlayback>, state: Option<ResMut<PlaybackState>>) {
    let Some(mut s) = state else {
        asks.clear();
        return;
    };
    for ask in asks.read() {
        if s.playback != ask.0 {
            s.playback = ask.0.clone();
        }
    }
}

/// Asks for each side's frame when the frame to show changes; replaces the water surface and
/// the closed roads when it comes.
#[allow(clippy::too_many_arguments)]
fn show_frame(
    mut commands: Commands,
    scene: Res<Scene>,
    data: Option<Res<Data>>,
    state: Option<ResMut<PlaybackState>>,
    mut loading: ResMut<Loading>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    water: Query<(&Mesh3d, &Side), With<WaterSurface>>,
    closed: Query<(Entity, &Side), With<ClosedRoads>>,
) {
    let (Some(mut s), Some(data)) = (state, data) else {
        return;
    };
    let t_s = s.playback.time_s;
    for side in 0..s.sides.len().min(2) {
        let Some(frames) = s.sides[side].flood.clone() else {
            continue;
        };
        let k = frames.index_at(t_s);
        // Roads closed at the frame's time as the traffic run saw them (its closures lag the
        // water by its delay).
        let closed_at = s.sides[side].closures_time(frames.frames[k].0);
        if s.shown[side] != Some(k) && loading.1[side] != Some(k) {
            let (source, sd) = (data.0.clone(), scene.0.clone());
            loading.1[side] = Some(k);
            loading.0[side].ask(async move {
                let depth = frames.depth(source.as_ref(), k).await?;
                let water = water_mesh(&depth, sd.terrain.as_ref(), &sd.origin, f64::from(sd.ramp.min_m));
                let closed = closed_roads(source.as_ref(), &sd, &frames.name, closed_at).await;
                Ok(FrameMeshes {
                    frame: k,
                    water,
                    closed,
                })
            });
        }
        let Some(answer) = loading.0[side].take() else {
            continue;
        };
        let asked = loading.1[side].take();
        let got = match answer {
            Ok(got) => got,
            Err(e) => {
                warn!("{e:#}");
                s.problem = Some(format!("{e:#}"));
                s.shown[side] = asked;
                continue;
            }
        };
        for (m, _) in water.iter().filter(|(_, w)| w.0 == side) {
            if let Some(mut target) = meshes.get_mut(&m.0) {
                *target = to_bevy_mesh(&got.water, RenderAssetUsages::default());
            }
        }
        for (e, _) in closed.iter().filter(|(_, c)| c.0 == side) {
            commands.entity(e).despawn();
        }
        match got.closed {
            Ok((roads, n)) if n > 0 => {
                let split = s.sides.len() > 1;
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
            Err(e) => warn!("{e:#}"),
        }
        s.shown[side] = Some(got.frame);
    }
}

/// The buildings follow the flood classes of the water's frame shown (of the first side with
/// water).
fn follow_frame_classes(state: Option<Res<PlaybackState>>, mut restyle: MessageWriter<Restyle>) {
    let Some(s) = state else { return };
    let Some(frames) = s.sides.iter().find_map(|x| x.flood.as_ref()) else {
        return;
    };
    let k = frames.index_at(s.playback.time_s);
    if let Some(&(t, _)) = frames.frames.get(k) {
        if s.is_changed() {
            restyle.write(Restyle::RunTime(t));
        }
    }
}

/// Water or closed roads that have just appeared.
type Appeared<'w, 's> = Query<'w, 's, (), Or<(Added<WaterSurface>, Added<ClosedRoads>)>>;

/// Water and closed roads shown, hidden and faded by the styling.
fn show_water(
    styling: Option<Res<Styling>>,
    added: Appeared,
    mut water_materials: ResMut<Assets<water::WaterMaterial>>,
    mut water: Query<(&mut Visibility, &MeshMaterial3d<water::WaterMaterial>), With<WaterSurface>>,
    mut closed: Query<&mut Visibility, (With<ClosedRoads>, Without<WaterSurface>)>,
) {
    let Some(styling) = styling else { return };
    if !styling.is_changed() && added.is_empty() {
        return;
    }
    let l = &styling.layers;
    for (mut v, m) in &mut water {
        v.set_if_neq(visibility(l.water.0));
        // Water is always blended (its colours carry their own alpha); its shader fades it.
        let opacity = l.water.1.clamp(0.0, 1.0);
        if water_materials
            .get(&m.0)
            .is_some_and(|w| w.params.opacity != opacity)
        {
            if let Some(mut w) = water_materials.get_mut(&m.0) {
                w.params.opacity = opacity;
            }
        }
    }
    for mut v in &mut closed {
        v.set_if_neq(visibility(l.closed_roads));
    }
}
