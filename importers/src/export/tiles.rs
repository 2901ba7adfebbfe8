//! 3D Tiles out (1.1 by default, 1.0 on request) and a plain GLB of the chosen features.
//!
//! **Placing.** Every vertex goes from the project CRS to WGS 84 longitude and latitude (the
//! project's `Transform`), its height plus `geoid_offset_m` taken as ellipsoidal (3D Tiles
//! heights are ellipsoidal; orthometric data floats or sinks by the geoid's height without it),
//! then to ECEF, then into an east-north-up frame at the centre of the data. The root tile's
//! `transform` is that frame (ENU → ECEF, column-major); each tile's content is a GLB whose
//! node is translated to the tile's centre (glTF frame: x east, y up, z south), its positions
//! relative to it, so f32 keeps them to well under a millimetre.
//!
//! **Tiling.** An explicit quadtree over the features' centres in that frame: a tile is split
//! in four until it holds at most `max_features` features (pg2b3dm's default, 1000), features
//! staying whole in the tile their centre falls in. Leaves carry the content (geometric error 0);
//! an inner tile's geometric error is half its box's diagonal, the root's the tileset's;
//! refinement ADD.
//!
//! **Terrain and tilesets.** An export of the whole project also writes its terrain (meshes
//! with levels of detail, [`super::terrain`]) and its tilesets ([`super::tilesets`]), each as
//! an external tileset under a root that holds them and the features' tree.
//!
//! **Content.** 1.1: GLB with `EXT_mesh_features` (a feature id a vertex) and
//! `EXT_structural_metadata` (city code, layer, kind, LoD and the source's attributes as
//! strings). 1.0: b3dm, the same GLB with `_BATCHID` and the properties in the batch table.

use std::path::{Path, PathBuf};

use cim_engine::mesh::{Mesh3, SurfaceClass};
use cim_engine::{AttrValue, Crs, FeatureFilter, Project, Transform};
use serde_json::{json, Value};

use std::collections::HashMap;

use super::gltf::{glb, FeatureIds, GlbFeature, GlbImage, Properties};
use super::Exported;
use crate::error::{ImportError, Result};
use cim_engine::mesh::Paint;

/// Which 3D Tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TilesVersion {
    /// 3D Tiles 1.1: GLB content with EXT_mesh_features and EXT_structural_metadata.
    #[default]
    V1_1,
    /// 3D Tiles 1.0: b3dm content with a batch table, for older clients.
    V1_0,
}

/// Options of a 3D Tiles export.
#[derive(Clone, Debug)]
pub struct TilesOptions {
    pub version: TilesVersion,
    /// Added to every height to make it ellipsoidal (the geoid's height above the ellipsoid
    /// where the data's heights are orthometric), m.
    pub geoid_offset_m: f64,
    /// Most features in one tile.
    pub max_features: usize,
}

impl Default for TilesOptions {
    fn default() -> Self {
        TilesOptions {
            version: TilesVersion::V1_1,
            geoid_offset_m: 0.0,
            max_features: 1000,
        }
    }
}

/// A feature to draw: its finest 3-D geometry (or its LOD1 prism), how it looks, and its
/// properties.
pub(crate) struct Solid {
    pub mesh: Mesh3,
    pub paints: Vec<Paint>,
    pub row: Vec<String>,
}

fn attr_text(v: &AttrValue) -> String {
    match v {
        AttrValue::Null => String::new(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Real(r) => r.to_string(),
        AttrValue::Text(t) => t.clone(),
        AttrValue::Date(d) => d.to_string(),
    }
}

/// The chosen features that have 3-D geometry or an LOD1 height, as solids, with the property
/// columns (code, layer, kind, lod, then every source attribute), how many were left out, and
/// the box round them all (project CRS). None of them is an error naming `out`.
pub(crate) fn solids(project: &Project, filter: &FeatureFilter, out: &Path) -> Result<Solids> {
    // Each feature's finest representation.
    let mut finest: Vec<Option<(String, Mesh3, Vec<Paint>)>> = Vec::new();
    let features = super::chosen(project, filter, |k, rep| {
        if finest.len() <= k {
            finest.resize_with(k + 1, || None);
        }
        if finest[k].as_ref().is_none_or(|(lod, ..)| rep.lod >= *lod) {
            finest[k] = Some((rep.lod, rep.mesh, rep.paints));
        }
    })?;
    finest.resize_with(features.len(), || None);
    let mut names: Vec<String> = features
        .iter()
        .flat_map(|s| s.feature.attributes.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut columns = vec!["code".to_string(), "layer".into(), "kind".into(), "lod".into()];
    names.retain(|n| !columns.contains(n));
    columns.extend(names.iter().cloned());
    // Buildings made only of parts are drawn by their parts (which name them).
    let parents: std::collections::HashSet<String> = features
        .iter()
        .filter_map(|s| match s.feature.attributes.get("parent_code") {
            Some(AttrValue::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect();
    let chosen = features.len();
    let mut list = Vec::new();
    let mut left_out = 0;
    for (s, fin) in features.into_iter().zip(finest) {
        let f = &s.feature;
        if fin.is_none() && parents.contains(f.code.as_str()) {
            continue;
        }
        let Some((lod, mesh, paints)) =
            fin.or_else(|| super::lod1_prism(f).map(|m| ("1".to_string(), m, Vec::new())))
        else {
            left_out += 1;
            continue;
        };
        if mesh.triangles.is_empty() {
            left_out += 1;
            continue;
        }
        let mut row = vec![
            f.code.to_string(),
            s.layer.clone(),
            f.kind.name().to_string(),
            lod.clone(),
        ];
        row.extend(
            names
                .iter()
                .map(|n| f.attributes.get(n).map(attr_text).unwrap_or_default()),
        );
        list.push(Solid { mesh, paints, row });
    }
    if list.is_empty() {
        return Err(super::nothing_to_export(out, chosen));
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for s in &list {
        if let Some((a, b)) = s.mesh.bounds() {
            for k in 0..3 {
                lo[k] = lo[k].min(a[k]);
                hi[k] = hi[k].max(b[k]);
            }
        }
    }
    // What glTF cannot carry is said once, for either writer.
    let (images, not_embedded) = images_of(project, &list, out)?;
    let mut warnings = Vec::new();
    if left_out > 0 {
        warnings.push(super::left_out_warning(left_out));
    }
    if not_embedded > 0 {
        warnings.push(format!(
            "{not_embedded} texture images are neither PNG nor JPEG: the surfaces they cover are written in plain colours"
        ));
    }
    Ok(Solids {
        list,
        columns,
        images,
        warnings,
        bounds: (lo, hi),
    })
}

/// The texture images `solids` use that glTF can embed (PNG, JPEG), and how many others there
/// are (their surfaces are written plain).
fn images_of(project: &Project, solids: &[Solid], out: &Path) -> Result<(HashMap<i64, GlbImage>, usize)> {
    let ids: std::collections::BTreeSet<i64> = solids
        .iter()
        .filter(|s| s.mesh.uvs.is_some())
        .flat_map(|s| &s.paints)
        .filter_map(|p| match p {
            Paint::Texture(id) => Some(*id),
            Paint::Color(_) => None,
        })
        .collect();
    let mut images = HashMap::new();
    let mut other = 0;
    for id in ids {
        match project.texture(id).map_err(|e| ImportError::engine(out, e))? {
            Some(t) if t.mime == "image/png" || t.mime == "image/jpeg" => {
                images.insert(
                    id,
                    GlbImage {
                        mime: t.mime,
                        bytes: t.data,
                    },
                );
            }
            _ => other += 1,
        }
    }
    Ok((images, other))
}

/// What [`solids`] found.
pub(crate) struct Solids {
    pub list: Vec<Solid>,
    pub columns: Vec<String>,
    /// The texture images they use that glTF can embed.
    pub images: HashMap<i64, GlbImage>,
    /// Features left out, images written plain.
    pub warnings: Vec<String>,
    pub bounds: ([f64; 3], [f64; 3]),
}

/// WGS 84 ellipsoid.
const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// ECEF of geodetic longitude, latitude (degrees) and ellipsoidal height (m).
pub fn ecef(lon_deg: f64, lat_deg: f64, h: f64) -> [f64; 3] {
    let e2 = F * (2.0 - F);
    let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
    let n = A / (1.0 - e2 * lat.sin() * lat.sin()).sqrt();
    [
        (n + h) * lat.cos() * lon.cos(),
        (n + h) * lat.cos() * lon.sin(),
        (n * (1.0 - e2) + h) * lat.sin(),
    ]
}

/// An east-north-up frame at a point: its origin (ECEF) and axes.
#[derive(Clone, Copy, Debug)]
pub struct Enu {
    pub origin: [f64; 3],
    pub east: [f64; 3],
    pub north: [f64; 3],
    pub up: [f64; 3],
}

impl Enu {
    pub fn at(lon_deg: f64, lat_deg: f64, h: f64) -> Enu {
        let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
        Enu {
            origin: ecef(lon_deg, lat_deg, h),
            east: [-lon.sin(), lon.cos(), 0.0],
            north: [-lat.sin() * lon.cos(), -lat.sin() * lon.sin(), lat.cos()],
            up: [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()],
        }
    }

    pub fn from_ecef(&self, p: [f64; 3]) -> [f64; 3] {
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        let dot = |a: [f64; 3]| a[0] * d[0] + a[1] * d[1] + a[2] * d[2];
        [dot(self.east), dot(self.north), dot(self.up)]
    }

    /// The 4×4 matrix ENU → ECEF, column-major (3D Tiles' `transform`).
    pub fn matrix(&self) -> [f64; 16] {
        let (e, n, u, o) = (self.east, self.north, self.up, self.origin);
        [
            e[0], e[1], e[2], 0.0, n[0], n[1], n[2], 0.0, u[0], u[1], u[2], 0.0, o[0], o[1], o[2], 1.0,
        ]
    }
}

/// A feature placed in the ENU frame.
struct Placed {
    positions: Vec<[f64; 3]>,
    triangles: Vec<[u32; 3]>,
    classes: Vec<SurfaceClass>,
    materials: Option<Vec<u16>>,
    uvs: Option<Vec<[f32; 2]>>,
    paints: Vec<Paint>,
    lo: [f64; 3],
    hi: [f64; 3],
    row: Vec<String>,
}

fn place(s: Solid, to_wgs84: &Transform, enu: &Enu, geoid: f64, path: &Path) -> Result<Placed> {
    let m = &s.mesh;
    let n = m.positions.len();
    let mut xs = Vec::with_capacity(n);
    let mut ys = Vec::with_capacity(n);
    let mut zs = Vec::with_capacity(n);
    for v in 0..n as u32 {
        let p = m.world(v);
        xs.push(p[0]);
        ys.push(p[1]);
        zs.push(p[2]);
    }
    to_wgs84.apply_slice(&mut xs, &mut ys).map_err(|e| {
        ImportError::file(
            path,
            format!("feature {}: cannot place it in WGS 84: {e}", s.row[0]),
        )
    })?;
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    let positions: Vec<[f64; 3]> = (0..n)
        .map(|k| {
            let p = enu.from_ecef(ecef(xs[k], ys[k], zs[k] + geoid));
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
            p
        })
        .collect();
    Ok(Placed {
        positions,
        triangles: s.mesh.triangles,
        classes: s.mesh.classes,
        materials: s.mesh.materials,
        uvs: s.mesh.uvs,
        paints: s.paints,
        lo,
        hi,
        row: s.row,
    })
}

/// A tile of the quadtree: its features (leaf) or children, and its box in the ENU frame.
struct Tile {
    level: u32,
    x: u32,
    y: u32,
    lo: [f64; 3],
    hi: [f64; 3],
    features: Vec<usize>,
    children: Vec<Tile>,
}

fn build(placed: &[Placed], ids: Vec<usize>, level: u32, x: u32, y: u32, max: usize) -> Tile {
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for &i in &ids {
        for a in 0..3 {
            lo[a] = lo[a].min(placed[i].lo[a]);
            hi[a] = hi[a].max(placed[i].hi[a]);
        }
    }
    let leaf = |features: Vec<usize>| Tile {
        level,
        x,
        y,
        lo,
        hi,
        features,
        children: vec![],
    };
    if ids.len() <= max || level >= 20 {
        return leaf(ids);
    }
    // Split at the middle of the features' centres.
    let centre = |i: usize| {
        [
            0.5 * (placed[i].lo[0] + placed[i].hi[0]),
            0.5 * (placed[i].lo[1] + placed[i].hi[1]),
        ]
    };
    let (mut clo, mut chi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for &i in &ids {
        let c = centre(i);
        for a in 0..2 {
            clo[a] = clo[a].min(c[a]);
            chi[a] = chi[a].max(c[a]);
        }
    }
    let mid = [0.5 * (clo[0] + chi[0]), 0.5 * (clo[1] + chi[1])];
    let mut quads: [Vec<usize>; 4] = Default::default();
    for &i in &ids {
        let c = centre(i);
        let q = usize::from(c[0] >= mid[0]) + 2 * usize::from(c[1] >= mid[1]);
        quads[q].push(i);
    }
    if quads.iter().filter(|q| !q.is_empty()).count() < 2 {
        // All centres at one point: cannot split.
        return leaf(ids);
    }
    let children = quads
        .into_iter()
        .enumerate()
        .filter(|(_, q)| !q.is_empty())
        .map(|(q, list)| {
            build(
                placed,
                list,
                level + 1,
                2 * x + (q as u32 & 1),
                2 * y + (q as u32 >> 1),
                max,
            )
        })
        .collect();
    Tile {
        level,
        x,
        y,
        lo,
        hi,
        features: vec![],
        children,
    }
}

pub(crate) fn diagonal(lo: [f64; 3], hi: [f64; 3]) -> f64 {
    ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2) + (hi[2] - lo[2]).powi(2)).sqrt()
}

pub(crate) fn bounding_box(lo: [f64; 3], hi: [f64; 3]) -> Value {
    let c = [0, 1, 2].map(|a| 0.5 * (lo[a] + hi[a]));
    // A flat or thin box still needs some extent on every axis.
    let h = [0, 1, 2].map(|a| (0.5 * (hi[a] - lo[a])).max(0.01));
    json!({"box": [c[0], c[1], c[2], h[0], 0.0, 0.0, 0.0, h[1], 0.0, 0.0, 0.0, h[2]]})
}

/// The GLB of `features` about `centre` (ENU): glTF frame x = east, y = up, z = −north.
fn content_glb(
    placed: &[Placed],
    features: &[usize],
    centre: [f64; 3],
    ids: FeatureIds,
    columns: &[String],
    images: &HashMap<i64, GlbImage>,
) -> Vec<u8> {
    let list: Vec<GlbFeature> = features
        .iter()
        .map(|&i| {
            let p = &placed[i];
            GlbFeature {
                positions: p
                    .positions
                    .iter()
                    .map(|q| {
                        let d = [q[0] - centre[0], q[1] - centre[1], q[2] - centre[2]];
                        [d[0] as f32, d[2] as f32, -d[1] as f32]
                    })
                    .collect(),
                triangles: p.triangles.clone(),
                classes: p.classes.clone(),
                materials: p.materials.clone(),
                paints: p.paints.clone(),
                uvs: p.uvs.clone(),
            }
        })
        .collect();
    let props = Properties {
        names: columns.to_vec(),
        rows: features.iter().map(|&i| placed[i].row.clone()).collect(),
    };
    glb(
        &list,
        ids,
        &props,
        [centre[0], centre[2], -centre[1]],
        Value::Null,
        images,
    )
}

/// A b3dm around `glb` with `BATCH_LENGTH` features and the properties as its batch table.
pub(crate) fn b3dm(glb: &[u8], rows: &[Vec<String>], columns: &[String]) -> Vec<u8> {
    let mut batch = serde_json::Map::new();
    for (c, name) in columns.iter().enumerate() {
        batch.insert(
            name.clone(),
            json!(rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>()),
        );
    }
    crate::tiles3d::content::container(
        b"b3dm",
        &json!({"BATCH_LENGTH": rows.len()}),
        &[],
        Some(&Value::Object(batch)),
        glb,
    )
}

/// Writes the tileset's tiles below `dir` and returns the tile's JSON.
fn write_tile(
    t: &Tile,
    placed: &[Placed],
    dir: &Path,
    opts: &TilesOptions,
    columns: &[String],
    images: &HashMap<i64, GlbImage>,
    count: &mut usize,
) -> std::io::Result<Value> {
    let mut tile = json!({"boundingVolume": bounding_box(t.lo, t.hi), "geometricError": 0.0});
    if t.children.is_empty() {
        let centre = [0, 1, 2].map(|a| 0.5 * (t.lo[a] + t.hi[a]));
        let name = format!("{}_{}_{}", t.level, t.x, t.y);
        let (file, bytes) = match opts.version {
            TilesVersion::V1_1 => (
                format!("content/{name}.glb"),
                content_glb(
                    placed,
                    &t.features,
                    centre,
                    FeatureIds::MeshFeatures,
                    columns,
                    images,
                ),
            ),
            TilesVersion::V1_0 => {
                let g = content_glb(placed, &t.features, centre, FeatureIds::BatchId, columns, images);
                let rows: Vec<Vec<String>> = t.features.iter().map(|&i| placed[i].row.clone()).collect();
                (format!("content/{name}.b3dm"), b3dm(&g, &rows, columns))
            }
        };
        std::fs::write(dir.join(&file), bytes)?;
        *count += 1;
        tile["content"] = json!({"uri": file});
    } else {
        tile["geometricError"] = json!(0.5 * diagonal(t.lo, t.hi));
        let children = t
            .children
            .iter()
            .map(|c| write_tile(c, placed, dir, opts, columns, images, count))
            .collect::<std::io::Result<Vec<_>>>()?;
        tile["children"] = Value::Array(children);
    }
    Ok(tile)
}

/// Writes the chosen features as a 3D Tiles tileset in the folder `out` (built beside it and
/// renamed into place when complete; `out` must not exist).
pub fn write_3dtiles(
    project: &Project,
    filter: &FeatureFilter,
    out: &Path,
    opts: &TilesOptions,
) -> Result<Exported> {
    if out.exists() {
        return Err(ImportError::file(out, "already exists"));
    }
    let has_tilesets = !project
        .tilesets()
        .map_err(|e| ImportError::engine(out, e))?
        .is_empty();
    // The terrain goes along with the whole project (not with a choice of layers or kinds).
    let whole = filter.layers.is_none() && filter.kinds.is_none() && filter.bbox.is_none();
    let has_terrain = whole
        && !project
            .terrains()
            .map_err(|e| ImportError::engine(out, e))?
            .is_empty();
    // A project of tilesets (or terrain) alone exports them alone.
    let chosen = match solids(project, filter, out) {
        Ok(s) => Some(s),
        Err(ImportError::File { reason, .. })
            if (has_tilesets || has_terrain) && reason.starts_with("nothing to export") =>
        {
            None
        }
        Err(e) => return Err(e),
    };
    let tmp: PathBuf = {
        let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".partial");
        out.with_file_name(name)
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ImportError::io(&tmp, e))?;
    }
    let version = match opts.version {
        TilesVersion::V1_1 => "1.1",
        TilesVersion::V1_0 => "1.0",
    };
    let mut tiles = 0usize;
    let mut n = 0usize;
    let mut warnings = Vec::new();
    // The terrain written: its name, tiles and triangles.
    let mut terrain: Option<(String, usize, usize)> = None;
    let written = (|| -> Result<()> {
        std::fs::create_dir_all(tmp.join("content")).map_err(|e| ImportError::io(&tmp, e))?;
        let mut extras =
            json!({"cim": {"crs": project.crs().display_name(), "geoid_offset_m": opts.geoid_offset_m}});
        let mut features_root = None;
        if let Some(Solids {
            list: solids,
            columns,
            images,
            warnings: w,
            bounds: (lo, hi),
        }) = chosen
        {
            warnings.extend(w);
            let wgs84 = Crs::from_epsg(4326).map_err(|e| ImportError::engine(out, e))?;
            let to_wgs84 = Transform::new(&wgs84, project.crs());
            // The frame's origin: the centre of the data's box, on its lowest point.
            let (clon, clat) = to_wgs84
                .apply(0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]))
                .map_err(|e| {
                    ImportError::file(out, format!("cannot place the data's centre in WGS 84: {e}"))
                })?;
            let enu = Enu::at(clon, clat, lo[2] + opts.geoid_offset_m);
            n = solids.len();
            let placed: Vec<Placed> = solids
                .into_iter()
                .map(|s| place(s, &to_wgs84, &enu, opts.geoid_offset_m, out))
                .collect::<Result<_>>()?;
            let root = build(&placed, (0..n).collect(), 0, 0, 0, opts.max_features.max(1));
            let mut root_json = write_tile(&root, &placed, &tmp, opts, &columns, &images, &mut tiles)
                .map_err(|e| ImportError::io(&tmp, e))?;
            root_json["transform"] = json!(enu.matrix());
            root_json["refine"] = json!("ADD");
            extras["cim"]["origin_lon_lat_h"] = json!([clon, clat, lo[2] + opts.geoid_offset_m]);
            let region = super::tilesets::region(
                &[lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]],
                &to_wgs84,
                opts.geoid_offset_m,
            )
            .map_err(|e| ImportError::file(out, e))?;
            features_root = Some((root_json, diagonal(root.lo, root.hi), region));
        }
        let (mut sets, set_warnings) = if has_tilesets {
            super::tilesets::write_tilesets(project, &tmp, opts)?
        } else {
            (Vec::new(), Vec::new())
        };
        warnings.extend(set_warnings);
        if has_terrain {
            let wgs84 = Crs::from_epsg(4326).map_err(|e| ImportError::engine(out, e))?;
            let to_wgs84 = Transform::new(&wgs84, project.crs());
            if let Some(t) = super::terrain::write_terrain(project, &tmp, opts, &to_wgs84)? {
                sets.push(t.entry);
                terrain = Some((t.name, t.tiles, t.triangles));
            }
        }
        let (root_json, ge) = match (features_root, sets.is_empty()) {
            (Some((r, e, _)), true) => (r, e),
            (features, _) => {
                // A root holding the features' tree (with its own transform) and each tileset.
                let mut children: Vec<Value> = Vec::new();
                let mut ge = 0.0f64;
                let mut feature_region = None;
                if let Some((r, e, g)) = features {
                    ge = ge.max(e);
                    children.push(r);
                    feature_region = Some(json!({"boundingVolume": {"region": g}}));
                }
                let mut region: Option<[f64; 6]> = None;
                for c in sets.iter().chain(feature_region.iter()) {
                    ge = ge.max(c["geometricError"].as_f64().unwrap_or(0.0) * 2.0);
                    if let Some(r) = c["boundingVolume"]["region"].as_array() {
                        let r: Vec<f64> = r.iter().filter_map(Value::as_f64).collect();
                        if r.len() == 6 {
                            region = Some(match region {
                                None => [r[0], r[1], r[2], r[3], r[4], r[5]],
                                Some(g) => [
                                    g[0].min(r[0]),
                                    g[1].min(r[1]),
                                    g[2].max(r[2]),
                                    g[3].max(r[3]),
                                    g[4].min(r[4]),
                                    g[5].max(r[5]),
                                ],
                            });
                        }
                    }
                }
                children.extend(sets.iter().cloned());
                // A region holding the features' and every tileset's.
                let volume = json!({"region": region.unwrap_or([0.0; 6])});
                (
                    json!({"boundingVolume": volume, "geometricError": ge, "refine": "ADD", "children": children}),
                    ge,
                )
            }
        };
        let tileset = json!({
            "asset": {"version": version, "generator": concat!("cim ", env!("CARGO_PKG_VERSION")), "extras": extras},
            "geometricError": ge,
            "root": root_json,
        });
        std::fs::write(
            tmp.join("tileset.json"),
            serde_json::to_vec_pretty(&tileset).unwrap_or_default(),
        )
        .map_err(|e| ImportError::io(&tmp, e))?;
        Ok(())
    })();
    if let Err(e) = written {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    std::fs::rename(&tmp, out).map_err(|e| ImportError::io(out, e))?;
    if opts.geoid_offset_m == 0.0 {
        warnings.push(
            "heights written as ellipsoidal as they are: if they are orthometric (above sea level), pass --geoid-offset with the geoid's height here, or the city floats or sinks by it in Cesium"
                .into(),
        );
    }
    let sets = project.tilesets().map(|s| s.len()).unwrap_or(0);
    let mut details = vec![format!("3D Tiles {version}")];
    if n > 0 {
        details.insert(0, format!("{tiles} tiles"));
        if sets > 0 {
            details.push(format!("and {sets} tileset{}", if sets == 1 { "" } else { "s" }));
        }
    }
    if let Some((name, t, tri)) = &terrain {
        details.push(format!(
            "terrain '{name}' in {t} tiles ({tri} triangles, levels of detail)"
        ));
    }
    Ok(Exported {
        what: match (n, sets) {
            (0, 0) => "terrain",
            (0, 1) => "tileset",
            (0, _) => "tilesets",
            _ => "features",
        },
        count: if n == 0 {
            sets.max(usize::from(terrain.is_some()))
        } else {
            n
        },
        details,
        warnings,
    })
}

/// Writes the chosen features as one GLB in the project CRS about the data's centre (glTF
/// frame: x = easting, y = height, z = −northing), the centre and CRS in the asset's extras.
pub fn write_glb(project: &Project, filter: &FeatureFilter, out: &Path) -> Result<Exported> {
    let Solids {
        list: solids,
        columns,
        images,
        warnings,
        bounds: (lo, hi),
    } = solids(project, filter, out)?;
    let c = [0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), lo[2]];
    let features: Vec<GlbFeature> = solids
        .iter()
        .map(|s| GlbFeature {
            positions: (0..s.mesh.positions.len() as u32)
                .map(|v| {
                    let p = s.mesh.world(v);
                    [(p[0] - c[0]) as f32, (p[2] - c[2]) as f32, -(p[1] - c[1]) as f32]
                })
                .collect(),
            triangles: s.mesh.triangles.clone(),
            classes: s.mesh.classes.clone(),
            materials: s.mesh.materials.clone(),
            paints: s.paints.clone(),
            uvs: s.mesh.uvs.clone(),
        })
        .collect();
    let props = Properties {
        names: columns,
        rows: solids.iter().map(|s| s.row.clone()).collect(),
    };
    let extras = json!({"cim": {"crs": project.crs().display_name(), "epsg": project.crs().epsg(),
        "origin": c, "axes": "x = easting, y = height, z = -northing, metres from origin"}});
    let bytes = glb(
        &features,
        FeatureIds::MeshFeatures,
        &props,
        [0.0; 3],
        extras,
        &images,
    );
    let tmp = out.with_extension("partial");
    std::fs::write(&tmp, &bytes).map_err(|e| ImportError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| ImportError::io(out, e))?;
    let triangles: usize = solids.iter().map(|s| s.mesh.triangles.len()).sum();
    Ok(Exported {
        what: "features",
        count: solids.len(),
        details: vec![format!("{triangles} triangles"), format!("{} bytes", bytes.len())],
        warnings,
    })
}
