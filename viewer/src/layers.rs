//! Layers: the lines draped on the ground (roads, parcel boundaries) and the [`Styling`] of
//! every layer. Panels ask for changes with [`Restyle`]; colourings that read the project
//! (heights, attributes, flood classes) are worked out off the frame loop and applied when they
//! come. Each plugin shows its own entities by the styling (terrain, buildings, water).

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;

use crate::data::{Data, Pending};
use crate::model::i18n::Lang;
use crate::model::load::SceneData;
use crate::model::source::DataSource;
use crate::model::style::{color_buildings, Classing, ColorBy, Coloring, LegendWords};
use crate::state::{
    order_sets, set_alpha, to_bevy_mesh, visibility, Restyle, Scene, Styling, UiLang, ViewerSystems,
};

/// A layer of lines draped on the ground (roads, parcel boundaries).
#[derive(Component, Debug)]
pub struct OverlayLayer(pub String);

/// The styling of layers, and the draped lines.
pub struct LayersPlugin;

impl Plugin for LayersPlugin {
    fn build(&self, app: &mut App) {
        order_sets(app);
        if !app.world().contains_resource::<Styling>() {
            let styling = app.world().get_resource::<Scene>().map(|s| Styling::new(&s.0));
            if let Some(s) = styling {
                app.insert_resource(s);
            }
        }
        app.add_message::<Restyle>()
            .init_resource::<Recolouring>()
            .add_systems(Startup, spawn_overlays)
            .add_systems(Update, restyle.in_set(ViewerSystems::Style))
            .add_systems(PostUpdate, show_overlays.in_set(ViewerSystems::Paint));
    }
}

/// The colourings of the run and of the one compared.
type Colorings = (Option<Coloring>, Option<Coloring>);

/// A colouring on its way.
#[derive(Resource, Default)]
struct Recolouring(Pending<Colorings>);

/// The buildings' colours by `by` (and, by flood class, those of the run compared, the second
/// of `runs`).
pub async fn colorings(
    source: &dyn DataSource,
    scene: &SceneData,
    by: &ColorBy,
    classing: Classing,
    runs: &[Option<String>; 2],
    at_s: Option<f64>,
    lang: Lang,
) -> anyhow::Result<Colorings> {
    let words = LegendWords::of(lang);
    // By flood class with water on the compared side only (a dry baseline beside a storm):
    // the baseline stays plain.
    let main = if *by == ColorBy::FloodClass && runs[0].is_none() && runs[1].is_some() {
        None
    } else {
        color_buildings(source, scene, by, classing, runs[0].as_deref(), at_s, words).await?
    };
    let compare = match (by, &runs[1]) {
        (ColorBy::FloodClass, Some(r)) => {
            color_buildings(source, scene, by, classing, Some(r), at_s, words).await?
        }
        _ => None,
    };
    Ok((main, compare))
}

/// Sets the styling's colourings from `result`; a failure leaves the buildings plain with the
/// reason in `styling.message`.
pub fn apply_colorings(styling: &mut Styling, result: anyhow::Result<Colorings>) {
    match result {
        Ok((main, compare)) => {
            styling.coloring = main;
            styling.compare_coloring = compare;
            styling.message = None;
        }
        Err(e) => {
            styling.coloring = None;
            styling.compare_coloring = None;
            styling.message = Some(format!("{e:#}"));
        }
    }
}

/// Applies the [`Restyle`]s of the frame; asks for a new colouring when it needs one, and
/// applies it when it comes.
fn restyle(
    mut asks: MessageReader<Restyle>,
    mut styling: ResMut<Styling>,
    scene: Res<Scene>,
    data: Option<Res<Data>>,
    lang: Option<Res<UiLang>>,
    mut pending: ResMut<Recolouring>,
) {
    let mut again = lang.as_ref().is_some_and(|l| l.is_changed() && !l.is_added());
    for ask in asks.read() {
        match ask {
            Restyle::Layers(l) => {
                if styling.layers != *l {
                    styling.layers = l.clone();
                }
            }
            Restyle::ColorBy(by, classing) => {
                if styling.color_by != *by || styling.classing != *classing {
                    styling.color_by = by.clone();
                    styling.classing = *classing;
                    again = true;
                }
            }
            Restyle::RunTime(t) => {
                if styling.run_time_s != Some(*t) {
                    if styling.color_by == ColorBy::FloodClass {
                        styling.run_time_s = Some(*t);
                        again = true;
                    } else {
                        // Kept for when flood classes are chosen; nothing to repaint now.
                        styling.bypass_change_detection().run_time_s = Some(*t);
                    }
                }
            }
            Restyle::Again => again = true,
        }
    }
    if again {
        match &data {
            Some(d) => {
                let source = d.0.clone();
                let scene = scene.0.clone();
                let (by, classing, runs, at) = (
                    styling.color_by.clone(),
                    styling.classing,
                    styling.runs.clone(),
                    styling.run_time_s,
                );
                let l = lang.as_ref().map_or(Lang::En, |l| l.0);
                pending.0.ask(async move {
                    colorings(source.as_ref(), &scene, &by, classing, &runs, at, l).await
                });
            }
            None => apply_colorings(
                &mut styling,
                Err(anyhow::anyhow!("no project data to colour buildings by")),
            ),
        }
    }
    if let Some(result) = pending.0.take() {
        apply_colorings(&mut styling, result);
    }
}

/// Roads and parcel boundaries, drawn over the ground.
fn spawn_overlays(
    mut commands: Commands,
    scene: Res<Scene>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    for o in &scene.0.overlays {
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
}

/// Draped lines shown, hidden and faded by the styling.
fn show_overlays(
    styling: Option<Res<Styling>>,
    added: Query<(), Added<OverlayLayer>>,
    scene: Res<Scene>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut overlays: Query<(&OverlayLayer, &mut Visibility, &MeshMaterial3d<StandardMaterial>)>,
) {
    let Some(styling) = styling else { return };
    if !styling.is_changed() && added.is_empty() {
        return;
    }
    let l = &styling.layers;
    for (o, mut v, m) in &mut overlays {
        let k = scene.0.overlays.iter().position(|x| x.layer == o.0);
        let (on, opacity) = k.and_then(|k| l.overlays.get(k)).copied().unwrap_or((true, 1.0));
        v.set_if_neq(visibility(on));
        set_alpha(&mut materials, &m.0, opacity);
    }
}
