//! What the viewer shows, read from a project: terrain, buildings, and what could not be shown.
//! Plain data, built without Bevy, so it is tested without a GPU and an error is reported before
//! any window opens.

use std::path::Path;

use cim_engine::{CityCode, FeatureFilter, FeatureKind, GeometryType, Project, Raster};
use geo::{BoundingRect, Geometry, MultiPolygon};

use crate::model::scene::{
    build_tiles, drape_ribbon, BuildingInput, BuildingTile, ElevationRamp, LocalOrigin, MeshData,
};

/// Side of a building tile (one mesh, one draw call), m.
pub const BUILDING_TILE_M: f64 = 256.0;

/// Default building colour (linear RGBA): a light warm grey.
pub const BUILDING_COLOR: [f32; 4] = [0.62, 0.60, 0.56, 1.0];

/// The colour a city object of `kind` is drawn in by its 3-D geometry where its surfaces have
/// none of their own (linear RGBA).
pub fn plain_color(kind: FeatureKind) -> [f32; 4] {
    match kind {
        FeatureKind::Building => BUILDING_COLOR,
        FeatureKind::Road => [0.22, 0.22, 0.24, 1.0],
        FeatureKind::Water => [0.18, 0.38, 0.62, 1.0],
        FeatureKind::Vegetation => [0.28, 0.50, 0.22, 1.0],
        FeatureKind::Terrain => [0.52, 0.47, 0.38, 1.0],
        FeatureKind::Parcel => [0.70, 0.66, 0.50, 1.0],
        FeatureKind::Other => [0.66, 0.64, 0.62, 1.0],
    }
}

/// A building as the viewer keeps it beside its mesh: enough to name it and look it up.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildingRecord {
    pub code: CityCode,
    /// Index into [`SceneData::layers`].
    pub layer: u16,
    /// Index into [`SceneData::tiles`] of the tile holding its mesh (`u32::MAX`: not drawn).
    pub tile: u32,
    /// When it exists: days since 1970-01-01, from (inclusive) and to (exclusive);
    /// `i32::MIN`/`i32::MAX` where open.
    pub valid_days: [i32; 2],
    /// The level of detail of the 3-D geometry it is drawn with near (`None`: its LOD1 prism).
    pub lod: Option<String>,
    /// A building, or another city object drawn by its 3-D geometry (a bridge, a road's
    /// surfaces, a water body, vegetation, relief).
    pub kind: FeatureKind,
    /// Where it is an element of a BIM model: its IFC class and storey.
    pub bim: Option<BimTag>,
}

/// A BIM element's IFC class and storey, as indices into [`BimScene`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BimTag {
    pub class: u16,
    /// `u16::MAX`: in no storey.
    pub storey: u16,
}

/// The BIM models' classes and storeys, for the viewer's filters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BimScene {
    /// The layers holding BIM elements (indices into [`SceneData::layers`]).
    pub layers: Vec<u16>,
    /// IFC classes, sorted, with how many elements each.
    pub classes: Vec<(String, u32)>,
    /// Storeys, lowest first: name and elevation (m; models' storeys of the same name are one).
    pub storeys: Vec<(String, f64)>,
}

impl BuildingRecord {
    /// Whether it exists on the day `days` since 1970-01-01 (its validity as the engine's
    /// `Validity::contains`).
    pub fn exists_on(&self, days: i32) -> bool {
        self.valid_days[0] <= days && days < self.valid_days[1]
    }
}

/// Everything the viewer draws from a project.
#[derive(Debug)]
pub struct SceneData {
    pub project_path: std::path::PathBuf,
    /// `[min_x, min_y, max_x, max_y]` of everything shown, project CRS.
    pub extent: [f64; 4],
    pub origin: LocalOrigin,
    pub terrain: Option<Raster>,
    pub ramp: ElevationRamp,
    /// Building `id` is its index here.
    pub buildings: Vec<BuildingRecord>,
    pub layers: Vec<String>,
    pub tiles: Vec<BuildingTile>,
    /// Roads and parcel boundaries draped on the terrain: one mesh a layer.
    pub overlays: Vec<Overlay>,
    /// Things that could not be shown, one line each (shown in the UI; never fatal).
    pub notices: Vec<String>,
    /// BIM elements' classes and storeys.
    pub bim: BimScene,
    /// Tilesets (real-scene 3D, point clouds), streamed while the camera moves.
    pub tilesets: Vec<SceneTileset>,
    /// Terrain chunks under photogrammetry (row by row), hidden where it is shown.
    pub covered_chunks: Vec<bool>,
    /// Buildings under photogrammetry, by id (empty where there is none): drawn as volumes over
    /// the photo mesh, shown only while selected or coloured (单体化).
    pub under_photo: Vec<bool>,
    /// Buildings under photogrammetry without a height of their own, by id (empty where there
    /// is none): their volume's top is fitted to the photo mesh within their footprint as its
    /// tiles arrive.
    pub photo_fit: Vec<bool>,
}

/// How far a building's volume over a photo mesh stands out of its footprint and roof, m.
pub const VEIL_M: f64 = 0.4;

/// A building made a volume over the photo mesh: its footprint grown by [`VEIL_M`], from
/// below its base to above its roof, as a prism (its finer geometry would lie in the mesh's
/// surfaces).
fn veil(i: &mut BuildingInput) {
    use geo::Buffer;
    let grown = i.footprint.buffer(VEIL_M);
    if !grown.0.is_empty() {
        i.footprint = grown;
    }
    let (base, top) = match &i.mesh {
        Some(m) => m.bounds().map_or((i.base_m, i.top_m), |(lo, hi)| (lo[2], hi[2])),
        None => (i.base_m, i.top_m),
    };
    i.base_m = base - VEIL_M;
    i.top_m = top.max(base) + VEIL_M;
    i.mesh = None;
    i.paints = Vec::new();
    i.far = None;
}

/// A tileset and its tiles (without content; fetched and decoded as the camera needs them).
#[derive(Debug, Clone)]
pub struct SceneTileset {
    pub set: cim_engine::Tileset,
    pub tiles: Vec<cim_engine::Tile>,
    /// The project's CRS, which its content is placed into.
    pub project_crs: cim_engine::Crs,
}

/// One layer's lines draped on the ground.
#[derive(Debug, Clone)]
pub struct Overlay {
    pub layer: String,
    pub kind: FeatureKind,
    pub mesh: MeshData,
}

/// Parcel boundaries: width (m) and colour (linear RGBA).
pub const PARCEL_LINE_M: f64 = 0.6;
pub const PARCEL_COLOR: [f32; 4] = [0.95, 0.85, 0.35, 1.0];
/// Roads: default width (m), width a lane, colour.
pub const ROAD_WIDTH_M: f64 = 6.0;
pub const LANE_WIDTH_M: f64 = 3.25;
pub const ROAD_COLOR: [f32; 4] = [0.16, 0.16, 0.18, 1.0];

/// A road's width: its `width` attribute (m), else lanes × [`LANE_WIDTH_M`], else
/// [`ROAD_WIDTH_M`].
pub fn road_width_m(attrs: &cim_engine::Attributes) -> f64 {
    let num = |k: &str| {
        attrs
            .get(k)
            .and_then(|v| v.as_f64())
            .filter(|w| w.is_finite() && *w > 0.0)
    };
    num("width")
        .filter(|w| *w < 200.0)
        .or_else(|| num("lanes").map(|l| l.min(16.0) * LANE_WIDTH_M))
        .unwrap_or(ROAD_WIDTH_M)
}

/// Reads the scene of the project at `path` (through its data source).
pub fn load_scene(path: &Path) -> anyhow::Result<SceneData> {
    let source = crate::model::source::ProjectSource::new(path);
    crate::model::source::wait(crate::model::source::DataSource::scene(&source))
}

/// The scene of an open project.
pub fn scene_of(project: &Project) -> anyhow::Result<SceneData> {
    let path = project.path();
    let mut notices = Vec::new();
    let terrain = match project.terrains()?.first() {
        Some(t) => Some(project.terrain(&t.name)?),
        None => {
            notices.push(if project.tilesets()?.is_empty() {
                "no terrain in the project: buildings stand on a flat plane".to_string()
            } else {
                "no terrain in the project: a flat plane under the tilesets".to_string()
            });
            None
        }
    };
    let mut layers: Vec<String> = Vec::new();
    let mut buildings = Vec::new();
    let mut inputs = Vec::new();
    let mut extent: Option<[f64; 4]> = terrain.as_ref().map(|t| t.extent());
    let mut without_height = 0usize;
    let mut tilesets = Vec::new();
    for set in project.tilesets()? {
        let tiles: Vec<cim_engine::Tile> = project.tiles(&set.name)?.into_iter().map(|(t, _)| t).collect();
        if tiles.is_empty() {
            continue;
        }
        tilesets.push(SceneTileset {
            set,
            tiles,
            project_crs: project.crs().clone(),
        });
    }
    // Where photogrammetry lies: buildings there are drawn as volumes over it (see
    // `SceneData::under_photo`).
    let cover = crate::model::tiles::PhotoCover::of(tilesets.iter().map(|t| (&t.set, &t.tiles[..])));
    let centre_of = |m: &MultiPolygon<f64>| m.bounding_rect().map(|r| r.center());
    let mut photo_heights = 0usize;
    let mut estimated: std::collections::HashSet<CityCode> = std::collections::HashSet::new();
    for info in project.layers()? {
        let lines_or_points = matches!(
            info.geometry_type,
            GeometryType::Point
                | GeometryType::MultiPoint
                | GeometryType::LineString
                | GeometryType::MultiLineString
        );
        if info.kind == FeatureKind::Building && info.feature_count > 0 && lines_or_points {
            notices.push(format!(
                "layer '{}' has no polygons ({}): not drawn",
                info.name,
                info.geometry_type.name()
            ));
        }
    }
    // Buildings with an LOD1 height, and every feature of any kind with 3-D geometry.
    let mesh_layers: std::collections::BTreeSet<String> =
        project.mesh_summary()?.into_iter().map(|m| m.layer).collect();
    let buildings_filter = FeatureFilter {
        kinds: Some(vec![FeatureKind::Building]),
        ..FeatureFilter::default()
    };
    let others_filter = FeatureFilter {
        layers: Some(mesh_layers.iter().cloned().collect()),
        kinds: Some(
            FeatureKind::ALL
                .into_iter()
                .filter(|k| *k != FeatureKind::Building)
                .collect(),
        ),
        ..FeatureFilter::default()
    };
    // BIM models' elements: their classes and storeys.
    let bim_layers: std::collections::BTreeSet<String> =
        project.bim_models()?.into_iter().map(|m| m.layer).collect();
    let mut bim_of: Vec<Tagged> = Vec::new();
    for (filter, kinds_with_meshes) in [(buildings_filter, false), (others_filter, true)] {
        if kinds_with_meshes && mesh_layers.is_empty() {
            continue;
        }
        project.for_each_feature(&filter, |s| {
            let footprint = match &s.feature.geometry {
                Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                Geometry::MultiPolygon(m) => m.clone(),
                _ if kinds_with_meshes => MultiPolygon(vec![]),
                _ => return Ok(()),
            };
            let (base_m, top_m) = match &s.feature.lod1 {
                Some(lod1) => (lod1.base_m, lod1.top_m()),
                // Drawn only if it has 3-D geometry (kept out below otherwise).
                None if kinds_with_meshes => (0.0, 0.0),
                // Under photogrammetry a footprint alone is enough: its volume reaches as high
                // as the photo tile over it (for picking it out of the mesh and colouring it).
                None if s.feature.kind == FeatureKind::Building
                    && centre_of(&footprint).is_some_and(|c| cover.covers(c.x, c.y)) =>
                {
                    let c = centre_of(&footprint).unwrap_or_default();
                    let Some((lo, hi)) = cover.height_at(c.x, c.y) else {
                        return Ok(());
                    };
                    let ground = terrain
                        .as_ref()
                        .and_then(|t| t.sample(c.x, c.y))
                        .map_or(lo, f64::from);
                    photo_heights += 1;
                    estimated.insert(s.feature.code.clone());
                    (ground.min(hi), hi)
                }
                None => {
                    // A building made of parts is drawn by its parts.
                    if !s.feature.attributes.contains_key("object_type") {
                        without_height += 1;
                    }
                    return Ok(());
                }
            };
            let layer = match layers.iter().position(|l| *l == s.layer) {
                Some(i) => i,
                None => {
                    layers.push(s.layer.clone());
                    layers.len() - 1
                }
            };
            let id = buildings.len() as u32;
            if bim_layers.contains(&s.layer) {
                let text = |k: &str| match s.feature.attributes.get(k) {
                    Some(cim_engine::AttrValue::Text(t)) => Some(t.clone()),
                    _ => None,
                };
                if let Some(class) = text("ifc_class") {
                    let elevation = s
                        .feature
                        .attributes
                        .get("storey_elevation_m")
                        .and_then(|v| v.as_f64());
                    bim_of.push((
                        id,
                        class,
                        text("storey").map(|n| (n, elevation.unwrap_or(f64::NAN))),
                    ));
                }
            }
            buildings.push(BuildingRecord {
                code: s.feature.code.clone(),
                layer: layer as u16,
                tile: u32::MAX,
                lod: None,
                kind: s.feature.kind,
                bim: None,
                valid_days: [
                    s.feature.validity.from.map_or(i32::MIN, |d| d.days_since_epoch()),
                    s.feature.validity.to.map_or(i32::MAX, |d| d.days_since_epoch()),
                ],
            });
            inputs.push(BuildingInput {
                id,
                footprint,
                base_m,
                top_m,
                color: plain_color(s.feature.kind),
                mesh: None,
                paints: Vec::new(),
                far: None,
            });
            Ok(())
        })?;
    }
    // Features with 3-D geometry are drawn by it, near at their finest level of detail and far
    // at their LoD1 (else as their LOD1 prism); a building made of parts (no height of its own)
    // by its parts.
    let index: std::collections::HashMap<String, usize> = buildings
        .iter()
        .enumerate()
        .map(|(k, b)| (b.code.to_string(), k))
        .collect();
    // The finest representation below LoD2 of each feature, by index.
    let mut lod1: std::collections::HashMap<usize, (String, cim_engine::mesh::Mesh3)> =
        std::collections::HashMap::new();
    for layer in &layers {
        if !mesh_layers.contains(layer) {
            continue;
        }
        project.for_each_representation(layer, None, |code, rep| {
            let Some(&k) = index.get(code) else {
                return Ok(());
            };
            let lod1_x = |lod: &str| ("1".."2").contains(&lod);
            // The finest is drawn near; one it displaces, or a coarser one, may be the LoD 1.x
            // drawn far (moved, not copied).
            let (lod, mesh) = if buildings[k].lod.as_ref().is_none_or(|was| rep.lod >= *was) {
                inputs[k].paints = rep.paints;
                let mesh = inputs[k].mesh.replace(rep.mesh);
                match (buildings[k].lod.replace(rep.lod), mesh) {
                    (Some(lod), Some(mesh)) => (lod, mesh),
                    _ => return Ok(()),
                }
            } else {
                (rep.lod, rep.mesh)
            };
            if lod1_x(&lod) && lod1.get(&k).is_none_or(|(was, _)| lod >= *was) {
                lod1.insert(k, (lod, mesh));
            }
            Ok(())
        })?;
    }
    // BIM elements: tagged, coloured by class, and drawn as they are at every distance (their
    // LOD1 prisms would be boxes around furniture).
    let bim = bim_scene(&mut buildings, &mut inputs, bim_of, &layers, &bim_layers);
    for (k, b) in buildings.iter().enumerate() {
        let finer_than_lod1 = b.lod.as_deref().is_some_and(|l| l >= "2");
        if !finer_than_lod1 || b.bim.is_some() {
            continue;
        }
        let input = &mut inputs[k];
        input.far = match lod1.remove(&k) {
            Some((_, m)) => Some(m),
            None if input.top_m > input.base_m && !input.footprint.0.is_empty() => Some(
                cim_engine::mesh::extrude(&input.footprint, input.base_m, input.top_m),
            ),
            None => None,
        };
    }
    drop(lod1);
    // Other city objects without 3-D geometry are not drawn here (roads and parcels are
    // draped on the ground); ids stay indices.
    if buildings
        .iter()
        .zip(&inputs)
        .any(|(b, i)| b.kind != FeatureKind::Building && i.mesh.is_none())
    {
        let kept: Vec<(BuildingRecord, BuildingInput)> = buildings
            .drain(..)
            .zip(inputs.drain(..))
            .filter(|(b, i)| b.kind == FeatureKind::Building || i.mesh.is_some())
            .collect();
        for (id, (b, mut i)) in kept.into_iter().enumerate() {
            i.id = id as u32;
            buildings.push(b);
            inputs.push(i);
        }
    }
    for i in &inputs {
        let r = match &i.mesh {
            Some(m) => m.bounds().map(|(lo, hi)| [lo[0], lo[1], hi[0], hi[1]]),
            None => i
                .footprint
                .bounding_rect()
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]),
        };
        if let Some(r) = r {
            extent = Some(grow(extent, r));
        }
    }
    if without_height > 0 {
        notices.push(format!(
            "{without_height} buildings have no LOD1 height: not drawn"
        ));
    }
    for t in &tilesets {
        let b = t.set.bounds;
        extent = Some(grow(extent, [b[0], b[1], b[3], b[4]]));
    }
    if photo_heights > 0 {
        notices.push(format!(
            "{photo_heights} buildings without a height under the photo mesh: their volume is fitted to the mesh as it arrives"
        ));
    }
    let Some(extent) = extent else {
        anyhow::bail!(
            "{}: nothing to show: the project has no terrain, buildings or tilesets (import some with `cim import`)",
            path.display()
        );
    };
    // Without terrain, heights are measured from the lowest tileset (or 0).
    let (min_m, max_m) = match terrain.as_ref().and_then(|t| t.min_max()) {
        Some(r) => r,
        None => tilesets
            .iter()
            .map(|t| (t.set.bounds[2] as f32, t.set.bounds[5] as f32))
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
            .unwrap_or((0.0, 0.0)),
    };
    let covered_chunks = match &terrain {
        Some(r) if !cover.is_empty() => crate::model::tiles::covered_chunks(r, &cover),
        _ => Vec::new(),
    };
    let origin = LocalOrigin::centre_of(extent, f64::from(min_m));
    // Buildings under photogrammetry: drawn as their footprint's volume a little larger than
    // the photo mesh's own (so that it shows over it), shown while selected or coloured.
    let under_photo: Vec<bool> = if cover.is_empty() {
        Vec::new()
    } else {
        buildings
            .iter()
            .zip(inputs.iter_mut())
            .map(|(b, i)| {
                let under = b.kind == FeatureKind::Building
                    && b.bim.is_none()
                    && !i.footprint.0.is_empty()
                    && centre_of(&i.footprint).is_some_and(|c| cover.covers(c.x, c.y));
                if under {
                    veil(i);
                }
                under
            })
            .collect()
    };
    let photo_fit: Vec<bool> = if estimated.is_empty() {
        Vec::new()
    } else {
        buildings.iter().map(|b| estimated.contains(&b.code)).collect()
    };
    drop(estimated);
    let textures = load_textures(project, &inputs, &mut notices)?;
    let tiles = build_tiles(&inputs, &origin, BUILDING_TILE_M, &textures);
    // Roads drawn by their 3-D surfaces are not draped again.
    let drawn: std::collections::HashSet<&CityCode> = buildings
        .iter()
        .filter(|b| b.kind != FeatureKind::Building)
        .map(|b| &b.code)
        .collect();
    let overlays = load_overlays(project, terrain.as_ref(), &origin, f64::from(min_m), &drawn)?;
    drop(drawn);
    for (t, tile) in tiles.iter().enumerate() {
        for (id, _) in &tile.buildings {
            buildings[*id as usize].tile = t as u32;
        }
    }
    // Kept for the whole session: no room to grow.
    buildings.shrink_to_fit();
    Ok(SceneData {
        project_path: path.to_path_buf(),
        extent,
        origin,
        terrain,
        ramp: ElevationRamp { min_m, max_m },
        buildings,
        layers,
        tiles,
        overlays,
        notices,
        bim,
        tilesets,
        covered_chunks,
        under_photo,
        photo_fit,
    })
}

/// A BIM element as read: its id, IFC class, and storey (name, elevation m).
type Tagged = (u32, String, Option<(String, f64)>);

/// Tags BIM elements with their class and storey (indices into the [`BimScene`] returned) and
/// colours them by class.
fn bim_scene(
    buildings: &mut [BuildingRecord],
    inputs: &mut [BuildingInput],
    tagged: Vec<Tagged>,
    layers: &[String],
    bim_layers: &std::collections::BTreeSet<String>,
) -> BimScene {
    let mut classes: std::collections::BTreeMap<String, u32> = std::collections::BTreeMap::new();
    let mut storeys: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for (_, c, s) in &tagged {
        *classes.entry(c.clone()).or_default() += 1;
        if let Some((name, e)) = s {
            let at = storeys.entry(name.clone()).or_insert(*e);
            if at.is_nan() {
                *at = *e;
            }
        }
    }
    let classes: Vec<(String, u32)> = classes.into_iter().collect();
    let mut storeys: Vec<(String, f64)> = storeys.into_iter().collect();
    storeys.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    for (id, c, s) in tagged {
        let class = classes.iter().position(|(n, _)| *n == c).unwrap_or(0) as u16;
        let storey = s
            .and_then(|(n, _)| storeys.iter().position(|(m, _)| *m == n))
            .map_or(u16::MAX, |k| k as u16);
        if let Some(b) = buildings.get_mut(id as usize) {
            b.bim = Some(BimTag { class, storey });
        }
        if let Some(i) = inputs.get_mut(id as usize) {
            i.color = crate::model::style::ifc_class_color(&c);
        }
    }
    BimScene {
        layers: layers
            .iter()
            .enumerate()
            .filter(|(_, l)| bim_layers.contains(*l))
            .map(|(k, _)| k as u16)
            .collect(),
        classes,
        storeys,
    }
}

/// The texture images the buildings' meshes use, decoded (one that cannot be is a notice, and
/// its surfaces are drawn plain).
fn load_textures(
    project: &Project,
    inputs: &[BuildingInput],
    notices: &mut Vec<String>,
) -> anyhow::Result<std::collections::HashMap<i64, crate::model::scene::atlas::Rgba>> {
    let ids: std::collections::BTreeSet<i64> = inputs
        .iter()
        .filter(|b| b.mesh.as_ref().is_some_and(|m| m.uvs.is_some()))
        .flat_map(|b| b.paints.iter())
        .filter_map(|p| match p {
            cim_engine::mesh::Paint::Texture(id) => Some(*id),
            cim_engine::mesh::Paint::Color(_) => None,
        })
        .collect();
    let mut out = std::collections::HashMap::new();
    let mut failed = 0;
    for id in ids {
        let Some(t) = project.texture(id)? else {
            failed += 1;
            continue;
        };
        match image::load_from_memory(&t.data) {
            Ok(img) => {
                let rgba = img.to_rgba8();
                out.insert(
                    id,
                    crate::model::scene::atlas::Rgba {
                        width: rgba.width(),
                        height: rgba.height(),
                        pixels: rgba.into_raw(),
                    },
                );
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        notices.push(format!(
            "{failed} texture images cannot be read: their surfaces are drawn plain"
        ));
    }
    Ok(out)
}

/// Parcel boundaries and roads of every layer of those kinds, draped on the terrain.
fn load_overlays(
    project: &Project,
    terrain: Option<&Raster>,
    origin: &LocalOrigin,
    fallback_z: f64,
    drawn: &std::collections::HashSet<&CityCode>,
) -> anyhow::Result<Vec<Overlay>> {
    let step = terrain.map_or(5.0, |t| t.cell_w.min(t.cell_h).max(0.25));
    let mut out: Vec<Overlay> = Vec::new();
    let filter = FeatureFilter {
        kinds: Some(vec![FeatureKind::Parcel, FeatureKind::Road]),
        ..FeatureFilter::default()
    };
    project.for_each_feature(&filter, |s| {
        if drawn.contains(&s.feature.code) {
            return Ok(());
        }
        let kind = s.feature.kind;
        let (width, color) = match kind {
            FeatureKind::Road => (road_width_m(&s.feature.attributes), ROAD_COLOR),
            _ => (PARCEL_LINE_M, PARCEL_COLOR),
        };
        let k = match out.iter().position(|o| o.layer == s.layer) {
            Some(k) => k,
            None => {
                out.push(Overlay {
                    layer: s.layer.clone(),
                    kind,
                    mesh: MeshData::default(),
                });
                out.len() - 1
            }
        };
        let mesh = &mut out[k].mesh;
        for l in lines_of(&s.feature.geometry) {
            drape_ribbon(l, width, step, terrain, fallback_z, color, origin, mesh);
        }
        Ok(())
    })?;
    out.retain(|o| !o.mesh.is_empty());
    Ok(out)
}

fn grow(a: Option<[f64; 4]>, b: [f64; 4]) -> [f64; 4] {
    match a {
        None => b,
        Some(a) => [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])],
    }
}

impl SceneData {
    /// Building ids by city code (for joining many features at once).
    pub fn ids_by_code(&self) -> std::collections::HashMap<&CityCode, u32> {
        self.buildings
            .iter()
            .enumerate()
            .map(|(i, b)| (&b.code, i as u32))
            .collect()
    }

    /// The earliest and latest day (since 1970-01-01) a building's validity starts or ends on,
    /// where any has one.
    pub fn validity_span(&self) -> Option<(i32, i32)> {
        let days = self
            .buildings
            .iter()
            .flat_map(|b| b.valid_days)
            .filter(|d| *d != i32::MIN && *d != i32::MAX);
        days.fold(None, |acc, d| match acc {
            None => Some((d, d)),
            Some((a, b)) => Some((a.min(d), b.max(d))),
        })
    }

    /// CPU memory the scene keeps for its buildings beyond their meshes, bytes: each one's
    /// record (with its city code's heap text) and its entry in its tile. Picking adds
    /// nothing (it runs against the meshes); colouring by an attribute adds 16 B a building.
    pub fn building_bytes_beyond_meshes(&self) -> usize {
        // A heap block: the text rounded up to 8 bytes, and the allocator's 8-byte header.
        let codes: usize = self
            .buildings
            .iter()
            .map(|b| b.code.as_str().len().next_multiple_of(8) + 8)
            .sum();
        let entries: usize = self
            .tiles
            .iter()
            .map(|t| t.buildings.capacity() * std::mem::size_of::<(u32, std::ops::Range<u32>)>())
            .sum();
        self.buildings.capacity() * std::mem::size_of::<BuildingRecord>() + codes + entries
    }

    /// The building with this city code.
    pub fn building_by_code(&self, code: &CityCode) -> Option<u32> {
        self.buildings
            .iter()
            .position(|b| b.code == *code)
            .map(|i| i as u32)
    }
}

/// The lines of a geometry to drape: line strings as they are, polygons by their rings.
pub fn lines_of(g: &Geometry<f64>) -> Vec<&geo::LineString<f64>> {
    fn rings(p: &geo::Polygon<f64>) -> impl Iterator<Item = &geo::LineString<f64>> {
        std::iter::once(p.exterior()).chain(p.interiors())
    }
    match g {
        Geometry::LineString(l) => vec![l],
        Geometry::MultiLineString(m) => m.0.iter().collect(),
        Geometry::Polygon(p) => rings(p).collect(),
        Geometry::MultiPolygon(m) => m.0.iter().flat_map(rings).collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cim_engine::{AttrValue, Attributes};

    #[test]
    fn road_width_from_width_or_lanes() {
        let mut a = Attributes::new();
        assert_eq!(road_width_m(&a), ROAD_WIDTH_M);
        a.insert("lanes".into(), AttrValue::Int(4));
        assert_eq!(road_width_m(&a), 4.0 * LANE_WIDTH_M);
        a.insert("width".into(), AttrValue::Text("12.5".into()));
        assert_eq!(road_width_m(&a), 12.5);
        a.insert("width".into(), AttrValue::Real(-3.0));
        assert_eq!(road_width_m(&a), 4.0 * LANE_WIDTH_M);
    }
}
