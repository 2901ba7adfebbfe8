//! What several plugins read: the scene, the camera, the selection, the styling of layers, the
//! language, the command hall, the run played back, the sides of a split screen; the messages
//! panels send to the plugin that owns a thing; and the order the frame's work runs in. It
//! imports no plugin (plugins import it), so there is no import circle.
//!
//! Ownership: a plugin changes only its own state. [`Selection`] is the pick plugin's (send
//! [`Select`]), [`Styling`] the layers plugin's (send [`Restyle`]), [`PlaybackState`] the
//! playback plugin's (send [`SetPlayback`]), flights the views plugin's (send [`FlyTo`]).

use std::sync::Arc;

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::RenderLayers;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use cim_engine::PickHit;

use crate::model::camera::OrbitCamera;
use crate::model::flood::Kpi;
use crate::model::i18n::Lang;
use crate::model::load::SceneData;
use crate::model::run::{Playback, SideRun};
use crate::model::scene::MeshData;
use crate::model::style::{Classing, ColorBy, Coloring, LayerState};
use crate::model::tiles::{PointColors, DEFAULT_MAX_SSE};

pub use crate::model::camera::FOV_Y;

/// The UI font: Noto Sans SC cut down to Latin and the 3,500 commonest Chinese characters
/// (SIL Open Font License 1.1, see assets/fonts/).
pub const UI_FONT: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-cim-subset.otf");

/// The order of the frame's work: input is read, the camera moves, levels of detail follow it,
/// styles are worked out, and meshes are painted.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewerSystems {
    Input,
    Camera,
    Lod,
    Style,
    Paint,
}

/// The scene being shown.
#[derive(Resource, Clone)]
pub struct Scene(pub Arc<SceneData>);

/// The camera that shows the scene, and where it is.
#[derive(Component, Clone, Copy, Debug)]
pub struct ViewCamera(pub OrbitCamera);

/// Which run an entity belongs to when two are shown side by side: 0 the run (left), 1 the one
/// it is compared with (right). Cameras, water, closed roads and building tiles carry it.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Side(pub usize);

/// The render layers of side `side` in split screen (layer 0 is shared by both).
pub fn side_layers(side: usize) -> RenderLayers {
    RenderLayers::layer(side + 1)
}

/// The sides shown: one, or two in split screen (a run compared with another).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Split(pub bool);

impl Split {
    pub fn sides(self) -> &'static [usize] {
        if self.0 {
            &[0, 1]
        } else {
            &[0]
        }
    }
}

/// What is selected now (owned by the pick plugin; send [`Select`] to change it).
#[derive(Resource, Default, Debug, Clone, PartialEq)]
pub struct Selection {
    /// The building's id in the scene, where the hit is a building that is drawn.
    pub building: Option<u32>,
    pub hit: Option<PickHit>,
    /// A feature of a tileset clicked (a 3D Tiles building with its batch table or property
    /// table), where no feature of the project lies there.
    pub tile_feature: Option<TileFeature>,
}

/// A feature of a tileset: where it is and its properties as text.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    pub tileset: String,
    pub tile: u32,
    pub id: u32,
    pub properties: Vec<(String, String)>,
}

/// A photo mesh's features: each vertex's feature id and the features' properties (on the
/// tilesets plugin's mesh entities, read by picking).
#[derive(Component, Debug, Clone)]
pub struct PhotoFeatures {
    pub tileset: String,
    pub tile: u32,
    pub ids: Vec<u32>,
    pub properties: Arc<std::collections::HashMap<u32, Vec<(String, String)>>>,
}

/// Which level of each building tile is drawn on each side (owned by the buildings plugin):
/// its far (LOD1) level where true, else its finest. Picking hits the level drawn.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct TileLevels {
    /// Per [`SceneData::tiles`], per side.
    pub far: Vec<[bool; 2]>,
}

impl TileLevels {
    /// Whether tile `tile` is drawn far on side `side`.
    pub fn far(&self, tile: usize, side: usize) -> bool {
        self.far.get(tile).is_some_and(|f| f[side.min(1)])
    }
}

/// Height of the view in pixels where there is no window (an offscreen image): for levels of
/// detail.
#[derive(Resource, Clone, Copy, Debug)]
pub struct ViewHeightPx(pub f32);

/// The language shown now.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiLang(pub Lang);

/// The command hall: larger UI and the dashboard.
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct HallMode(pub bool);

/// How the layers are shown now, and the colouring of buildings (owned by the layers plugin;
/// send [`Restyle`] to change it).
#[derive(Resource, Clone, Debug)]
pub struct Styling {
    pub layers: LayerState,
    pub color_by: ColorBy,
    pub classing: Classing,
    /// The colours [`Styling::color_by`] gave (`None`: plain).
    pub coloring: Option<Coloring>,
    /// In split screen, the flood class colours of the run compared (the right side).
    pub compare_coloring: Option<Coloring>,
    /// Why the last colouring failed, for the UI.
    pub message: Option<String>,
    /// The playback time flood classes are shown at, s (`None`: the worst of the run).
    pub run_time_s: Option<f64>,
    /// The runs whose flood classes colour the buildings: the run, and the one compared.
    pub runs: [Option<String>; 2],
}

impl Styling {
    /// Everything shown in plain colours.
    pub fn new(scene: &SceneData) -> Styling {
        Styling {
            layers: LayerState::all_shown(scene),
            color_by: ColorBy::Plain,
            classing: Classing::Categorised,
            coloring: None,
            compare_coloring: None,
            message: None,
            run_time_s: None,
            runs: [None, None],
        }
    }
}

/// The runs being played back in the window, and the frame of water each side shows now
/// (owned by the playback plugin; send [`SetPlayback`] to change the clock).
#[derive(Resource, Debug)]
pub struct PlaybackState {
    pub playback: Playback,
    /// The water frame shown on each side.
    pub shown: [Option<usize>; 2],
    /// What each side plays: the run, and in split screen the one compared, at the same time.
    pub sides: Vec<SideRun>,
    /// The last thing that could not be shown, and why (in the playback panel).
    pub problem: Option<String>,
}

impl PlaybackState {
    /// Playing `sides` from the start.
    pub fn new(sides: Vec<SideRun>) -> PlaybackState {
        PlaybackState {
            playback: Playback::of(&sides),
            shown: [None; 2],
            problem: sides.iter().find_map(|s| s.notice.clone()),
            sides,
        }
    }
}

/// The flood KPIs of the runs being played (the run's water, and the one compared's), at their
/// output times.
#[derive(Resource, Clone, Debug, Default)]
pub struct RunKpis(pub Vec<(String, Vec<Kpi>)>);

/// Select this (a search result, a click).
#[derive(Message, Clone, Debug)]
pub struct Select(pub Selection);

/// Fly the camera to this view.
#[derive(Message, Clone, Copy, Debug)]
pub struct FlyTo(pub OrbitCamera);

/// Change how layers show or buildings are coloured.
#[derive(Message, Clone, Debug)]
pub enum Restyle {
    /// Visibility, opacity and the "as of" day.
    Layers(LayerState),
    /// Colour buildings by this (worked out off the frame loop).
    ColorBy(ColorBy, Classing),
    /// Flood classes at this playback time.
    RunTime(f64),
    /// Again, as they are (the language changed the legend's words).
    Again,
}

/// Stream and draw tilesets like this (owned by the tilesets plugin).
#[derive(Message, Clone, Copy, Debug)]
pub struct SetTiles(pub TileSettings);

/// The playback as a panel left it (play, pause, speed, time).
#[derive(Message, Clone, Debug)]
pub struct SetPlayback(pub Playback);

/// A [`MeshData`] as a Bevy mesh.
pub fn to_bevy_mesh(m: &MeshData, usage: RenderAssetUsages) -> Mesh {
    let mut mesh = Mesh::new(PrimitiveTopology::TriangleList, usage);
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, m.positions.clone());
    mesh.insert_attribute(Mesh::ATTRIBUTE_NORMAL, m.normals.clone());
    mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, m.colors.clone());
    if let Some(uvs) = m.uvs.as_ref().filter(|u| u.len() == m.positions.len()) {
        mesh.insert_attribute(Mesh::ATTRIBUTE_UV_0, uvs.clone());
    }
    mesh.insert_indices(Indices::U32(m.indices.clone()));
    mesh
}

/// Orders [`ViewerSystems`] in `Update` and `PostUpdate` (each plugin calls it, so any set of
/// them runs in order).
pub fn order_sets(app: &mut App) {
    use ViewerSystems::*;
    app.configure_sets(Update, (Input, Camera, Lod, Style, Paint).chain())
        .configure_sets(PostUpdate, (Input, Camera, Lod, Style, Paint).chain());
}

/// Whether the window flies or orbits, and the speed factor the wheel has set (the fly
/// plugin's; the camera's navigation stands aside while it is on).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct FlyMode {
    pub on: bool,
    /// Times the default speed (1 = the eye's height above the ground each second).
    pub speed_factor: f32,
}

impl Default for FlyMode {
    fn default() -> Self {
        FlyMode {
            on: false,
            speed_factor: 1.0,
        }
    }
}

/// Shown or hidden.
pub fn visibility(on: bool) -> Visibility {
    if on {
        Visibility::Inherited
    } else {
        Visibility::Hidden
    }
}

/// Sets a material's opacity (blended below 1), touching it only when it changes (a touched
/// material is sent to the GPU again).
pub fn set_alpha(materials: &mut Assets<StandardMaterial>, handle: &Handle<StandardMaterial>, opacity: f32) {
    let a = opacity.clamp(0.0, 1.0);
    let mode = if a < 1.0 {
        AlphaMode::Blend
    } else {
        AlphaMode::Opaque
    };
    let same = materials
        .get(handle)
        .is_none_or(|m| (m.base_color.alpha() - a).abs() <= f32::EPSILON && m.alpha_mode == mode);
    if same {
        return;
    }
    if let Some(mut m) = materials.get_mut(handle) {
        m.base_color.set_alpha(a);
        m.alpha_mode = mode;
    }
}

/// The default memory budget of decoded tiles, bytes (`--tile-budget`).
pub const DEFAULT_TILE_BUDGET: usize = 512 << 20;

/// How tilesets stream and draw (set from the command line; the tilesets plugin follows it).
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct TileSettings {
    /// The largest screen-space error drawn, pixels (lower: finer tiles, more memory).
    pub max_sse: f64,
    /// Decoded tiles held at most, bytes (what is on screen stays even over it).
    pub budget_bytes: usize,
    pub point_colors: PointColors,
    /// Tiles made into meshes a frame at most (so that no frame stalls on uploads).
    pub per_frame: usize,
    /// Tilesets shown (and the terrain under photogrammetry hidden).
    pub shown: bool,
    /// Tilesets hidden one by one: bit `k` for the scene's tileset `k` (the first 64).
    pub hidden: u64,
}

impl TileSettings {
    /// Whether the scene's tileset `k` is drawn.
    pub fn set_shown(&self, k: usize) -> bool {
        self.shown && (k >= 64 || self.hidden & (1u64 << k) == 0)
    }

    /// Whether a photo mesh (a mesh tileset) of `scene` is drawn: terrain under it is hidden and
    /// buildings under it become volumes over it.
    pub fn photo_shown(&self, scene: &SceneData) -> bool {
        scene
            .tilesets
            .iter()
            .enumerate()
            .any(|(k, t)| t.set.kind == cim_engine::TilesetKind::Mesh && self.set_shown(k))
    }
}

impl Default for TileSettings {
    fn default() -> Self {
        TileSettings {
            max_sse: DEFAULT_MAX_SSE,
            budget_bytes: DEFAULT_TILE_BUDGET,
            point_colors: PointColors::Rgb,
            per_frame: 4,
            shown: true,
            hidden: 0,
        }
    }
}

/// What the tilesets draw and hold now (the tilesets plugin's), for panels, reports and tests.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct TileStats {
    /// Tiles drawn, and their triangles and points.
    pub drawn: usize,
    pub triangles: u64,
    pub points: u64,
    /// Tiles held decoded, and their bytes; the most ever held.
    pub held: usize,
    pub held_bytes: usize,
    pub peak_bytes: usize,
    /// Tiles wanted and not yet drawable (to fetch, decoding, decoded and not yet meshed), and
    /// frames until what was just meshed is on the GPU.
    pub waiting: usize,
    /// Tiles decoded since the start, and their bytes.
    pub decoded: usize,
    pub decoded_bytes: usize,
    /// Tiles evicted to stay within the budget.
    pub evicted: usize,
    /// Tiles that could not be shown, and why (each once).
    pub failed: Vec<String>,
}

/// Marks an entity drawing a photo mesh (a mesh tileset's tile): clicks are cast against it,
/// and the building whose footprint holds the point hit is picked (单体化).
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct PhotoMesh;
